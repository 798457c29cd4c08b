"""The shipped examples run on MPI ranks and give the same trajectory whatever the rank count
and the dispatch mode (the GA on a noisy function: noise is seeded per individual)."""

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from mpirun import MPIEXEC, leftover_processes

EXAMPLE = Path(__file__).parent.parent / "examples" / "ga_rastrigin.py"


def run_example(root, ranks, dispatch):
    cmd = [str(MPIEXEC), "-n", str(ranks), sys.executable, str(EXAMPLE)]
    cmd += ["--root", str(root), "--generations", "6", "--dispatch", dispatch]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("mpil2l: generation") == 6
    assert "mpil2l: best individual" in proc.stdout
    with open(root / "ga-rastrigin" / "trajectory.pickle", "rb") as f:
        traj = pickle.load(f)
    return {g: [(i, f) for i, f in results] for g, results in traj.results.all_results.items()}


@pytest.fixture(scope="module")
def serial_results(tmp_path_factory):
    return run_example(tmp_path_factory.mktemp("serial"), 1, "dynamic")


@pytest.mark.parametrize("ranks, dispatch", [(2, "dynamic"), (4, "static"), (4, "dynamic"), (8, "dynamic"), (16, "static")])
def test_ga_example_is_deterministic_across_ranks_and_dispatch(tmp_path, serial_results, ranks, dispatch):
    assert run_example(tmp_path, ranks, dispatch) == serial_results
    assert sorted(serial_results) == list(range(6))
    assert not leftover_processes("ga_rastrigin.py")

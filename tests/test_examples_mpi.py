"""The shipped examples run on MPI ranks and give the same trajectory whatever the rank count
and the dispatch mode (the GA on a noisy function: noise is seeded per individual)."""

import pickle
from pathlib import Path

import pytest

from mpirun import leftover_processes, run_mpi

EXAMPLE = Path(__file__).parent.parent / "examples" / "ga_rastrigin.py"


def run_example(root, ranks, dispatch):
    args = ("--root", root, "--generations", "6", "--dispatch", dispatch)
    proc = run_mpi(ranks, EXAMPLE, *args, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not leftover_processes(proc)
    assert proc.stdout.count("mpil2l: generation") == 6
    assert "mpil2l: best individual" in proc.stdout
    with open(root / "ga-rastrigin" / "trajectory.pickle", "rb") as f:
        traj = pickle.load(f)
    return {g: [(i, f) for i, f in results] for g, results in traj.results.all_results.items()}


@pytest.fixture(scope="module")
def serial_results(tmp_path_factory):
    return run_example(tmp_path_factory.mktemp("serial"), 1, "dynamic")


@pytest.mark.parametrize(
    "ranks, dispatch",
    [(2, "dynamic"), (4, "static"), (4, "dynamic"), (8, "dynamic"), (16, "static")],
)
def test_ga_example_is_deterministic_across_ranks_and_dispatch(
    tmp_path, serial_results, ranks, dispatch
):
    assert run_example(tmp_path, ranks, dispatch) == serial_results
    assert sorted(serial_results) == list(range(6))

"""L2L scripts run unchanged: the l2l module map, L2L's helpers, and bin/-style scripts on
real MPI ranks through ``python -m mpil2l.l2l`` and ``import mpil2l.compat``."""

import importlib
import pickle
import signal
import subprocess
import sys
import time
import warnings

import pytest

import mpil2l.l2l.module_map as compat
from mpirun import SCRIPTS, leftover_processes, run_mpi, start_mpi

L2L_STYLE = SCRIPTS / "l2l_style"


@pytest.mark.parametrize("name", sorted(compat.L2L_MODULES))
def test_every_l2l_module_resolves_to_mpil2l(name):
    """Every module of the map imports (a missing mpil2l counterpart fails, never skips)."""
    module = importlib.import_module(name)
    for source in compat.L2L_MODULES[name]:
        for key, value in vars(importlib.import_module(source)).items():
            if not key.startswith("_"):
                assert getattr(module, key) is value


def test_l2l_names_are_mpil2l_classes():
    from l2l.optimizers.evolution import GeneticAlgorithmOptimizer
    from l2l.utils.experiment import Experiment

    import mpil2l

    assert Experiment is mpil2l.Experiment
    assert GeneticAlgorithmOptimizer is mpil2l.optimizers.GeneticAlgorithmOptimizer


def test_an_unknown_l2l_module_is_named():
    with pytest.raises(ImportError, match="no counterpart of L2L's module 'l2l.utils.JUBE_runner'"):
        importlib.import_module("l2l.utils.JUBE_runner")


def test_sdictm_behaves_like_l2ls():
    from l2l import sdict, sdictm

    d = sdictm({"a": 1, "b": {"c": [1, {"d": 2}]}})
    assert d.a == 1 and d["a"] == 1 and d.b.c[1].d == 2
    d.e = 5
    assert d.todict() == {"a": 1, "b": {"c": [1, {"d": 2}]}, "e": 5}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert d.missing is None
    assert "missing" in str(caught[0].message)
    assert d.get("missing", 3) == 3
    frozen = d.frozen()
    assert isinstance(frozen, sdict) and frozen.a == 1
    with pytest.raises(RuntimeError, match="Immutable"):
        frozen.a = 2
    assert pickle.loads(pickle.dumps(d)).todict() == d.todict()


def run_script(tmp_path, ranks, script, via_module):
    program = ("-m", "mpil2l.l2l") if via_module else ()
    return run_mpi(ranks, *program, L2L_STYLE / script, tmp_path / f"results-{ranks}", timeout=180)


def final(tmp_path, ranks, name):
    with open(tmp_path / f"results-{ranks}" / name / "trajectory.pickle", "rb") as f:
        traj = pickle.load(f)
    return traj.results.final_fitness, {g: r for g, r in traj.results.all_results.items()}


@pytest.mark.parametrize(
    "script, name, via_module, good_enough",
    [
        ("l2l_fun_ga.py", "L2L-FUN-GA", True, 2.0),
        ("l2l_fun_gd.py", "L2L-FUN-GD", False, None),
        ("l2l_custom_optimizer.py", "L2L-CUSTOM", True, 1.0),
        ("l2l_fun_ce.py", "L2L-FUN-CE", True, 2.0),
    ],
)
def test_l2l_scripts_run_unchanged_with_the_same_results_on_1_and_3_ranks(
    tmp_path, script, name, via_module, good_enough
):
    runs, launched = {}, []
    for ranks in (1, 3):
        proc = run_script(tmp_path, ranks, script, via_module)
        launched.append(proc)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs[ranks] = final(tmp_path, ranks, name)
    assert runs[1] == runs[3]
    fitness, _ = runs[3]
    if good_enough is not None:
        assert fitness[0] < good_enough
    assert not leftover_processes(*launched)


def test_a_missing_script_is_named():
    proc = subprocess.run(
        [sys.executable, "-m", "mpil2l.l2l", "no_such_script.py"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "no such script: no_such_script.py" in proc.stderr


def test_l2l_checkpoint_restart_script_goes_on_from_the_saved_trajectory(tmp_path):
    """An L2L user's restart: the job gets SIGTERM (Slurm's wall time) in generation 2,
    the script runs again with the saved trajectory as ``checkpoint`` and ends as a run that
    was never stopped."""
    script = str(L2L_STYLE / "l2l_aw_ga_restart.py")
    root = tmp_path / "results"
    program = ("-m", "mpil2l.l2l", script, root)
    full = run_mpi(3, *program, "L2L-AW-GA-full", timeout=180)
    assert full.returncode == 0, full.stdout + full.stderr

    log = tmp_path / "first.log"
    with (
        open(log, "w") as out,
        start_mpi(
            3, *program, "L2L-AW-GA", stdout=out, stderr=subprocess.STDOUT, timeout=180
        ) as proc,
    ):
        deadline = time.monotonic() + 120
        while "mpil2l: generation 1:" not in log.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode != 0 and "terminated by SIGTERM" in log.read_text()
    saved = root / "L2L-AW-GA" / "trajectory.pickle"
    restart = run_mpi(3, *program, "L2L-AW-GA-restarted", saved, timeout=180)
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert (
        "mpil2l: generation 0:" not in restart.stdout and "mpil2l: generation 11:" in restart.stdout
    )

    def outcome(name):
        with open(root / name / "trajectory.pickle", "rb") as f:
            traj = pickle.load(f)
        individuals = {
            g: [(i.ind_idx, i.difficulty) for i in inds] for g, inds in traj.individuals.items()
        }
        return dict(traj.results.all_results.items()), individuals, traj.results.final_fitness

    assert outcome("L2L-AW-GA-restarted") == outcome("L2L-AW-GA-full")
    assert not leftover_processes(full, proc, restart)

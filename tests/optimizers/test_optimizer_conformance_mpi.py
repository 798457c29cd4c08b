"""Every optimizer reaches the known optimum of a standard function within its tolerance and
evaluation budget, on three seeds, through the Experiment API on 1 and on 4 MPI ranks, with
identical runs on both (the conformance table is tests/scripts/optimizer_conformance.py:
adding an optimizer means adding one entry there).

The whole table runs in two mpiexec launches (one per rank count), shared by every test."""

import importlib.util
import json

import pytest

import mpil2l.optimizers
from mpil2l.optimizees import BenchmarkedFunctions
from mpil2l.optimizers import catalog
from mpirun import SCRIPTS, leftover_processes, run_mpi

SCRIPT = "optimizer_conformance.py"
_spec = importlib.util.spec_from_file_location("optimizer_conformance", SCRIPTS / SCRIPT)
conformance = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conformance)

RUNS = [(name, seed) for name in conformance.CASES for seed in conformance.SEEDS]


def launch(tmp_path_factory, ranks):
    root = tmp_path_factory.mktemp(f"conformance-{ranks}")
    out = root / "records.json"
    proc = run_mpi(ranks, SCRIPT, root / "runs", out, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert not leftover_processes(proc)
    return {(r["case"], r["seed"]): r for r in json.loads(out.read_text())}


@pytest.fixture(scope="module")
def one_rank(tmp_path_factory):
    return launch(tmp_path_factory, 1)


@pytest.fixture(scope="module")
def four_ranks(tmp_path_factory):
    return launch(tmp_path_factory, 4)


@pytest.mark.parametrize("name, seed", RUNS, ids=[f"{n}-seed{s}" for n, s in RUNS])
def test_optimizer_reaches_the_optimum_within_budget_identically_on_1_and_4_ranks(
    one_rank, four_ranks, name, seed
):
    case = conformance.CASES[name]
    (_, function), _ = BenchmarkedFunctions().get_function_by_name(case.function)
    _, f_star = function.minimum
    run = four_ranks[(name, seed)]
    assert run["best_fitness"] - f_star <= case.tolerance, (name, seed, run["best_fitness"], f_star)
    assert 0 < run["evaluations"] <= case.budget
    # the results log holds every attempt and every generation
    assert run["logged_attempts"] == run["evaluations"]
    assert run["logged_generations"] == run["generations"]
    # identical runs: every individual and every fitness, bit for bit
    serial = one_rank[(name, seed)]
    assert run["digest"] == serial["digest"]
    assert (run["best_fitness"], run["best_individual"]) == (
        serial["best_fitness"],
        serial["best_individual"],
    )


def test_every_exported_optimizer_has_a_conformance_entry():
    # the generational ones (ask/tell optimizers run with AsyncExperiment: test_async_mpi.py)
    exported = {
        cls
        for cls in catalog.optimizer_classes().values()
        if issubclass(cls, mpil2l.optimizers.Optimizer)
    }
    covered = {case.optimizer for case in conformance.CASES.values()}
    assert len(exported) >= 11 and exported - covered == set()
    # and every update rule of gradient descent
    rules = set(mpil2l.optimizers.GradientDescentOptimizer.parameters_type)
    assert rules <= {case.parameters for case in conformance.CASES.values()}

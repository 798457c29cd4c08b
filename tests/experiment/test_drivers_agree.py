"""The generational and the asynchronous driver behave the same where the same situation
arises: a logged attempt row read back, a failure that ends the run, a resume with other
optimizer parameters. In-process runs on one rank (real MPI, real results logs)."""


import numpy as np
import pytest

from mpil2l import AsyncExperiment, EvaluationFailed, Experiment, Optimizee
from mpil2l.core.runs import StatusType
from mpil2l.experiment.attempts import logged_attempts, logged_value
from mpil2l.experiment.checkpoint import ResumeError
from mpil2l.optimizers import (
    GeneticAlgorithmOptimizer,
    GeneticAlgorithmParameters,
    SteadyStateOptimizer,
    SteadyStateParameters,
)
from mpil2l.storage import read_attempts


class Sphere(Optimizee):
    """Sphere in two dimensions; individual `failing` raises on every attempt."""

    def __init__(self, traj, failing=None):
        self.rng = np.random.default_rng(7)
        self.failing = failing

    def create_individual(self):
        return {"x": self.rng.uniform(-2.0, 2.0, 2)}

    def bounding_func(self, individual):
        return {"x": np.clip(individual["x"], -2.0, 2.0)}

    def simulate(self, traj):
        if traj.individual.ind_idx == self.failing:
            raise ZeroDivisionError(f"individual {self.failing} fails on purpose")
        return (float(np.sum(np.asarray(traj.individual.x) ** 2)),)


def run_generational(root, seed=1, failing=None, **settings):
    experiment = Experiment(str(root))
    traj, _ = experiment.prepare_experiment(name="run", **settings)
    optimizee = Sphere(traj, failing)
    parameters = GeneticAlgorithmParameters(seed=seed, pop_size=6, n_iteration=3, mut_par=0.5)
    optimizer = GeneticAlgorithmOptimizer(
        traj, optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
    )
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    experiment.end_experiment(optimizer)
    return experiment


def run_asynchronous(root, seed=1, failing=None, **settings):
    experiment = AsyncExperiment(str(root))
    traj, _ = experiment.prepare_experiment(name="run", **settings)
    optimizee = Sphere(traj, failing)
    parameters = SteadyStateParameters(seed=seed, pop_size=4)
    optimizer = SteadyStateOptimizer(
        optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
    )
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee, budget=12)
    experiment.end_experiment(optimizer)
    return experiment


DRIVERS = {"generational": run_generational, "asynchronous": run_asynchronous}
FAILING = {"isolation": "none", "max_retries": 1, "cost_for_crash": 1e6}


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_a_logged_failure_reads_back_as_the_value_it_recorded(tmp_path, driver):
    DRIVERS[driver](tmp_path, failing=2, runner_params=FAILING)
    rows = read_attempts(tmp_path / "run" / "results.h5")
    logged = logged_attempts(rows)
    failed = [a for a in logged if a.value.status != StatusType.SUCCESS]
    # (the asynchronous run has one candidate 2, the generational one an individual 2 a
    # generation): each fails its first attempt and its retry
    assert failed and len(failed) % 2 == 0 and {a.attempt for a in failed} == {0, 1}
    assert {a.ind_idx for a in failed} == {2}
    for attempt in failed:
        info = attempt.value.additional_info
        assert info["rank"] == 0 and attempt.value.cost is None
        assert info["error"] == "ZeroDivisionError: individual 2 fails on purpose"
        assert info["traceback"].startswith("Traceback") and info["error"] in info["traceback"]
    succeeded = [a for a in logged if a.value.status == StatusType.SUCCESS]
    assert succeeded and all("error" not in a.value.additional_info for a in succeeded)
    assert [a.row for a in logged] == list(range(len(logged)))


def test_a_row_without_a_rank_reads_back_as_rank_none():
    rows = {
        "status": np.array([StatusType.CRASHED.value]),
        "rank": np.array([-1]),
        "error": np.array(["first line\nKilled: signal 9"]),
        "fitness": np.array([[np.nan]]),
        "runtime": np.array([0.5]),
        "start": np.array([1.0]),
        "end": np.array([1.5]),
    }
    value = logged_value(rows, 0)
    assert value.additional_info == {
        "rank": None,
        "error": "Killed: signal 9",
        "traceback": "first line\nKilled: signal 9",
    }
    assert (value.status, value.cost, value.time) == (StatusType.CRASHED, None, 0.5)


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_a_failure_that_ends_the_run_is_reported_alike(tmp_path, driver):
    settings = dict(FAILING, max_retries=0, cost_for_crash=None)
    with pytest.raises(ZeroDivisionError) as raised:
        DRIVERS[driver](tmp_path, failing=1, runner_params=settings, stop_run=True)
    notes = " ".join(getattr(raised.value, "__notes__", []))
    generation = 0
    assert (
        f"raised by simulate() of generation {generation}, individual 1, the last of 1 "
        "attempt(s), on rank 0" in notes
    ), notes


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_a_resume_with_other_optimizer_parameters_is_refused(tmp_path, driver):
    DRIVERS[driver](tmp_path, seed=1)
    log = tmp_path / "run" / "results.h5"
    before = log.read_bytes()
    with pytest.raises(ResumeError, match=r"optimizer parameters seed \(saved 1, now 2\)"):
        DRIVERS[driver](tmp_path, seed=2, checkpoint=True)
    assert log.read_bytes() == before


@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_an_individual_out_of_attempts_gets_the_crash_cost(tmp_path, driver):
    experiment = DRIVERS[driver](tmp_path, failing=3, runner_params=FAILING)
    rows = read_attempts(tmp_path / "run" / "results.h5")
    failed = rows["status"] != StatusType.SUCCESS.value
    assert failed.sum() and failed.sum() % 2 == 0 and set(rows["ind_idx"][failed].tolist()) == {3}
    final = rows["fitness"][failed & (rows["attempt"] == 1)]
    assert final.size and np.all(np.isnan(final))  # a failed attempt logs no fitness
    assert experiment.results_log is None or experiment.results_log.closed
    if driver == "generational":
        for g, results in experiment.traj.results.all_results.items():
            assert dict(results).get(3, (1e6,)) == (1e6,), g
    else:
        assert experiment.optimizer.n_told == 12


def test_the_generational_driver_refuses_a_failed_whole_generation(tmp_path):
    class AllFail(Sphere):
        def simulate(self, traj):
            raise ValueError("no")

    experiment = Experiment(str(tmp_path))
    traj, _ = experiment.prepare_experiment(name="run", runner_params=FAILING)
    optimizee = AllFail(traj)
    parameters = GeneticAlgorithmParameters(seed=1, pop_size=4, n_iteration=2, mut_par=0.5)
    optimizer = GeneticAlgorithmOptimizer(
        traj, optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
    )
    with pytest.raises((ValueError, EvaluationFailed), match="no"):
        experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)

"""Checkpoint and resume, in-process on one rank: every optimizer resumes to the same end as
an uninterrupted run without evaluating a finished attempt twice, and bad checkpoints are
refused with nothing overwritten. (Killed multi-rank runs: test_resume_mpi.py.)"""

import collections
import hashlib
import inspect
import pickle

import h5py
import numpy as np
import pytest

import mpil2l.optimizers as optimizers
from mpirun import results_log_held_open
from mpil2l import Experiment, JobTerminated, Optimizee
from mpil2l.experiment.checkpoint import ResumeError, differences
from mpil2l.optimizers.multigradientdescent import unpack_individual
from mpil2l.storage import LogInUseError, ResultsLogError, read_attempts, read_generations

O = optimizers
# one small configuration per optimizer: (parameters, interrupted generation)
CASES = {
    "GeneticAlgorithmOptimizer": lambda: O.GeneticAlgorithmParameters(
        seed=3, pop_size=8, n_iteration=5, mut_par=0.5
    ),
    "GridSearchOptimizer": lambda: O.GridSearchParameters(param_grid={"coords": (-1.0, 1.0, 3)}),
    "CrossEntropyOptimizer": lambda: O.CrossEntropyParameters(
        pop_size=8, rho=0.5, n_iteration=5, distribution=O.NoisyGaussian(), seed=3
    ),
    "FACEOptimizer": lambda: O.FACEParameters(
        min_pop_size=6, max_pop_size=10, n_elite=3, n_iteration=5, distribution=O.Gaussian(), seed=3
    ),
    "EvolutionStrategiesOptimizer": lambda: O.EvolutionStrategiesParameters(
        pop_size=4, n_iteration=5, seed=3
    ),
    "NaturalEvolutionStrategiesOptimizer": lambda: O.NaturalEvolutionStrategiesParameters(
        sigma=0.5, pop_size=4, n_iteration=5, seed=3
    ),
    "GradientDescentOptimizer": lambda: O.AdamParameters(
        learning_rate=0.1, n_random_steps=3, n_iteration=5, seed=3
    ),
    "MultiGradientDescentOptimizer": lambda: O.MultiStochasticGDParameters(
        learning_rate=0.1, n_random_steps=2, n_iteration=5, seed=3, n_inner_params=2
    ),
    "SimulatedAnnealingOptimizer": lambda: O.SimulatedAnnealingParameters(
        n_parallel_runs=4, noisy_step=0.5, temp_decay=0.9, n_iteration=5, seed=3
    ),
    "ParallelTemperingOptimizer": lambda: O.ParallelTemperingParameters(
        n_parallel_runs=4, noisy_step=0.5, n_iteration=5, seed=3
    ),
    "EnsembleKalmanFilter": lambda: O.EnsembleKalmanFilterParameters(
        pop_size=6, n_iteration=5, gamma=1e-6, sampling_generation=2, seed=3
    ),
}


def every_optimizer():
    return sorted(
        name
        for name, value in vars(optimizers).items()
        if inspect.isclass(value) and issubclass(value, O.Optimizer) and value is not O.Optimizer
    )


def test_docstring_examples():
    import doctest

    import mpil2l.experiment.checkpoint

    assert doctest.testmod(mpil2l.experiment.checkpoint).failed == 0


def test_every_optimizer_has_a_resume_case():
    assert every_optimizer() == sorted(CASES), "add the new optimizer to CASES"


class Bowl(Optimizee):
    """A bumpy quadratic bowl that counts its evaluations per (generation, ind_idx, attempt);
    packed individuals (multi gradient descent) give one value per inner individual."""

    def __init__(self, traj, packed=False, stop_at=None):
        super().__init__(traj)
        self.packed = packed
        self.stop_at = stop_at  # (generation, ind_idx): end the run there, as SIGTERM would
        self.rng = np.random.default_rng(5)
        self.calls = collections.Counter()

    def create_individual(self):
        return {"coords": self.rng.uniform(-2.0, 2.0, 2)}

    def bounding_func(self, individual):
        return {"coords": np.clip(individual["coords"], -3.0, 3.0)}

    @staticmethod
    def value(x):
        x = np.asarray(x, dtype=float)
        return float(np.sum((x - np.array([0.5, -0.25])) ** 2) + 0.1 * np.sin(5.0 * x[0]))

    def simulate(self, traj):
        ind = traj.individual
        if (ind.generation, ind.ind_idx) == self.stop_at:
            raise JobTerminated("terminated on purpose in simulate")
        self.calls[(ind.generation, ind.ind_idx, ind.attempt)] += 1
        if self.packed:
            return tuple(self.value(inner["coords"]) for inner in unpack_individual(ind))
        return (self.value(ind.coords),)


def interrupt_post_process(optimizer, generation):
    """Makes the optimizer's post_process of `generation` end the run as a SIGTERM would:
    the generation's attempts are all in the results log, its checkpoint is not."""
    real = optimizer.post_process

    def post_process(traj, results):
        if optimizer.g == generation:
            raise JobTerminated("terminated on purpose in post_process")
        return real(traj, results)

    optimizer.post_process = post_process


def run(root, name, case, checkpoint=None, interrupt=None, parameters=None, stop_at=None):
    experiment = Experiment(root)
    traj, _ = experiment.prepare_experiment(
        name=name,
        checkpoint=checkpoint,
        overwrite=checkpoint is None,
        timeout=False,
        runner_params={"isolation": "none"},
    )
    cls = getattr(O, case)
    optimizee = Bowl(traj, packed=cls is O.MultiGradientDescentOptimizer, stop_at=stop_at)
    optimizer = cls(
        traj,
        optimizee.create_individual,
        (-1.0,),
        parameters or CASES[case](),
        optimizee.bounding_func,
    )
    if interrupt is not None:
        interrupt_post_process(optimizer, interrupt)
    try:
        experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    except JobTerminated:
        return None, optimizer, optimizee.calls
    traj, _ = experiment.end_experiment(optimizer)
    return traj, optimizer, optimizee.calls


def outcome(traj, optimizer):
    """The parts of a finished run that must not depend on interruptions."""
    return {
        "individuals": {
            g: [
                (ind.ind_idx, {k: np.asarray(v).tolist() for k, v in ind.params.items()})
                for ind in inds
            ]
            for g, inds in traj.individuals.items()
        },
        "all_results": dict(traj.results.all_results.items()),
        "final_individual": {
            k: np.asarray(v).tolist() for k, v in traj.results.final_individual.items()
        },
        "final_fitness": traj.results.final_fitness,
        "statistics": optimizer.statistics,
        "best": (optimizer.best_fitness, optimizer.best_weighted_fitness),
    }


def attempt_rows(path):
    rows = read_attempts(path)
    keys = list(
        zip(rows["generation"].tolist(), rows["ind_idx"].tolist(), rows["attempt"].tolist())
    )
    return keys, {k: tuple(f) for k, f in zip(keys, rows["fitness"].tolist())}


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_resumed_run_ends_like_an_uninterrupted_one(tmp_path, case):
    full, full_opt, full_calls = run(tmp_path, "full", case)
    k = min(2, len(full.individuals) - 1)  # grid search has a single generation
    stopped, _, first_calls = run(tmp_path, "run", case, interrupt=k)
    assert stopped is None
    resumed, resumed_opt, resumed_calls = run(tmp_path, "run", case, checkpoint=True)
    assert outcome(resumed, resumed_opt) == outcome(full, full_opt)
    # every attempt ran once in all: generation k's were in the log, not run again
    assert first_calls + resumed_calls == full_calls and max(full_calls.values()) == 1
    assert not any(g <= k for g, _, _ in resumed_calls)
    # the resumed log holds every attempt once, as the uninterrupted log does
    keys, fitness = attempt_rows(tmp_path / "run" / "results.h5")
    full_keys, full_fitness = attempt_rows(tmp_path / "full" / "results.h5")
    assert len(keys) == len(set(keys)) and fitness == full_fitness
    generations = read_generations(tmp_path / "run" / "results.h5")["generation"].tolist()
    assert generations == read_generations(tmp_path / "full" / "results.h5")["generation"].tolist()


def test_the_optimizer_state_round_trips_completely(tmp_path):
    """Beyond equal results: after set_state every attribute of every optimizer (random
    generators, distributions, moments) equals the saved optimizer's."""
    skip = {"optimizee_create_individual", "optimizee_bounding_func"}
    for case in sorted(CASES):
        _, optimizer, _ = run(tmp_path, f"state-{case}", case, interrupt=2)
        state = pickle.loads(pickle.dumps(optimizer.get_state()))
        fresh = run_optimizer_only(case)
        fresh.set_state(state)
        saved = {k: v for k, v in vars(optimizer).items() if k not in skip | {"post_process"}}
        restored = {k: v for k, v in vars(fresh).items() if k not in skip}
        assert differences(saved, restored) == [], case


def run_optimizer_only(case):
    from mpil2l import Trajectory

    traj = Trajectory()
    cls = getattr(O, case)
    optimizee = Bowl(traj, packed=cls is O.MultiGradientDescentOptimizer)
    return cls(traj, optimizee.create_individual, (-1.0,), CASES[case](), optimizee.bounding_func)


@pytest.mark.parametrize("source", ["trajectory", "run folder", "results file"])
def test_l2l_style_checkpoint_goes_on_in_a_new_run_folder(tmp_path, source):
    case = "GeneticAlgorithmOptimizer"
    full, full_opt, _ = run(tmp_path, "full", case)
    if source == "trajectory":  # what SIGTERM in the middle of generation 2 leaves
        run(tmp_path, "first", case, stop_at=(2, 3))
    else:
        run(tmp_path, "first", case, interrupt=2)
    before = digest(tmp_path / "first" / "results.h5")
    if source == "trajectory":
        checkpoint = Experiment.load_trajectory(tmp_path / "first" / "trajectory.pickle")
        assert "interrupted" in checkpoint.results
    elif source == "run folder":
        checkpoint = str(tmp_path / "first")
    else:
        checkpoint = tmp_path / "first" / "results.h5"
    resumed, resumed_opt, calls = run(tmp_path, "second", case, checkpoint=checkpoint)
    assert outcome(resumed, resumed_opt) == outcome(full, full_opt)
    # from a log, generation 2's attempts are taken over; a trajectory has no attempts to reuse
    assert any(g == 2 for g, _, _ in calls) == (source == "trajectory")
    assert not any(g < 2 for g, _, _ in calls)
    assert digest(tmp_path / "first" / "results.h5") == before, "the source run must not change"


def test_generations_after_the_last_checkpoint_are_replayed_from_the_log(tmp_path, monkeypatch):
    """Cheap generations are not checkpointed each (CHECKPOINT_COST_RATIO): here none is
    after generation 0; the resumed run replays generations 0 to 3 from the log."""
    import mpil2l.experiment.checkpointing

    case = "GeneticAlgorithmOptimizer"
    full, full_opt, full_calls = run(tmp_path, "full", case)
    monkeypatch.setattr(mpil2l.experiment.checkpointing, "CHECKPOINT_COST_RATIO", 1e12)
    _, _, first_calls = run(tmp_path, "run", case, interrupt=3)
    resumed, resumed_opt, calls = run(tmp_path, "run", case, checkpoint=True)
    assert outcome(resumed, resumed_opt) == outcome(full, full_opt)
    assert first_calls + calls == full_calls and not any(g <= 3 for g, _, _ in calls)
    keys, fitness = attempt_rows(tmp_path / "run" / "results.h5")
    assert (
        len(keys) == len(set(keys)) and fitness == attempt_rows(tmp_path / "full" / "results.h5")[1]
    )


def test_resuming_a_finished_run_evaluates_nothing(tmp_path):
    case = "CrossEntropyOptimizer"
    full, full_opt, _ = run(tmp_path, "full", case)
    again, again_opt, calls = run(tmp_path, "full", case, checkpoint=True)
    assert not calls and outcome(again, again_opt) == outcome(full, full_opt)
    saved = Experiment.load_trajectory(tmp_path / "full" / "trajectory.pickle")
    assert saved.resume_state["next_generation"] == len(full.individuals)


def test_checkpoint_true_starts_a_run_that_does_not_exist(tmp_path):
    traj, _, calls = run(tmp_path, "new", "GridSearchOptimizer", checkpoint=True)
    assert traj.results.final_fitness is not None and calls


# -- bad input ----------------------------------------------------------------------------


def interrupted_run(tmp_path, case="GeneticAlgorithmOptimizer"):
    run(tmp_path, "run", case, interrupt=2)
    folder = tmp_path / "run"
    return folder, {name: digest(folder / name) for name in ("results.h5", "trajectory.pickle")}


def test_different_parameters_are_named_and_nothing_is_written(tmp_path):
    folder, before = interrupted_run(tmp_path)
    changed = CASES["GeneticAlgorithmOptimizer"]()._replace(pop_size=10, mut_prob=0.25)
    with pytest.raises(
        ResumeError,
        match=r"optimizer parameters pop_size \(saved 8, now 10\), "
        r"mut_prob \(saved 0.5, now 0.25\)\.",
    ):
        run(tmp_path, "run", "GeneticAlgorithmOptimizer", checkpoint=True, parameters=changed)
    with pytest.raises(
        ResumeError, match="the optimizer is mpil2l.optimizers.crossentropy.CrossEntropyOptimizer"
    ):
        run(tmp_path, "run", "CrossEntropyOptimizer", checkpoint=True)
    assert {name: digest(folder / name) for name in before} == before


def test_truncated_and_foreign_files_are_refused(tmp_path):
    folder, _ = interrupted_run(tmp_path)
    data = (folder / "results.h5").read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ResultsLogError, match="truncated or corrupt"):
        run(tmp_path, "other", "GeneticAlgorithmOptimizer", checkpoint=truncated)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ResultsLogError, match="not an mpil2l results log"):
        run(tmp_path, "other", "GeneticAlgorithmOptimizer", checkpoint=foreign)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ResultsLogError, match="not an HDF5 file"):
        run(tmp_path, "other", "GeneticAlgorithmOptimizer", checkpoint=text)
    with pytest.raises(FileNotFoundError, match="no such results log or run folder"):
        run(tmp_path, "other", "GeneticAlgorithmOptimizer", checkpoint=tmp_path / "missing")
    assert not (tmp_path / "other").exists()
    assert truncated.read_bytes() == data[: len(data) // 2]


def test_a_log_in_use_by_a_live_run_is_refused(tmp_path):
    folder, before = interrupted_run(tmp_path)
    with results_log_held_open(folder / "results.h5"):
        with pytest.raises(LogInUseError, match="open"):
            run(tmp_path, "run", "GeneticAlgorithmOptimizer", checkpoint=True)
        with pytest.raises(LogInUseError):
            run(tmp_path, "copy", "GeneticAlgorithmOptimizer", checkpoint=folder)
    assert not (tmp_path / "copy").exists()
    assert digest(folder / "trajectory.pickle") == before["trajectory.pickle"]


def test_other_bad_checkpoints(tmp_path):
    folder, before = interrupted_run(tmp_path)
    with pytest.raises(ResumeError, match="overwrite=True would delete it"):
        Experiment(tmp_path).prepare_experiment(name="run", checkpoint=True, overwrite=True)
    with pytest.raises(
        TypeError,
        match="checkpoint must be a Trajectory, a path to a results log or run folder, or True",
    ):
        Experiment(tmp_path).prepare_experiment(name="x", checkpoint=3)
    from mpil2l import Trajectory

    with pytest.raises(ResumeError, match="holds no optimizer state"):
        Experiment(tmp_path).prepare_experiment(name="x", checkpoint=Trajectory())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="holds no results.h5"):
        Experiment(tmp_path).prepare_experiment(name="x", checkpoint=empty)
    assert {name: digest(folder / name) for name in before} == before


class HillClimb(O.Optimizer):
    """A user's optimizer that implements no get_state/set_state of its own: the base class
    saves its attributes (``center``) and random generator."""

    def __init__(self, traj, create, weights, parameters, bounding=None):
        super().__init__(traj, create, weights, parameters, bounding)
        traj.f_add_parameter("n_iteration", parameters.n_iteration)
        self.rng = np.random.default_rng(parameters.seed)
        self.center = create()
        self.steps_taken = 0
        self.eval_pop = [self._neighbour() for _ in range(4)]
        self._expand_trajectory(traj)

    def _neighbour(self):
        return {k: v + self.rng.normal(0, 0.3, np.shape(v)) for k, v in self.center.items()}

    def post_process(self, traj, fitnesses_results):
        _, weighted = self._record_generation(fitnesses_results)
        self.center = dict(self.eval_pop[int(np.argmax(weighted))])
        self.steps_taken += 1
        if self.g + 1 < traj.par.n_iteration:
            self.g += 1
            self.eval_pop = [self._neighbour() for _ in range(4)]
            self._expand_trajectory(traj)


def test_an_optimizer_without_its_own_get_state_resumes(tmp_path, monkeypatch):
    from collections import namedtuple

    Params = namedtuple("Params", ["n_iteration", "seed"])
    monkeypatch.setattr(O, "HillClimb", HillClimb, raising=False)
    monkeypatch.setitem(CASES, "HillClimb", lambda: Params(6, 2))
    full, full_opt, full_calls = run(tmp_path, "full", "HillClimb")
    run(tmp_path, "run", "HillClimb", interrupt=3)
    resumed, resumed_opt, calls = run(tmp_path, "run", "HillClimb", checkpoint=True)
    assert outcome(resumed, resumed_opt) == outcome(full, full_opt)
    assert resumed_opt.steps_taken == 6 and not any(g <= 3 for g, _, _ in calls)
    assert set(full_opt.get_state()["attributes"]) == {"center", "steps_taken"}


def test_an_optimizer_whose_state_cannot_be_saved_runs_without_checkpoints(
    tmp_path, monkeypatch, capsys
):
    import threading
    from collections import namedtuple

    class Locked(HillClimb):
        def __init__(self, *args):
            super().__init__(*args)
            self.lock = threading.Lock()  # cannot be copied or pickled

    monkeypatch.setattr(O, "Locked", Locked, raising=False)
    monkeypatch.setitem(
        CASES, "Locked", lambda: namedtuple("Params", ["n_iteration", "seed"])(3, 2)
    )
    traj, _, _ = run(tmp_path, "locked", "Locked")
    assert sorted(traj.results.all_results.keys()) == [0, 1, 2]
    assert "cannot checkpoint Locked (TypeError: cannot pickle" in capsys.readouterr().out
    with pytest.raises(ResumeError, match="holds no checkpoint"):
        Experiment(tmp_path).prepare_experiment(name="locked", checkpoint=True)


def test_a_nondeterministic_optimizer_has_its_stale_attempts_dropped(tmp_path, monkeypatch, capsys):
    """An optimizer that draws from the global numpy generator (not part of its state) makes
    other individuals after resuming: the logged attempts of those generations are dropped
    from the log and evaluated again, so the log still holds each attempt once."""
    import mpil2l.experiment.checkpointing
    from collections import namedtuple

    class Unseeded(HillClimb):
        def _neighbour(self):
            return {k: v + np.random.normal(0, 0.3, np.shape(v)) for k, v in self.center.items()}

    monkeypatch.setattr(O, "Unseeded", Unseeded, raising=False)
    monkeypatch.setitem(
        CASES, "Unseeded", lambda: namedtuple("Params", ["n_iteration", "seed"])(5, 2)
    )
    monkeypatch.setattr(mpil2l.experiment.checkpointing, "CHECKPOINT_COST_RATIO", 1e12)
    run(tmp_path, "run", "Unseeded", interrupt=3)
    resumed, _, calls = run(tmp_path, "run", "Unseeded", checkpoint=True)
    assert "differs from the one in the results log" in capsys.readouterr().out
    assert sorted(resumed.results.all_results.keys()) == [0, 1, 2, 3, 4]
    keys, _ = attempt_rows(tmp_path / "run" / "results.h5")
    assert len(keys) == len(set(keys)) == 5 * 4
    assert {g for g, _, _ in calls} == {
        1,
        2,
        3,
        4,
    }  # generation 0 came from the checkpoint's log rows

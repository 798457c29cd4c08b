"""Simulated annealing, parallel tempering and the ensemble Kalman filter, driven by the
serial generation loop."""

import copy
import doctest
import enum
import importlib
import math

import numpy as np
import pytest
from serial_loop import evaluate_generation, run_serial

from mpil2l.optimizees.base import Optimizee
from mpil2l.optimizees import BenchmarkedFunctions, FunctionGeneratorOptimizee
from mpil2l.optimizers.kalmanfilter import EnsembleKalmanFilter, EnsembleKalmanFilterParameters
from mpil2l.optimizers.paralleltempering import (
    ParallelTemperingOptimizer,
    ParallelTemperingParameters,
    swap_probability,
)
from mpil2l.optimizers.simulatedannealing import (
    AvailableCoolingSchedules,
    SimulatedAnnealingOptimizer,
    SimulatedAnnealingParameters,
    cooling_temperature,
)
from mpil2l.model.trajectory import Trajectory

S = AvailableCoolingSchedules
SEEDS = [0, 1, 2]


# -- optimizees -----------------------------------------------------------------------------


class TwoLosses(Optimizee):
    """Two objectives ``(|z - a|^2, |z - b|^2)`` over ``z = (x[0], x[1], v)``; with weights
    ``(-w1, -w2)`` the optimum is ``(w1 a + w2 b) / (w1 + w2)``."""

    a = np.array([0.6, -0.4, 0.2])
    b = np.array([-0.2, 0.4, 1.0])

    def __init__(self, traj, seed=0, negate=False):
        super().__init__(traj)
        self.rng = np.random.default_rng(seed)
        self.negate = negate

    def create_individual(self):
        return {"x": self.rng.uniform(-2, 2, 2), "v": float(self.rng.uniform(-2, 2))}

    def bounding_func(self, individual):
        return {"x": np.clip(individual["x"], -2, 2), "v": float(np.clip(individual["v"], -2, 2))}

    def simulate(self, traj):
        z = np.array([*traj.individual.x, traj.individual.v])
        losses = (float(np.sum((z - self.a) ** 2)), float(np.sum((z - self.b) ** 2)))
        return tuple(-f for f in losses) if self.negate else losses


class SplitLosses(TwoLosses):
    """Two objectives ``(|z[:2] - a[:2]|^2, (z[2] - b[2])^2)`` that can reach 0 together, at
    ``(a[0], a[1], b[2])``: the fitness-mode targets of the ensemble Kalman filter."""

    def simulate(self, traj):
        z = np.array([*traj.individual.x, traj.individual.v])
        losses = (float(np.sum((z[:2] - self.a[:2]) ** 2)), float((z[2] - self.b[2]) ** 2))
        return tuple(-f for f in losses) if self.negate else losses


class Regression(Optimizee):
    """Linear regression ``y = b + X w`` on 25 noisy points. ``mode='sse'`` returns the sum of
    squared errors; ``mode='predictions'`` returns ``(sse, prediction_1, ..., prediction_25)``."""

    n_points = 25

    def __init__(self, traj, seed=0, mode="sse", noise=0.1):
        super().__init__(traj)
        data_rng = np.random.default_rng(100)
        self.design = np.column_stack(
            [np.ones(self.n_points), data_rng.uniform(-1, 1, (self.n_points, 2))]
        )
        self.data = self.design @ np.array([0.5, -1.5, 2.0]) + noise * data_rng.standard_normal(
            self.n_points
        )
        self.least_squares = np.linalg.lstsq(self.design, self.data, rcond=None)[0]
        self.rng = np.random.default_rng(seed)
        self.mode = mode

    def create_individual(self):
        return {"w": self.rng.normal(0, 2, 2), "b": float(self.rng.normal(0, 2))}

    @staticmethod
    def theta(individual):
        return np.array([individual["b"], *individual["w"]])

    def simulate(self, traj):
        ind = traj.individual
        predictions = self.design @ np.array([ind.b, *ind.w])
        sse = float(np.sum((predictions - self.data) ** 2))
        return (sse,) if self.mode == "sse" else (sse, *predictions)


def function_setup(name, seed):
    (_, fg), _ = BenchmarkedFunctions().get_function_by_name(name)
    traj = Trajectory()
    return traj, FunctionGeneratorOptimizee(traj, fg, seed=seed)


def individuals_of(traj):
    return {
        g: [
            (ind.ind_idx, {k: np.asarray(v).tolist() for k, v in ind.params.items()})
            for ind in inds
        ]
        for g, inds in traj.individuals.items()
    }


# One factory per optimizer for the shared tests: (class, parameters class, small settings).
OPTIMIZERS = {
    "sa": (
        SimulatedAnnealingOptimizer,
        SimulatedAnnealingParameters,
        dict(n_parallel_runs=8, noisy_step=1.0, temp_decay=0.9, n_iteration=12),
    ),
    "pt": (
        ParallelTemperingOptimizer,
        ParallelTemperingParameters,
        dict(n_parallel_runs=6, noisy_step=1.0, n_iteration=12),
    ),
    "enkf": (
        EnsembleKalmanFilter,
        EnsembleKalmanFilterParameters,
        dict(pop_size=8, n_iteration=12, gamma=1e-6, sampling_generation=4),
    ),
}


def make(kind, traj, optimizee, weights=(-1.0,), bounding=True, **overrides):
    cls, params_cls, settings = OPTIMIZERS[kind]
    params = params_cls(**{**settings, **overrides})
    return cls(
        traj,
        optimizee.create_individual,
        weights,
        params,
        optimizee.bounding_func if bounding else None,
    )


def run_on_function(kind, name, seed, order_seed=None, **overrides):
    traj, optimizee = function_setup(name, seed)
    optimizer = make(kind, traj, optimizee, seed=seed, **overrides)
    results = run_serial(traj, optimizer, optimizee, order_seed=order_seed)
    return traj, optimizer, results


# -- cooling schedules ----------------------------------------------------------------------


def test_cooling_schedules_keep_l2l_names_and_values():
    assert [s.name for s in S] == [
        "DEFAULT",
        "LOGARITHMIC",
        "EXPONENTIAL",
        "LINEAR_MULTIPLICATIVE",
        "QUADRATIC_MULTIPLICATIVE",
        "LINEAR_ADDAPTIVE",
        "QUADRATIC_ADDAPTIVE",
        "EXPONENTIAL_ADDAPTIVE",
        "TRIGONOMETRIC_ADDAPTIVE",
    ]
    assert [s.value for s in S] == list(range(1, 10))


@pytest.mark.parametrize(
    "schedule, k, expected",
    [
        (S.DEFAULT, 3, 2.0 * 0.5**3),
        (S.EXPONENTIAL, 3, 2.0 * 0.5**3),
        (S.LOGARITHMIC, 3, 2.0 / (1 + 0.5 * math.log(4))),
        (S.LINEAR_MULTIPLICATIVE, 3, 2.0 / (1 + 0.5 * 3)),
        (S.QUADRATIC_MULTIPLICATIVE, 3, 2.0 / (1 + 0.5 * 9)),
        (S.LINEAR_ADDAPTIVE, 3, 0.5 + 1.5 * 7 / 10),
        (S.QUADRATIC_ADDAPTIVE, 3, 0.5 + 1.5 * 0.49),
        (S.EXPONENTIAL_ADDAPTIVE, 5, 0.5 + 1.5 / 2),
        (S.TRIGONOMETRIC_ADDAPTIVE, 5, 0.5 + 1.5 / 2),
    ],
)
def test_cooling_temperature_formulas(schedule, k, expected):
    assert cooling_temperature(schedule, k, 10, start=2.0, end=0.5, decay=0.5) == pytest.approx(
        expected
    )


@pytest.mark.parametrize("schedule", list(S))
def test_every_schedule_cools_monotonically_from_the_start(schedule):
    temps = [cooling_temperature(schedule, k, 20, start=0.8, end=0.1, decay=0.9) for k in range(21)]
    assert temps[0] == pytest.approx(0.8, rel=0.02)
    assert all(b <= a + 1e-12 for a, b in zip(temps, temps[1:]))
    assert temps[-1] < 0.8 * 0.5 and min(temps) >= 0
    if schedule.value >= S.LINEAR_ADDAPTIVE.value:  # the additive ones end at the end temperature
        assert temps[-1] == pytest.approx(0.1, abs=0.01)


def test_schedules_are_accepted_by_name_or_by_an_l2l_style_enum():
    L2LSchedule = enum.Enum("Schedule", " ".join(s.name for s in S))
    traj, optimizee = function_setup("Ackley2d", 0)
    for given in (L2LSchedule.QUADRATIC_ADDAPTIVE, "quadratic_addaptive"):
        optimizer = make("sa", Trajectory(), optimizee, cooling_schedule=given)
        assert optimizer.cooling_schedule is S.QUADRATIC_ADDAPTIVE
    schedules = ["DEFAULT", L2LSchedule.EXPONENTIAL] + [S.LOGARITHMIC] * 4
    optimizer = make("pt", traj, optimizee, cooling_schedules=schedules)
    assert optimizer.cooling_schedules[:3] == (S.DEFAULT, S.EXPONENTIAL, S.LOGARITHMIC)
    assert traj.par.cooling_schedules[1] is S.EXPONENTIAL


# -- reaching the optimum -------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "name, schedule, tolerance",
    [("Rosenbrock2d", S.DEFAULT, 0.05), ("Ackley2d", S.TRIGONOMETRIC_ADDAPTIVE, 0.05)],
)
def test_sa_reaches_the_optimum(name, schedule, tolerance, seed):
    # 20 chains x 50 generations = 1,000 evaluations
    traj, optimizer, results = run_on_function(
        "sa",
        name,
        seed,
        n_parallel_runs=20,
        noisy_step=1.0,
        temp_decay=0.95,
        n_iteration=50,
        cooling_schedule=schedule,
    )
    optimum = np.ones(2) if name == "Rosenbrock2d" else np.zeros(2)
    assert sum(len(r) for r in results.values()) == 1000
    assert optimizer.best_fitness[0] < tolerance
    assert np.abs(optimizer.best_individual["coords"] - optimum).max() < 0.25
    assert traj.results.final_fitness == optimizer.best_fitness


# a decay parameter per multiplicative schedule that cools over about 40 generations
DECAYS = {
    S.DEFAULT: 0.9,
    S.EXPONENTIAL: 0.9,
    S.LOGARITHMIC: 1.0,
    S.LINEAR_MULTIPLICATIVE: 0.3,
    S.QUADRATIC_MULTIPLICATIVE: 0.02,
}


@pytest.mark.parametrize("schedule", list(S))
def test_sa_finds_the_two_loss_optimum_with_every_schedule(schedule):
    traj = Trajectory()
    optimizee = TwoLosses(traj, seed=3)
    optimizer = make(
        "sa",
        traj,
        optimizee,
        weights=(-1.0, -3.0),
        seed=3,
        n_parallel_runs=20,
        noisy_step=0.5,
        temp_decay=DECAYS.get(schedule, 0.0),
        n_iteration=60,
        cooling_schedule=schedule,
    )
    run_serial(traj, optimizer, optimizee)
    best = np.array([*optimizer.best_individual["x"], optimizer.best_individual["v"]])
    np.testing.assert_allclose(best, (TwoLosses.a + 3 * TwoLosses.b) / 4, atol=0.15)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name, tolerance", [("Rosenbrock2d", 0.05), ("Ackley2d", 0.05)])
def test_pt_reaches_the_optimum(name, tolerance, seed):
    # L2L's example configuration (bin/l2l-fun-pt.py), twice: 10 chains x 100 generations
    schedules = [S.EXPONENTIAL_ADDAPTIVE] * 3 + [S.LINEAR_ADDAPTIVE] * 2
    bounds = [[0.8, 0], [0.7, 0], [0.6, 0], [1, 0.1], [0.9, 0.2]]
    traj, optimizer, results = run_on_function(
        "pt",
        name,
        seed,
        n_parallel_runs=10,
        noisy_step=1.0,
        n_iteration=100,
        cooling_schedules=schedules * 2,
        temperature_bounds=np.array(bounds * 2),
        decay_parameters=np.full(10, 0.99),
    )
    optimum = np.ones(2) if name == "Rosenbrock2d" else np.zeros(2)
    assert sum(len(r) for r in results.values()) == 1000
    assert optimizer.best_fitness[0] < tolerance
    assert np.abs(optimizer.best_individual["coords"] - optimum).max() < 0.25


def test_pt_chains_exchange_temperatures():
    _, optimizer, _ = run_on_function("pt", "Rastrigin2d", 0, n_iteration=30)
    assert sorted(optimizer.run_slot.tolist()) == list(range(6))
    assert optimizer.run_slot.tolist() != list(range(6))


def test_swap_probability_moves_better_points_to_colder_chains():
    assert swap_probability(-5.0, -1.0, 0.1, 1.0) == 1.0  # hotter chain j holds the better point
    assert swap_probability(-1.0, -5.0, 0.1, 1.0) == pytest.approx(math.exp(-4 * 9))
    assert swap_probability(-1.0, -5.0, 0.5, 0.5) == 1.0
    assert swap_probability(-1.0, -5.0, 0.0, 1.0) == 0.0
    assert swap_probability(-1.0, -1.0, 0.0, 1.0) == 1.0
    assert swap_probability(-math.inf, -1.0, 0.2, 1.0) == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_enkf_fits_a_regression_to_its_least_squares_solution(seed):
    # output mode: predictions with weight 0 fitted to the data; the SSE is the fitness
    traj = Trajectory()
    optimizee = Regression(traj, seed, mode="predictions", noise=0.1)
    optimizer = EnsembleKalmanFilter(
        traj,
        optimizee.create_individual,
        (-1.0,) + (0.0,) * Regression.n_points,
        EnsembleKalmanFilterParameters(
            gamma=1e-6, n_iteration=20, pop_size=10, seed=seed, observations=optimizee.data
        ),
    )
    run_serial(traj, optimizer, optimizee)
    np.testing.assert_allclose(
        Regression.theta(optimizer.best_individual), optimizee.least_squares, atol=1e-4
    )
    sse_min = float(np.sum((optimizee.design @ optimizee.least_squares - optimizee.data) ** 2))
    assert optimizer.best_fitness[0] == pytest.approx(sse_min, rel=1e-6)
    assert optimizer.output_indices.tolist() == list(range(1, 26))


@pytest.mark.parametrize("seed", SEEDS)
def test_enkf_minimises_a_sum_of_squared_errors_in_fitness_mode(seed):
    # fitness mode: only (sse,) with weight -1; exact data, so the optimum is the truth
    traj = Trajectory()
    optimizee = Regression(traj, seed, mode="sse", noise=0.0)
    optimizer = EnsembleKalmanFilter(
        traj,
        optimizee.create_individual,
        (-1.0,),
        EnsembleKalmanFilterParameters(gamma=1e-6, n_iteration=30, pop_size=10, seed=seed),
    )
    run_serial(traj, optimizer, optimizee)
    np.testing.assert_allclose(
        Regression.theta(optimizer.best_individual), [0.5, -1.5, 2.0], atol=1e-3
    )


@pytest.mark.parametrize(
    "settings, tolerance",
    [
        (dict(n_batches=5), 1e-3),
        (dict(n_batches=100, maxit=2), 0.03),
        (dict(online=True, n_iteration=80), 0.03),
    ],
)
def test_enkf_mini_batches_and_online_updates_converge(settings, tolerance):
    # smaller batches add sampling noise: one point at a time lands near, not on, the fit
    traj = Trajectory()
    optimizee = Regression(traj, 4, mode="predictions")
    params = dict(gamma=1e-6, n_iteration=20, pop_size=10, seed=4, observations=optimizee.data)
    optimizer = EnsembleKalmanFilter(
        traj,
        optimizee.create_individual,
        (-1.0,) + (0.0,) * Regression.n_points,
        EnsembleKalmanFilterParameters(**{**params, **settings}),
    )
    run_serial(traj, optimizer, optimizee)
    np.testing.assert_allclose(
        Regression.theta(optimizer.best_individual), optimizee.least_squares, atol=tolerance
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_enkf_reaches_the_rosenbrock_optimum(seed):
    # fitness mode on a benchmark: 20 members x 50 generations = 1,000 evaluations
    _, optimizer, results = run_on_function(
        "enkf", "Rosenbrock2d", seed, pop_size=20, n_iteration=50, gamma=1e-6, sampling_generation=3
    )
    assert sum(len(r) for r in results.values()) == 1000
    assert optimizer.best_fitness[0] < 1e-3
    np.testing.assert_allclose(optimizer.best_individual["coords"], [1.0, 1.0], atol=0.05)


@pytest.mark.parametrize("kind", ["sa", "pt"])
@pytest.mark.parametrize("negate", [False, True])
def test_multi_objective_weights(kind, negate):
    # (-1, -3) on two conflicting losses, or (1, 3) on the negated losses: the same optimum
    traj = Trajectory()
    optimizee = TwoLosses(traj, seed=5, negate=negate)
    weights = (1.0, 3.0) if negate else (-1.0, -3.0)
    optimizer = make(
        kind,
        traj,
        optimizee,
        weights=weights,
        seed=5,
        n_parallel_runs=20,
        noisy_step=0.5,
        n_iteration=60,
    )
    run_serial(traj, optimizer, optimizee)
    best = np.array([*optimizer.best_individual["x"], optimizer.best_individual["v"]])
    np.testing.assert_allclose(best, (TwoLosses.a + 3 * TwoLosses.b) / 4, atol=0.15)
    assert optimizer.best_weighted_fitness == pytest.approx(
        sum(w * f for w, f in zip(weights, optimizer.best_fitness))
    )


@pytest.mark.parametrize("negate", [False, True])
def test_enkf_multi_objective_fitness_mode(negate):
    # each value driven to its target 0, scaled by |w|: losses with (-1, -3), or the negated
    # losses (<= 0) with (1, 3)
    traj = Trajectory()
    optimizee = SplitLosses(traj, seed=5, negate=negate)
    weights = (1.0, 3.0) if negate else (-1.0, -3.0)
    optimizer = make(
        "enkf",
        traj,
        optimizee,
        weights=weights,
        seed=5,
        pop_size=10,
        n_iteration=30,
        sampling_generation=0,
    )
    run_serial(traj, optimizer, optimizee)
    best = np.array([*optimizer.best_individual["x"], optimizer.best_individual["v"]])
    np.testing.assert_allclose(best, [TwoLosses.a[0], TwoLosses.a[1], TwoLosses.b[2]], atol=5e-3)
    assert optimizer.best_weighted_fitness == pytest.approx(
        sum(w * f for w, f in zip(weights, optimizer.best_fitness))
    )


def test_enkf_output_mode_with_two_fitness_values():
    # (sse, sum of absolute errors) with weights (-1, -0.5) are the fitness; the predictions
    # (weight 0) are fitted; the best individual is the one of the best weighted fitness
    class TwoErrors(Regression):
        def simulate(self, traj):
            sse, *predictions = super().simulate(traj)
            return (sse, float(np.sum(np.abs(np.array(predictions) - self.data))), *predictions)

    traj = Trajectory()
    optimizee = TwoErrors(traj, 1, mode="predictions")
    optimizer = EnsembleKalmanFilter(
        traj,
        optimizee.create_individual,
        (-1.0, -0.5) + (0.0,) * Regression.n_points,
        EnsembleKalmanFilterParameters(
            gamma=1e-6, n_iteration=20, pop_size=10, seed=1, observations=optimizee.data
        ),
    )
    results = run_serial(traj, optimizer, optimizee)
    np.testing.assert_allclose(
        Regression.theta(optimizer.best_individual), optimizee.least_squares, atol=1e-3
    )
    scores = [-f[0] - 0.5 * f[1] for r in results.values() for _, f in r]
    assert optimizer.best_weighted_fitness == pytest.approx(max(scores))


# -- the generation loop, determinism, checkpoints ------------------------------------------


@pytest.mark.parametrize("kind", ["sa", "pt", "enkf"])
def test_runs_n_iteration_generations_and_records_the_parameters(kind):
    traj, optimizer, results = run_on_function(kind, "Rastrigin2d", 0)
    assert sorted(traj.individuals) == list(range(12)) and sorted(results) == list(range(12))
    assert traj.par.n_iteration == 12 and traj.results.n_iteration == 12
    _, params_cls, _ = OPTIMIZERS[kind]
    assert all(name in traj.par for name in params_cls._fields)
    size = 6 if kind == "pt" else 8
    assert all(len(traj.individuals[g]) == size for g in range(12))
    coords = np.array([ind.coords for inds in traj.individuals.values() for ind in inds])
    assert np.isfinite(coords).all() and coords.min() >= -5 and coords.max() <= 5


@pytest.mark.parametrize("kind", ["sa", "pt", "enkf"])
def test_same_seed_gives_the_same_run_whatever_the_result_order(kind):
    traj_a, opt_a, res_a = run_on_function(kind, "Ackley2d", 7)
    traj_b, opt_b, res_b = run_on_function(kind, "Ackley2d", 7, order_seed=99)
    traj_c, _, _ = run_on_function(kind, "Ackley2d", 8)
    assert individuals_of(traj_a) == individuals_of(traj_b)
    assert res_a == res_b and opt_a.statistics == opt_b.statistics
    assert individuals_of(traj_a) != individuals_of(traj_c)


@pytest.mark.parametrize("kind", ["sa", "pt", "enkf"])
def test_post_process_accepts_results_in_any_order(kind):
    def next_generation(reverse):
        traj, optimizee = function_setup("Rosenbrock2d", 2)
        optimizer = make(kind, traj, optimizee, seed=2)
        results = evaluate_generation(traj, optimizee, 0)
        optimizer.post_process(traj, results[::-1] if reverse else results)
        return individuals_of(traj)[1]

    assert next_generation(reverse=True) == next_generation(reverse=False)


@pytest.mark.parametrize("kind", ["sa", "pt", "enkf"])
def test_state_round_trip_resumes_the_same_run(kind):
    full_traj, full_opt, _ = run_on_function(kind, "Rosenbrock2d", 4)

    traj, optimizee = function_setup("Rosenbrock2d", 4)
    optimizer = make(kind, traj, optimizee, seed=4)
    for g in range(5):
        optimizer.post_process(traj, evaluate_generation(traj, optimizee, g))
    state = copy.deepcopy(optimizer.get_state())
    saved_traj = copy.deepcopy(traj)

    resumed = make(kind, Trajectory(), optimizee, seed=4)
    resumed.set_state(state)
    for g in range(5, 12):
        resumed.post_process(saved_traj, evaluate_generation(saved_traj, optimizee, g))
    assert individuals_of(saved_traj) == individuals_of(full_traj)
    assert resumed.best_fitness == full_opt.best_fitness
    assert resumed.statistics == full_opt.statistics


@pytest.mark.parametrize("kind", ["sa", "pt", "enkf"])
def test_set_state_rejects_a_state_of_another_size(kind):
    traj, optimizee = function_setup("Rosenbrock2d", 0)
    size_field = "pop_size" if kind == "enkf" else "n_parallel_runs"
    small = make(kind, traj, optimizee, **{size_field: 3})
    other = make(kind, Trajectory(), optimizee, **{size_field: 4})
    with pytest.raises(ValueError, match=r"saved \w+ ha(s|ve) shape \(3, 2\)"):
        other.set_state(small.get_state())
    with pytest.raises(ValueError, match="state lacks"):
        other.set_state({"generation": 0})


@pytest.mark.parametrize("kind", ["sa", "pt", "enkf"])
def test_stop_criterion_ends_the_run_early(kind):
    more = dict(pop_size=20, sampling_generation=3) if kind == "enkf" else {}
    traj, optimizer, results = run_on_function(
        kind, "Rosenbrock2d", 1, n_iteration=200, stop_criterion=-0.5, **more
    )
    assert len(results) < 200 and optimizer.best_weighted_fitness >= -0.5
    assert optimizer.statistics[-1]["best_weighted_fitness"] >= -0.5
    assert all(s["best_weighted_fitness"] < -0.5 for s in optimizer.statistics[:-1])
    assert max(traj.individuals) == len(results) - 1


@pytest.mark.parametrize("kind", ["sa", "pt", "enkf"])
def test_failed_individuals_neither_crash_nor_poison_the_next_generation(kind):
    traj, optimizee = function_setup("Rosenbrock2d", 0)
    optimizer = make(
        kind, traj, optimizee, weights=(-1.0, 0.0) if kind != "enkf" else (-1.0, -1.0), seed=0
    )
    for g in range(4):
        results = [(i, (float(i), 1.0)) for i in range(len(traj.individuals[g]))]
        results[0] = (0, (math.inf, math.inf))  # the runtime's worst fitness
        results[1] = (1, (math.nan, 0.0))
        optimizer.post_process(traj, results)
        coords = np.array([ind.coords for ind in traj.individuals[g + 1]])
        assert np.isfinite(coords).all()
    assert np.isfinite(optimizer.best_weighted_fitness) and optimizer.best_fitness[0] == 2.0


def test_enkf_redraws_members_that_fail_and_skips_the_update_when_too_few_remain():
    traj, optimizee = function_setup("Rosenbrock2d", 0)
    optimizer = make("enkf", traj, optimizee, seed=0, pop_size=4)
    optimizer.post_process(
        traj, [(0, (1.0,)), (1, (math.inf,)), (2, (math.nan,)), (3, (math.inf,))]
    )
    assert np.isfinite(optimizer.ensemble).all() and len(traj.individuals[1]) == 4
    optimizer.post_process(traj, [(i, (math.inf,)) for i in range(4)])
    assert np.isfinite(optimizer.ensemble).all()


def test_enkf_accepts_every_l2l_field_and_ignores_path():
    traj, optimizee = function_setup("Rosenbrock2d", 0)
    params = EnsembleKalmanFilterParameters(
        gamma=0.01,
        maxit=1,
        n_iteration=3,
        pop_size=6,
        n_batches=1,
        online=False,
        seed=1,
        path="/nonexistent/connections",
        stop_criterion=1e-2,
        sampling_generation=2,
    )
    EnsembleKalmanFilter(
        traj, optimizee.create_individual, (-1.0,), params, optimizee.bounding_func
    )
    assert traj.par.path == "/nonexistent/connections" and traj.par.pop_size == 6
    assert traj.par.observations.tolist() == [0.0]


# -- bad parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(n_parallel_runs=0), ValueError, "n_parallel_runs must be >= 1, got 0"),
        (dict(n_parallel_runs=2.5), TypeError, "n_parallel_runs must be an integer, got float"),
        (dict(noisy_step=0.0), ValueError, "noisy_step must be > 0, got 0"),
        (dict(noisy_step="1"), TypeError, "noisy_step must be a real number, got str"),
        (
            dict(temp_decay=1.5),
            ValueError,
            r"temp_decay must be in \(0, 1\] for cooling schedule DEFAULT",
        ),
        (
            dict(temp_decay=-1.0, cooling_schedule=S.LINEAR_MULTIPLICATIVE),
            ValueError,
            "temp_decay must be > 0 for cooling schedule LINEAR_MULTIPLICATIVE",
        ),
        (dict(n_iteration=0), ValueError, "n_iteration must be >= 1, got 0"),
        (dict(stop_criterion=math.nan), ValueError, "stop_criterion must not be NaN"),
        (
            dict(stop_criterion=None),
            TypeError,
            "stop_criterion must be a real number \\(inf for none\\), got NoneType",
        ),
        (dict(seed=-1), ValueError, "seed must be >= 0, got -1"),
        (dict(cooling_schedule="FAST"), ValueError, r"cooling_schedule must be one of \['DEFAULT'"),
        (
            dict(cooling_schedule=3),
            TypeError,
            "cooling_schedule must be an AvailableCoolingSchedules member",
        ),
    ],
)
def test_sa_rejects_bad_parameters(params, error, message):
    _, optimizee = function_setup("Rastrigin2d", 0)
    with pytest.raises(error, match=message):
        SimulatedAnnealingOptimizer(
            Trajectory(),
            optimizee.create_individual,
            (-1.0,),
            SimulatedAnnealingParameters(**params),
        )


def test_sa_accepts_any_decay_for_additive_schedules():
    """An additive schedule has no use for temp_decay: a decay outside (0, 1] is accepted,
    kept, and the run cools as it would with any other decay."""
    traj, optimizee = function_setup("Rastrigin2d", 0)
    params = SimulatedAnnealingParameters(
        temp_decay=7.0, cooling_schedule=S.TRIGONOMETRIC_ADDAPTIVE
    )
    optimizer = SimulatedAnnealingOptimizer(traj, optimizee.create_individual, (-1.0,), params)
    assert (optimizer.temp_decay, optimizer.cooling_schedule) == (7.0, S.TRIGONOMETRIC_ADDAPTIVE)
    assert traj.par.get("temp_decay") == 7.0
    optimizer.post_process(traj, evaluate_generation(traj, optimizee, 0))
    schedule = (S.TRIGONOMETRIC_ADDAPTIVE, 1, params.n_iteration)
    expected = cooling_temperature(*schedule, start=1.0, end=0.0, decay=0.5)
    assert optimizer.temperature == expected and 0.0 < expected < 1.0
    coords = [ind.params["individual.coords"] for ind in traj.individuals[1]]
    assert len(coords) == params.n_parallel_runs and np.all(np.isfinite(coords))


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(n_parallel_runs=1), ValueError, "n_parallel_runs must be >= 2, got 1"),
        (
            dict(cooling_schedules=[S.DEFAULT] * 4),
            ValueError,
            "cooling_schedules must have n_parallel_runs = 5 entries, got 4",
        ),
        (dict(cooling_schedules=S.DEFAULT), TypeError, "cooling_schedules must be a list of 5"),
        (
            dict(cooling_schedules=["DEFAULT"] * 4 + ["SLOW"]),
            ValueError,
            r"cooling_schedules\[4\] must be one of",
        ),
        (
            dict(temperature_bounds=[[1, 0]] * 4),
            ValueError,
            r"temperature_bounds must have shape \(n_parallel_runs, 2\) = \(5, 2\)",
        ),
        (
            dict(temperature_bounds=[[1, 0]] * 4 + [[0.5, 0.8]]),
            ValueError,
            r"temperature_bounds\[4\] must be \(start, end\)",
        ),
        (dict(temperature_bounds=[[0, 0]] * 5), ValueError, r"temperature_bounds\[0\] must be"),
        (
            dict(temperature_bounds=[["a", 0]] * 5),
            TypeError,
            "temperature_bounds must be an array of shape",
        ),
        (
            dict(decay_parameters=[0.9] * 6),
            ValueError,
            "decay_parameters must have n_parallel_runs = 5 entries, got 6",
        ),
        (
            dict(decay_parameters=[0.9] * 4 + [1.2]),
            ValueError,
            r"decay_parameters\[4\] must be in \(0, 1\] for cooling schedule DEFAULT",
        ),
        (
            dict(decay_parameters=0.9),
            TypeError,
            "decay_parameters must be a list of 5 real numbers",
        ),
        (dict(noisy_step=-1.0), ValueError, r"noisy_step must be in \[0, inf\], got -1"),
        (
            dict(stop_criterion="x"),
            TypeError,
            "stop_criterion must be a real number \\(inf for none\\), got str",
        ),
    ],
)
def test_pt_rejects_bad_parameters(params, error, message):
    _, optimizee = function_setup("Rastrigin2d", 0)
    with pytest.raises(error, match=message):
        ParallelTemperingOptimizer(
            Trajectory(),
            optimizee.create_individual,
            (-1.0,),
            ParallelTemperingParameters(**params),
        )


def test_pt_defaults_give_a_temperature_ladder():
    traj, optimizee = function_setup("Rastrigin2d", 0)
    ParallelTemperingOptimizer(
        traj, optimizee.create_individual, (-1.0,), ParallelTemperingParameters()
    )
    np.testing.assert_allclose(
        traj.par.temperature_bounds, [[1, 0], [0.8, 0], [0.6, 0], [0.4, 0], [0.2, 0]]
    )
    assert (
        traj.par.cooling_schedules == [S.DEFAULT] * 5
        and traj.par.decay_parameters.tolist() == [0.99] * 5
    )


@pytest.mark.parametrize(
    "params, weights, error, message",
    [
        (dict(gamma=-1.0), (-1.0,), ValueError, r"gamma must be in \[0, inf\], got -1"),
        (dict(maxit=0), (-1.0,), ValueError, "maxit must be >= 1, got 0"),
        (dict(pop_size=1), (-1.0,), ValueError, "pop_size must be >= 2, got 1"),
        (dict(n_batches=0), (-1.0,), ValueError, "n_batches must be >= 1, got 0"),
        (dict(online=1), (-1.0,), TypeError, "online must be a bool, got int 1"),
        (
            dict(sampling_generation=-2),
            (-1.0,),
            ValueError,
            "sampling_generation must be >= 0, got -2",
        ),
        (dict(n_iteration=1.0), (-1.0,), TypeError, "n_iteration must be an integer, got float"),
        (dict(stop_criterion=math.nan), (-1.0,), ValueError, "stop_criterion must not be NaN"),
        (
            dict(observations=[0.0, 1.0]),
            (-1.0,),
            ValueError,
            r"one target per fitness values \(1\), got shape \(2,\)",
        ),
        (
            dict(observations=[0.0]),
            (-1.0, 0.0, 0.0),
            ValueError,
            r"one target per values with weight 0 \(2\)",
        ),
        (dict(observations=[math.inf]), (-1.0,), ValueError, "observations must be finite"),
        (
            dict(observations=["a"]),
            (-1.0,),
            TypeError,
            "observations must be a sequence of real numbers",
        ),
    ],
)
def test_enkf_rejects_bad_parameters(params, weights, error, message):
    _, optimizee = function_setup("Rastrigin2d", 0)
    with pytest.raises(error, match=message):
        EnsembleKalmanFilter(
            Trajectory(),
            optimizee.create_individual,
            weights,
            EnsembleKalmanFilterParameters(**params),
        )


@pytest.mark.parametrize("kind", ["sa", "pt", "enkf"])
def test_wrong_parameters_type_and_mismatched_individuals_are_refused(kind):
    cls, _, _ = OPTIMIZERS[kind]
    _, optimizee = function_setup("Rastrigin2d", 0)
    with pytest.raises(TypeError, match="parameters must be a"):
        cls(Trajectory(), optimizee.create_individual, (-1.0,), {"n_iteration": 3})
    sizes = iter(range(1, 100))
    with pytest.raises(ValueError, match="different keys or shapes"):
        cls(Trajectory(), lambda: {"x": np.zeros(next(sizes))}, (-1.0,), OPTIMIZERS[kind][1]())


@pytest.mark.parametrize(
    "module",
    [
        "mpil2l.optimizers.simulatedannealing",
        "mpil2l.optimizers.paralleltempering",
        "mpil2l.optimizers.kalmanfilter",
    ],
)
def test_docstring_examples(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0

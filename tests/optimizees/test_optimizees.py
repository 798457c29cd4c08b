"""Benchmark functions, their table, and the function optimizee (noise included)."""

import doctest
import importlib
import pickle

import numpy as np
import pytest

from mpil2l.optimizees.base import Optimizee
from mpil2l.optimizees import (
    AckleyParameters,
    BenchmarkedFunctions,
    FunctionGenerator,
    FunctionGeneratorOptimizee,
    RastriginParameters,
    RosenbrockParameters,
)
from mpil2l.optimizees.active_wait import (
    ActiveWaitOptimizee,
    ActiveWaitOptimizeeParameters,
    AWOptimizee,
    AWOptimizeeParameters,
    count_primes_below,
)
from mpil2l.optimizers.gridsearch import GridSearchOptimizer, GridSearchParameters
from mpil2l.model.trajectory import Individual, Trajectory
from serial_loop import run_serial

PI = float(np.pi)
TABLE = [
    (0, "Rastrigin2d", 2, (-5.0, 5.0)),
    (1, "Rastrigin10d", 10, (-5.0, 5.0)),
    (2, "Rosenbrock2d", 2, (-2.0, 2.0)),
    (3, "Rosenbrock10d", 10, (-2.0, 2.0)),
    (4, "Ackley2d", 2, (-2.0, 2.0)),
    (5, "Ackley10d", 10, (-2.0, 2.0)),
    (6, "Chasm", 2, (-2.0, 2.0)),
    (7, "Gauss2d", 2, (-5.0, 5.0)),
    (8, "Shekel2d", 2, (0.0, 10.0)),
    (9, "Langermann2d", 2, (0.0, 10.0)),
    (10, "Michalewicz2d", 2, (0.0, PI)),
    (11, "Permutation2d", 2, (-2.0, 2.0)),
    (12, "Easom2d", 2, (-10.0, 10.0)),
    (13, "Easom10d", 10, (-10.0, 10.0)),
    (14, "3Gaussians2d", 2, (-5.0, 5.0)),
]


def simulate(optimizee, coords, generation=0, ind_idx=0):
    traj = Trajectory()
    traj.individual = Individual(
        generation, ind_idx, {"individual.coords": np.asarray(coords, float)}
    )
    return optimizee.simulate(traj)


@pytest.mark.parametrize("idx, name, dims, bound", TABLE)
def test_benchmark_table(idx, name, dims, bound):
    bench = BenchmarkedFunctions()
    (got_name, fg), params = bench.get_function_by_index(idx)
    assert (got_name, fg.dims, fg.bound) == (name, dims, bound)
    assert params["benchmark_id"] == idx and params["dims"] == dims
    assert "sigma" not in params
    (by_name, fg2), params2 = bench.get_function_by_name(name)
    assert by_name == name and params2 == params
    assert fg2(np.full(dims, 0.3)) == fg(np.full(dims, 0.3))


@pytest.mark.parametrize("idx, name, dims, bound", TABLE)
def test_known_optima(idx, name, dims, bound):
    (_, fg), _ = BenchmarkedFunctions().get_function_by_index(idx)
    if name == "3Gaussians2d":
        assert fg.minimum is None  # a sum of wells with different centres; see the functions tests
        return
    x_star, f_star = fg.minimum
    assert np.all((x_star >= bound[0]) & (x_star <= bound[1]))
    assert fg(x_star) == pytest.approx(f_star, abs=1e-12)
    rng = np.random.default_rng(idx)
    for _ in range(20):
        x = rng.uniform(*bound, dims)
        assert fg(x) > f_star


def test_known_values_away_from_the_optimum():
    rastrigin = FunctionGenerator([RastriginParameters()], dims=2)
    rosenbrock = FunctionGenerator([RosenbrockParameters()], dims=2)
    ackley = FunctionGenerator([AckleyParameters()], dims=1)
    assert rastrigin([1.0, 0.0]) == pytest.approx(1.0)
    assert rosenbrock([0.0, 0.0]) == pytest.approx(1.0)
    assert rosenbrock([-1.0, 1.0]) == pytest.approx(4.0)
    assert ackley([1.0]) == pytest.approx(20 + np.e - 20 * np.exp(-0.2) - np.e)


def test_function_generator_sums_functions_and_widens_bounds():
    fg = FunctionGenerator([RosenbrockParameters(), RastriginParameters()], dims=2)
    x = np.array([0.5, -0.25])
    parts = [
        FunctionGenerator([p], dims=2)(x) for p in (RosenbrockParameters(), RastriginParameters())
    ]
    assert fg(x) == pytest.approx(sum(parts))
    assert fg.bound == (-5.0, 5.0)
    assert FunctionGenerator([RastriginParameters()], dims=2, bound=(0, 1)).bound == (0.0, 1.0)


BENCH = BenchmarkedFunctions()
RASTRIGIN = [RastriginParameters()]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: BENCH.get_function_by_index(15),
            ValueError,
            r"idx must be an integer in \[0, 14\], got 15",
        ),
        (lambda: BENCH.get_function_by_index(-1), ValueError, "got -1"),
        (
            lambda: BENCH.get_function_by_name("Sphere"),
            ValueError,
            "no benchmark function named 'Sphere'",
        ),
        (lambda: FunctionGenerator([], dims=2), ValueError, "at least one"),
        (
            lambda: FunctionGenerator(RASTRIGIN, dims=0),
            ValueError,
            "dims must be an integer >= 1, got 0",
        ),
        (lambda: FunctionGenerator(RASTRIGIN, sigma=-1), ValueError, "sigma must be >= 0, got -1"),
        (lambda: FunctionGenerator(RASTRIGIN, bound=(1, 1)), ValueError, "lower < upper"),
        (
            lambda: FunctionGenerator([("not", "params")]),
            TypeError,
            "unknown function parameters tuple",
        ),
        (lambda: FunctionGenerator(RASTRIGIN, dims=2)([1.0]), ValueError, r"shape \(2,\)"),
        (
            lambda: FunctionGeneratorOptimizee(Trajectory(), FunctionGenerator(RASTRIGIN), -1),
            ValueError,
            "seed must be an integer >= 0, got -1",
        ),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_create_individual_is_seeded_and_within_bounds():
    (_, fg), _ = BenchmarkedFunctions().get_function_by_name("Rastrigin10d")
    a = FunctionGeneratorOptimizee(Trajectory(), fg, seed=3)
    b = FunctionGeneratorOptimizee(Trajectory(), fg, seed=3)
    inds_a = [a.create_individual()["coords"] for _ in range(5)]
    inds_b = [b.create_individual()["coords"] for _ in range(5)]
    np.testing.assert_array_equal(inds_a, inds_b)
    assert all(x.shape == (10,) and np.all((x >= -5) & (x <= 5)) for x in inds_a)
    c = FunctionGeneratorOptimizee(Trajectory(), fg, seed=4)
    assert not np.array_equal(c.create_individual()["coords"], inds_a[0])


def test_bounding_func_clips_to_bounds():
    (_, fg), _ = BenchmarkedFunctions().get_function_by_name("Ackley2d")
    optimizee = FunctionGeneratorOptimizee(Trajectory(), fg, seed=0)
    bounded = optimizee.bounding_func({"coords": np.array([-7.0, 1.5])})
    assert bounded["coords"].tolist() == [-2.0, 1.5]


def test_simulate_returns_a_one_float_tuple():
    (_, fg), _ = BenchmarkedFunctions().get_function_by_name("Rosenbrock2d")
    optimizee = FunctionGeneratorOptimizee(Trajectory(), fg, seed=0)
    fitness = simulate(optimizee, [1.0, 1.0])
    assert fitness == (0.0,) and type(fitness[0]) is float


def test_noise_is_deterministic_per_seed_generation_and_individual():
    (_, fg), params = BenchmarkedFunctions().get_function_by_index(0, noise=True, mu=0.5, sigma=0.1)
    assert params["mu"] == 0.5 and params["sigma"] == 0.1
    optimizee = FunctionGeneratorOptimizee(Trajectory(), fg, seed=7)
    x = [0.3, -0.2]
    clean = fg(x)
    keys = [(g, i) for g in range(3) for i in range(4)]
    first = {k: simulate(optimizee, x, *k)[0] for k in keys}
    # Again in reverse order, on a copy as a worker would hold it, after other draws.
    optimizee.create_individual()
    worker_copy = pickle.loads(pickle.dumps(optimizee))
    second = {k: simulate(worker_copy, x, *k)[0] for k in reversed(keys)}
    assert first == second
    assert len(set(first.values())) == len(keys)  # each (generation, ind_idx) its own draw
    noise = np.array([v - clean for v in first.values()])
    assert 0.3 < noise.mean() < 0.7 and np.all(np.abs(noise - 0.5) < 0.6)
    other_seed = FunctionGeneratorOptimizee(Trajectory(), fg, seed=8)
    assert simulate(other_seed, x, 0, 0)[0] != first[(0, 0)]


def test_noisy_cost_function_needs_an_rng():
    fg = FunctionGenerator([RastriginParameters()], dims=2, noise=True)
    with pytest.raises(ValueError, match="needs an rng"):
        fg.cost_function([0.0, 0.0])
    assert fg.cost_function([0.0, 0.0], np.random.default_rng(0)) != 0.0


def test_optimizee_base_contract():
    base = Optimizee(Trajectory())
    individual = {"x": 1.0}
    assert base.bounding_func(individual) is individual
    with pytest.raises(NotImplementedError, match="create_individual"):
        base.create_individual()
    with pytest.raises(NotImplementedError, match="simulate"):
        base.simulate(Trajectory())


@pytest.mark.parametrize(
    "module",
    ["mpil2l.optimizees.base", "mpil2l.optimizees.functions", "mpil2l.optimizees.active_wait"],
)
def test_docstring_examples(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0


# -- active wait ----------------------------------------------------------------------------


def simulate_difficulty(optimizee, difficulty, generation=0, ind_idx=0):
    traj = Trajectory()
    traj.individual = Individual(generation, ind_idx, {"individual.difficulty": difficulty})
    return optimizee.simulate(traj)


def test_count_primes_below_known_values():
    assert [count_primes_below(n) for n in (0, 1, 2, 3, 4, 10, 100, 1000)] == [
        0,
        0,
        0,
        1,
        2,
        4,
        25,
        168,
    ]
    assert count_primes_below(10000) == 1229


def test_active_wait_fields_defaults_and_l2l_names():
    assert ActiveWaitOptimizeeParameters._fields[0] == "difficulty"  # L2L's only field
    assert ActiveWaitOptimizeeParameters() == (10000.0, None)
    assert (
        AWOptimizee is ActiveWaitOptimizee
        and AWOptimizeeParameters is ActiveWaitOptimizeeParameters
    )
    # An L2L script: AWOptimizee(traj, AWOptimizeeParameters(difficulty=10000.0)).
    optimizee = AWOptimizee(Trajectory(), AWOptimizeeParameters(difficulty=10000.0))
    assert optimizee.create_individual() == {"difficulty": 10000.0}
    assert simulate_difficulty(optimizee, 10000.0) == (1229.0,)


def test_active_wait_fitness_is_deterministic_and_follows_the_individual():
    optimizee = ActiveWaitOptimizee(Trajectory(), ActiveWaitOptimizeeParameters(difficulty=1000))
    copy = pickle.loads(pickle.dumps(optimizee))
    for difficulty, primes in [(1000.0, 168), (100.5, 25), (0.0, 0), (2.9, 0), (3.0, 1)]:
        first = simulate_difficulty(optimizee, difficulty, 0, 0)
        assert first == simulate_difficulty(copy, difficulty, 5, 3) == (float(primes),)
        assert type(first[0]) is float
    assert simulate_difficulty(optimizee, np.array([100.0])) == (25.0,)
    assert simulate_difficulty(optimizee, -5.0) == (0.0,)


def test_active_wait_time_grows_with_the_difficulty():
    import time

    optimizee = ActiveWaitOptimizee(Trajectory(), ActiveWaitOptimizeeParameters())

    def best_time(difficulty):
        times = []
        for _ in range(3):
            start = time.process_time()
            simulate_difficulty(optimizee, difficulty)
            times.append(time.process_time() - start)
        return min(times)

    assert best_time(60000.0) > 5 * best_time(3000.0)


def test_active_wait_bounding_func_clips_to_zero_and_max_difficulty():
    capped = ActiveWaitOptimizee(
        Trajectory(), ActiveWaitOptimizeeParameters(100.0, max_difficulty=200.0)
    )
    assert capped.bound == (0.0, 200.0)
    assert capped.bounding_func({"difficulty": -3.0}) == {"difficulty": 0.0}
    assert capped.bounding_func({"difficulty": 150.0}) == {"difficulty": 150.0}
    assert capped.bounding_func({"difficulty": 1e9}) == {"difficulty": 200.0}
    assert capped.bounding_func({"difficulty": np.inf}) == {"difficulty": 200.0}
    assert simulate_difficulty(capped, 1e12) == (float(count_primes_below(200)),)  # capped work
    free = ActiveWaitOptimizee(Trajectory(), ActiveWaitOptimizeeParameters(100.0))
    assert free.bounding_func({"difficulty": 1e6}) == {"difficulty": 1e6}
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="difficulty must be finite"):
            free.bounding_func({"difficulty": bad})
        with pytest.raises(ValueError, match="difficulty must be finite"):
            simulate_difficulty(free, bad)


AWP = ActiveWaitOptimizeeParameters


@pytest.mark.parametrize(
    "parameters, error, message",
    [
        ((100.0,), TypeError, "must be an ActiveWaitOptimizeeParameters, got tuple"),
        (AWP(difficulty="hard"), TypeError, "difficulty must be a number, got 'hard'"),
        (AWP(difficulty=True), TypeError, "difficulty must be a number"),
        (AWP(difficulty=-1.0), ValueError, "difficulty must be a finite number >= 0, got -1.0"),
        (AWP(difficulty=np.inf), ValueError, "difficulty must be a finite number"),
        (
            AWP(100.0, max_difficulty=50.0),
            ValueError,
            r"max_difficulty must be >= difficulty \(100.0\)",
        ),
        (AWP(100.0, max_difficulty="x"), TypeError, "max_difficulty must be a number"),
    ],
)
def test_active_wait_bad_parameters_raise_clear_errors(parameters, error, message):
    with pytest.raises(error, match=message):
        ActiveWaitOptimizee(Trajectory(), parameters)


def test_active_wait_runs_under_an_optimizer():
    traj = Trajectory()
    optimizee = ActiveWaitOptimizee(traj, AWP(difficulty=100.0, max_difficulty=100.0))
    optimizer = GridSearchOptimizer(
        traj,
        optimizee.create_individual,
        (1.0,),
        GridSearchParameters(param_grid={"difficulty": (0.0, 100.0, 4)}),
        optimizee.bounding_func,
    )
    results = run_serial(traj, optimizer, optimizee, order_seed=1)
    assert [fitness for _, fitness in results[0]] == [(0.0,), (9.0,), (15.0,), (21.0,), (25.0,)]

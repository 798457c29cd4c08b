"""Benchmark functions, their table, and the function optimizee (noise included)."""

import doctest
import importlib
import pickle

import numpy as np
import pytest

from mpil2l.optimizee import Optimizee
from mpil2l.optimizees import (
    AckleyParameters,
    BenchmarkedFunctions,
    FunctionGenerator,
    FunctionGeneratorOptimizee,
    RastriginParameters,
    RosenbrockParameters,
)
from mpil2l.trajectory import Individual, Trajectory

TABLE = [
    (0, "Rastrigin2d", 2, (-5.0, 5.0)),
    (1, "Rastrigin10d", 10, (-5.0, 5.0)),
    (2, "Rosenbrock2d", 2, (-2.0, 2.0)),
    (3, "Rosenbrock10d", 10, (-2.0, 2.0)),
    (4, "Ackley2d", 2, (-2.0, 2.0)),
    (5, "Ackley10d", 10, (-2.0, 2.0)),
]


def simulate(optimizee, coords, generation=0, ind_idx=0):
    traj = Trajectory()
    traj.individual = Individual(generation, ind_idx, {"individual.coords": np.asarray(coords, float)})
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
    x_star, f_star = fg.functions[0].minimum
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
    parts = [FunctionGenerator([p], dims=2)(x) for p in (RosenbrockParameters(), RastriginParameters())]
    assert fg(x) == pytest.approx(sum(parts))
    assert fg.bound == (-5.0, 5.0)
    assert FunctionGenerator([RastriginParameters()], dims=2, bound=(0, 1)).bound == (0.0, 1.0)


BENCH = BenchmarkedFunctions()
RASTRIGIN = [RastriginParameters()]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: BENCH.get_function_by_index(6), ValueError, r"idx must be an integer in \[0, 5\], got 6"),
        (lambda: BENCH.get_function_by_index(-1), ValueError, "got -1"),
        (lambda: BENCH.get_function_by_name("Sphere"), ValueError, "no benchmark function named 'Sphere'"),
        (lambda: FunctionGenerator([], dims=2), ValueError, "at least one"),
        (lambda: FunctionGenerator(RASTRIGIN, dims=0), ValueError, "dims must be an integer >= 1, got 0"),
        (lambda: FunctionGenerator(RASTRIGIN, sigma=-1), ValueError, "sigma must be >= 0, got -1"),
        (lambda: FunctionGenerator(RASTRIGIN, bound=(1, 1)), ValueError, "lower < upper"),
        (lambda: FunctionGenerator([("not", "params")]), TypeError, "unknown function parameters tuple"),
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


@pytest.mark.parametrize("module", ["mpil2l.optimizee", "mpil2l.optimizees.functions"])
def test_docstring_examples(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0

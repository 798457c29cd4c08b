"""L2L's benchmark functions one by one: names, fields, values, minima, bounds, noise, sums."""

import pickle

import numpy as np
import pytest

from mpil2l.optimizees.functions import (
    FUNCTION_CLASSES,
    Ackley,
    AckleyParameters,
    BenchmarkedFunctions,
    Chasm,
    ChasmParameters,
    Easom,
    EasomParameters,
    FunctionGenerator,
    FunctionGeneratorOptimizee,
    Gaussian,
    GaussianParameters,
    Langermann,
    LangermannParameters,
    Michalewicz,
    MichalewiczParameters,
    Permutation,
    PermutationParameters,
    Rastrigin,
    RastriginParameters,
    Rosenbrock,
    RosenbrockParameters,
    Shekel,
    ShekelParameters,
    function_grid,
)
from mpil2l.model.trajectory import Individual, Trajectory

BENCH = BenchmarkedFunctions()
NAMES = [
    "Rastrigin2d", "Rastrigin10d", "Rosenbrock2d", "Rosenbrock10d", "Ackley2d", "Ackley10d",
    "Chasm", "Gauss2d", "Shekel2d", "Langermann2d", "Michalewicz2d", "Permutation2d",
    "Easom2d", "Easom10d", "3Gaussians2d",
]  # fmt: skip

# L2L's namedtuple names and fields, in order (l2l/optimizees/functions/function_generator.py).
L2L_FIELDS = {
    "RastriginParameters": (),
    "RosenbrockParameters": (),
    "AckleyParameters": (),
    "ChasmParameters": (),
    "EasomParameters": (),
    "GaussianParameters": ("sigma", "mean"),
    "ShekelParameters": ("A", "c"),
    "LangermannParameters": ("A", "c"),
    "MichalewiczParameters": ("m",),
    "PermutationParameters": ("beta",),
}

# The 3Gaussians2d optimum, found numerically (Nelder-Mead from the best point of a fine grid).
THREE_GAUSSIANS_MINIMUM = ([0.9990573488909, 0.9950994277413], -0.3984749957965237)


def simulate(optimizee, coords, generation=0, ind_idx=0):
    traj = Trajectory()
    traj.individual = Individual(
        generation, ind_idx, {"individual.coords": np.asarray(coords, float)}
    )
    return optimizee.simulate(traj)


def test_table_order_names_and_index_map_match_l2l():
    assert BENCH.function_names == NAMES
    assert BENCH.function_name_index_map == {name: i for i, name in enumerate(NAMES)}
    for idx, name in enumerate(NAMES):
        (by_index, _), params = BENCH.get_function_by_index(idx)
        (by_name, _), params_by_name = BENCH.get_function_by_name(name)
        assert by_index == by_name == name
        assert params == params_by_name and params["benchmark_id"] == idx


def test_parameter_namedtuples_have_l2l_names_fields_and_defaults():
    assert sorted(t.__name__ for t in FUNCTION_CLASSES) == sorted(L2L_FIELDS)
    for params_type in FUNCTION_CLASSES:
        assert params_type._fields == L2L_FIELDS[params_type.__name__]
        assert params_type.__doc__  # documented
        params_type()  # every field has a default
    assert GaussianParameters() == ("default", "default")
    assert ShekelParameters() == LangermannParameters() == ("default", "default")
    assert MichalewiczParameters() == (10,) and PermutationParameters() == (0.005,)


def test_get_params_describes_benchmarks_as_l2l_does():
    _, params = BENCH.get_function_by_name("Shekel2d")
    shekel = {"ShekelParameters": {"A": "default", "c": "default"}}
    assert params == {"benchmark_id": 8, "dims": 2, "functions": [shekel]}
    _, params = BENCH.get_function_by_name("Michalewicz2d", noise=True, mu=0.1, sigma=0.2)
    assert list(params) == ["benchmark_id", "dims", "mu", "sigma", "functions"]
    assert params["functions"] == [{"MichalewiczParameters": {"m": "default"}}]
    _, params = BENCH.get_function_by_name("Permutation2d")
    assert params["functions"] == [{"PermutationParameters": {"beta": 0.005}}]
    _, params = BENCH.get_function_by_name("3Gaussians2d")
    means = [f["GaussianParameters"]["mean"] for f in params["functions"]]
    assert means == [[-1.0, -1.0], [1.0, 1.0], [2.0, -2.0]]


# -- values at hand-computed points --------------------------------------------------------


@pytest.mark.parametrize(
    "function, x, expected",
    [
        (Chasm(ChasmParameters(), 2), [0.001, -2.0], 0.5 + 0.02),
        (Chasm(ChasmParameters(), 2), [-1.0, 0.0], 1000.0 / 1001.0),
        (
            Gaussian(GaussianParameters(sigma=4.0, mean=1.0), 1),
            [3.0],
            -np.exp(-0.5) / np.sqrt(8 * np.pi),
        ),
        (Gaussian(GaussianParameters(), 2), [0.0, 0.0], -1.0 / (2 * np.pi)),
        (
            Gaussian(GaussianParameters(sigma=[[2.0, 0.0], [0.0, 0.5]], mean=[1.0, -1.0]), 2),
            [3.0, -1.0],
            -np.exp(-1.0) / (2 * np.pi),
        ),
        # L2L adds c once per coordinate: 1 / (|x - A|^2 + dims * c).
        (Shekel(ShekelParameters(A=[[0.0, 0.0]], c=[0.5]), 2), [1.0, 1.0], -1.0 / 3.0),
        (Shekel(ShekelParameters(A=[[1.0], [3.0]], c=[1.0, 2.0]), 1), [1.0], -1.0 - 1.0 / 6.0),
        (
            Langermann(LangermannParameters(A=[[0.0, 0.0]], c=[2.0]), 2),
            [1.0, 0.0],
            -2.0 * np.exp(-1 / np.pi),
        ),
        (Langermann(LangermannParameters(A=[[0.0, 0.0]], c=[2.0]), 2), [0.0, 0.0], 2.0),
        (Michalewicz(MichalewiczParameters(m=1), 1), [np.pi / 2], -0.5),
        (Michalewicz(MichalewiczParameters(m="default"), 2), [0.0, 0.0], 0.0),
        (Permutation(PermutationParameters(beta=0.0), 2), [0.0, 0.0], 34.0),
        (Permutation(PermutationParameters(), 2), [0.0, 0.0], 3.01**2 + 5.01**2),
        (
            Permutation(PermutationParameters(beta=0.0), 2),
            [2.0, 1.0],
            0.0,
        ),  # beta=0: permutations too
        (Easom(EasomParameters(), 2), [0.0, 0.0], -np.exp(-2 * np.pi**2)),
        (Easom(EasomParameters(), 3), [np.pi] * 3, 1.0),
        (Rastrigin(RastriginParameters(), 3), [0.5, 0.0, 0.0], 20.25),
        (Rosenbrock(RosenbrockParameters(), 3), [0.0, 0.0, 0.0], 2.0),
        (Ackley(AckleyParameters(), 1), [1.0], 20 - 20 * np.exp(-0.2)),
    ],
)
def test_known_values(function, x, expected):
    value = function(x)
    assert type(value) is float
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_benchmark_sums_are_sums_of_their_parts():
    (_, fg), _ = BENCH.get_function_by_name("3Gaussians2d")
    _, params = BENCH.get_function_by_name("3Gaussians2d")
    parts = [
        Gaussian(GaussianParameters(**p["GaussianParameters"]), 2) for p in params["functions"]
    ]
    for x in ([0.0, 0.0], [1.0, 1.0], [-1.0, -1.0], [2.0, -2.0], [4.5, -3.0]):
        assert fg(x) == pytest.approx(sum(f(x) for f in parts), rel=1e-14)


# -- minima ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith("2d") or n == "Chasm"])
def test_2d_minima_beat_a_grid_and_their_neighbourhood(name):
    (_, fg), _ = BENCH.get_function_by_name(name)
    if name == "3Gaussians2d":
        x_star, f_star = np.array(THREE_GAUSSIANS_MINIMUM[0]), THREE_GAUSSIANS_MINIMUM[1]
        assert fg(x_star) == pytest.approx(f_star, abs=1e-12)
    else:
        x_star, f_star = fg.minimum
        assert fg(x_star) == pytest.approx(f_star, abs=1e-12)
    lower, upper = fg.bound
    assert np.all((x_star >= lower) & (x_star <= upper))
    X, Y, Z = function_grid(fg, step=(upper - lower) / 90)
    assert Z.min() >= f_star - 1e-12
    # No better point nearby: the minimiser is accurate to much better than the test radius.
    rng = np.random.default_rng(0)
    for radius in (1e-2, 1e-4):
        nearby = np.clip(x_star + rng.uniform(-radius, radius, (100, 2)), lower, upper)
        assert min(fg(x) for x in nearby) >= f_star - 1e-12


@pytest.mark.parametrize("name", ["Rastrigin10d", "Rosenbrock10d", "Ackley10d", "Easom10d"])
def test_10d_minima_beat_random_and_nearby_points(name):
    (_, fg), _ = BENCH.get_function_by_name(name)
    x_star, f_star = fg.minimum
    assert fg(x_star) == pytest.approx(f_star, abs=1e-12)
    rng = np.random.default_rng(1)
    points = np.concatenate(
        [rng.uniform(*fg.bound, (200, 10)), x_star + rng.uniform(-1e-3, 1e-3, (200, 10))]
    )
    assert min(fg(x) for x in points) >= f_star - 1e-12


@pytest.mark.parametrize(
    "dims, expected", [(2, -1.8013034100985), (5, -4.687658179), (10, -9.66015171564)]
)
def test_michalewicz_minimum_matches_the_published_values(dims, expected):
    function = Michalewicz(MichalewiczParameters(), dims)
    x_star, f_star = function.minimum
    assert f_star == pytest.approx(expected, abs=1e-9)
    assert function(x_star) == f_star
    if dims == 2:
        np.testing.assert_allclose(x_star, [2.20290552, np.pi / 2], atol=1e-7)
    # Separable: each coordinate is a 1-d optimum, so no single-coordinate move improves it.
    for i in range(dims):
        for t in np.linspace(0, np.pi, 2001):
            x = x_star.copy()
            x[i] = t
            assert function(x) >= f_star - 1e-12


def test_minima_of_parametrised_functions():
    gauss = Gaussian(GaussianParameters(sigma=[[1.0, 0.5], [0.5, 2.0]], mean=[0.5, -0.5]), 2)
    x_star, f_star = gauss.minimum
    assert x_star.tolist() == [0.5, -0.5] and f_star == pytest.approx(
        -1 / (2 * np.pi * np.sqrt(1.75))
    )
    np.testing.assert_array_equal(Permutation(PermutationParameters(), 4).minimum[0], [1, 2, 3, 4])
    assert Permutation(PermutationParameters(), 4)([1, 2, 3, 4]) == 0.0
    assert Easom(EasomParameters(), 3).minimum is None  # odd dims: not known
    assert Shekel(ShekelParameters(A=[[1.0, 1.0]], c=[1.0]), 2).minimum is None
    assert Langermann(LangermannParameters(A=[[1.0, 1.0]], c=[1.0]), 2).minimum is None


def test_minimum_of_a_sum():
    same_point = FunctionGenerator(
        [RastriginParameters(), AckleyParameters(), GaussianParameters()], dims=3
    )
    x_star, f_star = same_point.minimum
    assert x_star.tolist() == [0.0] * 3 and f_star == pytest.approx(-1 / (2 * np.pi) ** 1.5)
    assert same_point(x_star) == pytest.approx(f_star, abs=1e-12)
    assert FunctionGenerator([RastriginParameters(), RosenbrockParameters()]).minimum is None
    assert FunctionGenerator([RastriginParameters(), EasomParameters()], dims=3).minimum is None


# -- bounds, creation, noise -----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_individuals_and_bounding_func_respect_the_bounds(name):
    (_, fg), _ = BENCH.get_function_by_name(name)
    lower, upper = fg.bound
    optimizee = FunctionGeneratorOptimizee(Trajectory(), fg, seed=11)
    for _ in range(10):
        coords = optimizee.create_individual()["coords"]
        assert coords.shape == (fg.dims,) and np.all((coords >= lower) & (coords <= upper))
    far = np.where(np.arange(fg.dims) % 2 == 0, lower - 100.0, upper + 100.0)
    inside = np.linspace(lower, upper, fg.dims)
    assert optimizee.bounding_func({"coords": far})["coords"].tolist() == [
        lower if i % 2 == 0 else upper for i in range(fg.dims)
    ]
    np.testing.assert_array_equal(optimizee.bounding_func({"coords": inside})["coords"], inside)
    assert np.isfinite(simulate(optimizee, optimizee.bounding_func({"coords": far})["coords"])[0])


@pytest.mark.parametrize("name", NAMES)
def test_noise_is_reproducible_for_every_benchmark(name):
    (_, fg), params = BENCH.get_function_by_name(name, noise=True, mu=1.0, sigma=0.1)
    assert params["mu"] == 1.0 and params["sigma"] == 0.1
    optimizee = FunctionGeneratorOptimizee(Trajectory(), fg, seed=5)
    copy = pickle.loads(pickle.dumps(optimizee))
    x = optimizee.create_individual()["coords"]
    values = [simulate(optimizee, x, g, i)[0] for g in range(2) for i in range(3)]
    again = [simulate(copy, x, g, i)[0] for g in range(2) for i in range(3)]
    assert values == again and len(set(values)) == len(values)
    assert all(0.5 < v - fg(x) < 1.5 for v in values)


def test_cost_function_accepts_l2l_random_state():
    (_, fg), _ = BENCH.get_function_by_name("Ackley2d", noise=True, sigma=0.5)
    a = fg.cost_function([0.0, 0.0], random_state=np.random.RandomState(3))
    b = fg.cost_function([0.0, 0.0], np.random.RandomState(3))
    assert a == b == np.random.RandomState(3).normal(0.0, 0.5) + fg([0.0, 0.0])
    (_, quiet), _ = BENCH.get_function_by_name("Ackley2d")
    assert quiet.cost_function([1.0, 1.0], random_state=np.random.RandomState(3)) == quiet(
        [1.0, 1.0]
    )


# -- combinations ------------------------------------------------------------------------------


def test_combinations_sum_any_functions_and_widen_the_bounds():
    params = [
        ShekelParameters(),
        PermutationParameters(beta=0.5),
        GaussianParameters(mean=[1.0, 2.0]),
        ChasmParameters(),
    ]
    fg = FunctionGenerator(params, dims=2)
    assert fg.bound == (-5.0, 10.0)  # Gaussian [-5, 5], Shekel [0, 10]
    assert [type(f).__name__ for f in fg.gen_functions] == [
        "Shekel",
        "Permutation",
        "Gaussian",
        "Chasm",
    ]
    rng = np.random.default_rng(2)
    for x in rng.uniform(-2, 10, (20, 2)):
        parts = [FunctionGenerator([p], dims=2)(x) for p in params]
        assert fg(x) == pytest.approx(sum(parts), rel=1e-13)
    assert [next(iter(f)) for f in fg.get_params()["functions"]] == [
        type(p).__name__ for p in params
    ]
    noisy = FunctionGenerator(params, dims=2, noise=True, sigma=0.0, mu=2.0)
    assert noisy.cost_function([1.0, 1.0], np.random.default_rng(0)) == pytest.approx(
        fg([1.0, 1.0]) + 2.0
    )


def test_same_function_twice_doubles_it():
    fg = FunctionGenerator([EasomParameters(), EasomParameters()], dims=2)
    assert fg([np.pi, np.pi]) == -2.0 and fg.minimum[1] == -2.0


def test_function_grid_covers_the_bounds():
    fg = FunctionGenerator([MichalewiczParameters()], dims=2)
    X, Y, Z = function_grid(fg, step=0.05)
    assert X.shape == Y.shape == Z.shape == (63, 63)
    assert X[0, 0] == 0.0 and X[0, -1] < np.pi and Z[10, 20] == fg([X[10, 20], Y[10, 20]])
    noisy = FunctionGenerator([MichalewiczParameters()], dims=2, noise=True)
    _, _, noisy_z = function_grid(noisy, step=0.5, rng=np.random.default_rng(0))
    assert noisy_z.shape == (7, 7)
    with pytest.raises(ValueError, match="2-dimensional function, got dims=10"):
        function_grid(BENCH.get_function_by_name("Easom10d")[0][1])
    with pytest.raises(ValueError, match="step must be > 0, got 0"):
        function_grid(fg, step=0)


# -- parameter errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, dims, message",
    [
        (ChasmParameters(), 3, "Chasm exists in 2 dimensions only, got dims=3"),
        (
            GaussianParameters(sigma=[[1.0, 0.0], [0.0, 1.0]]),
            3,
            r"sigma must be 3 x 3, got shape \(2, 2\)",
        ),
        (GaussianParameters(mean=[0.0, 0.0]), 3, r"mean must hold 3 values, got shape \(2,\)"),
        (GaussianParameters(sigma=[[1.0, 0.5], [0.0, 1.0]]), 2, "sigma must be symmetric"),
        (GaussianParameters(sigma=[[1.0, 2.0], [2.0, 1.0]]), 2, "sigma must be positive definite"),
        (GaussianParameters(sigma=-1.0), 1, "sigma must be positive definite"),
        (
            ShekelParameters(),
            3,
            "default ShekelParameters are 2-dimensional; give A and c for dims=3",
        ),
        (LangermannParameters(), 1, "default LangermannParameters are 2-dimensional"),
        (ShekelParameters(A=[[1.0, 2.0]]), 2, "A and .c must both be 'default' or both be given"),
        (ShekelParameters(A=[[1.0, 2.0]], c=[0.1, 0.2]), 2, "A has 1 rows but c has 2 values"),
        (ShekelParameters(A=[[1.0, 2.0, 3.0]], c=[0.1]), 2, r"A must be m x 2, got shape \(1, 3\)"),
        (
            ShekelParameters(A=[[1.0, 2.0]], c=[0.0]),
            2,
            r"ShekelParameters.c must be > 0, got \[0.0\]",
        ),
        (LangermannParameters(A=[1.0, 2.0], c=[1.0]), 2, r"A must be m x 2, got shape \(2,\)"),
        (MichalewiczParameters(m=0), 2, "m must be a number > 0, got 0"),
        (MichalewiczParameters(m="steep"), 2, "m must be a number > 0, got 'steep'"),
        (PermutationParameters(beta=-0.1), 2, "beta must be a number >= 0, got -0.1"),
        (PermutationParameters(beta=[0.1]), 2, r"beta must be a number >= 0, got \[0.1\]"),
        (EasomParameters(), 0, "dims must be an integer >= 1, got 0"),
    ],
)
def test_bad_function_parameters_raise_clear_errors(params, dims, message):
    with pytest.raises(ValueError, match=message):
        FunctionGenerator([params], dims=dims)


def test_langermann_accepts_any_sign_of_c():
    function = Langermann(LangermannParameters(A=[[0.0]], c=[-1.0]), 1)
    assert function([0.0]) == -1.0

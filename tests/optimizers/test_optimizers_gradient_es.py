"""Evolution strategies, natural evolution strategies, gradient descent and multi gradient
descent, driven by the serial generation loop."""

import copy
import doctest
import importlib
import math

import numpy as np
import pytest
from serial_loop import evaluate_generation, run_serial

from mpil2l.optimizees.base import Optimizee
from mpil2l.optimizees import BenchmarkedFunctions, FunctionGeneratorOptimizee
from mpil2l.optimizers.evolutionstrategies import (
    EvolutionStrategiesOptimizer,
    EvolutionStrategiesParameters,
    rank_utilities,
)
from mpil2l.optimizers.gradientdescent import (
    AdaMaxParameters,
    AdamParameters,
    ClassicGDParameters,
    GradientDescentOptimizer,
    RMSPropParameters,
    StochasticGDParameters,
)
from mpil2l.optimizers.multigradientdescent import (
    MultiAdaMaxParameters,
    MultiAdamParameters,
    MultiClassicGDParameters,
    MultiGradientDescentOptimizer,
    MultiRMSPropParameters,
    MultiStochasticGDParameters,
    pack_individuals,
    unpack_individual,
)
from mpil2l.optimizers.naturalevolutionstrategies import (
    NaturalEvolutionStrategiesOptimizer,
    NaturalEvolutionStrategiesParameters,
)
from mpil2l.model.trajectory import Trajectory

# -- optimizees -----------------------------------------------------------------------------

CENTER = (0.2, 0.3, -0.7)  # flattened order: v, x[0], x[1]


class Quadratic(Optimizee):
    """``sum(scale * (z - t)^2)`` for each target ``t``: one objective per target, for the
    individual ``{'x': array of 2, 'v': float}`` flattened as ``z = (v, x0, x1)``.

    With ``packed`` it serves `MultiGradientDescentOptimizer`: it evaluates every inner
    individual and returns their objectives one after the other.
    """

    def __init__(
        self, traj, targets=(CENTER,), scale=(1.0, 1.0, 4.0), start=(-1.0, 1.5, 0.5), packed=False
    ):
        super().__init__(traj)
        self.targets = [np.asarray(t, dtype=float) for t in targets]
        self.scale = np.asarray(scale, dtype=float)
        self.start = start
        self.packed = packed

    def create_individual(self):
        return {"x": np.array(self.start[1:]), "v": self.start[0]}

    def bounding_func(self, individual):
        return {
            "x": np.clip(individual["x"], -3.0, 3.0),
            "v": float(np.clip(individual["v"], -3.0, 3.0)),
        }

    def objectives(self, individual):
        z = np.concatenate([[individual["v"]], individual["x"]])
        return tuple(float(np.sum(self.scale * (z - t) ** 2)) for t in self.targets)

    def simulate(self, traj):
        if self.packed:
            return tuple(
                f for inner in unpack_individual(traj.individual) for f in self.objectives(inner)
            )
        return self.objectives({"x": traj.individual.x, "v": traj.individual.v})


class Flaky(Quadratic):
    """A `Quadratic` whose evaluations fail (worst fitness, or NaN) in a fixed pattern, and
    entirely in generation 2."""

    def simulate(self, traj):
        ind = traj.individual
        fitness = super().simulate(traj)
        k = (ind.generation + ind.ind_idx) % 5
        if ind.generation == 2 or k == 0:
            return (math.inf,) * len(fitness)  # what the runtime gives a failed individual
        if k == 1:
            return (math.nan,) * len(fitness)
        return fitness


class Linear(Optimizee):
    """``a . z`` on ``{'z': array of 3}``."""

    slope = np.array([1.0, -2.0, 0.5])

    def create_individual(self):
        return {"z": np.array([0.5, 0.5, 0.5])}

    def simulate(self, traj):
        return (float(self.slope @ traj.individual.z),)


# -- one configuration per optimizer (and per update rule) ---------------------------------

CASES = {
    "es": (
        EvolutionStrategiesOptimizer,
        EvolutionStrategiesParameters,
        dict(learning_rate=1.0, noise_std=0.3, pop_size=5),
    ),
    "es-plain": (
        EvolutionStrategiesOptimizer,
        EvolutionStrategiesParameters,
        dict(
            learning_rate=0.02,
            noise_std=0.3,
            pop_size=8,
            mirrored_sampling_enabled=False,
            fitness_shaping_enabled=False,
        ),
    ),
    "nes": (
        NaturalEvolutionStrategiesOptimizer,
        NaturalEvolutionStrategiesParameters,
        dict(sigma=0.5),
    ),
    "nes-plain": (
        NaturalEvolutionStrategiesOptimizer,
        NaturalEvolutionStrategiesParameters,
        dict(
            sigma=0.5,
            learning_rate_mu=0.05,
            learning_rate_sigma=0.01,
            mirrored_sampling_enabled=False,
            fitness_shaping_enabled=False,
        ),
    ),
    "gd-classic": (
        GradientDescentOptimizer,
        ClassicGDParameters,
        dict(learning_rate=0.1, n_random_steps=3),
    ),
    "gd-stochastic": (
        GradientDescentOptimizer,
        StochasticGDParameters,
        dict(learning_rate=0.1, n_random_steps=3, stochastic_deviation=0.5, stochastic_decay=0.8),
    ),
    "gd-adam": (
        GradientDescentOptimizer,
        AdamParameters,
        dict(learning_rate=0.1, n_random_steps=3, second_order_decay=0.99),
    ),
    "gd-adamax": (
        GradientDescentOptimizer,
        AdaMaxParameters,
        dict(learning_rate=0.1, n_random_steps=3),
    ),
    "gd-rmsprop": (
        GradientDescentOptimizer,
        RMSPropParameters,
        dict(learning_rate=0.05, n_random_steps=3),
    ),
    "mgd-classic": (
        MultiGradientDescentOptimizer,
        MultiClassicGDParameters,
        dict(learning_rate=0.1, n_random_steps=2, n_inner_params=2),
    ),
    "mgd-stochastic": (
        MultiGradientDescentOptimizer,
        MultiStochasticGDParameters,
        dict(
            learning_rate=0.1,
            n_random_steps=2,
            n_inner_params=2,
            stochastic_deviation=0.5,
            stochastic_decay=0.8,
        ),
    ),
    "mgd-adam": (
        MultiGradientDescentOptimizer,
        MultiAdamParameters,
        dict(learning_rate=0.1, n_random_steps=2, n_inner_params=2, second_order_decay=0.99),
    ),
    "mgd-adamax": (
        MultiGradientDescentOptimizer,
        MultiAdaMaxParameters,
        dict(learning_rate=0.1, n_random_steps=1, n_inner_params=4),
    ),
    "mgd-rmsprop": (
        MultiGradientDescentOptimizer,
        MultiRMSPropParameters,
        dict(learning_rate=0.05, n_random_steps=4, n_inner_params=1),
    ),
}


def make(case, traj=None, optimizee_class=Quadratic, weights=(-1.0,), targets=(CENTER,), **params):
    """The optimizer of `case` on a `optimizee_class` optimizee (packed for the multi
    variant), with `params` overriding the case's parameters."""
    optimizer_class, parameters_class, case_params = CASES[case]
    traj = Trajectory() if traj is None else traj
    optimizee = optimizee_class(
        traj, targets=targets, packed=optimizer_class is MultiGradientDescentOptimizer
    )
    parameters = parameters_class(**{"seed": 3, "n_iteration": 15, **case_params, **params})
    optimizer = optimizer_class(
        traj, optimizee.create_individual, weights, parameters, optimizee.bounding_func
    )
    return traj, optimizee, optimizer


def centre_of(optimizer):
    """The point an optimizer is at: theta, mu or the current individual."""
    for name in ("current_individual_arr", "mu", "current_individual"):
        if hasattr(optimizer, name):
            return getattr(optimizer, name)
    raise AttributeError(name)


def individuals_of(traj):
    return {
        g: [
            (ind.ind_idx, {k: np.asarray(v).tolist() for k, v in ind.params.items()})
            for ind in inds
        ]
        for g, inds in traj.individuals.items()
    }


def function_setup(name, seed):
    (_, fg), _ = BenchmarkedFunctions().get_function_by_name(name)
    traj = Trajectory()
    return traj, FunctionGeneratorOptimizee(traj, fg, seed=seed)


def run_on_function(optimizer_class, parameters, name, seed):
    traj, optimizee = function_setup(name, seed)
    optimizer = optimizer_class(
        traj, optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
    )
    results = run_serial(traj, optimizer, optimizee)
    return optimizer, sum(len(r) for r in results.values())


# -- reaching the optimum -------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "name, params, budget, tolerance",
    [
        # evaluations per generation: 2 * pop_size + 1 = 21
        (
            "Ackley2d",
            dict(learning_rate=1.0, noise_std=0.6, pop_size=10, n_iteration=150),
            3150,
            0.01,
        ),
        (
            "Rosenbrock2d",
            dict(learning_rate=0.5, noise_std=0.1, pop_size=10, n_iteration=500),
            10500,
            0.12,
        ),
    ],
)
def test_es_reaches_the_optimum(name, params, budget, tolerance, seed):
    optimizer, n_evaluations = run_on_function(
        EvolutionStrategiesOptimizer, EvolutionStrategiesParameters(seed=seed, **params), name, seed
    )
    x_star = np.zeros(2) if name == "Ackley2d" else np.ones(2)
    assert n_evaluations == budget
    assert np.max(np.abs(optimizer.best_individual["coords"] - x_star)) < tolerance
    assert optimizer.best_fitness[0] < 5e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "name, params, budget, tolerance",
    [
        # default pop_size for d = 2: 6 samples, mirrored: 12 evaluations per generation
        ("Ackley2d", dict(sigma=1.0, n_iteration=100), 1200, 1e-4),
        ("Rastrigin2d", dict(sigma=2.0, pop_size=20, n_iteration=150), 6000, 1e-4),
        (
            "Rosenbrock2d",
            dict(sigma=0.5, pop_size=10, learning_rate_sigma=0.1, n_iteration=300),
            6000,
            0.02,
        ),
    ],
)
def test_nes_reaches_the_optimum(name, params, budget, tolerance, seed):
    optimizer, n_evaluations = run_on_function(
        NaturalEvolutionStrategiesOptimizer,
        NaturalEvolutionStrategiesParameters(seed=seed, **params),
        name,
        seed,
    )
    x_star = np.ones(2) if name == "Rosenbrock2d" else np.zeros(2)
    assert n_evaluations == budget
    assert np.max(np.abs(optimizer.best_individual["coords"] - x_star)) < tolerance
    assert optimizer.best_fitness[0] < 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gd_adam_reaches_the_rosenbrock_optimum(seed):
    parameters = AdamParameters(
        learning_rate=0.01,
        exploration_step_size=1e-4,
        n_random_steps=2,
        first_order_decay=0.9,
        second_order_decay=0.99,
        n_iteration=1500,
        seed=seed,
    )
    optimizer, n_evaluations = run_on_function(
        GradientDescentOptimizer, parameters, "Rosenbrock2d", seed
    )
    assert n_evaluations == 4500
    assert optimizer.best_fitness[0] < 0.02
    assert np.max(np.abs(optimizer.best_individual["coords"] - 1.0)) < 0.25


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", [c for c in CASES if c.startswith(("gd-", "mgd-"))])
def test_gradient_descent_rules_reach_the_bowl_minimum(case, seed):
    # 60 generations of 4 evaluations (gd), or of 2 packed evaluations (mgd); start 1.4 away
    traj, optimizee, optimizer = make(case, seed=seed, n_iteration=60, exploration_step_size=1e-3)
    results = run_serial(traj, optimizer, optimizee)
    assert len(results) == 60
    best = optimizer.best_individual
    np.testing.assert_allclose([best["v"], *best["x"]], CENTER, atol=0.03)
    assert optimizer.best_fitness[0] < 1e-3
    # Adam and AdaMax keep stepping about learning_rate around the minimum
    np.testing.assert_allclose(optimizer.current_individual, CENTER, atol=0.15)


# -- the algorithms, step by step -----------------------------------------------------------


def test_rank_utilities_follow_wierstra():
    for n in (1, 2, 5, 12):
        u = rank_utilities(n)
        assert u.shape == (n,) and abs(u.sum()) < 1e-12 and np.all(np.diff(u) <= 0)
    raw = np.maximum(0.0, np.log(3.0) - np.log([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(rank_utilities(4), raw / raw.sum() - 0.25)


@pytest.mark.parametrize("shaping, mirrored", [(True, True), (False, False)])
def test_es_step_is_the_documented_update(shaping, mirrored):
    traj, optimizee, optimizer = make(
        "es",
        learning_rate=0.5,
        noise_std=0.2,
        pop_size=3,
        mirrored_sampling_enabled=mirrored,
        fitness_shaping_enabled=shaping,
    )
    theta, e = optimizer.current_individual_arr.copy(), optimizer.current_perturbations.copy()
    n = 6 if mirrored else 3
    assert e.shape == (n, 3) and len(traj.individuals[0]) == n + 1
    if mirrored:
        np.testing.assert_array_equal(e[3:], -e[:3])
    points = np.array([[ind.v, *ind.x] for ind in traj.individuals[0]])
    np.testing.assert_allclose(points, np.vstack([theta + e, theta]))  # the current point last

    results = evaluate_generation(traj, optimizee, 0)
    f = -np.array([r[1][0] for r in results])[:-1]
    if shaping:
        values = np.empty(n)
        values[np.argsort(-f)] = rank_utilities(n)
    else:
        values = f
    optimizer.post_process(traj, results)
    np.testing.assert_allclose(
        optimizer.current_individual_arr, theta + 0.5 * (values @ e) / (n * 0.04)
    )
    assert optimizer.current_individual_fitness == -results[-1][1][0]


def test_nes_step_is_the_documented_update():
    traj, optimizee, optimizer = make(
        "nes", learning_rate_mu=0.7, learning_rate_sigma=0.3, sigma=[0.5, 0.2, 0.1]
    )
    mu, sigma, s = (
        optimizer.mu.copy(),
        optimizer.sigma.copy(),
        optimizer.current_perturbations.copy(),
    )
    n = 2 * (4 + int(3 * math.log(3)))
    assert s.shape == (n, 3) and len(traj.individuals[0]) == n
    np.testing.assert_allclose([[ind.v, *ind.x] for ind in traj.individuals[0]], mu + sigma * s)

    results = evaluate_generation(traj, optimizee, 0)
    f = -np.array([r[1][0] for r in results])
    u = np.empty(n)
    u[np.argsort(-f)] = rank_utilities(n)
    optimizer.post_process(traj, results)
    np.testing.assert_allclose(optimizer.mu, mu + 0.7 * sigma * (u @ s))
    np.testing.assert_allclose(optimizer.sigma, sigma * np.exp(0.15 * (u @ (s**2 - 1.0))))


def test_nes_resolves_its_defaults():
    traj, _, optimizer = make("nes", sigma=0.5)
    d = 3
    assert optimizer.pop_size == traj.par.pop_size == 4 + int(math.floor(3 * math.log(d)))
    assert traj.par.learning_rate_mu == 1.0
    assert traj.par.learning_rate_sigma == pytest.approx((3 + math.log(d)) / (5 * math.sqrt(d)))
    np.testing.assert_array_equal(
        traj.par.mu, [-1.0, 1.5, 0.5]
    )  # the created individual, flattened
    np.testing.assert_array_equal(traj.par.sigma, [0.5] * 3)
    assert traj.par.dimension == (3,)


@pytest.mark.parametrize(
    "parameters, expected_step",
    [
        (ClassicGDParameters(learning_rate=0.1), lambda g: 0.1 * g),
        (StochasticGDParameters(learning_rate=0.1, stochastic_deviation=0.0), lambda g: 0.1 * g),
        (AdamParameters(learning_rate=0.1), lambda g: 0.1 * g / (np.abs(g) + 1e-8)),
        (
            AdaMaxParameters(learning_rate=0.1, first_order_decay=0.8),
            lambda g: 0.1 * 0.2 * np.sign(g),
        ),
        (
            RMSPropParameters(learning_rate=0.1, momentum_decay=0.9),
            lambda g: 0.1 * g / np.sqrt(0.1 * g**2 + 1e-6),
        ),
    ],
    ids=lambda p: type(p).__name__ if isinstance(p, tuple) else None,
)
def test_first_gradient_step_of_each_rule_on_a_linear_fitness(parameters, expected_step):
    traj = Trajectory()
    optimizee = Linear(traj)
    optimizer = GradientDescentOptimizer(traj, optimizee.create_individual, (1.0,), parameters)
    assert len(traj.individuals[0]) == parameters.n_random_steps + 1
    optimizer.post_process(traj, evaluate_generation(traj, optimizee, 0))
    # least squares on a linear function gives its exact gradient
    np.testing.assert_allclose(
        optimizer.current_individual, 0.5 + expected_step(Linear.slope), rtol=1e-6
    )
    assert traj.individuals[1][-1].z.tolist() == optimizer.current_individual.tolist()


def test_multi_gd_with_one_inner_individual_is_gradient_descent():
    """The same generator draws, the same points and the same steps: the code is shared."""
    params = dict(learning_rate=0.05, exploration_step_size=0.05, n_iteration=12, seed=5)
    traj_gd, optimizee, gd = make("gd-adam", n_random_steps=3, **params)
    traj_mgd, packed, mgd = make("mgd-adam", n_random_steps=4, n_inner_params=1, **params)
    run_serial(traj_gd, gd, optimizee)
    run_serial(traj_mgd, mgd, packed)
    for g in range(12):
        single = [[ind.v, *ind.x] for ind in traj_gd.individuals[g]]
        multi = [[ind.v[0], *ind.x[0]] for ind in traj_mgd.individuals[g]]
        assert single == multi
    np.testing.assert_array_equal(gd.current_individual, mgd.current_individual)


def test_multi_gd_packs_individuals_and_unpacks_results():
    traj, optimizee, optimizer = make(
        "mgd-classic", n_random_steps=3, n_inner_params=4, weights=(-2.0,)
    )
    inds = traj.individuals[0]
    assert len(inds) == 3
    assert all(ind.x.shape == (4, 2) and ind.v.shape == (4,) for ind in inds)
    assert traj.par.n_inner_params == 4 and traj.par.n_random_steps == 3
    # the current individual is the last inner individual of the last evaluation
    np.testing.assert_array_equal([inds[-1].v[-1], *inds[-1].x[-1]], optimizer.current_individual)
    assert optimizer.optimizee_fitness_weights == (
        -2.0,
    ) * 4 and optimizer.inner_fitness_weights == (-2.0,)

    results = evaluate_generation(traj, optimizee, 0)
    assert all(len(f) == 4 for _, f in results)
    optimizer.post_process(traj, results)
    stats = optimizer.statistics[0]
    assert stats["n_individuals"] == 12
    flat = [f for _, fitness in results for f in fitness]
    assert stats["best_fitness"] == (min(flat),) and stats["best_ind_idx"] == int(np.argmin(flat))
    assert set(optimizer.best_individual) == {"x", "v"} and optimizer.best_individual[
        "x"
    ].shape == (2,)
    assert optimizer.best_weighted_fitness == -2.0 * min(flat)

    with pytest.raises(
        ValueError,
        match=r"returned 1 fitness value\(s\); expected n_inner_params \* objectives = 4 \* 1",
    ):
        optimizer.post_process(traj, [(i, (1.0,)) for i in range(3)])
    with pytest.raises(
        ValueError, match=r"multi-individuals 0..2 but the results hold ind_idx \[0, 1\]"
    ):
        optimizer.post_process(traj, [(i, (1.0,) * 4) for i in range(2)])


def test_pack_and_unpack_are_inverse():
    inds = [{"a": float(i), "w": np.arange(3.0) + i, "m": np.full((2, 2), i)} for i in range(3)]
    packed = pack_individuals(inds)
    assert (
        packed["a"].shape == (3,) and packed["w"].shape == (3, 3) and packed["m"].shape == (3, 2, 2)
    )
    back = unpack_individual(packed)
    assert [b["a"] for b in back] == [0.0, 1.0, 2.0]
    assert all(np.array_equal(b["m"], i["m"]) for b, i in zip(back, inds))
    with pytest.raises(ValueError, match="same first-axis length"):
        unpack_individual({"a": np.zeros(2), "b": np.zeros(3)})
    _, _, optimizer = make("mgd-classic")
    assert optimizer.expand_individual(optimizer.compress_individual(inds, 3), 3)[2]["a"] == 2.0


# -- determinism, checkpoints, failures -----------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_same_seed_same_run_whatever_the_result_order(case):
    traj_a, optimizee_a, a = make(case)
    traj_b, optimizee_b, b = make(case)
    run_serial(traj_a, a, optimizee_a)
    run_serial(traj_b, b, optimizee_b, order_seed=7)
    assert len(traj_a.individuals) == 15
    assert individuals_of(traj_a) == individuals_of(traj_b)
    assert a.statistics == b.statistics
    traj_c, optimizee_c, c = make(case, seed=4)
    run_serial(traj_c, c, optimizee_c)
    assert individuals_of(traj_c) != individuals_of(traj_a)


@pytest.mark.parametrize("case", list(CASES))
def test_state_round_trip_resumes_the_same_run(case):
    full_traj, full_optimizee, full = make(case)
    run_serial(full_traj, full, full_optimizee)

    traj, optimizee, optimizer = make(case)
    for g in range(6):
        optimizer.post_process(traj, evaluate_generation(traj, optimizee, g))
    state = copy.deepcopy(optimizer.get_state())
    saved_traj = copy.deepcopy(traj)

    _, _, resumed = make(case)
    resumed.set_state(state)
    for g in range(6, 15):
        resumed.post_process(saved_traj, evaluate_generation(saved_traj, optimizee, g))
    assert individuals_of(saved_traj) == individuals_of(full_traj)
    assert resumed.statistics == full.statistics
    np.testing.assert_array_equal(centre_of(resumed), centre_of(full))


@pytest.mark.parametrize(
    "case, other, message",
    [
        (
            "es",
            dict(pop_size=4),
            r"perturbations \(10, 3\), this optimizer expects \(3,\) and \(8, 3\)",
        ),
        (
            "nes",
            dict(pop_size=4),
            r"samples \(14, 3\), this optimizer expects \(3,\), \(3,\) and \(8, 3\)",
        ),
        (
            "gd-adam",
            dict(n_random_steps=5),
            r"saved generation has shape \(4, 3\), this optimizer expects \(6, 3\)",
        ),
        (
            "mgd-adam",
            dict(n_inner_params=3),
            r"saved generation has shape \(4, 3\), this optimizer expects \(6, 3\)",
        ),
    ],
)
def test_set_state_rejects_another_population_size(case, other, message):
    _, _, optimizer = make(case)
    _, _, different = make(case, **other)
    with pytest.raises(ValueError, match=message):
        different.set_state(optimizer.get_state())
    with pytest.raises(ValueError, match="state lacks"):
        different.set_state({"generation": 0})


def test_set_state_rejects_moments_of_another_rule():
    _, _, rmsprop = make("gd-rmsprop")
    _, _, adam = make("gd-adam")
    with pytest.raises(ValueError, match=r"update rule state lacks \['fo_moment'\]"):
        adam.set_state(rmsprop.get_state())


@pytest.mark.parametrize("case", list(CASES))
def test_failed_individuals_never_produce_nan(case):
    traj, optimizee, optimizer = make(case, optimizee_class=Flaky)
    run_serial(traj, optimizer, optimizee)
    assert len(traj.individuals) == 15
    for inds in traj.individuals.values():
        for ind in inds:
            assert all(np.all(np.isfinite(v)) for v in ind.params.values())
    assert np.all(np.isfinite(centre_of(optimizer)))
    assert math.isfinite(optimizer.best_weighted_fitness)
    assert (
        optimizer.statistics[2]["best_weighted_fitness"] == -math.inf
    )  # generation 2 failed entirely


@pytest.mark.parametrize("case", list(CASES))
def test_a_generation_that_failed_entirely_moves_nothing(case):
    traj, optimizee, optimizer = make(case, optimizee_class=Flaky)
    for g in range(2):
        optimizer.post_process(traj, evaluate_generation(traj, optimizee, g))
    before = centre_of(optimizer).copy()
    optimizer.post_process(traj, evaluate_generation(traj, optimizee, 2))
    np.testing.assert_array_equal(centre_of(optimizer), before)
    assert 3 in traj.individuals


# -- weights, stopping, parameters ----------------------------------------------------------

TARGET_B = (-0.6, -0.5, 0.9)


@pytest.mark.parametrize(
    "case, params",
    [
        ("es", dict(n_iteration=80)),
        ("nes", dict(n_iteration=60)),
        ("gd-adam", dict(n_iteration=80, exploration_step_size=1e-3)),
        ("mgd-rmsprop", dict(n_iteration=80, exploration_step_size=1e-3)),
    ],
)
def test_multi_objective_weights_find_the_weighted_optimum(case, params):
    # minimise |z - a|^2 + 3 |z - b|^2 (scaled): the optimum is (a + 3 b) / 4
    traj, optimizee, optimizer = make(
        case, weights=(-1.0, -3.0), targets=(CENTER, TARGET_B), **params
    )
    run_serial(traj, optimizer, optimizee)
    expected = (np.array(CENTER) + 3 * np.array(TARGET_B)) / 4
    assert len(optimizer.best_fitness) == 2
    best = optimizer.best_individual
    np.testing.assert_allclose([best["v"], *best["x"]], expected, atol=0.05)
    f1, f2 = optimizer.best_fitness
    assert optimizer.best_weighted_fitness == pytest.approx(-f1 - 3.0 * f2)


@pytest.mark.parametrize("case", ["es-plain", "nes", "gd-classic", "mgd-adamax"])
def test_positive_weights_maximise(case):
    traj, optimizee, optimizer = make(case, weights=(1.0,), n_iteration=12)
    run_serial(traj, optimizer, optimizee)
    # maximising the bowl drives the point away from its centre, into the box bound of 3
    assert (
        optimizer.statistics[-1]["best_weighted_fitness"]
        > optimizer.statistics[0]["best_weighted_fitness"]
    )
    assert np.linalg.norm(centre_of(optimizer) - CENTER) > np.linalg.norm(
        np.array([-1.0, 1.5, 0.5]) - CENTER
    )


@pytest.mark.parametrize("case", ["es", "nes", "gd-classic", "mgd-classic"])
def test_stop_criterion_ends_the_run(case):
    traj, optimizee, optimizer = make(case, n_iteration=200, stop_criterion=-0.5)
    results = run_serial(traj, optimizer, optimizee)
    last = max(results)
    assert 1 < len(results) < 200 and last + 1 not in traj.individuals
    assert optimizer.statistics[-1]["best_weighted_fitness"] >= -0.5
    if case != "gd-classic":  # gradient descent looks at the current individual only (below)
        assert all(s["best_weighted_fitness"] < -0.5 for s in optimizer.statistics[:-1])
    assert traj.results.n_iteration == len(results)


def test_gd_stops_on_the_current_individual_fitness():
    traj, optimizee, optimizer = make("gd-classic", n_iteration=200, stop_criterion=-0.5)
    run_serial(traj, optimizer, optimizee)
    assert optimizer.current_fitness >= -0.5
    assert all(
        -optimizee.objectives({"v": inds[-1].v, "x": inds[-1].x})[0] < -0.5
        for g, inds in traj.individuals.items()
        if g < len(optimizer.statistics) - 1
    )


@pytest.mark.parametrize("case", list(CASES))
def test_every_parameter_field_is_in_the_trajectory(case):
    traj, _, optimizer = make(case)
    for name in optimizer.parameters._fields:
        assert name in traj.par
    assert traj.par.n_iteration == 15


def _bad(case, error, message, **params):
    return pytest.param(case, params, error, message, id=f"{case}-{'-'.join(params)}")


@pytest.mark.parametrize(
    "case, params, error, message",
    [
        _bad("es", TypeError, "learning_rate must be a real number, got str", learning_rate="0.1"),
        _bad("es", ValueError, "learning_rate must be > 0, got -1", learning_rate=-1),
        _bad("es", ValueError, "noise_std must be finite and > 0", noise_std=0.0),
        _bad(
            "es",
            ValueError,
            r"noise_std must be one number or 3 numbers .* got 2",
            noise_std=[0.1, 0.2],
        ),
        _bad(
            "es",
            TypeError,
            "mirrored_sampling_enabled must be True or False, got int 1",
            mirrored_sampling_enabled=1,
        ),
        _bad(
            "es",
            TypeError,
            "fitness_shaping_enabled must be True or False",
            fitness_shaping_enabled="yes",
        ),
        _bad("es", ValueError, "pop_size must be >= 1, got 0", pop_size=0),
        _bad("es", ValueError, "n_iteration must be >= 1, got 0", n_iteration=0),
        _bad("es", ValueError, "stop_criterion must not be NaN", stop_criterion=math.nan),
        _bad("es", TypeError, "stop_criterion must be a real number", stop_criterion=None),
        _bad("es", ValueError, "seed must be >= 0, got -1", seed=-1),
        _bad("nes", ValueError, "learning_rate_mu must be > 0, got 0", learning_rate_mu=0),
        _bad("nes", ValueError, "learning_rate_sigma must be finite", learning_rate_sigma=math.inf),
        _bad("nes", ValueError, "mu must have 3 elements .* got 2", mu=[0.0, 1.0]),
        _bad("nes", TypeError, "mu must be None or an array of numbers", mu="abc"),
        _bad("nes", ValueError, "sigma must be finite and > 0", sigma=[1.0, -1.0, 1.0]),
        _bad("nes", ValueError, "pop_size must be >= 1, got 0", pop_size=0),
        _bad(
            "gd-classic",
            ValueError,
            "exploration_step_size must be > 0, got 0",
            exploration_step_size=0.0,
        ),
        _bad("gd-classic", ValueError, "n_random_steps must be >= 1, got 0", n_random_steps=0),
        _bad(
            "gd-classic",
            TypeError,
            "n_random_steps must be an integer, got float 2.0",
            n_random_steps=2.0,
        ),
        _bad(
            "gd-stochastic",
            ValueError,
            r"stochastic_decay must be in \[0, 1\], got 1.5",
            stochastic_decay=1.5,
        ),
        _bad(
            "gd-stochastic",
            ValueError,
            r"stochastic_deviation must be in \[0, inf\], got -1",
            stochastic_deviation=-1.0,
        ),
        _bad(
            "gd-adam",
            ValueError,
            r"first_order_decay must be in \[0, 1\), got 1",
            first_order_decay=1.0,
        ),
        _bad(
            "gd-adam",
            ValueError,
            r"second_order_decay must be in \[0, 1\], got 2",
            second_order_decay=2.0,
        ),
        _bad(
            "gd-adamax",
            ValueError,
            r"first_order_decay must be in \[0, 1\), got 1",
            first_order_decay=1.0,
        ),
        _bad(
            "gd-rmsprop",
            ValueError,
            r"momentum_decay must be in \[0, 1\), got 1",
            momentum_decay=1.0,
        ),
        _bad("mgd-classic", ValueError, "n_inner_params must be >= 1, got 0", n_inner_params=0),
        _bad(
            "mgd-classic",
            ValueError,
            r"n_random_steps \* n_inner_params must be >= 2",
            n_random_steps=1,
            n_inner_params=1,
        ),
    ],
)
def test_bad_parameters_are_refused(case, params, error, message):
    with pytest.raises(error, match=message):
        make(case, **params)


@pytest.mark.parametrize(
    "optimizer_class, parameters, message",
    [
        (
            GradientDescentOptimizer,
            EvolutionStrategiesParameters(),
            "parameters must be one of ClassicGDParameters, StochasticGDParameters, "
            "AdamParameters, "
            "AdaMaxParameters, RMSPropParameters, got EvolutionStrategiesParameters",
        ),
        (
            MultiGradientDescentOptimizer,
            ClassicGDParameters(),
            "parameters must be one of MultiClassicGDParameters",
        ),
        (
            EvolutionStrategiesOptimizer,
            NaturalEvolutionStrategiesParameters(),
            "parameters must be a EvolutionStrategiesParameters",
        ),
        (
            NaturalEvolutionStrategiesOptimizer,
            AdamParameters(),
            "parameters must be a NaturalEvolutionStrategiesParameters",
        ),
    ],
)
def test_parameters_of_another_optimizer_are_refused(optimizer_class, parameters, message):
    optimizee = Quadratic(Trajectory())
    with pytest.raises(TypeError, match=message):
        optimizer_class(Trajectory(), optimizee.create_individual, (-1.0,), parameters)


def test_parameter_fields_match_l2l():
    assert EvolutionStrategiesParameters._fields == (
        "learning_rate",
        "noise_std",
        "mirrored_sampling_enabled",
        "fitness_shaping_enabled",
        "pop_size",
        "n_iteration",
        "stop_criterion",
        "seed",
    )
    assert NaturalEvolutionStrategiesParameters._fields == (
        "learning_rate_mu",
        "learning_rate_sigma",
        "mu",
        "sigma",
        "mirrored_sampling_enabled",
        "fitness_shaping_enabled",
        "pop_size",
        "n_iteration",
        "stop_criterion",
        "seed",
    )
    assert ClassicGDParameters._fields == (
        "learning_rate",
        "exploration_step_size",
        "n_random_steps",
        "n_iteration",
        "stop_criterion",
        "seed",
    )
    assert StochasticGDParameters._fields[:3] == (
        "learning_rate",
        "stochastic_deviation",
        "stochastic_decay",
    )
    assert (
        AdamParameters._fields
        == AdaMaxParameters._fields
        == (
            "learning_rate",
            "exploration_step_size",
            "n_random_steps",
            "first_order_decay",
            "second_order_decay",
            "n_iteration",
            "stop_criterion",
            "seed",
        )
    )
    assert RMSPropParameters._fields[3] == "momentum_decay"
    assert MultiRMSPropParameters._fields == RMSPropParameters._fields + ("n_inner_params",)
    assert MultiClassicGDParameters() == (*ClassicGDParameters(), 2)


@pytest.mark.parametrize(
    "module",
    [
        "mpil2l.optimizers.evolutionstrategies",
        "mpil2l.optimizers.naturalevolutionstrategies",
        "mpil2l.optimizers.gradientdescent",
        "mpil2l.optimizers.multigradientdescent",
    ],
)
def test_docstring_examples(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0

"""Cross entropy, FACE and their distributions, driven by the serial generation loop."""

import copy
import doctest
import importlib
import math
import sys

import numpy as np
import pytest
from serial_loop import evaluate_generation, run_serial

from mpil2l.optimizees.base import Optimizee
from mpil2l.optimizees import BenchmarkedFunctions, FunctionGeneratorOptimizee
from mpil2l.optimizers.crossentropy import CrossEntropyOptimizer, CrossEntropyParameters
from mpil2l.optimizers.distributions import (
    BayesianGaussianMixture,
    Gaussian,
    NoisyBayesianGaussianMixture,
    NoisyGaussian,
    _match_components,
)
from mpil2l.optimizers.face import FACEOptimizer, FACEParameters
from mpil2l.model.trajectory import Trajectory

SEEDS = (0, 1, 2)


def function_setup(name, seed, noise=False):
    (_, fg), _ = BenchmarkedFunctions().get_function_by_name(name, noise=noise)
    traj = Trajectory()
    return traj, FunctionGeneratorOptimizee(traj, fg, seed=seed)


def run(
    optimizer_class, params, name="Ackley2d", seed=0, order_seed=None, noise=False, weights=(-1.0,)
):
    traj, optimizee = function_setup(name, seed, noise)
    optimizer = optimizer_class(
        traj, optimizee.create_individual, weights, params, optimizee.bounding_func
    )
    results = run_serial(traj, optimizer, optimizee, order_seed=order_seed)
    return traj, optimizer, results


def n_evaluations(results):
    return sum(len(r) for r in results.values())


def individuals_of(traj):
    """Every individual of every generation as comparable plain data."""
    return {
        g: [
            (ind.ind_idx, {k: np.asarray(v).tolist() for k, v in ind.params.items()})
            for ind in inds
        ]
        for g, inds in traj.individuals.items()
    }


def rng(seed=0):
    return np.random.default_rng(seed)


class TwoObjectives(Optimizee):
    """``(|x - a|^2, |x - b|^2)`` for a 2-d ``x``."""

    a = np.array([1.0, -1.0])
    b = np.array([-1.0, 1.0])

    def create_individual(self):
        return {"x": np.zeros(2)}

    def simulate(self, traj):
        x = traj.individual.x
        return (float(np.sum((x - self.a) ** 2)), float(np.sum((x - self.b) ** 2)))


class Parabola1d(Optimizee):
    """``(v - 0.7)^2`` of a single scalar: L2L's cross entropy refuses one-dimensional
    individuals, these accept them."""

    def __init__(self, traj, seed):
        super().__init__(traj)
        self.rng = np.random.default_rng(seed)

    def create_individual(self):
        return {"v": float(self.rng.uniform(-3.0, 3.0))}

    def simulate(self, traj):
        return ((traj.individual.v - 0.7) ** 2,)


class Stepped(Optimizee):
    """``floor(4 |x|^2) / 4``: plateaus on which FACE stalls."""

    def __init__(self, traj, seed=0):
        super().__init__(traj)
        self.rng = np.random.default_rng(seed)

    def create_individual(self):
        return {"x": self.rng.uniform(-2.0, 2.0, 2)}

    def simulate(self, traj):
        return (float(np.floor(np.sum(traj.individual.x**2) * 4) / 4),)


class Flat(Optimizee):
    """The same fitness everywhere: nothing ever improves."""

    def __init__(self, traj, seed=0):
        super().__init__(traj)
        self.rng = np.random.default_rng(seed)

    def create_individual(self):
        return {"x": self.rng.uniform(-1.0, 1.0, 2)}

    def simulate(self, traj):
        return (1.0,)


# -- Gaussian distributions -----------------------------------------------------------------


def test_gaussian_fit_recovers_mean_and_covariance_and_samples_them():
    mean = np.array([1.0, -2.0, 0.5])
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    data = rng(1).multivariate_normal(mean, cov, 20000)
    dist = Gaussian()
    dist.init_random_state(rng(2))
    params = dist.fit(data)
    np.testing.assert_allclose(params["mean"], data.mean(axis=0))
    np.testing.assert_allclose(params["covariance_matrix"], np.cov(data, rowvar=False))
    samples = dist.sample(20000)
    assert samples.shape == (20000, 3)
    np.testing.assert_allclose(samples.mean(axis=0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(samples, rowvar=False), cov, atol=0.08)
    assert dist.get_params() == {"distribution_name": "Gaussian"}


def test_gaussian_smoothing_blends_old_and_new_parameters():
    first = rng(0).normal(0.0, 1.0, (50, 2))
    second = rng(1).normal(3.0, 2.0, (50, 2))
    dist = Gaussian()
    dist.init_random_state(rng())
    dist.fit(first, smooth_update=0.9)  # the first fit ignores smoothing
    np.testing.assert_allclose(dist.mean, first.mean(axis=0))
    params = dist.fit(second, smooth_update=0.25)
    np.testing.assert_allclose(
        params["mean"], 0.25 * first.mean(axis=0) + 0.75 * second.mean(axis=0)
    )
    expected_cov = 0.25 * np.cov(first, rowvar=False) + 0.75 * np.cov(second, rowvar=False)
    np.testing.assert_allclose(params["covariance_matrix"], expected_cov)


def test_gaussian_handles_one_row_and_one_column():
    dist = Gaussian()
    dist.init_random_state(rng())
    params = dist.fit([[1.5, -0.5]])
    assert params["covariance_matrix"].tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert dist.sample(3).tolist() == [[1.5, -0.5]] * 3  # a collapsed normal gives its mean
    column = Gaussian()
    column.init_random_state(rng())
    params = column.fit(np.array([[0.0], [2.0], [4.0]]))
    assert params["mean"].tolist() == [2.0] and params["covariance_matrix"].tolist() == [[4.0]]
    assert column.sample(5).shape == (5, 1)


def test_noisy_gaussian_adds_decaying_noise_to_the_sampling_covariance():
    data = rng(3).normal(0.0, 1.0, (30, 3))
    dist = NoisyGaussian(noise_magnitude=2.0, coordinate_scale=[1.0, 0.0, 0.5], noise_decay=0.5)
    dist.init_random_state(rng(4))
    magnitudes = []
    for _ in range(3):
        magnitudes.append(dist.current_noise_magnitude)
        params = dist.fit(data)
        assert np.all(params["noise_value"] >= 0) and params["noise_value"][1] == 0.0
        np.testing.assert_allclose(
            params["covariance_matrix"], dist.cov + np.diag(params["noise_value"])
        )
        np.testing.assert_allclose(
            dist.cov, np.cov(data, rowvar=False)
        )  # the noise never accumulates
    assert magnitudes == [2.0, 1.0, 0.5] and dist.current_noise_magnitude == 0.25
    assert dist.get_params()["noise_decay"] == 0.5
    samples = dist.sample(4)
    assert samples.shape == (4, 3) and np.all(np.isfinite(samples))


def test_noisy_gaussian_without_noise_samples_like_a_gaussian():
    data = rng(5).normal(0.0, 1.0, (10, 2))
    noisy = NoisyGaussian(noise_magnitude=0.0)
    noisy.init_random_state(rng(6))
    params = noisy.fit(data)
    assert params["noise_value"].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(params["covariance_matrix"], np.cov(data, rowvar=False))


@pytest.mark.parametrize(
    "make", [Gaussian, lambda: NoisyGaussian(noise_magnitude=0.3, noise_decay=0.9)]
)
def test_distribution_state_round_trip_and_clone(make):
    template = make()
    dist = template.clone()
    generator = rng(7)
    dist.init_random_state(generator)
    dist.fit(rng(8).normal(size=(12, 2)))
    dist.fit(rng(9).normal(size=(12, 2)), 0.5)
    state = copy.deepcopy(dist.get_state())
    saved_rng = copy.deepcopy(generator.bit_generator.state)
    expected = dist.sample(6)

    restored = template.clone()
    assert restored.get_state()["mean"] is None  # a clone is unfitted
    restored_rng = rng(123)
    restored_rng.bit_generator.state = saved_rng
    restored.init_random_state(restored_rng)
    restored.set_state(state)
    np.testing.assert_array_equal(restored.sample(6), expected)
    assert template.random_state is None and template.get_state()["mean"] is None


def test_distribution_errors():
    dist = Gaussian()
    with pytest.raises(RuntimeError, match="call init_random_state"):
        dist.fit([[0.0, 1.0]])
    with pytest.raises(TypeError, match="must be a numpy.random.Generator"):
        dist.init_random_state(np.random.RandomState(0))
    dist.init_random_state(rng())
    with pytest.raises(RuntimeError, match="must be fitted before sampling"):
        dist.sample(2)
    with pytest.raises(
        ValueError, match=r"2-d array with one individual per row .* got shape \(3,\)"
    ):
        dist.fit([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite numbers only"):
        dist.fit([[0.0, np.nan]])
    with pytest.raises(ValueError, match=r"smooth_update must be in \[0, 1\]"):
        dist.fit([[0.0, 1.0]], smooth_update=2)
    dist.fit([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="has 3 columns but the distribution was fitted to 2"):
        dist.fit([[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="cannot restore a NoisyGaussian state into a Gaussian"):
        dist.set_state(NoisyGaussian().get_state())
    with pytest.raises(ValueError, match=r"noise_decay must be in \[0, 1\], got 1.5"):
        NoisyGaussian(noise_decay=1.5)
    with pytest.raises(ValueError, match=r"noise_magnitude must be in \[0, inf\]"):
        NoisyGaussian(noise_magnitude=-1)
    with pytest.raises(ValueError, match="coordinate_scale must be None, a number or a 1-d array"):
        NoisyGaussian(coordinate_scale=[1.0, -1.0])
    noisy = NoisyGaussian(coordinate_scale=[1.0, 2.0, 3.0])
    noisy.init_random_state(rng())
    with pytest.raises(
        ValueError, match="coordinate_scale has 3 entries but the individuals have 2"
    ):
        noisy.fit([[0.0, 1.0], [1.0, 0.0]])


# -- Bayesian Gaussian mixtures (scikit-learn) ----------------------------------------------


def test_mixtures_without_scikit_learn_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.mixture", None)
    with pytest.raises(ImportError, match=r"pip install mpil2l\[sklearn\]"):
        BayesianGaussianMixture(n_components=2)
    with pytest.raises(ImportError, match=r"pip install mpil2l\[sklearn\]"):
        NoisyBayesianGaussianMixture(n_components=2)


def two_clusters(seed=0, n=60):
    generator = rng(seed)
    return np.concatenate(
        [generator.normal([-3.0, 0.0], 0.3, (n, 2)), generator.normal([3.0, 1.0], 0.3, (n, 2))]
    )


def test_bayesian_mixture_finds_two_clusters_and_samples_reproducibly():
    pytest.importorskip("sklearn")
    dist = BayesianGaussianMixture(n_components=2)
    dist.init_random_state(rng(1))
    params = dist.fit(two_clusters())
    assert sorted(params) == ["covariances", "means", "weights"]
    centers = sorted(params["means"].tolist())
    np.testing.assert_allclose(centers, [[-3.0, 0.0], [3.0, 1.0]], atol=0.15)
    np.testing.assert_allclose(params["weights"], [0.5, 0.5], atol=0.05)
    assert params["covariances"].shape == (2, 2, 2)

    state = copy.deepcopy(dist.get_state())
    saved = copy.deepcopy(dist.random_state.bit_generator.state)
    samples = dist.sample(200)
    assert samples.shape == (200, 2)
    near = np.minimum(
        np.linalg.norm(samples - [-3, 0], axis=1), np.linalg.norm(samples - [3, 1], axis=1)
    )
    assert np.all(near < 2.0)
    # smoothing pairs components by their means, whatever labels the new fit gives them
    again = dist.fit(two_clusters(seed=5), smooth_update=0.5)
    np.testing.assert_allclose(
        sorted(again["means"].tolist()), [[-3.0, 0.0], [3.0, 1.0]], atol=0.15
    )

    other = BayesianGaussianMixture(n_components=2)
    generator = rng(99)
    generator.bit_generator.state = saved
    other.init_random_state(generator)
    other.set_state(state)
    np.testing.assert_array_equal(other.sample(200), samples)


def test_match_components_pairs_the_closest_means():
    old = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    new = np.array([[-5.1, 4.9], [0.2, 0.1], [4.8, 5.2]])
    assert _match_components(old, new).tolist() == [1, 2, 0]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_bayesian_mixture_covariance_types(covariance_type):
    pytest.importorskip("sklearn")
    dist = BayesianGaussianMixture(n_components=2, covariance_type=covariance_type, max_iter=50)
    dist.init_random_state(rng(2))
    params = dist.fit(two_clusters(n=20))
    assert params["covariances"].shape == (2, 2, 2)
    assert np.all(np.linalg.eigvalsh(params["covariances"]) > 0)
    assert dist.sample(7).shape == (7, 2)
    assert dist.get_params()["covariance_type"] == covariance_type


def test_noisy_bayesian_mixture_noise_and_errors():
    pytest.importorskip("sklearn")
    dist = NoisyBayesianGaussianMixture(n_components=2, noise_magnitude=0.5, noise_decay=0.5)
    dist.init_random_state(rng(3))
    params = dist.fit(two_clusters(n=20))
    assert params["noise_value"].shape == (2, 2) and np.all(params["noise_value"] >= 0)
    for k in range(2):
        np.testing.assert_allclose(
            params["covariances"][k], dist.covariances[k] + np.diag(params["noise_value"][k])
        )
    assert dist.current_noise_magnitude == 0.25
    # fewer rows than components after the first fit: the mixture is kept
    means = dist.means.copy()
    dist.fit([[0.0, 0.0]])
    np.testing.assert_array_equal(dist.means, means)
    assert dist.current_noise_magnitude == 0.125
    state = dist.get_state()
    clone = dist.clone()
    assert clone.get_params() == dist.get_params() and clone.means is None
    clone.set_state(state)
    np.testing.assert_array_equal(clone.noisy_covariances, dist.noisy_covariances)

    first = BayesianGaussianMixture(n_components=3)
    first.init_random_state(rng())
    with pytest.raises(
        ValueError, match="n_components=3 needs at least 3 individuals to fit, got 2"
    ):
        first.fit([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="random_state is drawn from the optimizer's seed"):
        BayesianGaussianMixture(random_state=3)
    with pytest.raises(
        TypeError, match="bad keyword argument for sklearn.mixture.BayesianGaussianMixture"
    ):
        BayesianGaussianMixture(n_components=2, no_such_option=1)
    with pytest.raises(ValueError, match="n_components must be >= 1, got 0"):
        BayesianGaussianMixture(n_components=0)
    with pytest.raises(ValueError, match="the saved mixture has 2 components, this one 3"):
        first.set_state(
            BayesianGaussianMixture(n_components=2).get_state() | {"means": np.zeros((2, 2))}
        )


# -- cross entropy --------------------------------------------------------------------------


CE_CASES = {
    # name: (parameters, tolerance on the best fitness, on the coordinates)
    "Rosenbrock2d": (
        dict(
            pop_size=50,
            rho=0.2,
            n_iteration=60,
            distribution=NoisyGaussian(noise_magnitude=0.5, noise_decay=0.85),
        ),
        0.01,
        0.2,
    ),
    "Ackley2d": (
        dict(pop_size=50, rho=0.2, smoothing=0.2, n_iteration=60, distribution=Gaussian()),
        1e-3,
        1e-3,
    ),
    "Rastrigin2d": (
        dict(pop_size=100, rho=0.1, smoothing=0.3, n_iteration=40, distribution=Gaussian()),
        0.1,
        0.05,
    ),
}
OPTIMA = {"Rosenbrock2d": [1.0, 1.0], "Ackley2d": [0.0, 0.0], "Rastrigin2d": [0.0, 0.0]}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(CE_CASES))
def test_cross_entropy_reaches_the_optimum(name, seed):
    params, fitness_tol, coords_tol = CE_CASES[name]
    traj, optimizer, results = run(
        CrossEntropyOptimizer, CrossEntropyParameters(seed=seed, **params), name, seed
    )
    assert optimizer.best_fitness[0] < fitness_tol
    np.testing.assert_allclose(optimizer.best_individual["coords"], OPTIMA[name], atol=coords_tol)
    assert n_evaluations(results) == params["pop_size"] * params["n_iteration"]


def test_cross_entropy_records_its_parameters_and_generations():
    params = CrossEntropyParameters(
        pop_size=12,
        rho=0.25,
        n_iteration=6,
        seed=3,
        distribution=NoisyGaussian(noise_magnitude=0.2, noise_decay=0.9),
    )
    traj, optimizer, results = run(CrossEntropyOptimizer, params, "Rastrigin2d", seed=3)
    assert sorted(traj.individuals) == list(range(6)) and optimizer.stop_reason == "n_iteration"
    assert all(len(traj.individuals[g]) == 12 for g in range(6))
    par = traj.par
    assert (par.pop_size, par.rho, par.smoothing, par.temp_decay, par.n_iteration) == (
        12,
        0.25,
        0.0,
        0.0,
        6,
    )
    assert (par.stop_criterion, par.seed, par.dimension, par.n_elite) == (math.inf, 3, 2, 3)
    assert (
        par.distribution.distribution_name == "NoisyGaussian"
        and par.distribution.noise_decay == 0.9
    )
    generation_2 = traj.results.generation_params.generation_2
    assert generation_2.algorithm_params == optimizer.generation_params[2]
    assert (
        optimizer.generation_params[2]["n_fitted"] == 3
        and optimizer.generation_params[2]["pop_size"] == 12
    )
    assert sorted(generation_2.distribution_params) == ["covariance_matrix", "mean", "noise_value"]
    assert optimizer.gamma == sorted(-f[0] for _, f in results[5])[-3]
    assert traj.results.final_fitness == optimizer.best_fitness and traj.results.n_iteration == 6
    # the template distribution is never fitted: the optimizer works on a copy
    assert (
        params.distribution.mean is None
        and optimizer.current_distribution is not params.distribution
    )


def test_cross_entropy_defaults_run():
    traj, optimizer, _ = run(
        CrossEntropyOptimizer, CrossEntropyParameters(n_iteration=3), "Ackley2d"
    )
    assert type(optimizer.current_distribution) is NoisyGaussian and len(traj.individuals[2]) == 50


@pytest.mark.parametrize("noise", [False, True])
def test_cross_entropy_is_reproducible_whatever_the_result_order(noise):
    def ce(seed, order_seed=None):
        params = CrossEntropyParameters(
            pop_size=20, rho=0.3, temp_decay=0.8, smoothing=0.1, n_iteration=8, seed=seed
        )
        return run(
            CrossEntropyOptimizer, params, "Rastrigin2d", seed=1, order_seed=order_seed, noise=noise
        )

    traj_a, opt_a, res_a = ce(5)
    traj_b, opt_b, res_b = ce(5, order_seed=99)
    traj_c, _, _ = ce(6)
    assert individuals_of(traj_a) == individuals_of(traj_b)
    assert res_a == res_b and opt_a.statistics == opt_b.statistics
    assert opt_a.generation_params == opt_b.generation_params
    assert individuals_of(traj_a) != individuals_of(traj_c)


def test_cross_entropy_post_process_accepts_results_in_any_order():
    def next_generation(reverse):
        traj, optimizee = function_setup("Ackley2d", seed=2)
        optimizer = CrossEntropyOptimizer(
            traj,
            optimizee.create_individual,
            (-1.0,),
            CrossEntropyParameters(pop_size=10, temp_decay=0.5, seed=2),
        )
        results = evaluate_generation(traj, optimizee, 0)
        optimizer.post_process(traj, results[::-1] if reverse else results)
        return individuals_of(traj)[1]

    assert next_generation(reverse=True) == next_generation(reverse=False)


def test_cross_entropy_stops_at_the_stop_criterion():
    params = CrossEntropyParameters(pop_size=30, n_iteration=50, stop_criterion=-0.5, seed=0)
    traj, optimizer, _ = run(CrossEntropyOptimizer, params, "Ackley2d", seed=0)
    assert optimizer.stop_reason == "stop_criterion"
    last = max(traj.individuals)
    assert last < 49 and optimizer.statistics[-1]["best_weighted_fitness"] >= -0.5
    assert all(s["best_weighted_fitness"] < -0.5 for s in optimizer.statistics[:-1])


def test_cross_entropy_temperature_keeps_non_elite_individuals():
    params = CrossEntropyParameters(
        pop_size=20, rho=0.2, temp_decay=0.5, n_iteration=6, seed=1, distribution=Gaussian()
    )
    _, optimizer, _ = run(CrossEntropyOptimizer, params, "Ackley2d", seed=1)
    temperatures = [p["T"] for p in optimizer.generation_params]
    assert temperatures == [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]
    assert optimizer.generation_params[0]["n_fitted"] > 4  # the elite plus some others


def test_cross_entropy_handles_one_dimensional_individuals():
    traj = Trajectory()
    optimizee = Parabola1d(traj, seed=0)
    optimizer = CrossEntropyOptimizer(
        traj,
        optimizee.create_individual,
        (-1.0,),
        CrossEntropyParameters(
            pop_size=20, rho=0.3, smoothing=0.2, n_iteration=25, seed=0, distribution=Gaussian()
        ),
    )
    run_serial(traj, optimizer, optimizee)
    assert isinstance(optimizer.best_individual["v"], float)
    assert abs(optimizer.best_individual["v"] - 0.7) < 1e-3


@pytest.mark.parametrize(
    "weights, optimum",
    [((-1.0, -1.0), [0.0, 0.0]), ((-1.0, -3.0), [-0.5, 0.5]), ((-3.0, -1.0), [0.5, -0.5])],
)
def test_cross_entropy_minimises_the_weighted_sum_of_objectives(weights, optimum):
    traj = Trajectory()
    optimizee = TwoObjectives(traj)
    start = rng(0)
    optimizer = CrossEntropyOptimizer(
        traj,
        lambda: {"x": start.uniform(-2.0, 2.0, 2)},
        weights,
        CrossEntropyParameters(
            pop_size=30, rho=0.2, smoothing=0.2, n_iteration=30, seed=0, distribution=Gaussian()
        ),
    )
    run_serial(traj, optimizer, optimizee)
    np.testing.assert_allclose(optimizer.best_individual["x"], optimum, atol=1e-3)
    assert len(optimizer.best_fitness) == 2


def test_cross_entropy_maximises_with_positive_weights():
    traj = Trajectory()
    optimizee = TwoObjectives(traj)
    start = rng(0)
    optimizer = CrossEntropyOptimizer(
        traj,
        lambda: {"x": start.uniform(-2.0, 2.0, 2)},
        (1.0, -4.0),
        CrossEntropyParameters(
            pop_size=30, rho=0.2, smoothing=0.2, n_iteration=30, seed=0, distribution=Gaussian()
        ),
    )
    run_serial(traj, optimizer, optimizee)
    # |x-a|^2 - 4|x-b|^2 is concave with its maximum at (4b - a) / 3
    np.testing.assert_allclose(
        optimizer.best_individual["x"], (4 * TwoObjectives.b - TwoObjectives.a) / 3, atol=1e-2
    )


@pytest.mark.parametrize(
    "optimizer_class, params",
    [
        (
            CrossEntropyOptimizer,
            CrossEntropyParameters(pop_size=10, rho=0.3, temp_decay=0.9, seed=0),
        ),
        (
            FACEOptimizer,
            FACEParameters(min_pop_size=10, max_pop_size=20, n_elite=3, temp_decay=0.9, seed=0),
        ),
    ],
)
def test_failed_individuals_neither_crash_nor_poison_the_distribution(optimizer_class, params):
    traj, optimizee = function_setup("Rastrigin2d", seed=0)
    optimizer = optimizer_class(
        traj, optimizee.create_individual, (-1.0, 0.0), params, optimizee.bounding_func
    )
    results = [(i, (float(i), 0.0)) for i in range(10)]
    results[0] = (0, (math.inf, math.inf))  # the runtime's worst fitness: -inf + nan
    results[3] = (3, (math.nan, 1.0))
    optimizer.post_process(traj, results)
    assert optimizer.best_fitness == (1.0, 0.0)
    assert all(np.all(np.isfinite(ind.coords)) for ind in traj.individuals[1])
    # a generation in which every individual failed keeps the distribution
    mean = optimizer.current_distribution.mean.copy()
    n = len(traj.individuals[1])
    optimizer.post_process(traj, [(i, (math.inf, math.inf)) for i in range(n)])
    np.testing.assert_array_equal(optimizer.current_distribution.mean, mean)
    assert optimizer.generation_params[-1]["n_fitted"] == 0
    assert all(np.all(np.isfinite(ind.coords)) for ind in traj.individuals[2])


def test_an_infinitely_good_individual_is_fitted_not_dropped():
    traj, optimizee = function_setup("Rastrigin2d", seed=0)
    params = CrossEntropyParameters(pop_size=10, rho=0.2, seed=0, distribution=Gaussian())
    optimizer = CrossEntropyOptimizer(traj, optimizee.create_individual, (-1.0,), params)
    results = [(i, (float(i),)) for i in range(10)]
    results[4] = (4, (-math.inf,))  # weighted +inf: the best possible
    optimizer.post_process(traj, results)
    assert optimizer.best_fitness == (-math.inf,)
    np.testing.assert_array_equal(
        optimizer.best_individual["coords"], traj.individuals[0][4].coords
    )
    assert optimizer.generation_params[0]["n_fitted"] == 2 and optimizer.gamma == 0.0
    elite = np.array([traj.individuals[0][4].coords, traj.individuals[0][0].coords])
    np.testing.assert_allclose(optimizer.current_distribution.mean, elite.mean(axis=0))
    # +inf reaches any stop_criterion, inf (the default) included, as in L2L
    assert optimizer.stop_reason == "stop_criterion" and 1 not in traj.individuals


def test_cross_entropy_keeps_individuals_within_bounds():
    params = CrossEntropyParameters(
        pop_size=20,
        n_iteration=5,
        seed=0,
        distribution=NoisyGaussian(noise_magnitude=50.0, noise_decay=1.0),
    )
    traj, _, _ = run(CrossEntropyOptimizer, params, "Rosenbrock2d", seed=0)
    coords = np.array([ind.coords for inds in traj.individuals.values() for ind in inds])
    assert coords.min() == -2.0 and coords.max() == 2.0  # wide noise: many clipped


def resume_matches_uninterrupted(make_optimizer, n_before, name="Rastrigin2d", seed=4):
    """Runs `n_before` generations, checkpoints, resumes in a fresh optimizer and compares with
    an uninterrupted run."""
    traj, optimizee = function_setup(name, seed)
    full = make_optimizer(traj, optimizee)
    run_serial(traj, full, optimizee)
    full_individuals = individuals_of(traj)

    traj, optimizee = function_setup(name, seed)
    optimizer = make_optimizer(traj, optimizee)
    for g in range(n_before):
        optimizer.post_process(traj, evaluate_generation(traj, optimizee, g))
    state = copy.deepcopy(optimizer.get_state())
    saved_traj = copy.deepcopy(traj)

    resumed = make_optimizer(Trajectory(), function_setup(name, seed)[1])
    resumed.set_state(state)
    g = n_before
    while g in saved_traj.individuals:
        resumed.post_process(saved_traj, evaluate_generation(saved_traj, optimizee, g))
        g += 1
    assert individuals_of(saved_traj) == full_individuals
    assert resumed.statistics == full.statistics and resumed.best_fitness == full.best_fitness
    assert (
        resumed.generation_params == full.generation_params
        and resumed.stop_reason == full.stop_reason
    )
    return full


def test_cross_entropy_state_round_trip_resumes_the_same_run():
    params = CrossEntropyParameters(
        pop_size=15,
        rho=0.3,
        smoothing=0.2,
        temp_decay=0.7,
        n_iteration=12,
        seed=4,
        distribution=NoisyGaussian(noise_magnitude=0.5),
    )

    def make(traj, optimizee):
        return CrossEntropyOptimizer(
            traj, optimizee.create_individual, (-1.0,), params, optimizee.bounding_func
        )

    resume_matches_uninterrupted(make, n_before=5)


def test_set_state_rejects_foreign_states():
    _, ce, _ = run(
        CrossEntropyOptimizer, CrossEntropyParameters(pop_size=10, n_iteration=2), "Ackley2d"
    )
    traj, optimizee = function_setup("Ackley2d", seed=0)
    plain = CrossEntropyOptimizer(
        traj,
        optimizee.create_individual,
        (-1.0,),
        CrossEntropyParameters(pop_size=10, distribution=Gaussian()),
    )
    with pytest.raises(ValueError, match="cannot restore a NoisyGaussian state into a Gaussian"):
        plain.set_state(ce.get_state())
    with pytest.raises(ValueError, match="state lacks"):
        plain.set_state({"generation": 0})
    traj, optimizee = function_setup("Ackley10d", seed=0)
    wide = CrossEntropyOptimizer(
        traj, optimizee.create_individual, (-1.0,), CrossEntropyParameters(pop_size=10)
    )
    with pytest.raises(
        ValueError, match="saved individuals have 2 elements, this optimizer's have 10"
    ):
        wide.set_state(ce.get_state())
    face_traj, face_optimizee = function_setup("Ackley2d", seed=0)
    face = FACEOptimizer(face_traj, face_optimizee.create_individual, (-1.0,), FACEParameters())
    with pytest.raises(ValueError, match=r"FACEOptimizer state lacks \['best_reference'"):
        face.set_state(plain.get_state())


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(pop_size=-3), ValueError, "pop_size must be >= 1, got -3"),
        (dict(pop_size=2.5), TypeError, "pop_size must be an integer, got float 2.5"),
        (dict(rho=0), ValueError, r"rho must be in \(0, 1\], got 0"),
        (dict(rho=1.5), ValueError, r"rho must be in \[0, 1\], got 1.5"),
        (
            dict(rho=0.1, pop_size=5),
            ValueError,
            r"int\(rho \* pop_size\) .* must be >= 1, got rho=0.1, pop_size=5",
        ),
        (dict(smoothing=1.0), ValueError, r"smoothing must be in \[0, 1\), got 1"),
        (dict(smoothing=-0.1), ValueError, r"smoothing must be in \[0, 1\], got -0.1"),
        (dict(temp_decay=2), ValueError, r"temp_decay must be in \[0, 1\], got 2"),
        (dict(n_iteration=0), ValueError, "n_iteration must be >= 1, got 0"),
        (
            dict(distribution="gauss"),
            TypeError,
            "distribution must be a Gaussian, NoisyGaussian, .* got str",
        ),
        (dict(stop_criterion=math.nan), ValueError, "stop_criterion must not be NaN"),
        (
            dict(stop_criterion="high"),
            TypeError,
            "stop_criterion must be a real number \\(inf for none\\), got str",
        ),
        (dict(seed=-1), ValueError, "seed must be >= 0, got -1"),
        (dict(seed=None), TypeError, "seed must be an integer, got NoneType"),
    ],
)
def test_cross_entropy_rejects_bad_parameters(params, error, message):
    traj, optimizee = function_setup("Ackley2d", seed=0)
    with pytest.raises(error, match=message):
        CrossEntropyOptimizer(
            traj, optimizee.create_individual, (-1.0,), CrossEntropyParameters(**params)
        )


def test_cross_entropy_rejects_other_parameter_types_and_bad_individuals():
    traj, optimizee = function_setup("Ackley2d", seed=0)
    with pytest.raises(
        TypeError, match="parameters must be a CrossEntropyParameters, got FACEParameters"
    ):
        CrossEntropyOptimizer(traj, optimizee.create_individual, (-1.0,), FACEParameters())
    with pytest.raises(ValueError, match="individual without parameters"):
        CrossEntropyOptimizer(
            Trajectory(), dict, (-1.0,), CrossEntropyParameters(pop_size=5, rho=0.5)
        )
    sizes = iter(range(1, 100))
    with pytest.raises(ValueError, match="different keys or shapes"):
        CrossEntropyOptimizer(
            Trajectory(),
            lambda: {"x": np.zeros(next(sizes))},
            (-1.0,),
            CrossEntropyParameters(pop_size=5, rho=0.5),
        )


# -- FACE -----------------------------------------------------------------------------------


FACE_CASES = {
    "Ackley2d": (dict(n_iteration=100), 1e-3, 1e-3),
    # larger generations and smoothing: with the defaults, about a third of the seeds end in a
    # local minimum of Rastrigin (either rule for accepting a generation); with these, 79 of 80
    "Rastrigin2d": (
        dict(n_iteration=100, min_pop_size=40, max_pop_size=80, n_elite=20, smoothing=0.5),
        0.1,
        0.05,
    ),
    "Rosenbrock2d": (
        dict(
            n_iteration=100,
            smoothing=0.0,
            distribution=NoisyGaussian(noise_magnitude=0.5, noise_decay=0.9),
        ),
        0.1,
        0.5,
    ),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(FACE_CASES))
def test_face_reaches_the_optimum(name, seed):
    params, fitness_tol, coords_tol = FACE_CASES[name]
    traj, optimizer, results = run(FACEOptimizer, FACEParameters(seed=seed, **params), name, seed)
    assert optimizer.best_fitness[0] < fitness_tol
    np.testing.assert_allclose(optimizer.best_individual["coords"], OPTIMA[name], atol=coords_tol)
    p = optimizer.parameters
    assert n_evaluations(results) <= p.n_iteration * p.max_pop_size
    assert all(p.min_pop_size <= len(inds) <= p.max_pop_size for inds in traj.individuals.values())


def test_face_grows_the_population_while_nothing_improves_then_stops():
    traj = Trajectory()
    optimizee = Flat(traj)
    params = FACEParameters(
        min_pop_size=4, max_pop_size=10, n_elite=2, n_expand=3, n_iteration=50, seed=0
    )
    optimizer = FACEOptimizer(traj, optimizee.create_individual, (-1.0,), params)
    run_serial(traj, optimizer, optimizee)
    # generation 0 improves on nothing (-inf); then 4 -> 7 -> 10 -> 13 > max_pop_size: stop
    assert [len(traj.individuals[g]) for g in sorted(traj.individuals)] == [4, 4, 7, 10]
    assert optimizer.stop_reason == "no_improvement"
    assert [p["n_fitted"] for p in optimizer.generation_params] == [2, 0, 0, 0]
    assert traj.par.n_expand == 3 and traj.par.min_pop_size == 4
    assert traj.par.distribution.distribution_name == "Gaussian"


def test_face_shrinks_the_population_back_after_an_improvement():
    traj = Trajectory()
    optimizee = Stepped(traj, seed=2)
    params = FACEParameters(
        min_pop_size=10, max_pop_size=40, n_elite=3, n_expand=10, n_iteration=40, seed=2
    )
    optimizer = FACEOptimizer(traj, optimizee.create_individual, (-1.0,), params)
    run_serial(traj, optimizer, optimizee)
    # (size, individuals fitted): improvements keep (10 + 10) // 2 = 10; a stall grows it to 20;
    # the improvement that follows shrinks it to (20 + 10) // 2 = 15; 45 > 40 ends the run
    assert [(p["pop_size"], p["n_fitted"]) for p in optimizer.generation_params] == [
        (10, 3),
        (10, 3),
        (10, 0),
        (20, 3),
        (15, 0),
        (25, 0),
        (35, 0),
    ]
    assert optimizer.stop_reason == "no_improvement" and optimizer.best_fitness == (0.0,)


def test_face_is_reproducible_whatever_the_result_order():
    def face(order_seed=None):
        params = FACEParameters(
            min_pop_size=10, max_pop_size=30, n_elite=4, temp_decay=0.5, n_iteration=12, seed=3
        )
        return run(FACEOptimizer, params, "Rastrigin2d", seed=3, order_seed=order_seed, noise=True)

    traj_a, opt_a, res_a = face()
    traj_b, opt_b, res_b = face(order_seed=7)
    assert individuals_of(traj_a) == individuals_of(traj_b)
    assert res_a == res_b and opt_a.generation_params == opt_b.generation_params


def test_face_stops_at_the_stop_criterion_and_after_n_iteration():
    params = FACEParameters(n_iteration=60, stop_criterion=-0.5, seed=0)
    _, optimizer, _ = run(FACEOptimizer, params, "Ackley2d", seed=0)
    assert optimizer.stop_reason == "stop_criterion" and optimizer.best_weighted_fitness >= -0.5
    traj, optimizer, _ = run(FACEOptimizer, FACEParameters(n_iteration=3), "Ackley2d", seed=0)
    assert sorted(traj.individuals) == [0, 1, 2] and optimizer.stop_reason == "n_iteration"


def test_face_state_round_trip_resumes_the_same_run():
    params = FACEParameters(
        min_pop_size=10,
        max_pop_size=30,
        n_elite=4,
        n_expand=7,
        smoothing=0.3,
        temp_decay=0.8,
        n_iteration=15,
        seed=4,
        distribution=NoisyGaussian(noise_magnitude=0.3),
    )

    def make(traj, optimizee):
        return FACEOptimizer(
            traj, optimizee.create_individual, (-1.0,), params, optimizee.bounding_func
        )

    full = resume_matches_uninterrupted(make, n_before=6)
    assert (
        len({p["pop_size"] for p in full.generation_params}) > 1
    )  # the size did change on the way


def test_face_handles_one_dimensional_individuals_and_multiple_objectives():
    traj = Trajectory()
    optimizee = Parabola1d(traj, seed=1)
    params = FACEParameters(min_pop_size=10, max_pop_size=20, n_elite=4, n_iteration=30, seed=1)
    optimizer = FACEOptimizer(traj, optimizee.create_individual, (-1.0,), params)
    run_serial(traj, optimizer, optimizee)
    assert abs(optimizer.best_individual["v"] - 0.7) < 1e-3

    traj = Trajectory()
    optimizee = TwoObjectives(traj)
    start = rng(0)
    optimizer = FACEOptimizer(
        traj,
        lambda: {"x": start.uniform(-2.0, 2.0, 2)},
        (-1.0, -3.0),
        FACEParameters(n_iteration=30, seed=0),
    )
    run_serial(traj, optimizer, optimizee)
    np.testing.assert_allclose(optimizer.best_individual["x"], [-0.5, 0.5], atol=1e-2)


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(min_pop_size=0), ValueError, "min_pop_size must be >= 1, got 0"),
        (dict(max_pop_size=10), ValueError, r"max_pop_size must be >= min_pop_size \(20\), got 10"),
        (dict(n_elite=30), ValueError, r"n_elite must be <= min_pop_size \(20\), got 30"),
        (dict(n_elite=0), ValueError, "n_elite must be >= 1, got 0"),
        (dict(n_expand=0), ValueError, "n_expand must be >= 1, got 0"),
        (dict(smoothing=1), ValueError, r"smoothing must be in \[0, 1\), got 1"),
        (dict(temp_decay=-1), ValueError, r"temp_decay must be in \[0, 1\], got -1"),
        (dict(n_iteration=1.0), TypeError, "n_iteration must be an integer, got float"),
        (dict(distribution=Gaussian), TypeError, "distribution must be a Gaussian, .* got type"),
        (dict(stop_criterion=math.nan), ValueError, "stop_criterion must not be NaN"),
        (dict(seed=None), TypeError, "seed must be an integer, got NoneType"),
    ],
)
def test_face_rejects_bad_parameters(params, error, message):
    traj, optimizee = function_setup("Ackley2d", seed=0)
    with pytest.raises(error, match=message):
        FACEOptimizer(traj, optimizee.create_individual, (-1.0,), FACEParameters(**params))


def test_one_distribution_template_serves_several_optimizers():
    template = NoisyGaussian(noise_magnitude=0.4)
    params = CrossEntropyParameters(pop_size=15, n_iteration=5, seed=9, distribution=template)
    traj_a, opt_a, _ = run(CrossEntropyOptimizer, params, "Ackley2d", seed=9)
    traj_b, opt_b, _ = run(CrossEntropyOptimizer, params, "Ackley2d", seed=9)
    assert individuals_of(traj_a) == individuals_of(traj_b)
    assert template.current_noise_magnitude == 0.4 and template.mean is None


# -- with the mixture distributions ---------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_entropy_with_a_bayesian_mixture_reaches_the_optimum(seed):
    pytest.importorskip("sklearn")
    mixture = BayesianGaussianMixture(n_components=2, max_iter=30, init_params="k-means++")
    params = CrossEntropyParameters(
        pop_size=30, rho=0.3, smoothing=0.2, n_iteration=15, seed=seed, distribution=mixture
    )
    traj, optimizer, _ = run(CrossEntropyOptimizer, params, "Ackley2d", seed)
    assert optimizer.best_fitness[0] < 0.01
    assert traj.par.distribution.n_components == 2 and traj.par.distribution.max_iter == 30


def test_mixture_optimizers_are_reproducible_and_resume():
    pytest.importorskip("sklearn")
    params = FACEParameters(
        min_pop_size=12,
        max_pop_size=24,
        n_elite=6,
        n_iteration=8,
        seed=2,
        distribution=NoisyBayesianGaussianMixture(
            n_components=2, noise_magnitude=0.3, max_iter=30, init_params="k-means++"
        ),
    )

    def make(traj, optimizee):
        return FACEOptimizer(
            traj, optimizee.create_individual, (-1.0,), params, optimizee.bounding_func
        )

    full = resume_matches_uninterrupted(make, n_before=3, name="Ackley2d", seed=2)
    assert type(full.current_distribution) is NoisyBayesianGaussianMixture


# -- docstrings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    ["mpil2l.optimizers.distributions", "mpil2l.optimizers.crossentropy", "mpil2l.optimizers.face"],
)
def test_docstring_examples(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0

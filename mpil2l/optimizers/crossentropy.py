"""The cross-entropy method: sample from a distribution, refit it to the elite, repeat."""

import logging
import math
from collections import namedtuple

import numpy as np

from ..model.conversion import dict_to_list, list_to_dict
from ._shared import check_int, check_real, check_stop_criterion
from .distributions import Distribution, NoisyGaussian
from .optimizer import Optimizer

logger = logging.getLogger("mpil2l.optimizers.crossentropy")

CrossEntropyParameters = namedtuple(
    "CrossEntropyParameters",
    [
        "pop_size",
        "rho",
        "smoothing",
        "temp_decay",
        "n_iteration",
        "distribution",
        "stop_criterion",
        "seed",
    ],
    defaults=(50, 0.2, 0.0, 0.0, 100, None, math.inf, 42),
)
CrossEntropyParameters.__doc__ = """Parameters of `CrossEntropyOptimizer`.

Args:
    pop_size: number of individuals per generation (>= 1). Default 50.
    rho: fraction of each generation taken as elite, in ``(0, 1]``;
        ``n_elite = int(rho * pop_size)`` must be >= 1. Default 0.2.
    smoothing: weight in ``[0, 1)`` of the previous distribution parameters at each fit:
        ``new = smoothing * old + (1 - smoothing) * fitted``. Default 0.0.
    temp_decay: factor in ``[0, 1]`` by which the temperature (initially 1) decays per
        generation; 0 fits the elite only, > 0 also fits non-elite individuals kept with a
        simulated-annealing probability (see `CrossEntropyOptimizer`). Default 0.0.
    n_iteration: number of generations to evaluate (>= 1). Default 100.
    distribution: the distribution to sample from, a `Gaussian`, `NoisyGaussian`,
        `BayesianGaussianMixture` or `NoisyBayesianGaussianMixture` (from
        `mpil2l.optimizers.distributions`), used as a template (the optimizer fits a fresh
        copy). Default None: ``NoisyGaussian()``.
    stop_criterion: stop once the best weighted fitness of a generation is >= this value.
        Default ``inf`` (never).
    seed: seed of the optimizer's random generator (integer >= 0), which draws every
        sample, noise and selection. Default 42.
"""


def make_distribution(distribution, default):
    """A fresh, unfitted copy of `distribution` (or of `default` when it is None)."""
    if distribution is None:
        return default()
    if not isinstance(distribution, Distribution):
        raise TypeError(
            "distribution must be a Gaussian, NoisyGaussian, BayesianGaussianMixture or "
            f"NoisyBayesianGaussianMixture (or None), got {type(distribution).__name__}"
        )
    return distribution.clone()


class SampleFitOptimizer(Optimizer):
    """What `CrossEntropyOptimizer` and `FACEOptimizer` share: the distribution, the
    flattened population, elite selection, sampling and the per-generation records.

    Subclasses call `_setup` in their constructor and use `_fit_to_selection`, `_sample`
    and `_log_generation` in `post_process`.

    Attributes:
        current_distribution: the distribution being fitted and sampled (a copy of the
            parameters' one).
        distribution_results: what its last fit returned (a dict of arrays).
        gamma: the weighted fitness of the worst elite individual of the last generation.
        T: the current temperature.
        best_fitness_in_run: the best weighted fitness of the last generation.
        generation_params: one dict per evaluated generation: ``generation``, ``gamma``,
            ``T``, ``best_fitness_in_run``, ``average_fitness_in_run`` (over the finite
            values), ``pop_size`` and ``n_fitted`` (individuals the distribution was
            fitted to, 0 when not refitted). Also stored, with the distribution's
            parameters, as ``traj.results.generation_params.generation_<g>``
            (``algorithm_params``, ``distribution_params``).
        stop_reason: why the optimizer stopped (``'n_iteration'``, ``'stop_criterion'`` or,
            for FACE, ``'no_improvement'``), or None while it runs.
    """

    def _setup(self, traj, default_distribution, n_initial):
        """Adds the parameters to `traj`, builds the distribution and generation 0 (`n_initial`
        individuals from ``optimizee_create_individual``, bounded), fits the distribution to
        it and expands the trajectory."""
        self.current_distribution = make_distribution(
            self.parameters.distribution, default_distribution
        )
        for name, value in self.parameters._asdict().items():
            if name == "distribution":
                traj.f_add_parameter_group("distribution")
                for key, val in self.current_distribution.get_params().items():
                    traj.f_add_parameter_to_group("distribution", key, val)
            else:
                traj.f_add_parameter(name, value)

        self.rng = np.random.default_rng(self.seed)
        self.current_distribution.init_random_state(self.rng)
        individuals = [self.optimizee_create_individual() for _ in range(n_initial)]
        vectors, specs = zip(*(dict_to_list(ind, get_dict_spec=True) for ind in individuals))
        if any(spec != specs[0] for spec in specs):
            raise ValueError(
                "optimizee_create_individual returned individuals of different keys or shapes"
            )
        self.dict_spec = specs[0]
        self.dimension = vectors[0].size
        if self.dimension == 0:
            raise ValueError(
                "optimizee_create_individual returned an individual without parameters"
            )
        traj.f_add_derived_parameter("dimension", self.dimension)

        self.gamma = -math.inf
        self.T = 1.0
        self.best_fitness_in_run = -math.inf
        self.generation_params = []
        self.stop_reason = None
        self._set_population(np.array(vectors))
        self.distribution_results = self.current_distribution.fit(self.eval_pop_asarray)
        self._expand_trajectory(traj)

    def _set_population(self, vectors):
        """Makes ``eval_pop`` from the rows of `vectors`, through the bounding function."""
        self.eval_pop = [list_to_dict(x, self.dict_spec) for x in vectors]
        if self.optimizee_bounding_func is not None:
            self.eval_pop = [self.optimizee_bounding_func(ind) for ind in self.eval_pop]
            bounded = np.array([dict_to_list(ind) for ind in self.eval_pop])
            if bounded.shape != vectors.shape:
                raise ValueError(
                    "optimizee_bounding_func changed the individual's size from "
                    f"{vectors.shape[1]} to "
                    f"{bounded.shape[1] if bounded.ndim == 2 else bounded.size}"
                )
            vectors = bounded
        self.eval_pop_asarray = np.array(vectors, dtype=float)

    def _sample(self, n):
        """Makes the next ``eval_pop``: `n` individuals sampled from the distribution."""
        self._set_population(self.current_distribution.sample(n))

    def _rank(self, weighted):
        """The population rows and their weighted fitness, best first (ties: lower ind_idx
        first; -inf, i.e. failed, last)."""
        order = np.argsort(-weighted, kind="stable")
        return self.eval_pop_asarray[order], weighted[order]

    def _fit_to_selection(self, sorted_pop, sorted_fit, n_elite):
        """Fits the distribution to the `n_elite` best individuals plus, when ``temp_decay``
        > 0, each other individual with probability ``min(1, exp((f - gamma) / T))``.
        Individuals with a fitness of -inf (failed) are never fitted; with none left, the
        distribution stays as it is.

        Returns:
            The number of individuals fitted.
        """
        keep = np.zeros(len(sorted_fit), dtype=bool)
        keep[:n_elite] = True
        rest = sorted_fit[n_elite:]
        if self.temp_decay > 0 and rest.size:
            valid = rest > -math.inf
            probs = np.zeros(rest.size)
            tied = valid & (rest >= self.gamma)
            probs[tied] = 1.0
            below = valid & ~tied
            if self.T > 0 and below.any():
                with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
                    probs[below] = np.exp((rest[below] - self.gamma) / self.T)
            keep[n_elite:] = self.rng.random(rest.size) < probs
        keep &= sorted_fit > -math.inf
        n_fitted = int(keep.sum())
        if n_fitted:
            self.distribution_results = self.current_distribution.fit(
                sorted_pop[keep], self.smoothing
            )
        else:
            logger.warning(
                "generation %d: every individual failed; the distribution is kept", self.g
            )
        return n_fitted

    def _log_generation(self, traj, weighted, n_fitted):
        finite = weighted[np.isfinite(weighted)]
        params = {
            "generation": self.g,
            "gamma": self.gamma,
            "T": self.T,
            "best_fitness_in_run": self.best_fitness_in_run,
            "average_fitness_in_run": float(finite.mean()) if finite.size else math.nan,
            "pop_size": len(self.eval_pop),
            "n_fitted": n_fitted,
        }
        self.generation_params.append(params)
        if "generation_params" not in traj.results:
            traj.results.f_add_result_group("generation_params")
        group = traj.results.generation_params
        name = f"generation_{self.g}"
        group.f_add_result_group(name)
        group.f_add_result(f"{name}.algorithm_params", dict(params))
        group.f_add_result(
            f"{name}.distribution_params",
            {k: np.copy(v) for k, v in self.distribution_results.items()},
        )
        logger.debug(
            "generation %d: gamma %g, T %g, %d individual(s) fitted",
            self.g,
            self.gamma,
            self.T,
            n_fitted,
        )

    def _stop(self, reason):
        self.stop_reason = reason
        logger.info("%s stops after generation %d: %s", type(self).__name__, self.g, reason)

    def end(self, traj):
        """Stores the final results (see `Optimizer.end`) and logs the final distribution
        parameters."""
        super().end(traj)
        for key, value in sorted(self.distribution_results.items()):
            logger.info("final distribution %s: %s", key, value)

    def get_state(self):
        """The base state plus the distribution, temperature, gamma and records."""
        state = super().get_state()
        state.update(
            distribution=self.current_distribution.get_state(),
            distribution_results={k: np.copy(v) for k, v in self.distribution_results.items()},
            gamma=self.gamma,
            T=self.T,
            best_fitness_in_run=self.best_fitness_in_run,
            generation_params=[dict(p) for p in self.generation_params],
            stop_reason=self.stop_reason,
        )
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key, holds another distribution or individuals of
                another size.
        """
        missing = {
            "distribution",
            "distribution_results",
            "gamma",
            "T",
            "best_fitness_in_run",
            "generation_params",
            "stop_reason",
            "eval_pop",
        } - set(state)
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks {sorted(missing)}")
        vectors = np.array([dict_to_list(ind) for ind in state["eval_pop"]], dtype=float)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(
                f"the saved individuals have {vectors.shape[-1] if vectors.ndim == 2 else 0} "
                f"elements, this optimizer's have {self.dimension}"
            )
        self.current_distribution.set_state(state["distribution"])
        super().set_state(state)
        self.eval_pop_asarray = vectors
        self.distribution_results = {
            k: np.copy(v) for k, v in state["distribution_results"].items()
        }
        self.gamma = float(state["gamma"])
        self.T = float(state["T"])
        self.best_fitness_in_run = float(state["best_fitness_in_run"])
        self.generation_params = [dict(p) for p in state["generation_params"]]
        self.stop_reason = state["stop_reason"]


class CrossEntropyOptimizer(SampleFitOptimizer):
    """The cross-entropy method over the flattened individual (see `mpil2l.model.conversion`).

    It maximises ``sum(w_i * f_i)`` by fitting a distribution to the best individuals of
    each generation and sampling the next generation from it. Every random number comes
    from the optimizer's ``numpy.random.default_rng(seed)`` and results are taken by
    ``ind_idx``, so a run is reproducible for a seed whatever the order in which the workers
    finish. Pseudo-code::

        pop <- pop_size individuals from optimizee_create_individual(), bounded  # generation 0
        fit the distribution to pop;  T <- 1
        for g in 0 .. n_iteration - 1:
            evaluate pop; sort it by weighted fitness, best first
            n_elite <- int(rho * len(pop));  gamma <- fitness of the n_elite-th best
            selected <- the n_elite best
            if temp_decay > 0:
                add each other individual with probability min(1, exp((f - gamma) / T))
            fit the distribution to the selected individuals that did not fail (fitness
                -inf), smoothed: new = smoothing * old + (1 - smoothing) * fitted
            stop if g = n_iteration - 1 or the best fitness of pop >= stop_criterion
            pop <- pop_size samples of the distribution, bounded;  T <- T * temp_decay

    "Bounded" maps an individual through ``optimizee_bounding_func`` when one is given.
    Use it for continuous parameters when evaluations are cheap enough for populations of
    tens to hundreds; `NoisyGaussian` (the default) or smoothing keep it from converging
    prematurely, the mixture distributions handle several optima.

    Args:
        traj: the run's trajectory; gets the parameters' fields (the distribution's settings
            as the parameter group ``distribution``) and the derived parameters
            ``dimension`` and ``n_elite``.
        optimizee_create_individual: returns a new individual dict.
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `CrossEntropyParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        pop_size, rho, smoothing, temp_decay, n_iteration, stop_criterion, seed: the
            checked parameters.
        n_elite: ``int(rho * pop_size)``.
        See `SampleFitOptimizer` for the distribution and the per-generation records.

    Raises:
        TypeError: `parameters` is not a `CrossEntropyParameters` or a field has the wrong
            type.
        ValueError: a field is out of range (e.g. "pop_size must be >= 1, got -3"), or the
            distribution cannot be fitted to the first generation.
        ImportError: a mixture distribution without scikit-learn.

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> rng = np.random.default_rng(0)
        >>> opt = CrossEntropyOptimizer(
        ...     traj, lambda: {"x": rng.uniform(-5, 5, 2)}, (-1.0,),
        ...     CrossEntropyParameters(pop_size=20, n_iteration=15, seed=1))
        >>> for g in range(15):
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        >>> len(traj.individuals), opt.best_fitness[0] < 1e-2
        (15, True)
    """

    parameters_type = CrossEntropyParameters

    def __init__(
        self,
        traj,
        optimizee_create_individual,
        optimizee_fitness_weights,
        parameters,
        optimizee_bounding_func=None,
    ):
        super().__init__(
            traj,
            optimizee_create_individual,
            optimizee_fitness_weights,
            parameters,
            optimizee_bounding_func,
        )
        p = parameters
        self.pop_size = check_int("pop_size", p.pop_size, 1)
        self.rho = check_real("rho", p.rho, 0.0, 1.0)
        if self.rho == 0:
            raise ValueError("rho must be in (0, 1], got 0")
        self.smoothing = check_real("smoothing", p.smoothing, 0.0, 1.0)
        if self.smoothing == 1:
            raise ValueError("smoothing must be in [0, 1), got 1")
        self.temp_decay = check_real("temp_decay", p.temp_decay, 0.0, 1.0)
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.seed = check_int("seed", p.seed, 0)
        self.n_elite = int(self.rho * self.pop_size)
        if self.n_elite < 1:
            raise ValueError(
                "int(rho * pop_size) (the number of elite individuals) must be >= 1, got "
                f"rho={self.rho:g}, pop_size={self.pop_size}"
            )
        self._setup(traj, NoisyGaussian, self.pop_size)
        traj.f_add_derived_parameter("n_elite", self.n_elite)

    def post_process(self, traj, fitnesses_results):
        """Takes the fitness of the current generation, refits the distribution and, unless
        the run stops, samples and expands the next generation.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every individual of
                the current generation, in any order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        _, weighted = self._record_generation(fitnesses_results)
        sorted_pop, sorted_fit = self._rank(weighted)
        n_elite = min(len(sorted_fit), max(1, int(self.rho * len(sorted_fit))))
        self.best_fitness_in_run = float(sorted_fit[0])
        self.gamma = float(sorted_fit[n_elite - 1])
        n_fitted = self._fit_to_selection(sorted_pop, sorted_fit, n_elite)
        self._log_generation(traj, weighted, n_fitted)

        if self.best_fitness_in_run >= self.stop_criterion:
            self._stop("stop_criterion")
            return
        if self.g >= self.n_iteration - 1:
            self._stop("n_iteration")
            return
        self._sample(self.pop_size)
        self.g += 1
        self.T *= self.temp_decay
        self._expand_trajectory(traj)

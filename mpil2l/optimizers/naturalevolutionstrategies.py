"""Separable natural evolution strategies (SNES): a Gaussian search distribution with a mean
and a per-element standard deviation, both moved along the natural gradient."""

import logging
import math
from collections import namedtuple

import numpy as np

from ..model.conversion import dict_to_list, list_to_dict
from ._shared import check_bool, check_int, check_positive, check_stop_criterion
from .evolutionstrategies import check_positive_vector, gaussian_perturbations, shaped_fitness
from .optimizer import Optimizer

logger = logging.getLogger("mpil2l.optimizers.naturalevolutionstrategies")

NaturalEvolutionStrategiesParameters = namedtuple(
    "NaturalEvolutionStrategiesParameters",
    [
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
    ],
    defaults=(None, None, None, 1.0, True, True, None, 100, math.inf, 42),
)
NaturalEvolutionStrategiesParameters.__doc__ = """Parameters of
`NaturalEvolutionStrategiesOptimizer`. ``d`` is the number of elements of the flattened
individual.

Args:
    learning_rate_mu: learning rate of the mean (> 0), or None for 1.0. Default None.
    learning_rate_sigma: learning rate of the standard deviations (> 0), or None for
        ``(3 + ln d) / (5 sqrt(d))`` (Wierstra et al. 2014). Default None.
    mu: initial mean, ``d`` numbers (a flat array-like, laid out as
        `mpil2l.model.conversion.dict_to_list` flattens the individual), or None to start at one
        individual from ``optimizee_create_individual()``. Default None.
    sigma: initial standard deviation (> 0), one number or ``d`` numbers. Default 1.0.
    mirrored_sampling_enabled: also evaluate ``mu - sigma * s`` for every sample
        ``mu + sigma * s``. Default True.
    fitness_shaping_enabled: replace the fitness by rank-based utilities (see
        `mpil2l.optimizers.evolutionstrategies.rank_utilities`). Default True.
    pop_size: number of samples drawn per generation (>= 1; twice that are evaluated with
        mirrored sampling), or None for ``4 + floor(3 ln d)``. Default None.
    n_iteration: number of generations to evaluate (>= 1). Default 100.
    stop_criterion: stop once the best weighted fitness of a generation is >= this value
        (a real number; ``inf`` never stops early). Default inf.
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
"""


class NaturalEvolutionStrategiesOptimizer(Optimizer):
    """Separable natural evolution strategies (Wierstra et al. 2008, 2014; Glasmachers et al.
    2010) over the flattened individual, in natural coordinates.

    The search distribution is ``N(mu, diag(sigma^2))``; each generation samples it and moves
    ``mu`` and ``sigma`` along the natural gradient of the expected weighted fitness.
    Pseudo-code::

        for g in 0 .. n_iteration - 1:
            s_1 .. s_p ~ N(0, 1) per element, p = pop_size
            if mirrored_sampling_enabled: also s_{p+1} .. s_{2p} = -s_1 .. -s_p
            evaluate bound(mu + sigma * s_i) for every i
            stop if g is the last generation or the best weighted fitness >= stop_criterion
            F_i <- weighted fitness of sample i, or, with fitness_shaping_enabled, the
                   utility of its rank (`rank_utilities`)
            mu    <- mu + learning_rate_mu * sigma * sum_i F_i s_i
            sigma <- sigma * exp(learning_rate_sigma / 2 * sum_i F_i (s_i^2 - 1))

    "Bound" maps an individual through ``optimizee_bounding_func`` when one is given; the
    update uses the unbounded samples. Without fitness shaping a failed sample (``-inf``)
    gets the worst finite fitness of its generation; when every sample failed, or an update
    is not finite, the distribution stays as it is. Every random number comes from
    ``numpy.random.default_rng(seed)`` and results are taken by ``ind_idx``, so a run is
    reproducible whatever the order in which the workers finish.

    Compared with L2L: every sample of a generation enters the update (L2L's drops the
    last one) and ``mu`` moves with the current ``sigma``.

    Use it for continuous problems of a few to a few hundred parameters with different
    scales: the per-element ``sigma`` adapts the step size of each parameter, and with
    fitness shaping the update ignores the scale of the fitness.

    Args:
        traj: the run's trajectory; gets every field of `parameters` as a parameter (the
            None defaults resolved, ``mu`` and ``sigma`` as arrays), and ``dimension``.
        optimizee_create_individual: returns a new individual dict; called once for the
            layout (and the starting mean when ``mu`` is None).
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `NaturalEvolutionStrategiesParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        mu: the current mean (flattened).
        sigma: the current standard deviations (flattened).
        current_perturbations: the samples ``s`` of the generation being evaluated.

    Raises:
        TypeError: `parameters` is not a `NaturalEvolutionStrategiesParameters` or a field
            has the wrong type.
        ValueError: a field is out of range, or ``mu``/``sigma`` do not have the individual's
            number of elements.

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> opt = NaturalEvolutionStrategiesOptimizer(
        ...     traj, lambda: {"x": np.zeros(2)}, (-1.0,),
        ...     NaturalEvolutionStrategiesParameters(
        ...         mu=[3.0, -2.0], sigma=1.0, n_iteration=60, seed=1))
        >>> for g in range(60):
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        >>> traj.par.pop_size, bool(np.linalg.norm(opt.mu) < 0.1)
        (6, True)
    """

    parameters_type = NaturalEvolutionStrategiesParameters

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
        start, self.optimizee_individual_dict_spec = dict_to_list(
            optimizee_create_individual(), get_dict_spec=True
        )
        d = start.size
        if d == 0:
            raise ValueError("the individual has no parameters to optimize")
        self.learning_rate_mu = (
            1.0
            if p.learning_rate_mu is None
            else check_positive("learning_rate_mu", p.learning_rate_mu)
        )
        self.learning_rate_sigma = (
            (3.0 + math.log(d)) / (5.0 * math.sqrt(d))
            if p.learning_rate_sigma is None
            else check_positive("learning_rate_sigma", p.learning_rate_sigma)
        )
        self.mu = start if p.mu is None else _check_mean(p.mu, d)
        self.sigma = check_positive_vector("sigma", p.sigma, d)
        self.mirrored_sampling_enabled = check_bool(
            "mirrored_sampling_enabled", p.mirrored_sampling_enabled
        )
        self.fitness_shaping_enabled = check_bool(
            "fitness_shaping_enabled", p.fitness_shaping_enabled
        )
        self.pop_size = (
            4 + int(math.floor(3.0 * math.log(d)))
            if p.pop_size is None
            else check_int("pop_size", p.pop_size, 1)
        )
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.seed = check_int("seed", p.seed, 0)

        resolved = p._replace(
            learning_rate_mu=self.learning_rate_mu,
            learning_rate_sigma=self.learning_rate_sigma,
            mu=self.mu.copy(),
            sigma=self.sigma.copy(),
            pop_size=self.pop_size,
        )
        for name, value in resolved._asdict().items():
            traj.f_add_parameter(name, value)
        traj.f_add_parameter("dimension", (d,))

        self.rng = np.random.default_rng(self.seed)
        self._sample_generation()
        self._expand_trajectory(traj)

    def _sample_generation(self):
        self.current_perturbations = gaussian_perturbations(
            self.rng, self.pop_size, np.ones(self.mu.size), self.mirrored_sampling_enabled
        )
        points = self.mu + self.sigma * self.current_perturbations
        self.eval_pop = [
            self._bound(list_to_dict(x, self.optimizee_individual_dict_spec)) for x in points
        ]

    def _bound(self, individual):
        if self.optimizee_bounding_func is None:
            return individual
        return self.optimizee_bounding_func(individual)

    def post_process(self, traj, fitnesses_results):
        """Takes the fitness of the generation, updates ``mu`` and ``sigma`` and, unless the
        run is over, expands the next generation.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every individual of
                the current generation, in any order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        _, weighted = self._record_generation(fitnesses_results)
        if self.g >= self.n_iteration - 1 or weighted.max() >= self.stop_criterion:
            return
        values = shaped_fitness(weighted, self.fitness_shaping_enabled)
        if values is None:
            logger.warning(
                "generation %d: every individual failed; the distribution is kept", self.g
            )
        else:
            s = self.current_perturbations
            with np.errstate(over="ignore", invalid="ignore"):
                mu = self.mu + self.learning_rate_mu * self.sigma * (values @ s)
                sigma = self.sigma * np.exp(
                    self.learning_rate_sigma / 2.0 * (values @ (s**2 - 1.0))
                )
            if np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma)):
                self.mu, self.sigma = mu, sigma
            else:
                logger.warning(
                    "generation %d: the update is not finite (fitness too large?); the "
                    "distribution is kept",
                    self.g,
                )
        self.g += 1
        self._sample_generation()
        self._expand_trajectory(traj)

    def get_state(self):
        """The base state plus ``mu``, ``sigma`` and the current samples."""
        state = super().get_state()
        state.update(
            mu=self.mu.copy(),
            sigma=self.sigma.copy(),
            current_perturbations=self.current_perturbations.copy(),
        )
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key, or its arrays do not match this optimizer's
                individual size and population.
        """
        missing = {"mu", "sigma", "current_perturbations"} - set(state)
        if missing:
            raise ValueError(f"natural evolution strategies state lacks {sorted(missing)}")
        mu = np.asarray(state["mu"], dtype=float)
        sigma = np.asarray(state["sigma"], dtype=float)
        samples = np.asarray(state["current_perturbations"], dtype=float)
        if (
            mu.shape != self.mu.shape
            or sigma.shape != self.sigma.shape
            or samples.shape != self.current_perturbations.shape
        ):
            raise ValueError(
                f"the saved state has mu {mu.shape}, sigma {sigma.shape} and samples "
                f"{samples.shape}, this optimizer expects {self.mu.shape}, {self.sigma.shape} and "
                f"{self.current_perturbations.shape}"
            )
        super().set_state(state)
        self.mu, self.sigma, self.current_perturbations = mu.copy(), sigma.copy(), samples.copy()


def _check_mean(mu, size):
    array = np.asarray(mu)
    if array.dtype.kind not in "iuf" or array.dtype == np.bool_:
        raise TypeError(f"mu must be None or an array of numbers, got {type(mu).__name__} {mu!r}")
    array = array.astype(float).ravel()
    if array.size != size:
        raise ValueError(
            f"mu must have {size} elements (one per element of the flattened individual), got "
            f"{array.size}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"mu must be finite, got {mu!r}")
    return array.copy()

"""Evolution strategies (OpenAI-ES): a gradient estimate from Gaussian perturbations of one
point, with mirrored sampling and rank-based fitness shaping.

The helpers `rank_utilities`, `shaped_fitness` and `gaussian_perturbations` are shared with
`mpil2l.optimizers.naturalevolutionstrategies`.
"""

import logging
import math
from collections import namedtuple

import numpy as np

from ..model.conversion import dict_to_list, list_to_dict
from ._shared import check_bool, check_int, check_positive, check_stop_criterion
from .optimizer import Optimizer

logger = logging.getLogger("mpil2l.optimizers.evolutionstrategies")

EvolutionStrategiesParameters = namedtuple(
    "EvolutionStrategiesParameters",
    [
        "learning_rate",
        "noise_std",
        "mirrored_sampling_enabled",
        "fitness_shaping_enabled",
        "pop_size",
        "n_iteration",
        "stop_criterion",
        "seed",
    ],
    defaults=(0.1, 1.0, True, True, 20, 100, math.inf, 42),
)
EvolutionStrategiesParameters.__doc__ = """Parameters of `EvolutionStrategiesOptimizer`.

Args:
    learning_rate: step size alpha of the update (> 0). Default 0.1.
    noise_std: standard deviation sigma of the perturbations (> 0): one number, or one per
        element of the flattened individual. Default 1.0.
    mirrored_sampling_enabled: also evaluate ``theta - e`` for every perturbation
        ``theta + e`` (antithetic sampling). Default True.
    fitness_shaping_enabled: replace the fitness by rank-based utilities (see
        `rank_utilities`) in the update. Default True.
    pop_size: number of perturbations drawn per generation (>= 1); a generation evaluates
        ``pop_size`` (twice that with mirrored sampling) perturbed points plus the current
        point. Default 20.
    n_iteration: number of generations to evaluate (>= 1). Default 100.
    stop_criterion: stop once the best weighted fitness of a generation is >= this value
        (a real number; ``inf`` never stops early). Default inf.
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
"""


def check_positive_vector(name, value, size):
    """Returns `value` as a float array of `size` elements, all finite and > 0; a single
    number is repeated.

    Raises:
        TypeError: `value` is not a number or an array of numbers.
        ValueError: `value` has another number of elements, or an element is not finite or
            not > 0.
    """
    array = np.asarray(value)
    if array.dtype.kind not in "iuf" or array.dtype == np.bool_:
        raise TypeError(
            f"{name} must be a number or an array of numbers, got {type(value).__name__} {value!r}"
        )
    array = array.astype(float)
    if array.ndim == 0:
        array = np.full(size, float(array))
    elif array.size != size:
        raise ValueError(
            f"{name} must be one number or {size} numbers (one per element of the flattened "
            f"individual), got {array.size}"
        )
    array = array.ravel().copy()
    if not np.all(np.isfinite(array)) or not np.all(array > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return array


def rank_utilities(n):
    """The rank-based utilities of Wierstra et al. (2014), best rank first.

    ``u_k = max(0, log(n/2 + 1) - log(k)) / sum_j max(0, log(n/2 + 1) - log(j)) - 1/n`` for
    ranks ``k = 1..n``: they decrease with the rank and sum to zero.

    Example:
        >>> u = rank_utilities(4)
        >>> bool(np.all(np.diff(u) <= 0)), abs(float(u.sum())) < 1e-12
        (True, True)
    """
    ranks = np.arange(1, n + 1)
    raw = np.maximum(0.0, np.log(n / 2.0 + 1.0) - np.log(ranks))
    return raw / raw.sum() - 1.0 / n


def shaped_fitness(weighted, fitness_shaping_enabled):
    """The values the ES and NES updates weight the perturbations with.

    With fitness shaping, each sample gets the utility of its rank (`rank_utilities`; ties
    keep their sample order, failed samples with ``-inf`` rank last). Without, the weighted
    fitness itself, a non-finite value replaced by the worst finite one of the generation.

    Args:
        weighted: the weighted fitness of each sample (``-inf`` for failures).
        fitness_shaping_enabled: use rank utilities.

    Returns:
        A float array like `weighted`, or None when no sample has a finite fitness (the
        update is then skipped).
    """
    weighted = np.asarray(weighted, dtype=float)
    finite = np.isfinite(weighted)
    if not finite.any():
        return None
    if fitness_shaping_enabled:
        order = np.argsort(-np.where(np.isnan(weighted), -np.inf, weighted), kind="stable")
        values = np.empty(weighted.size)
        values[order] = rank_utilities(weighted.size)
        return values
    return np.where(finite, weighted, weighted[finite].min())


def gaussian_perturbations(rng, pop_size, std, mirrored):
    """``pop_size`` draws of ``N(0, std**2)`` per element (``std``: an array of the individual's
    size), followed by their negatives when `mirrored`."""
    draws = rng.standard_normal((pop_size, std.size)) * std
    return np.concatenate([draws, -draws]) if mirrored else draws


class EvolutionStrategiesOptimizer(Optimizer):
    """Evolution strategies after Salimans et al. (2017), "Evolution Strategies as a Scalable
    Alternative to Reinforcement Learning", over the flattened individual.

    One point ``theta`` moves along a Monte-Carlo estimate of the gradient of the expected
    weighted fitness under Gaussian perturbations. Pseudo-code::

        theta <- optimizee_create_individual() (flattened)
        for g in 0 .. n_iteration - 1:
            e_1 .. e_p ~ N(0, noise_std^2) per element, p = pop_size
            if mirrored_sampling_enabled: also e_{p+1} .. e_{2p} = -e_1 .. -e_p
            evaluate bound(theta + e_i) for every i, then bound(theta) (the last ind_idx)
            stop if g is the last generation or the best weighted fitness >= stop_criterion
            F_i <- weighted fitness of theta + e_i, or, with fitness_shaping_enabled, the
                   utility of its rank (`rank_utilities`)
            theta <- theta + learning_rate * sum_i F_i e_i / (n * noise_std^2)   (n samples)

    "Bound" maps an individual through ``optimizee_bounding_func`` when one is given; the
    update uses the unbounded perturbations, as L2L does. Without fitness shaping a failed
    sample (``-inf``) gets the worst finite fitness of its generation; when every sample
    failed, theta stays where it is. Every random number comes from
    ``numpy.random.default_rng(seed)`` and results are taken by ``ind_idx``, so a run is
    reproducible whatever the order in which the workers finish.

    Use it for noisy or non-differentiable objectives of tens to thousands of continuous
    parameters, where a population of evaluations per step is affordable and runs in
    parallel; fitness shaping makes it insensitive to the scale of the fitness.

    Args:
        traj: the run's trajectory; gets every field of `parameters` as a parameter, and
            ``dimension`` (the flattened individual's shape).
        optimizee_create_individual: returns a new individual dict; called once for the
            starting point.
        optimizee_fitness_weights: one weight per fitness value.
        parameters: an `EvolutionStrategiesParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        current_individual_arr: theta, the flattened current point.
        current_perturbations: the perturbations of the generation being evaluated.
        current_individual_fitness: the weighted fitness of theta in the last evaluated
            generation (``-inf`` before).

    Raises:
        TypeError: `parameters` is not an `EvolutionStrategiesParameters` or a field has the
            wrong type.
        ValueError: a field is out of range (e.g. "pop_size must be >= 1, got 0").

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> opt = EvolutionStrategiesOptimizer(
        ...     traj, lambda: {"x": np.array([2.0, -1.0])}, (-1.0,),
        ...     EvolutionStrategiesParameters(learning_rate=1.0, noise_std=0.2, pop_size=5,
        ...                                   n_iteration=40, seed=1))
        >>> for g in range(40):
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        >>> len(traj.individuals[0]), bool(np.linalg.norm(opt.current_individual_arr) < 0.5)
        (11, True)
    """

    parameters_type = EvolutionStrategiesParameters

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
        self.learning_rate = check_positive("learning_rate", p.learning_rate)
        self.mirrored_sampling_enabled = check_bool(
            "mirrored_sampling_enabled", p.mirrored_sampling_enabled
        )
        self.fitness_shaping_enabled = check_bool(
            "fitness_shaping_enabled", p.fitness_shaping_enabled
        )
        self.pop_size = check_int("pop_size", p.pop_size, 1)
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.seed = check_int("seed", p.seed, 0)

        self.current_individual_arr, self.optimizee_individual_dict_spec = dict_to_list(
            optimizee_create_individual(), get_dict_spec=True
        )
        self.noise_std = check_positive_vector(
            "noise_std", p.noise_std, self.current_individual_arr.size
        )
        for name, value in p._asdict().items():
            traj.f_add_parameter(name, value)
        traj.f_add_parameter("dimension", self.current_individual_arr.shape)

        self.rng = np.random.default_rng(self.seed)
        self.current_individual_fitness = -math.inf
        self._sample_generation()
        self._expand_trajectory(traj)

    def _sample_generation(self):
        self.current_perturbations = gaussian_perturbations(
            self.rng, self.pop_size, self.noise_std, self.mirrored_sampling_enabled
        )
        points = np.vstack(
            [self.current_individual_arr + self.current_perturbations, self.current_individual_arr]
        )
        self.eval_pop = [
            self._bound(list_to_dict(x, self.optimizee_individual_dict_spec)) for x in points
        ]

    def _bound(self, individual):
        if self.optimizee_bounding_func is None:
            return individual
        return self.optimizee_bounding_func(individual)

    def post_process(self, traj, fitnesses_results):
        """Takes the fitness of the generation, moves theta and, unless the run is over,
        expands the next generation.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every individual of
                the current generation, in any order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        _, weighted = self._record_generation(fitnesses_results)
        self.current_individual_fitness = float(weighted[-1])
        if self.g >= self.n_iteration - 1 or weighted.max() >= self.stop_criterion:
            return
        values = shaped_fitness(weighted[:-1], self.fitness_shaping_enabled)
        if values is None:
            logger.warning(
                "generation %d: every perturbed individual failed; theta is kept", self.g
            )
        else:
            n = values.size
            step = (
                self.learning_rate * (values @ self.current_perturbations) / (n * self.noise_std**2)
            )
            if np.all(np.isfinite(step)):
                self.current_individual_arr = self.current_individual_arr + step
            else:
                logger.warning(
                    "generation %d: the update is not finite (fitness too large?); theta is kept",
                    self.g,
                )
        self.g += 1
        self._sample_generation()
        self._expand_trajectory(traj)

    def get_state(self):
        """The base state plus theta, the current perturbations and theta's fitness."""
        state = super().get_state()
        state.update(
            current_individual_arr=self.current_individual_arr.copy(),
            current_perturbations=self.current_perturbations.copy(),
            current_individual_fitness=self.current_individual_fitness,
        )
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key, or its arrays do not match this optimizer's
                individual size and population.
        """
        missing = {
            "current_individual_arr",
            "current_perturbations",
            "current_individual_fitness",
        } - set(state)
        if missing:
            raise ValueError(f"evolution strategies state lacks {sorted(missing)}")
        theta = np.asarray(state["current_individual_arr"], dtype=float)
        perturbations = np.asarray(state["current_perturbations"], dtype=float)
        if (
            theta.shape != self.current_individual_arr.shape
            or perturbations.shape != self.current_perturbations.shape
        ):
            raise ValueError(
                f"the saved state has theta {theta.shape} and perturbations {perturbations.shape}, "
                f"this optimizer expects {self.current_individual_arr.shape} and "
                f"{self.current_perturbations.shape}"
            )
        super().set_state(state)
        self.current_individual_arr = theta.copy()
        self.current_perturbations = perturbations.copy()
        self.current_individual_fitness = float(state["current_individual_fitness"])

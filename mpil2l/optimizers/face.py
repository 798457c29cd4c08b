"""FACE, the fully adaptive cross-entropy method: cross entropy with a sample size that grows
while the search stalls."""

import logging
import math
from collections import namedtuple

from ._shared import check_int, check_real, check_stop_criterion
from .crossentropy import SampleFitOptimizer
from .distributions import Gaussian

logger = logging.getLogger("mpil2l.optimizers.face")

FACEParameters = namedtuple(
    "FACEParameters",
    [
        "min_pop_size",
        "max_pop_size",
        "n_elite",
        "smoothing",
        "temp_decay",
        "n_iteration",
        "distribution",
        "stop_criterion",
        "n_expand",
        "seed",
    ],
    defaults=(20, 50, 10, 0.2, 0.0, 100, None, math.inf, 5, 42),
)
FACEParameters.__doc__ = """Parameters of `FACEOptimizer`.

Args:
    min_pop_size: smallest number of individuals per generation (>= 1). Default 20.
    max_pop_size: largest number of individuals per generation (>= min_pop_size). Default 50.
    n_elite: number of individuals the distribution is fitted to, in
        ``[1, min_pop_size]``. Default 10.
    smoothing: weight in ``[0, 1)`` of the previous distribution parameters at each fit:
        ``new = smoothing * old + (1 - smoothing) * fitted``. Default 0.2.
    temp_decay: factor in ``[0, 1]`` by which the temperature (initially 1) decays per
        generation; > 0 also fits non-elite individuals kept with a simulated-annealing
        probability (see `CrossEntropyOptimizer`). Default 0.0.
    n_iteration: number of generations to evaluate at most (>= 1). Default 100.
    distribution: the distribution to sample from, as in `CrossEntropyParameters`.
        Default None: ``Gaussian()``.
    stop_criterion: stop once the best weighted fitness of a generation is >= this value.
        Default ``inf`` (never).
    n_expand: by how many individuals a generation grows after one without improvement
        (>= 1). Default 5.
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
"""


class FACEOptimizer(SampleFitOptimizer):
    """The fully adaptive cross-entropy method (FACE) over the flattened individual.

    Cross entropy (see `CrossEntropyOptimizer`) with a fixed number of elite individuals and
    an adaptive population size: a generation that improves neither the best fitness nor
    gamma (the n_elite-th best) of the generation before it is not used to refit the
    distribution; instead a larger generation is drawn from the same distribution. When the
    population cannot grow beyond ``max_pop_size`` any more, the search has stalled and the
    optimizer stops. Pseudo-code::

        pop_size <- min_pop_size;  pop <- pop_size individuals from
            optimizee_create_individual(), bounded                       # generation 0
        fit the distribution to pop;  T <- 1;  best_ref, gamma_ref <- -inf, -inf
        for g in 0 .. n_iteration - 1:
            evaluate pop; sort it by weighted fitness, best first
            best, gamma <- fitness of the best and of the n_elite-th best
            improved <- best > best_ref or gamma > gamma_ref
            best_ref, gamma_ref <- best, gamma                   # accepted or not
            if improved:
                pop_size <- (pop_size + min_pop_size) // 2
                fit the distribution to the n_elite best (plus the temperature-selected
                    others when temp_decay > 0), smoothed
            else if pop_size + n_expand <= max_pop_size:
                pop_size <- pop_size + n_expand                           # sample more
            else:
                stop (no improvement even with max_pop_size individuals)
            stop if g = n_iteration - 1 or best >= stop_criterion
            pop <- pop_size samples of the distribution, bounded;  T <- T * temp_decay

    Use it instead of `CrossEntropyOptimizer` to spend few evaluations while the search
    progresses and more where it stalls, and to get a convergence-based stop.

    As in L2L, each generation is compared with the one just before it, even a rejected
    one: Rubinstein and Kroese compare with the last accepted generation, which refits less
    often and, on Rastrigin2d within a budget of evaluations, reaches the optimum in fewer
    runs. Unlike L2L, it expands at most `n_iteration` generations (L2L's check,
    ``g >= n_iteration``, expands one more).

    Args:
        traj: the run's trajectory; gets the parameters' fields (the distribution's settings
            as the parameter group ``distribution``) and the derived parameter
            ``dimension``.
        optimizee_create_individual: returns a new individual dict.
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `FACEParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        pop_size: the size of the next generation.
        best_reference, gamma_reference: best fitness and gamma of the last evaluated
            generation, the next one's reference.
        See `SampleFitOptimizer` for the distribution and the per-generation records
        (``stop_reason`` may be ``'no_improvement'``).

    Raises:
        TypeError: `parameters` is not a `FACEParameters` or a field has the wrong type.
        ValueError: a field is out of range (e.g. "n_elite must be <= min_pop_size (20),
            got 30").
        ImportError: a mixture distribution without scikit-learn.

    Example:
        >>> import numpy as np
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> rng = np.random.default_rng(0)
        >>> opt = FACEOptimizer(
        ...     traj, lambda: {"x": rng.uniform(-5, 5, 2)}, (-1.0,),
        ...     FACEParameters(min_pop_size=10, max_pop_size=20, n_elite=5, n_iteration=20, seed=1))
        >>> g = 0
        >>> while g in traj.individuals:
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        ...     g += 1
        >>> opt.best_fitness[0] < 1e-2
        True
    """

    parameters_type = FACEParameters

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
        self.min_pop_size = check_int("min_pop_size", p.min_pop_size, 1)
        self.max_pop_size = check_int("max_pop_size", p.max_pop_size, 1)
        if self.max_pop_size < self.min_pop_size:
            raise ValueError(
                f"max_pop_size must be >= min_pop_size ({self.min_pop_size}), got "
                f"{self.max_pop_size}"
            )
        self.n_elite = check_int("n_elite", p.n_elite, 1)
        if self.n_elite > self.min_pop_size:
            raise ValueError(
                f"n_elite must be <= min_pop_size ({self.min_pop_size}), got {self.n_elite}"
            )
        self.smoothing = check_real("smoothing", p.smoothing, 0.0, 1.0)
        if self.smoothing == 1:
            raise ValueError("smoothing must be in [0, 1), got 1")
        self.temp_decay = check_real("temp_decay", p.temp_decay, 0.0, 1.0)
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.n_expand = check_int("n_expand", p.n_expand, 1)
        self.seed = check_int("seed", p.seed, 0)
        self.pop_size = self.min_pop_size
        self.best_reference = -math.inf
        self.gamma_reference = -math.inf
        self._setup(traj, Gaussian, self.min_pop_size)

    def post_process(self, traj, fitnesses_results):
        """Takes the fitness of the current generation; refits the distribution or grows the
        population; unless the run stops, samples and expands the next generation.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every individual of
                the current generation, in any order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        _, weighted = self._record_generation(fitnesses_results)
        sorted_pop, sorted_fit = self._rank(weighted)
        n_elite = min(self.n_elite, len(sorted_fit))
        self.best_fitness_in_run = float(sorted_fit[0])
        self.gamma = float(sorted_fit[n_elite - 1])

        stalled = False
        n_fitted = 0
        improved = (
            self.best_fitness_in_run > self.best_reference or self.gamma > self.gamma_reference
        )
        self.best_reference, self.gamma_reference = self.best_fitness_in_run, self.gamma
        if improved:
            self.pop_size = (self.pop_size + self.min_pop_size) // 2
            n_fitted = self._fit_to_selection(sorted_pop, sorted_fit, n_elite)
        elif self.pop_size + self.n_expand <= self.max_pop_size:
            self.pop_size += self.n_expand
            logger.info(
                "generation %d brought no improvement: next generation of %d", self.g, self.pop_size
            )
        else:
            stalled = True
        self._log_generation(traj, weighted, n_fitted)

        if self.best_fitness_in_run >= self.stop_criterion:
            self._stop("stop_criterion")
            return
        if self.g >= self.n_iteration - 1:
            self._stop("n_iteration")
            return
        if stalled:
            logger.warning(
                "no improvement with %d individuals (max_pop_size): the search has converged or "
                "stalled",
                len(self.eval_pop),
            )
            self._stop("no_improvement")
            return
        self._sample(self.pop_size)
        self.g += 1
        self.T *= self.temp_decay
        self._expand_trajectory(traj)

    def get_state(self):
        """The shared cross-entropy state plus the population size and the references."""
        state = super().get_state()
        state.update(
            pop_size=self.pop_size,
            best_reference=self.best_reference,
            gamma_reference=self.gamma_reference,
        )
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key or does not fit this optimizer.
        """
        missing = {"pop_size", "best_reference", "gamma_reference"} - set(state)
        if missing:
            raise ValueError(f"FACEOptimizer state lacks {sorted(missing)}")
        super().set_state(state)
        self.pop_size = int(state["pop_size"])
        self.best_reference = float(state["best_reference"])
        self.gamma_reference = float(state["gamma_reference"])

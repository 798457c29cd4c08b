"""The optimizer contract and what every optimizer shares.

An optimizer runs on rank 0 only and never sees MPI. The runtime drives it:

1. the constructor adds its settings (always ``n_iteration``) to the trajectory and expands
   it with generation 0;
2. for every generation ``g`` the runtime evaluates ``traj.individuals[g]`` and calls
   ``post_process(traj, [(ind_idx, fitness_tuple), ...])``; the optimizer expands the
   trajectory with generation ``g + 1``, or does not expand it to stop;
3. ``end(traj)`` runs once at the end.

Checkpointing: after every generation the runtime saves ``get_state()`` (pickled, with the
trajectory) into the results log, and a resumed run builds the optimizer with the same
arguments, then calls ``set_state(saved)``. The contract: after ``set_state`` the optimizer
must go on exactly as the saved one would have, random generator included. The base class
saves its own attributes (``g``, ``eval_pop``, ``rng``, ``statistics``, the best
individual); a subclass that does not override `get_state` gets every other attribute it
sets saved too (deep copies), so a new optimizer is checkpointed without writing anything.
A subclass that overrides them (to validate a state, or to keep it small) extends
``super().get_state()`` with everything that changes after construction and restores it
after ``super().set_state(state)``. tests/test_resume.py checks every optimizer.
"""

import copy
import logging
import math

import numpy as np

from ..model.trajectory import INDIVIDUAL_PREFIX
from ._shared import (  # noqa: F401 (the checks are importable from here too)
    check_bool,
    check_int,
    check_optimizer_arguments,
    check_positive,
    check_real,
    check_stop_criterion,
    weighted_fitness,
)

logger = logging.getLogger("mpil2l.optimizers")


class Optimizer:
    """Base class of optimizers, the outer loop of learning to learn.

    Optimizers maximise the weighted fitness ``sum(w_i * f_i)``; a negative weight turns the
    corresponding objective into a minimisation.

    Subclasses set ``self.eval_pop`` (the individual dicts of the next generation) and call
    `_expand_trajectory`; in `post_process` they call `_record_generation` first, which
    checks the results, keeps the statistics and the best individual, and returns the
    weighted fitness of each individual of ``self.eval_pop``.

    Args:
        traj: the run's trajectory.
        optimizee_create_individual: a callable returning a new individual dict.
        optimizee_fitness_weights: one real weight per fitness value `simulate` returns.
        parameters: the optimizer's parameters, a namedtuple.
        optimizee_bounding_func: a callable that maps an individual dict into the valid
            domain, or None.

    Attributes:
        g: the generation being evaluated (the one ``self.eval_pop`` holds).
        eval_pop: the individual dicts of generation ``g``, indexed by ``ind_idx``.
        statistics: one dict per evaluated generation: ``generation``, ``n_individuals``,
            ``best_fitness``, ``best_weighted_fitness``, ``mean_weighted_fitness`` (over the
            finite values), ``best_ind_idx``.
        best_individual: the best individual seen so far (a dict), or None.
        best_fitness: its fitness tuple, or None.
        best_weighted_fitness: its weighted fitness (``-inf`` before any result).
        rng: the optimizer's ``numpy.random.Generator``, or None if it draws nothing.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: the fitness weights are empty or not finite.

    Example:
        >>> from collections import namedtuple
        >>> from mpil2l.model.trajectory import Trajectory
        >>> Params = namedtuple("Params", ["n_iteration"])
        >>> class Halving(Optimizer):
        ...     def __init__(self, traj, create, weights, parameters):
        ...         super().__init__(traj, create, weights, parameters)
        ...         traj.f_add_parameter("n_iteration", parameters.n_iteration)
        ...         self.eval_pop = [create()]
        ...         self._expand_trajectory(traj)
        ...     def post_process(self, traj, fitnesses_results):
        ...         self._record_generation(fitnesses_results)
        ...         self.eval_pop = [{"x": self.eval_pop[0]["x"] / 2}]
        ...         self.g += 1
        ...         self._expand_trajectory(traj)
        >>> traj = Trajectory()
        >>> opt = Halving(traj, lambda: {"x": 4.0}, (-1.0,), Params(n_iteration=3))
        >>> opt.post_process(traj, [(0, (4.0,))])
        >>> traj.individuals[1][0].x, opt.best_fitness
        (2.0, (4.0,))
    """

    # The namedtuple class (or tuple of classes) `parameters` must be an instance of
    # (None: anything).
    parameters_type = None
    # What the constructor is given is never part of the state: a resumed optimizer is built
    # with the same arguments.
    _NOT_STATE = (
        "optimizee_create_individual",
        "optimizee_bounding_func",
        "optimizee_fitness_weights",
        "parameters",
    )
    _BASE_STATE = (
        "g",
        "eval_pop",
        "rng",
        "statistics",
        "best_individual",
        "best_fitness",
        "best_weighted_fitness",
    )

    def __init__(
        self,
        traj,
        optimizee_create_individual,
        optimizee_fitness_weights,
        parameters,
        optimizee_bounding_func=None,
    ):
        self.optimizee_create_individual = optimizee_create_individual
        self.optimizee_fitness_weights = check_optimizer_arguments(
            self,
            optimizee_create_individual,
            optimizee_fitness_weights,
            parameters,
            optimizee_bounding_func,
        )
        self.optimizee_bounding_func = optimizee_bounding_func
        self.parameters = parameters

        self.g = 0
        self.eval_pop = []
        self.statistics = []
        self.best_individual = None
        self.best_fitness = None
        self.best_weighted_fitness = -math.inf
        self.rng = None

    def post_process(self, traj, fitnesses_results):
        """Takes the results of generation ``self.g`` and prepares the next one.

        Implementations call `_record_generation`, build ``self.eval_pop``, increment
        ``self.g`` and call `_expand_trajectory`; they return without expanding to stop.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every individual of
                generation ``self.g``, in any order.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement post_process(traj, fitnesses_results)"
        )

    def end(self, traj):
        """Stores the final results in the trajectory and logs the best individual.

        Adds the results ``final_individual``, ``final_fitness`` and ``n_iteration`` (the
        number of generations evaluated).
        """
        traj.f_add_result("final_individual", self.best_individual)
        traj.f_add_result("final_fitness", self.best_fitness)
        traj.f_add_result("n_iteration", len(self.statistics))
        logger.info(
            "%s finished after %d generation(s): best fitness %s (weighted %g) for %s",
            type(self).__name__,
            len(self.statistics),
            self.best_fitness,
            self.best_weighted_fitness,
            self.best_individual,
        )

    def weighted_fitness(self, fitness):
        """The scalar the optimizer maximises: ``sum(w_i * f_i)``.

        Raises:
            ValueError: `fitness` does not have one value per weight.
        """
        return weighted_fitness(self.optimizee_fitness_weights, fitness)

    def _record_generation(self, fitnesses_results):
        """Checks the results of generation ``self.g`` against ``self.eval_pop``, updates
        ``statistics`` and the best individual.

        Args:
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]``, in any order.

        Returns:
            The fitness tuples and a numpy array of weighted fitness, both indexed by
            ``ind_idx``; a NaN weighted fitness is replaced by ``-inf``.

        Raises:
            ValueError: the results do not hold exactly one fitness per individual of
                ``self.eval_pop``, or a fitness has the wrong length.
        """
        by_idx = dict(fitnesses_results)
        n = len(self.eval_pop)
        if len(by_idx) != len(fitnesses_results) or set(by_idx) != set(range(n)):
            raise ValueError(
                f"generation {self.g} has individuals 0..{n - 1} but the results hold ind_idx "
                f"{sorted(idx for idx, _ in fitnesses_results)}"
            )
        fitnesses = [tuple(by_idx[i]) for i in range(n)]
        weighted = np.array([self.weighted_fitness(f) for f in fitnesses])
        # A NaN (say, a failed individual with a zero weight) must never win a comparison.
        weighted[np.isnan(weighted)] = -np.inf
        best = int(np.argmax(weighted))
        finite = weighted[np.isfinite(weighted)]
        mean = float(finite.mean()) if finite.size else math.nan
        self.statistics.append(
            {
                "generation": self.g,
                "n_individuals": n,
                "best_fitness": fitnesses[best],
                "best_weighted_fitness": float(weighted[best]),
                "mean_weighted_fitness": mean,
                "best_ind_idx": best,
            }
        )
        if weighted[best] > self.best_weighted_fitness:
            self.best_weighted_fitness = float(weighted[best])
            self.best_fitness = fitnesses[best]
            self.best_individual = _copy_individual(self.eval_pop[best])
        # the runtime prints one progress line per generation; this is detail for debug=True
        logger.debug(
            "generation %d: best fitness %s (ind_idx %d), mean weighted fitness %g",
            self.g,
            fitnesses[best],
            best,
            mean,
        )
        return fitnesses, weighted

    def _expand_trajectory(self, traj):
        """Adds ``self.eval_pop`` to the trajectory as generation ``self.g``.

        Raises:
            ValueError: ``self.eval_pop`` is empty or its individuals have different keys.
        """
        if not self.eval_pop:
            raise ValueError(f"generation {self.g} has no individuals to evaluate")
        keys = set(self.eval_pop[0])
        for i, individual in enumerate(self.eval_pop):
            if set(individual) != keys:
                raise ValueError(
                    f"individual {i} of generation {self.g} has keys {sorted(individual)}, "
                    f"individual 0 has {sorted(keys)}"
                )
        build = {"generation": [self.g], "ind_idx": list(range(len(self.eval_pop)))}
        for key in sorted(keys):
            build[INDIVIDUAL_PREFIX + key] = [individual[key] for individual in self.eval_pop]
        traj.f_expand(build)

    def get_state(self):
        """The optimizer's state, for checkpointing: plain, picklable values.

        Subclasses that override it extend ``super().get_state()`` with what they need to
        resume; for those that do not, the dict also holds every other attribute they set
        (``'attributes'``, deep copies).
        """
        state = {
            "generation": self.g,
            "eval_pop": [_copy_individual(ind) for ind in self.eval_pop],
            "rng": None if self.rng is None else self.rng.bit_generator.state,
            "statistics": [dict(s) for s in self.statistics],
            "best_individual": _copy_individual(self.best_individual),
            "best_fitness": self.best_fitness,
            "best_weighted_fitness": self.best_weighted_fitness,
        }
        if type(self).get_state is Optimizer.get_state:
            skip = set(self._NOT_STATE) | set(self._BASE_STATE)
            state["attributes"] = {
                name: copy.deepcopy(value)
                for name, value in vars(self).items()
                if name not in skip and not callable(value)
            }
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: `state` lacks a key or holds an RNG state for an optimizer without
                RNG.
        """
        missing = {
            "generation",
            "eval_pop",
            "rng",
            "statistics",
            "best_individual",
            "best_fitness",
            "best_weighted_fitness",
        } - set(state)
        if missing:
            raise ValueError(f"optimizer state lacks {sorted(missing)}")
        if state["rng"] is not None:
            if self.rng is None:
                raise ValueError(f"{type(self).__name__} has no RNG to restore a state into")
            self.rng.bit_generator.state = state["rng"]
        self.g = state["generation"]
        self.eval_pop = [_copy_individual(ind) for ind in state["eval_pop"]]
        self.statistics = [dict(s) for s in state["statistics"]]
        self.best_individual = _copy_individual(state["best_individual"])
        self.best_fitness = state["best_fitness"]
        self.best_weighted_fitness = state["best_weighted_fitness"]
        for name, value in state.get("attributes", {}).items():
            setattr(self, name, copy.deepcopy(value))


def _copy_individual(individual):
    if individual is None:
        return None
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in individual.items()}

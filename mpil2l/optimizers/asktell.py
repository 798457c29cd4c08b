"""The ask/tell core of asynchronous optimizers: ``ask(n)`` candidates, ``tell(results)``.

An ask/tell optimizer never sees MPI, a trajectory or a generation. A driver
(`mpil2l.AsyncExperiment`, or a plain Python loop) asks for candidates, has them evaluated
wherever and in whatever order it likes, and tells each result as soon as it arrives.

Every candidate has a sequence number (0 for the first one asked, 1 for the next, ...) and
draws its random numbers from a generator seeded by ``(seed, number)``, so the optimizer
keeps no running random state: what it proposes depends on the seed, the sequence number and
the results told before the candidate was asked, never on how many random numbers earlier
candidates consumed or on the wall clock.
"""

import math
from typing import NamedTuple

import numpy as np

from ..model.conversion import dict_to_list, list_to_dict
from ..model.trajectory import INDIVIDUAL_PREFIX
from ._shared import check_int, check_optimizer_arguments, weighted_fitness


class Candidate(NamedTuple):
    """One candidate to evaluate."""

    number: int  # sequence number: 0 for the first candidate asked, 1 for the next, ...
    individual: dict  # the individual, as `create_individual` returns one (already bounded)

    @property
    def params(self):
        """The individual with the ``individual.`` prefix (what an evaluation task holds)."""
        return {INDIVIDUAL_PREFIX + key: value for key, value in self.individual.items()}


class AskTellOptimizer:
    """Base class of ask/tell optimizers: ``ask(n)`` candidates, ``tell(results)``.

    Optimizers maximise the weighted fitness ``sum(w_i * f_i)`` (a negative weight turns an
    objective into a minimisation), like the generational `mpil2l.Optimizer`. A subclass
    implements `_propose` (the flattened vector of candidate ``number``) and may implement
    `_observe` (what a told result changes), `_state` and `_restore` (its part of the
    checkpoint). The base class bounds, numbers and remembers the candidates, checks the
    results and keeps the best one.

    Args:
        optimizee_create_individual: a callable returning a new individual dict.
        optimizee_fitness_weights: one real weight per fitness value `simulate` returns.
        parameters: the optimizer's parameters, a namedtuple with a ``seed`` field.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        n_asked: candidates asked so far (the next candidate's number).
        n_told: results told so far.
        best_individual: the best individual told so far (a dict), or None.
        best_fitness: its fitness tuple, or None.
        best_weighted_fitness: its weighted fitness (``-inf`` before any result).
        best_number: its sequence number, or None. Among equal weighted fitnesses the lowest
            sequence number wins, so the best does not depend on the order results arrive in.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: the fitness weights are empty or not finite, or the seed is negative.

    Example:
        >>> from mpil2l.optimizers import AsyncRandomSearch, AsyncRandomSearchParameters
        >>> opt = AsyncRandomSearch(lambda: {"x": np.zeros(2)}, (-1.0,),
        ...                         AsyncRandomSearchParameters(seed=1, lower=-5.0, upper=5.0))
        >>> while opt.n_told < 50:
        ...     for candidate in opt.ask(4):
        ...         opt.tell([(candidate.number, (float(np.sum(candidate.individual["x"] ** 2)),))])
        >>> opt.best_fitness[0] < 2.0
        True
    """

    # The namedtuple class (or tuple of classes) `parameters` must be an instance of
    # (None: anything).
    parameters_type = None

    def __init__(
        self,
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
        self.seed = check_int("seed", parameters.seed, 0)
        self.spec = None  # the dict spec of the individuals, from the first one seen
        self.n_asked = 0
        self.n_told = 0
        self.best_individual = None
        self.best_fitness = None
        self.best_weighted_fitness = -math.inf
        self.best_number = None
        self._pending = {}  # number -> flattened bounded vector, asked and not yet told

    # -- the ask/tell contract ------------------------------------------------------------

    def ask(self, n=1):
        """Proposes `n` new candidates.

        Returns:
            A list of `Candidate` ``(number, individual)``, numbered on from `n_asked`.

        Raises:
            TypeError, ValueError: `n` is not an integer >= 1.
        """
        n = check_int("n", n, 1)
        candidates = []
        for _ in range(n):
            number = self.n_asked
            individual = self._bound(self._propose(number, self.candidate_rng(number)))
            self._pending[number] = self.flatten(individual)
            self.n_asked += 1
            candidates.append(Candidate(number, individual))
        return candidates

    def tell(self, results):
        """Takes the results of asked candidates, in any order and any number at a time.

        Args:
            results: ``[(number, fitness_tuple), ...]``: a candidate's sequence number and
                its fitness, one value per fitness weight (a failed evaluation gets the
                driver's ``cost_for_crash``; NaN counts as the worst fitness).

        Raises:
            ValueError: a number was not asked or was already told, or a fitness has the
                wrong length.
        """
        for number, fitness in results:
            if number not in self._pending:
                state = "was already told" if 0 <= number < self.n_asked else "was never asked"
                raise ValueError(f"tell: candidate {number!r} {state}")
            fitness = tuple(float(f) for f in fitness)
            weighted = self.weighted_fitness(fitness)
            if math.isnan(weighted):
                weighted = -math.inf
            vector = self._pending.pop(number)
            self.n_told += 1
            better = weighted > self.best_weighted_fitness
            tie = (
                weighted == self.best_weighted_fitness
                and self.best_number is not None
                and number < self.best_number
            )
            if better or tie or self.best_number is None:
                self.best_weighted_fitness = weighted
                self.best_fitness = fitness
                self.best_individual = list_to_dict(vector, self.spec)
                self.best_number = number
            self._observe(number, vector, fitness, weighted)

    @property
    def pending(self):
        """Sequence numbers asked and not yet told, in increasing order."""
        return sorted(self._pending)

    def weighted_fitness(self, fitness):
        """The scalar the optimizer maximises: ``sum(w_i * f_i)``, as the generational
        optimizers do.

        Raises:
            ValueError: `fitness` does not have one value per weight.
        """
        return weighted_fitness(self.optimizee_fitness_weights, fitness)

    def end(self, traj):
        """Stores the final results in the trajectory: ``final_individual``,
        ``final_fitness`` and ``n_evaluations`` (results told)."""
        traj.f_add_result("final_individual", self.best_individual)
        traj.f_add_result("final_fitness", self.best_fitness)
        traj.f_add_result("n_evaluations", self.n_told)

    # -- checkpointing --------------------------------------------------------------------

    def get_state(self):
        """Everything needed to go on where the optimizer is: plain, picklable values. The
        random state is the seed and `n_asked` (each candidate seeds its own generator)."""
        return {
            "n_asked": self.n_asked,
            "n_told": self.n_told,
            "pending": {n: v.copy() for n, v in self._pending.items()},
            "spec": self.spec,
            "best": (
                self.best_individual,
                self.best_fitness,
                self.best_weighted_fitness,
                self.best_number,
            ),
            "algorithm": self._state(),
        }

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: `state` lacks a key.
        """
        missing = {"n_asked", "n_told", "pending", "spec", "best", "algorithm"} - set(state)
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks {sorted(missing)}")
        self.n_asked, self.n_told = state["n_asked"], state["n_told"]
        self._pending = {n: np.array(v, dtype=float) for n, v in state["pending"].items()}
        self.spec = state["spec"]
        self.best_individual, self.best_fitness, self.best_weighted_fitness, self.best_number = (
            state["best"]
        )
        self._restore(state["algorithm"])

    # -- helpers for subclasses -----------------------------------------------------------

    def candidate_rng(self, number):
        """The random generator of candidate `number`: seeded by ``(seed, number)``."""
        return np.random.default_rng([self.seed, int(number)])

    def flatten(self, individual):
        """An individual dict as a float vector (`mpil2l.model.conversion.dict_to_list` order); the
        first individual seen fixes the dict spec.

        Raises:
            ValueError: the individual has other keys or shapes than the first one.
        """
        vector, spec = dict_to_list(individual, get_dict_spec=True)
        if self.spec is None:
            self.spec = spec
        elif spec != self.spec:
            raise ValueError(f"an individual has the layout {spec}, the first one had {self.spec}")
        return np.asarray(vector, dtype=float)

    def _bound(self, vector):
        individual = list_to_dict(np.asarray(vector, dtype=float), self.spec)
        if self.optimizee_bounding_func is not None:
            individual = self.optimizee_bounding_func(individual)
            self.flatten(individual)  # the bounded individual must keep the layout
        return individual

    # -- what subclasses implement --------------------------------------------------------

    def _propose(self, number, rng):
        """The flattened vector of candidate `number`, drawn from `rng` (bounded by the base
        class afterwards)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _propose(number, rng)")

    def _observe(self, number, vector, fitness, weighted):
        """Takes the result of candidate `number` (its bounded vector, fitness tuple and
        weighted fitness, ``-inf`` for NaN)."""

    def _state(self):
        """The subclass's part of `get_state` (picklable)."""
        return None

    def _restore(self, state):
        """Restores what `_state` returned."""

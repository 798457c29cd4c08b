"""A steady-state evolutionary algorithm: one offspring per finished evaluation, no
generations."""

from collections import namedtuple

import numpy as np

from ..model.conversion import list_to_dict
from ._shared import check_int, check_positive, check_real
from .asktell import AskTellOptimizer

SteadyStateParameters = namedtuple(
    "SteadyStateParameters",
    ["seed", "pop_size", "tourn_size", "cx_prob", "mate_par", "mut_prob", "ind_prob", "mut_par"],
    defaults=(42, 20, 3, 0.7, 0.5, 0.5, 0.2, 1.0),
)
SteadyStateParameters.__doc__ = """Parameters of `SteadyStateOptimizer`.

Args:
    seed: integer >= 0; offspring ``k`` is drawn from a generator seeded by ``(seed, k)``.
        Default 42.
    pop_size: individuals in the population (>= 1); also the number of initial individuals
        from ``optimizee_create_individual``. Default 20.
    tourn_size: individuals drawn (with replacement) for each tournament (>= 1). Default 3.
    cx_prob: probability of a blend crossover of the two parents. Default 0.7.
    mate_par: the blend crossover's alpha (>= 0). Default 0.5.
    mut_prob: probability that the offspring is mutated. Default 0.5.
    ind_prob: probability that a mutation changes a given element. Default 0.2.
    mut_par: standard deviation of the Gaussian mutation (> 0). Default 1.0.
"""


class SteadyStateOptimizer(AskTellOptimizer):
    """A steady-state evolutionary algorithm for asynchronous evaluation.

    There are no generations: each asked candidate is one offspring of the population as it
    is at that moment, and each told result enters the population at once, replacing the
    worst member when it is better. A free worker therefore never waits for a generation to
    finish. Pseudo-code::

        initial <- pop_size individuals from optimizee_create_individual(), bounded
        ask candidate k, with rng seeded by (seed, k):
            if k < pop_size: candidate <- initial[k]
            else:
                pool <- the population (told results) if not empty, else initial (unrated)
                p1, p2 <- two tournaments: the fittest of tourn_size members drawn from pool
                child <- p1
                with probability cx_prob:
                    per element: gamma ~ U(-mate_par, 1 + mate_par)
                    child <- (1 - gamma) p1 + gamma p2
                with probability mut_prob:
                    add N(0, mut_par) to each element with probability ind_prob
                if child == p1: add N(0, mut_par) to one random element   # never a copy
                candidate <- bound(child)
        tell (number, fitness):
            if the population has fewer than pop_size members: add the candidate
            elif it is better than the worst member: it replaces the worst member
                (the earliest-told one among equally bad members)

    The random numbers of offspring ``k`` depend only on ``(seed, k)``, but its parents are
    drawn from the population as the results told before it made it: with results arriving
    asynchronously, the run depends on the order in which they arrive. It is deterministic
    given the seed and the order of `tell` calls (an `mpil2l.AsyncExperiment` can tell
    results in candidate order instead: ``ordered=True``), and a checkpointed state goes on
    exactly where it was.

    Use it with `mpil2l.AsyncExperiment` when evaluation times vary a lot, so that a
    generation would leave workers idle while its slowest individuals finish; with equal
    evaluation times the generational `GeneticAlgorithmOptimizer` does as well.

    Args:
        optimizee_create_individual: returns a new individual dict (called `pop_size`
            times, in the constructor).
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `SteadyStateParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        population: the current population as a list of ``(number, individual, fitness,
            weighted_fitness)``, in the order its members arrived.

    Raises:
        TypeError: `parameters` is not a `SteadyStateParameters`, or a field has the wrong
            type.
        ValueError: a field is out of range, e.g. "pop_size must be >= 1, got -3".

    Example:
        >>> rng = np.random.default_rng(0)
        >>> opt = SteadyStateOptimizer(lambda: {"x": rng.uniform(-5, 5, 2)}, (-1.0,),
        ...                            SteadyStateParameters(seed=1, pop_size=10))
        >>> while opt.n_told < 200:
        ...     (c,) = opt.ask(1)
        ...     opt.tell([(c.number, (float(np.sum(c.individual["x"] ** 2)),))])
        >>> opt.best_fitness[0] < 0.1
        True
    """

    parameters_type = SteadyStateParameters

    def __init__(
        self,
        optimizee_create_individual,
        optimizee_fitness_weights,
        parameters,
        optimizee_bounding_func=None,
    ):
        super().__init__(
            optimizee_create_individual,
            optimizee_fitness_weights,
            parameters,
            optimizee_bounding_func,
        )
        p = parameters
        self.pop_size = check_int("pop_size", p.pop_size, 1)
        self.tourn_size = check_int("tourn_size", p.tourn_size, 1)
        self.cx_prob = check_real("cx_prob", p.cx_prob, 0.0, 1.0)
        self.mate_par = check_real("mate_par", p.mate_par, 0.0)
        self.mut_prob = check_real("mut_prob", p.mut_prob, 0.0, 1.0)
        self.ind_prob = check_real("ind_prob", p.ind_prob, 0.0, 1.0)
        self.mut_par = check_positive("mut_par", p.mut_par)
        self.initial = np.array(
            [
                self.flatten(self._bound(self.flatten(optimizee_create_individual())))
                for _ in range(self.pop_size)
            ]
        )
        self._members = []  # [number, vector, fitness, weighted], in arrival order

    @property
    def population(self):
        return [(n, list_to_dict(v, self.spec), f, w) for n, v, f, w in self._members]

    def _propose(self, number, rng):
        if number < len(self.initial):
            return self.initial[number].copy()
        if self._members:
            vectors = np.array([m[1] for m in self._members])
            weighted = np.array([m[3] for m in self._members])
        else:
            vectors, weighted = self.initial, np.zeros(len(self.initial))
        p1, p2 = (vectors[self._tournament(weighted, rng)] for _ in range(2))
        child = p1.copy()
        if rng.random() < self.cx_prob:
            gamma = rng.uniform(-self.mate_par, 1.0 + self.mate_par, child.size)
            child = (1.0 - gamma) * p1 + gamma * p2
        if rng.random() < self.mut_prob:
            mask = rng.random(child.size) < self.ind_prob
            child = child + mask * rng.normal(0.0, self.mut_par, child.size)
        if np.array_equal(child, p1):
            child[rng.integers(child.size)] += rng.normal(0.0, self.mut_par)
        return child

    def _tournament(self, weighted, rng):
        drawn = rng.integers(len(weighted), size=self.tourn_size)
        return drawn[int(np.argmax(weighted[drawn]))]

    def _observe(self, number, vector, fitness, weighted):
        member = [number, vector, fitness, weighted]
        if len(self._members) < self.pop_size:
            self._members.append(member)
            return
        worst = int(np.argmin([m[3] for m in self._members]))
        if weighted > self._members[worst][3]:
            self._members[worst] = member

    def _state(self):
        return {
            "initial": self.initial.copy(),
            "members": [[n, v.copy(), f, w] for n, v, f, w in self._members],
        }

    def _restore(self, state):
        self.initial = np.array(state["initial"], dtype=float)
        members = [[n, np.array(v, dtype=float), tuple(f), w] for n, v, f, w in state["members"]]
        if len(members) > self.pop_size:  # resumed with a smaller pop_size: keep the best
            keep = sorted(range(len(members)), key=lambda i: -members[i][3])[: self.pop_size]
            members = [members[i] for i in sorted(keep)]
        self._members = members

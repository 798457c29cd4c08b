"""A genetic algorithm: tournament selection, blend crossover, Gaussian mutation."""

import logging
from collections import namedtuple

import numpy as np

from ..model.conversion import dict_to_list, list_to_dict
from ._shared import check_int, check_real
from .optimizer import Optimizer

logger = logging.getLogger("mpil2l.optimizers.genetic")

HALL_OF_FAME_SIZE = 20
DUPLICATE_MUTATION_PROB = 0.8
# Selection and variation are redrawn while they leave every individual unchanged, since a
# generation with nothing to evaluate cannot be run; this bounds the redraws.
MAX_VARIATION_ROUNDS = 1000

GeneticAlgorithmParameters = namedtuple(
    "GeneticAlgorithmParameters",
    [
        "seed",
        "pop_size",
        "cx_prob",
        "mut_prob",
        "n_iteration",
        "ind_prob",
        "tourn_size",
        "mate_par",
        "mut_par",
    ],
    defaults=(42, 50, 0.7, 0.5, 100, 0.2, 3, 0.5, 1.0),
)
GeneticAlgorithmParameters.__doc__ = """Parameters of `GeneticAlgorithmOptimizer`.

Args:
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
    pop_size: number of individuals in the population (>= 1). Default 50.
    cx_prob: probability that a pair of offspring is crossed over. Default 0.7.
    mut_prob: probability that an offspring is mutated. Default 0.5.
    n_iteration: number of generations to evaluate (>= 1). Default 100.
    ind_prob: probability that a mutation changes a given element. Default 0.2.
    tourn_size: number of individuals drawn for each tournament (>= 1). Default 3.
    mate_par: the blend crossover's alpha (>= 0). Default 0.5.
    mut_par: standard deviation of the Gaussian mutation (>= 0). Default 1.0.
"""


class GeneticAlgorithmOptimizer(Optimizer):
    """A genetic algorithm over the flattened individual (see `mpil2l.model.conversion`).

    It maximises ``sum(w_i * f_i)``. The optimizer draws every random number from its own
    ``numpy.random.default_rng(seed)``, and results are taken by ``ind_idx``, so a run is
    reproducible for a seed whatever the order in which the workers finish. Only new or
    changed individuals are evaluated; the others keep their fitness. Pseudo-code::

        pop <- pop_size individuals from optimizee_create_individual()   # generation 0
        evaluate pop
        for g in 1 .. n_iteration - 1:
            update the hall of fame (best 20 distinct individuals) with the evaluated ones
            offspring <- pop_size tournament winners: each the fittest of tourn_size
                         individuals drawn from pop with replacement (copies, with fitness)
            for each pair (offspring[2k], offspring[2k+1]), with probability cx_prob:
                per element: gamma ~ U(-mate_par, 1 + mate_par)
                a, b <- (1 - gamma) a + gamma b,  gamma a + (1 - gamma) b
                bound both, mark both changed
            for each offspring, with probability mut_prob:
                add N(0, mut_par) to each element with probability ind_prob
                bound it, mark it changed
            for each offspring o2 equal to an earlier offspring, with probability 0.8:
                mutate o2 as above, mark it changed
            if nothing is marked changed: redraw selection and variation
            pop <- offspring
            evaluate the changed individuals; they form generation g

    "Bound" maps an individual through ``optimizee_bounding_func`` when one is given.

    Use it for rugged or multimodal landscapes of a few to a few dozen parameters when no
    gradient is available and a population of tens can be evaluated per generation; it
    tolerates noisy fitness, and its hall of fame keeps the best distinct individuals found.

    Args:
        traj: the run's trajectory; gets the parameters' fields as parameters (``seed``,
            ``pop_size``, ``cx_prob``, ``mut_prob``, ``n_iteration``, ``ind_prob``,
            ``tourn_size``, ``mate_par``, ``mut_par``).
        optimizee_create_individual: returns a new individual dict.
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `GeneticAlgorithmParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        hall_of_fame: up to 20 distinct best individuals ever evaluated, best first; each a
            dict with ``individual``, ``fitness``, ``weighted_fitness`` and ``generation``.
            Also stored as ``traj.hall_of_fame``.

    Raises:
        TypeError: `parameters` is not a `GeneticAlgorithmParameters` or a field has the
            wrong type.
        ValueError: a field is out of range (e.g. "pop_size must be >= 1, got -3"), or no
            variation can happen (``cx_prob`` is 0 or ``pop_size`` is 1, and ``mut_prob``
            is 0).

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> rng = np.random.default_rng(0)
        >>> opt = GeneticAlgorithmOptimizer(
        ...     traj, lambda: {"x": rng.uniform(-5, 5, 2)}, (-1.0,),
        ...     GeneticAlgorithmParameters(seed=1, pop_size=10, n_iteration=5))
        >>> for g in range(5):
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        >>> len(traj.individuals), opt.best_fitness[0] < 5
        (5, True)
    """

    parameters_type = GeneticAlgorithmParameters

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
        self.seed = check_int("seed", p.seed, 0)
        self.pop_size = check_int("pop_size", p.pop_size, 1)
        self.cx_prob = check_real("cx_prob", p.cx_prob, 0.0, 1.0)
        self.mut_prob = check_real("mut_prob", p.mut_prob, 0.0, 1.0)
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.ind_prob = check_real("ind_prob", p.ind_prob, 0.0, 1.0)
        self.tourn_size = check_int("tourn_size", p.tourn_size, 1)
        self.mate_par = check_real("mate_par", p.mate_par, 0.0)
        self.mut_par = check_real("mut_par", p.mut_par, 0.0)
        if self.mut_prob == 0 and (self.cx_prob == 0 or self.pop_size == 1):
            raise ValueError(
                f"no variation possible with cx_prob={self.cx_prob}, mut_prob={self.mut_prob} "
                f"and pop_size={self.pop_size}: set mut_prob > 0, or cx_prob > 0 with pop_size >= 2"
            )
        for name, value in p._asdict().items():
            traj.f_add_parameter(name, value)

        self.rng = np.random.default_rng(self.seed)
        genomes, specs = zip(
            *(
                dict_to_list(optimizee_create_individual(), get_dict_spec=True)
                for _ in range(self.pop_size)
            )
        )
        if any(spec != specs[0] for spec in specs):
            raise ValueError(
                "optimizee_create_individual returned individuals of different keys or shapes"
            )
        self.dict_spec = specs[0]
        self.pop = np.array(genomes)
        self.pop_fitness = [None] * self.pop_size
        self.pop_weighted = np.full(self.pop_size, np.nan)
        self.eval_indices = list(range(self.pop_size))
        self.hall_of_fame = []
        self.eval_pop = [list_to_dict(x, self.dict_spec) for x in self.pop]
        self._expand_trajectory(traj)

    def post_process(self, traj, fitnesses_results):
        """Takes the fitness of the evaluated individuals and, unless generation
        ``n_iteration - 1`` was the last, breeds and expands the next generation.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every individual of
                the current generation, in any order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        fitnesses, weighted = self._record_generation(fitnesses_results)
        for j, i in enumerate(self.eval_indices):
            self.pop_fitness[i] = fitnesses[j]
            self.pop_weighted[i] = weighted[j]
        self._update_hall_of_fame(fitnesses, weighted)
        traj.hall_of_fame = self.hall_of_fame

        if self.g >= self.n_iteration - 1:
            return
        for _ in range(MAX_VARIATION_ROUNDS):
            pop, fitness, weighted_pop, changed = self._breed()
            if changed.any():
                break
        else:
            raise RuntimeError(
                f"selection and variation left the population unchanged {MAX_VARIATION_ROUNDS} "
                f"times in a row (cx_prob={self.cx_prob}, mut_prob={self.mut_prob})"
            )
        self.pop, self.pop_fitness, self.pop_weighted = pop, fitness, weighted_pop
        self.eval_indices = [int(i) for i in np.flatnonzero(changed)]
        self.eval_pop = [list_to_dict(self.pop[i], self.dict_spec) for i in self.eval_indices]
        self.g += 1
        self._expand_trajectory(traj)

    def end(self, traj):
        """Stores the final results (see `Optimizer.end`) and logs the hall of fame."""
        super().end(traj)
        for entry in self.hall_of_fame[:5]:
            logger.info(
                "hall of fame: %s, fitness %s (generation %d)",
                entry["individual"],
                entry["fitness"],
                entry["generation"],
            )

    def _breed(self):
        """One round of selection, crossover, mutation and duplicate removal.

        Returns:
            The offspring genomes, their fitness tuples and weighted fitness (NaN/None where
            changed), and a boolean array marking the changed ones.
        """
        n = self.pop_size
        # Tournament selection; argmax keeps the first aspirant among equals.
        aspirants = self.rng.integers(0, n, size=(n, self.tourn_size))
        winners = aspirants[np.arange(n), np.argmax(self.pop_weighted[aspirants], axis=1)]
        pop = self.pop[winners].copy()
        changed = np.zeros(n, dtype=bool)

        for a in range(0, n - 1, 2):
            if self.rng.random() < self.cx_prob:
                gamma = (1.0 + 2.0 * self.mate_par) * self.rng.random(pop.shape[1]) - self.mate_par
                x, y = pop[a].copy(), pop[a + 1].copy()
                pop[a] = self._bound((1.0 - gamma) * x + gamma * y)
                pop[a + 1] = self._bound(gamma * x + (1.0 - gamma) * y)
                changed[a] = changed[a + 1] = True

        for i in range(n):
            if self.rng.random() < self.mut_prob:
                pop[i] = self._mutate(pop[i])
                changed[i] = True

        keys = [tuple(x) for x in pop]
        if len(set(keys)) < n:
            for i in range(n - 1):
                for j in range(i + 1, n):
                    if keys[i] == keys[j] and self.rng.random() < DUPLICATE_MUTATION_PROB:
                        pop[j] = self._mutate(pop[j])
                        keys[j] = tuple(pop[j])
                        changed[j] = True

        fitness = [None if changed[i] else self.pop_fitness[w] for i, w in enumerate(winners)]
        weighted = np.where(changed, np.nan, self.pop_weighted[winners])
        return pop, fitness, weighted, changed

    def _mutate(self, genome):
        mask = self.rng.random(genome.size) < self.ind_prob
        noise = self.rng.normal(0.0, self.mut_par, genome.size)
        return self._bound(genome + mask * noise)

    def _bound(self, genome):
        if self.optimizee_bounding_func is None:
            return genome
        bounded = dict_to_list(self.optimizee_bounding_func(list_to_dict(genome, self.dict_spec)))
        if bounded.shape != genome.shape:
            raise ValueError(
                f"optimizee_bounding_func changed the individual's size from {genome.size} to "
                f"{bounded.size}"
            )
        return bounded

    def _update_hall_of_fame(self, fitnesses, weighted):
        known = {tuple(dict_to_list(e["individual"])) for e in self.hall_of_fame}
        for j, i in enumerate(self.eval_indices):
            full = len(self.hall_of_fame) >= HALL_OF_FAME_SIZE
            if full and weighted[j] <= self.hall_of_fame[-1]["weighted_fitness"]:
                continue
            key = tuple(self.pop[i])
            if key in known:
                continue
            if full:
                known.discard(tuple(dict_to_list(self.hall_of_fame.pop()["individual"])))
            known.add(key)
            self.hall_of_fame.append(
                {
                    "individual": list_to_dict(self.pop[i], self.dict_spec),
                    "fitness": fitnesses[j],
                    "weighted_fitness": float(weighted[j]),
                    "generation": self.g,
                }
            )
            # A stable sort keeps earlier entries ahead of later ones of equal fitness.
            self.hall_of_fame.sort(key=lambda e: -e["weighted_fitness"])

    def get_state(self):
        """The base state plus the population, its fitness and the hall of fame."""
        state = super().get_state()
        state.update(
            pop=self.pop.copy(),
            pop_fitness=list(self.pop_fitness),
            pop_weighted=self.pop_weighted.copy(),
            eval_indices=list(self.eval_indices),
            hall_of_fame=[dict(e, individual=dict(e["individual"])) for e in self.hall_of_fame],
        )
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key or its population does not match ``pop_size``
                and the individual's size.
        """
        missing = {"pop", "pop_fitness", "pop_weighted", "eval_indices", "hall_of_fame"} - set(
            state
        )
        if missing:
            raise ValueError(f"genetic algorithm state lacks {sorted(missing)}")
        pop = np.asarray(state["pop"], dtype=float)
        if pop.shape != self.pop.shape:
            raise ValueError(
                f"the saved population has shape {pop.shape}, this optimizer expects "
                f"{self.pop.shape} (pop_size, individual size)"
            )
        super().set_state(state)
        self.pop = pop.copy()
        self.pop_fitness = list(state["pop_fitness"])
        self.pop_weighted = np.asarray(state["pop_weighted"], dtype=float).copy()
        self.eval_indices = list(state["eval_indices"])
        self.hall_of_fame = [
            dict(e, individual=dict(e["individual"])) for e in state["hall_of_fame"]
        ]

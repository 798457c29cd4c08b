"""Gradient descent whose explored points travel packed, several per evaluation.

For optimizees that evaluate many parameter sets in one `simulate` call (a GPU running a
batch of simulations, a vectorised model): each individual the workers receive is a
*multi-individual* holding ``n_inner_params`` ordinary individuals. The algorithm is that of
`mpil2l.optimizers.gradientdescent.GradientDescentOptimizer`, with which it shares its code.

The packed layout, for an optimizee whose `create_individual` returns ``{'a': 0.5, 'w':
array of shape (3,)}`` and ``n_inner_params = 4``::

    traj.individual.a    # array of shape (4,):   a of inner individuals 0..3
    traj.individual.w    # array of shape (4, 3): w of inner individuals 0..3
    simulate(traj) -> (f_0, f_1, f_2, f_3)             # one objective
    simulate(traj) -> (f_0, g_0, f_1, g_1, ..., g_3)   # two objectives, inner-major

`unpack_individual` turns ``traj.individual`` into the list of inner individual dicts.
"""

import logging
from collections import namedtuple

import numpy as np

from ..model.conversion import list_to_dict
from ._shared import check_int
from .gradientdescent import (
    AdaMaxParameters,
    AdaMaxRule,
    AdamParameters,
    AdamRule,
    ClassicGDParameters,
    ClassicGDRule,
    FiniteDifferenceGradientOptimizer,
    RMSPropParameters,
    RMSPropRule,
    StochasticGDParameters,
    StochasticGDRule,
)

logger = logging.getLogger("mpil2l.optimizers.multigradientdescent")

_N_INNER_DOC = """\
    n_inner_params: number of individuals packed into one evaluation (>= 1). Default 2.

In the multi variant ``n_random_steps`` counts evaluations (multi-individuals): a
generation explores ``n_random_steps * n_inner_params`` points, the last of which is the
current individual, and it stops once the best weighted fitness of an inner individual of
the generation is >= ``stop_criterion``.
"""


def _multi_parameters(name, base):
    tuple_type = namedtuple(
        name, base._fields + ("n_inner_params",), defaults=(*base._field_defaults.values(), 2)
    )
    base_args = base.__doc__.split("Args:\n", 1)[1].rstrip("\n") + "\n"
    tuple_type.__doc__ = (
        "Parameters of `MultiGradientDescentOptimizer` with the update rule "
        f"of\n`{base.__name__}`: its fields, with the same meaning and defaults, and "
        f"``n_inner_params``.\n\nArgs:\n{base_args}{_N_INNER_DOC}"
    )
    return tuple_type


MultiClassicGDParameters = _multi_parameters("MultiClassicGDParameters", ClassicGDParameters)
MultiStochasticGDParameters = _multi_parameters(
    "MultiStochasticGDParameters", StochasticGDParameters
)
MultiAdamParameters = _multi_parameters("MultiAdamParameters", AdamParameters)
MultiAdaMaxParameters = _multi_parameters("MultiAdaMaxParameters", AdaMaxParameters)
MultiRMSPropParameters = _multi_parameters("MultiRMSPropParameters", RMSPropParameters)


def pack_individuals(individuals):
    """Packs individual dicts of the same keys and shapes into one multi-individual.

    Returns:
        A dict mapping each key to a numpy array whose first axis runs over `individuals`.

    Example:
        >>> packed = pack_individuals([{"a": 1.0, "w": [1.0, 2.0]}, {"a": 3.0, "w": [4.0, 5.0]}])
        >>> packed["a"].tolist(), packed["w"].shape
        ([1.0, 3.0], (2, 2))
    """
    keys = list(individuals[0])
    return {
        key: np.array([np.asarray(ind[key], dtype=float) for ind in individuals]) for key in keys
    }


def unpack_individual(individual):
    """The inner individuals of a multi-individual, in order.

    Args:
        individual: a packed dict, or ``traj.individual`` inside ``simulate``.

    Returns:
        A list of individual dicts; 0-d entries come back as floats.

    Raises:
        ValueError: the entries do not have the same number of inner individuals.

    Example:
        >>> packed = {"a": np.array([1.0, 3.0]), "w": np.array([[1.0, 2.0], [4.0, 5.0]])}
        >>> unpack_individual(packed)[1]["a"]
        3.0
    """
    if hasattr(individual, "as_dict"):
        individual = individual.as_dict()
    arrays = {key: np.asarray(value, dtype=float) for key, value in individual.items()}
    counts = {key: (a.shape[0] if a.ndim else None) for key, a in arrays.items()}
    if len(set(counts.values())) != 1 or None in counts.values():
        raise ValueError(
            f"a multi-individual needs the same first-axis length in every entry, got {counts}"
        )
    n = next(iter(counts.values()))
    return [
        {key: (float(a[j]) if a.ndim == 1 else a[j].copy()) for key, a in arrays.items()}
        for j in range(n)
    ]


class MultiGradientDescentOptimizer(FiniteDifferenceGradientOptimizer):
    """Finite-difference gradient descent (see `GradientDescentOptimizer`) where every
    evaluation holds ``n_inner_params`` explored points.

    Pseudo-code, with ``k = n_inner_params`` and ``n = n_random_steps``::

        x <- bound(optimizee_create_individual()) (flattened)
        for g in 0 .. n_iteration - 1:
            x_i <- bound(x + N(0, exploration_step_size^2) per element), i = 1 .. n k - 1
            pack x_1 .. x_{nk-1}, x in order, k per multi-individual: n evaluations
            f_i, f <- the weighted fitness of each inner individual
            stop if g is the last generation or max(f_i, f) >= stop_criterion
            gradient <- pinv([x_i - x]) @ [f_i - f]
            x <- bound(x + step(gradient))     (classic, stochastic, Adam, AdaMax, RMSProp)

    The optimizee's contract changes (see the module documentation): ``traj.individual.<key>``
    is an array whose first axis has ``n_inner_params`` entries (`unpack_individual` splits
    it), and `simulate` returns ``n_inner_params * n_objectives`` values, inner individual
    by inner individual. Because the runtime checks every result against
    ``optimizee_fitness_weights``, the optimizer exposes the weights repeated
    ``n_inner_params`` times under that name and keeps the given ones as
    ``inner_fitness_weights``. A failed evaluation gives all its inner individuals the worst
    fitness; they are left out of the gradient.

    Statistics and the best individual are per inner individual: ``statistics[g]`` counts
    inner individuals, its ``best_ind_idx`` is ``ind_idx * n_inner_params + position``, and
    ``best_individual`` is an ordinary (unpacked) individual dict.

    Compared with L2L: the gradient's reference fitness is the current individual's, as in
    L2L's single gradient descent (L2L's multi variant subtracts the generation's best
    fitness, which biases the least squares); AdaMax is offered too.

    Use it when one evaluation can run many parameter sets at the cost of one, e.g. a
    batch of simulations on a GPU.

    Args:
        traj: the run's trajectory; gets every field of `parameters` as a parameter.
        optimizee_create_individual: returns a new (unpacked) individual dict.
        optimizee_fitness_weights: one weight per fitness value of one inner individual.
        parameters: a `MultiClassicGDParameters`, `MultiStochasticGDParameters`,
            `MultiAdamParameters`, `MultiAdaMaxParameters` or `MultiRMSPropParameters`.
        optimizee_bounding_func: maps an (unpacked) individual dict into the valid domain,
            or None.

    Attributes:
        current_individual: the flattened current individual ``x``.
        current_fitness: its weighted fitness in the last evaluated generation.
        inner_fitness_weights: the weights of one inner individual's fitness.
        points: the flattened inner individuals of the generation being evaluated.

    Raises:
        TypeError: `parameters` is none of the five types, or a field has the wrong type.
        ValueError: a field is out of range, or ``n_random_steps * n_inner_params < 2``.

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> opt = MultiGradientDescentOptimizer(
        ...     traj, lambda: {"x": 2.0, "y": -1.0}, (-1.0,),
        ...     MultiClassicGDParameters(learning_rate=0.2, n_random_steps=1, n_inner_params=4,
        ...                              n_iteration=50, seed=1))
        >>> def simulate(ind):
        ...     return tuple(i["x"] ** 2 + i["y"] ** 2 for i in unpack_individual(ind.as_dict()))
        >>> for g in range(50):
        ...     opt.post_process(traj, [(i.ind_idx, simulate(i)) for i in traj.individuals[g]])
        >>> traj.individuals[0][0].x.shape, bool(np.linalg.norm(opt.current_individual) < 0.05)
        ((4,), True)
    """

    parameters_type = (
        MultiClassicGDParameters,
        MultiStochasticGDParameters,
        MultiAdamParameters,
        MultiAdaMaxParameters,
        MultiRMSPropParameters,
    )
    update_rules = {
        MultiClassicGDParameters: ClassicGDRule,
        MultiStochasticGDParameters: StochasticGDRule,
        MultiAdamParameters: AdamRule,
        MultiAdaMaxParameters: AdaMaxRule,
        MultiRMSPropParameters: RMSPropRule,
    }

    def _check_more_parameters(self, parameters):
        self.n_inner_params = check_int("n_inner_params", parameters.n_inner_params, 1)
        if self.n_random_steps * self.n_inner_params < 2:
            raise ValueError(
                "n_random_steps * n_inner_params must be >= 2 (the current individual and at "
                f"least one explored point), got {self.n_random_steps} * {self.n_inner_params}"
            )
        self.inner_fitness_weights = self.optimizee_fitness_weights
        self.optimizee_fitness_weights = self.inner_fitness_weights * self.n_inner_params

    def weighted_fitness(self, fitness):
        """The scalar the optimizer maximises for one inner individual's fitness:
        ``sum(w_i * f_i)`` with ``inner_fitness_weights``.

        Raises:
            ValueError: `fitness` does not have one value per inner weight.
        """
        fitness = tuple(fitness)
        if len(fitness) != len(self.inner_fitness_weights):
            raise ValueError(
                f"an inner fitness {fitness} has {len(fitness)} value(s) but there are "
                f"{len(self.inner_fitness_weights)} fitness weight(s) {self.inner_fitness_weights}"
            )
        return float(sum(w * f for w, f in zip(self.inner_fitness_weights, fitness)))

    def _n_points(self):
        return self.n_random_steps * self.n_inner_params

    def _population(self, points):
        k = self.n_inner_params
        inner = [list_to_dict(x, self.optimizee_individual_dict_spec) for x in points]
        return [pack_individuals(inner[i : i + k]) for i in range(0, len(inner), k)]

    def _points_fitness(self, fitnesses_results):
        k, n_obj = self.n_inner_params, len(self.inner_fitness_weights)
        by_idx = dict(fitnesses_results)
        n = len(self.eval_pop)
        if len(by_idx) != len(fitnesses_results) or set(by_idx) != set(range(n)):
            raise ValueError(
                f"generation {self.g} has multi-individuals 0..{n - 1} but the results hold "
                f"ind_idx {sorted(idx for idx, _ in fitnesses_results)}"
            )
        inner_results = []
        for i in range(n):
            fitness = tuple(by_idx[i])
            if len(fitness) != k * n_obj:
                raise ValueError(
                    f"multi-individual {i} of generation {self.g} returned {len(fitness)} fitness "
                    f"value(s); expected n_inner_params * objectives = {k} * {n_obj}"
                )
            inner_results += [(i * k + j, fitness[j * n_obj : (j + 1) * n_obj]) for j in range(k)]
        packed = self.eval_pop
        self.eval_pop = [list_to_dict(x, self.optimizee_individual_dict_spec) for x in self.points]
        try:
            _, weighted = self._record_generation(inner_results)
        finally:
            self.eval_pop = packed
        return weighted

    def _stop_fitness(self, weighted):
        """L2L's multi variant stops on the best inner fitness of the generation."""
        return weighted.max()

    def expand_individual(self, c_population, inner_params):
        """L2L's name: the inner individuals of a list of multi-individuals, in order."""
        inner = [ind for packed in c_population for ind in unpack_individual(packed)]
        if any(len(unpack_individual(packed)) != inner_params for packed in c_population):
            raise ValueError(f"every multi-individual must hold {inner_params} individuals")
        return inner

    def compress_individual(self, e_population, inner_params):
        """L2L's name: packs a list of individuals, `inner_params` per multi-individual."""
        if len(e_population) % inner_params:
            raise ValueError(
                f"{len(e_population)} individuals cannot be packed {inner_params} at a time"
            )
        return [
            pack_individuals(e_population[i : i + inner_params])
            for i in range(0, len(e_population), inner_params)
        ]

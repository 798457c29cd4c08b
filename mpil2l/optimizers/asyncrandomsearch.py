"""Asynchronous random search: every candidate drawn uniformly from a box, independently."""

from collections import namedtuple

import numpy as np

from ._shared import check_real
from .asktell import AskTellOptimizer

AsyncRandomSearchParameters = namedtuple(
    "AsyncRandomSearchParameters", ["seed", "lower", "upper"], defaults=(42, -1.0, 1.0)
)
AsyncRandomSearchParameters.__doc__ = """Parameters of `AsyncRandomSearch`.

Args:
    seed: integer >= 0; candidate ``k`` is drawn from a generator seeded by ``(seed, k)``.
        Default 42.
    lower: the box's lower corner: one number for every coordinate of the flattened
        individual, or one number per coordinate. Default -1.0.
    upper: the box's upper corner, likewise (> lower, elementwise). Default 1.0.
"""


class AsyncRandomSearch(AskTellOptimizer):
    """Random search for asynchronous evaluation: candidates drawn uniformly from a box.

    Candidates do not depend on results at all, so the candidates, and the best one among a
    given set of evaluated candidates, are the same whatever the order results arrive in:
    the run is reproducible from the seed alone. Pseudo-code::

        layout <- optimizee_create_individual()          # called once, for the layout only
        ask: candidate k <- lower + (upper - lower) * U(0, 1)^d, drawn from rng(seed, k),
             cut into an individual and bounded by optimizee_bounding_func
        tell: keep the best (lowest k among equal weighted fitnesses)

    Use it with `mpil2l.AsyncExperiment` as a baseline, to map a new optimizee's landscape,
    or where results cannot guide the search; every worker stays busy whatever the spread
    of evaluation times.

    Args:
        optimizee_create_individual: returns an individual dict (called once, for its keys
            and shapes).
        optimizee_fitness_weights: one weight per fitness value.
        parameters: an `AsyncRandomSearchParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Raises:
        TypeError: `parameters` is not an `AsyncRandomSearchParameters`, or a field has the
            wrong type.
        ValueError: a field is out of range ("upper must be > lower in every coordinate") or
            ``lower``/``upper`` have the wrong number of values.

    Example:
        >>> opt = AsyncRandomSearch(lambda: {"x": np.zeros(3)}, (-1.0,),
        ...                         AsyncRandomSearchParameters(seed=7, lower=-2.0, upper=2.0))
        >>> a, b = opt.ask(2)
        >>> opt.tell([(b.number, (1.0,)), (a.number, (2.0,))])
        >>> opt.best_number, bool(np.all(np.abs(a.individual["x"]) <= 2.0))
        (1, True)
    """

    parameters_type = AsyncRandomSearchParameters

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
        d = self.flatten(optimizee_create_individual()).size
        self.lower = _corner("lower", parameters.lower, d)
        self.upper = _corner("upper", parameters.upper, d)
        if not np.all(self.upper > self.lower):
            raise ValueError(
                f"upper must be > lower in every coordinate, got lower={parameters.lower!r}, "
                f"upper={parameters.upper!r}"
            )

    def _propose(self, number, rng):
        return self.lower + (self.upper - self.lower) * rng.random(self.lower.size)


def _corner(name, value, d):
    """`value` (a number or one per coordinate) as a vector of `d` finite floats."""
    if np.ndim(value) == 0:
        return np.full(d, check_real(name, value))
    values = [
        check_real(f"{name}[{i}]", v) for i, v in enumerate(np.asarray(value).ravel().tolist())
    ]
    if len(values) != d:
        raise ValueError(
            f"{name} must hold 1 or {d} values (one per coordinate), got {len(values)}"
        )
    return np.array(values)

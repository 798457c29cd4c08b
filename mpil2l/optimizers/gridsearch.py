"""Grid search: one generation that holds every point of a Cartesian grid."""

import itertools
import logging
from collections import namedtuple

import numpy as np

from ..model.conversion import DictEntryType, dict_to_list, entry_size
from ._shared import check_int, check_real
from .optimizer import Optimizer

logger = logging.getLogger("mpil2l.optimizers.gridsearch")

GridSearchParameters = namedtuple("GridSearchParameters", ["param_grid"])
GridSearchParameters.__doc__ = """Parameters of `GridSearchOptimizer`.

Args:
    param_grid: a dict with one entry per key of the optimizee's individual,
        ``{'name': (lower_bound, upper_bound, n_steps)}``. ``[lower_bound, upper_bound]`` is
        cut into `n_steps` equal intervals, giving ``n_steps + 1`` points, both bounds
        included. For an array parameter every element takes these points independently.
"""


class GridSearchOptimizer(Optimizer):
    """Evaluates every point of a grid, in a single generation, and keeps the best.

    The grid is the Cartesian product over the individual's keys (in sorted order, the first
    key varying slowest) of the points of each key; an array parameter of ``m`` elements
    contributes ``(n_steps + 1) ** m`` points. `post_process` records the results and never
    expands the trajectory, so the run stops after generation 0. The optimizee's bounding
    function is not applied: the grid is exactly what the user asked for.

    Use it for one to a few parameters (the grid grows as ``(n_steps + 1)`` to the power of
    the number of elements), to map a landscape, or as a reproducible baseline: every point
    is independent, so the whole grid is one generation that fills every worker.

    Args:
        traj: the run's trajectory; gets ``n_iteration = 1`` and the parameter group
            ``grid_spec`` (``name -> (lower_bound, upper_bound, n_steps)``).
        optimizee_create_individual: returns a sample individual, used for its keys and
            shapes.
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `GridSearchParameters`.
        optimizee_bounding_func: accepted for a uniform signature; unused.

    Raises:
        TypeError: `parameters` is not a `GridSearchParameters`, or a grid entry has the
            wrong type.
        ValueError: the grid keys differ from the individual's keys, or a grid entry is not
            ``(lower_bound, upper_bound, n_steps)`` with ``lower_bound <= upper_bound`` and
            ``n_steps >= 0``.

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> opt = GridSearchOptimizer(traj, lambda: {"x": 0.0}, (-1.0,),
        ...                           GridSearchParameters(param_grid={"x": (-1.0, 1.0, 4)}))
        >>> [ind.x for ind in traj.individuals[0]]
        [-1.0, -0.5, 0.0, 0.5, 1.0]
        >>> inds = traj.individuals[0]
        >>> opt.post_process(traj, [(i, (ind.x ** 2,)) for i, ind in enumerate(inds)])
        >>> opt.best_individual, 1 in traj.individuals
        ({'x': 0.0}, False)
    """

    parameters_type = GridSearchParameters

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
        param_grid = parameters.param_grid
        if not isinstance(param_grid, dict):
            raise TypeError(f"param_grid must be a dict, got {type(param_grid).__name__}")
        _, dict_spec = dict_to_list(optimizee_create_individual(), get_dict_spec=True)
        individual_keys = {key for key, _, _ in dict_spec}
        if set(param_grid) != individual_keys:
            raise ValueError(
                f"param_grid keys {sorted(param_grid)} must match the individual's keys "
                f"{sorted(individual_keys)}"
            )

        traj.f_add_parameter("n_iteration", 1)
        traj.f_add_parameter_group("grid_spec")
        keys, axes = [], []
        for key, entry_type, length_or_shape in dict_spec:
            lower, upper, n_steps = _check_grid_entry(key, param_grid[key])
            traj.f_add_parameter_to_group("grid_spec", key, (lower, upper, n_steps))
            points = np.linspace(lower, upper, n_steps + 1)
            if entry_type == DictEntryType.Scalar:
                axes.append([float(p) for p in points])
            else:
                size = entry_size(length_or_shape)
                grids = np.meshgrid(*([points] * size), indexing="ij")
                combos = np.stack([g.ravel() for g in grids], axis=-1)
                axes.append([c.reshape(length_or_shape) for c in combos])
            keys.append(key)

        self.eval_pop = [
            {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in zip(keys, combo)}
            for combo in itertools.product(*axes)
        ]
        logger.info("grid search over %d points", len(self.eval_pop))
        self._expand_trajectory(traj)

    def post_process(self, traj, fitnesses_results):
        """Records the fitness of every grid point and the best one; stops the run.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every grid point.

        Raises:
            ValueError: the results do not cover the grid exactly.
        """
        self._record_generation(fitnesses_results)
        self.g += 1

    def end(self, traj):
        """Stores ``final_individual``, ``final_fitness`` and ``n_iteration`` in the
        trajectory's results and logs the best grid point."""
        super().end(traj)
        logger.info(
            "grid search: best point %s, fitness %s", self.best_individual, self.best_fitness
        )


def _check_grid_entry(key, entry):
    try:
        lower, upper, n_steps = entry
    except (TypeError, ValueError):
        raise ValueError(
            f"param_grid[{key!r}] must be (lower_bound, upper_bound, n_steps), got {entry!r}"
        ) from None
    lower = check_real(f"param_grid[{key!r}] lower_bound", lower)
    upper = check_real(f"param_grid[{key!r}] upper_bound", upper)
    if lower > upper:
        raise ValueError(f"param_grid[{key!r}] needs lower_bound <= upper_bound, got {entry!r}")
    n_steps = check_int(f"param_grid[{key!r}] n_steps", n_steps, 0)
    return lower, upper, n_steps

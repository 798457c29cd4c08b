"""What a worker does with one individual: the task it receives and the call to `simulate`.

A task carries only what identifies and defines one individual, never the trajectory; the
worker keeps a parameters-only copy of the trajectory, received once with the optimizee.
"""

import numbers
from typing import NamedTuple

import numpy as np

from .errors import FitnessError
from .trajectory import Individual


class Task(NamedTuple):
    """One evaluation of one individual."""

    generation: int
    ind_idx: int
    attempt: int
    params: dict  # 'individual.<name>' -> value


def check_fitness(fitness, n_objectives):
    """Returns `fitness` as a tuple of floats.

    Raises:
        FitnessError: `fitness` is not a tuple, list or 1-d array of real numbers, or it has
            not `n_objectives` entries (``None``: any number).
    """
    if isinstance(fitness, np.ndarray) and fitness.ndim == 1:
        fitness = fitness.tolist()
    if not isinstance(fitness, (tuple, list)):
        raise FitnessError(
            f"simulate must return a tuple of fitness values, got {type(fitness).__name__} {fitness}"
        )
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in fitness):
        raise FitnessError(f"simulate must return real numbers, got {fitness!r}")
    if n_objectives is not None and len(fitness) != n_objectives:
        raise FitnessError(
            f"simulate returned {len(fitness)} fitness value(s) {tuple(map(float, fitness))}, but the optimizer "
            f"has {n_objectives} fitness weight(s)"
        )
    return tuple(float(v) for v in fitness)


class Simulation:
    """The target the workers run for an experiment: ``optimizee.simulate(traj)`` for the
    individual a `Task` describes, its fitness checked."""

    def __init__(self, optimizee, traj, n_objectives=None):
        self.optimizee = optimizee
        self.traj = traj
        self.n_objectives = n_objectives

    def __call__(self, task):
        self.traj.individual = Individual(task.generation, task.ind_idx, task.params)
        return check_fitness(self.optimizee.simulate(self.traj), self.n_objectives)

"""What a worker does with one individual: the task it receives and the call to `simulate`.

A task carries only what identifies and defines one individual, never the trajectory; the
worker keeps a parameters-only copy of the trajectory, received once with the optimizee.
"""

import math
import numbers
from typing import NamedTuple

import numpy as np

from .errors import FitnessError, NonFiniteFitness
from .runs import StatusType
from .trajectory import Individual


class Task(NamedTuple):
    """One evaluation of one individual."""

    generation: int
    ind_idx: int
    attempt: int
    params: dict  # 'individual.<name>' -> value


def check_fitness(fitness, n_objectives, allow_nonfinite=True):
    """Returns `fitness` as a tuple of floats.

    Raises:
        FitnessError: `fitness` is not a tuple, list or 1-d array of real numbers, or it has
            not `n_objectives` entries (``None``: any number).
        NonFiniteFitness: a value is NaN or infinite and `allow_nonfinite` is False.
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
    fitness = tuple(float(v) for v in fitness)
    if not allow_nonfinite and not all(math.isfinite(v) for v in fitness):
        raise NonFiniteFitness(
            f"simulate returned a non-finite fitness {fitness}; set runner_params['allow_nonfinite'] "
            "to accept it"
        )
    return fitness


def attempt_record(task, value):
    """What the run log keeps of one evaluation attempt: a dict of plain values."""
    info = value.additional_info or {}
    error = ""
    if value.status != StatusType.SUCCESS:
        error = info.get("traceback") or info.get("error", "")
    return {
        "generation": task.generation,
        "ind_idx": task.ind_idx,
        "attempt": task.attempt,
        "rank": info.get("rank"),
        "status": StatusType(value.status).name,
        "fitness": value.cost if value.status == StatusType.SUCCESS else None,
        "start": value.starttime,
        "end": value.endtime,
        "runtime": value.time,
        "error": error,
    }


class Simulation:
    """The target the workers run for an experiment: ``optimizee.simulate(traj)`` for the
    individual a `Task` describes (``traj.individual.attempt`` tells which attempt this is),
    its fitness checked."""

    def __init__(self, optimizee, traj, n_objectives=None, allow_nonfinite=True):
        self.optimizee = optimizee
        self.traj = traj
        self.n_objectives = n_objectives
        self.allow_nonfinite = allow_nonfinite

    def __call__(self, task):
        self.traj.individual = Individual(task.generation, task.ind_idx, task.params, task.attempt)
        return check_fitness(self.optimizee.simulate(self.traj), self.n_objectives, self.allow_nonfinite)

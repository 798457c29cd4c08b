"""What a worker does with one individual: the task it receives and the call to `simulate`.

A task carries only what identifies and defines one individual, never the trajectory; the
worker keeps a parameters-only copy of the trajectory, received once with the optimizee.
"""

import math
import numbers
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ..core.errors import FitnessError, NonFiniteFitness
from ..core.runs import StatusType
from ..model.trajectory import Individual


class Task(NamedTuple):
    """One evaluation of one individual."""

    generation: int
    ind_idx: int
    attempt: int
    params: dict  # 'individual.<name>' -> value


class SimulationResult(NamedTuple):
    """What `simulate` may return instead of a bare fitness tuple: the fitness and named
    arrays of the evaluation (traces, spike trains, ...), stored in the results log with the
    attempt they belong to (``/outputs/<name>``, see docs/results-log.md).

    A plain pair ``(fitness, {name: array})`` means the same. Names are non-empty strings
    without '/'; values are numbers or numeric arrays (bool, int, uint, float). Each name keeps
    the dtype kind and number of dimensions of its first array; shapes may vary.

    Example:
        >>> import numpy as np
        >>> def simulate(traj):
        ...     trace = np.cumsum(np.ones(5))
        ...     return SimulationResult((float(trace[-1]),), {"trace": trace})
        >>> simulate(None).fitness
        (5.0,)
    """

    fitness: tuple
    outputs: dict  # name -> array (on a worker under the parallel results log: `HeldOutputs`)


class HeldOutputs(NamedTuple):
    """Outputs a worker keeps to write itself into the parallel results log: where they are
    (``rank``, ``seq``, the worker's own counter) and what they are (``arrays``: name ->
    (dtype string, shape))."""

    rank: int
    seq: int
    arrays: dict


def split_outputs(value):
    """``(value, outputs)``: a `RunValue` whose cost is the bare fitness tuple, and the outputs
    that came with it (a dict of arrays, a `HeldOutputs`, or None)."""
    cost = value.cost
    if type(cost) is SimulationResult:
        return value._replace(cost=cost.fitness), cost.outputs
    return value, None


def check_outputs(outputs):
    """Returns `outputs` as ``{name: numpy array}``.

    Raises:
        FitnessError: a name is not a non-empty string without '/', or a value is not numeric.
    """
    checked = {}
    for name, value in outputs.items():
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            raise FitnessError(
                f"simulate's output names must be non-empty strings without '/', got {name!r}"
            )
        try:
            array = np.asarray(value)
        except Exception as exc:  # ragged lists and the like
            raise FitnessError(f"simulate's output {name!r} is not an array: {exc}") from None
        if array.dtype.kind not in "biuf":
            raise FitnessError(
                f"simulate's output {name!r} must be numeric (bool, int or float), got dtype "
                f"{array.dtype}"
            )
        checked[name] = array
    return checked


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
            f"simulate must return a tuple of fitness values, got {type(fitness).__name__} "
            f"{fitness}"
        )
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in fitness):
        raise FitnessError(f"simulate must return real numbers, got {fitness!r}")
    if n_objectives is not None and len(fitness) != n_objectives:
        raise FitnessError(
            f"simulate returned {len(fitness)} fitness value(s) {tuple(map(float, fitness))}, but "
            f"the optimizer has {n_objectives} fitness weight(s)"
        )
    fitness = tuple(float(v) for v in fitness)
    if not allow_nonfinite and not all(math.isfinite(v) for v in fitness):
        raise NonFiniteFitness(
            f"simulate returned a non-finite fitness {fitness}; set "
            "runner_params['allow_nonfinite'] to accept it"
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
        "status": value.status.name
        if type(value.status) is StatusType
        else StatusType(value.status).name,
        "fitness": value.cost if value.status == StatusType.SUCCESS else None,
        "start": value.starttime,
        "end": value.endtime,
        "runtime": value.time,
        "error": error,
    }


class Simulation:
    """The target the workers run for an experiment: ``optimizee.simulate(traj)`` for the
    individual a `Task` describes (``traj.individual.attempt`` tells which attempt this is),
    its fitness checked. Returns the fitness tuple, or a `SimulationResult` when `simulate`
    returned outputs besides it."""

    def __init__(self, optimizee, traj, n_objectives=None, allow_nonfinite=True):
        self.optimizee = optimizee
        self.traj = traj
        self.n_objectives = n_objectives
        self.allow_nonfinite = allow_nonfinite

    def process_started(self):
        """Passes the evaluation process's start on to ``optimizee.process_started()``,
        where the optimizee has one (see `mpil2l.evaluation.process.child_main`)."""
        hook = getattr(self.optimizee, "process_started", None)
        if callable(hook):
            hook()

    def __call__(self, task):
        self.traj.individual = Individual(task.generation, task.ind_idx, task.params, task.attempt)
        result = self.optimizee.simulate(self.traj)
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Mapping):
            fitness = check_fitness(result[0], self.n_objectives, self.allow_nonfinite)
            outputs = check_outputs(result[1])
            return SimulationResult(fitness, outputs) if outputs else fitness
        return check_fitness(result, self.n_objectives, self.allow_nonfinite)

"""The attempt policy both drivers follow: what a finished attempt leads to (its fitness, a
retry on another worker, the crash cost, or the end of the run), and how a logged attempt
row reads back as the `RunValue` it recorded."""

from typing import NamedTuple

import numpy as np

from ..core.console import logger
from ..core.errors import EvaluationFailed, FitnessError, reraise_remote
from ..core.runs import RunValue, StatusType


class Settled(NamedTuple):
    """An individual's final result: its fitness, and whether every attempt failed."""

    fitness: tuple
    failed: bool


class LoggedAttempt(NamedTuple):
    """One attempt row of a results log, read back."""

    row: int
    generation: int
    ind_idx: int
    attempt: int
    params: np.ndarray
    value: RunValue


class AttemptPolicy:
    """Decides what follows a finished attempt, from the runner parameters in force.

    Args:
        runner_params: the run's runner parameters (``max_retries``, ``cost_for_crash``,
            ``abort_on_first_run_crash``).
        stop_run: end the run when an individual has failed every attempt.
        weights: the optimizer's fitness weights (None: unknown), for the default crash cost.
    """

    def __init__(self, runner_params, stop_run, weights):
        self.max_retries = runner_params["max_retries"]
        self.abort_on_first_run_crash = runner_params["abort_on_first_run_crash"]
        self.stop_run = stop_run
        self.cost_for_crash = cost_for_crash(runner_params["cost_for_crash"], weights)
        self.first_attempt_seen = False  # checkpointed: a resumed run is not at its start

    def settle(self, task, value, submit):
        """Handles one finished attempt of `task`.

        Args:
            submit: ``submit(task, avoid=rank)`` schedules a retry.

        Returns:
            `Settled` when the individual has its final result, None when it was retried.

        Raises:
            The worker's exception, or `EvaluationFailed`, when the failure ends the run.
        """
        first, self.first_attempt_seen = not self.first_attempt_seen, True
        if value.status == StatusType.SUCCESS:
            return Settled(value.cost, False)
        info = value.additional_info
        context = describe(task)
        if isinstance(info.get("exception"), FitnessError) or value.status == StatusType.ABORT:
            raise_failure(value, context)
        if first and self.abort_on_first_run_crash:
            raise_failure(
                value,
                f"the first evaluation of the run, {context}, failed (abort_on_first_run_crash);",
            )
        status = StatusType(value.status).name
        what = f"{context} failed on rank {info.get('rank')}: {status}: {info.get('error')}"
        if task.attempt < self.max_retries:
            logger.warning("%s; retrying", what)
            submit(task._replace(attempt=task.attempt + 1), avoid=info.get("rank"))
            return None
        if self.stop_run or self.cost_for_crash is None:
            raise_failure(value, f"{context}, the last of {task.attempt + 1} attempt(s),")
        logger.warning("%s; no attempts left: it gets the fitness %s", what, self.cost_for_crash)
        return Settled(self.cost_for_crash, True)


def describe(task):
    """How messages name the attempt `task`."""
    context = f"simulate() of generation {task.generation}, individual {task.ind_idx}"
    return context + (f" (attempt {task.attempt + 1})" if task.attempt else "")


def cost_for_crash(cost, weights):
    """The fitness of an individual that failed every attempt: `cost` (a number for every
    objective, or a tuple), or by default the worst value each weight allows."""
    if cost is None:
        if weights is None:
            return None
        return tuple(float("-inf") if w > 0 else float("inf") for w in weights)
    values = cost if isinstance(cost, (tuple, list)) else (cost,) * (len(weights) if weights else 1)
    if weights is not None and len(values) != len(weights):
        raise ValueError(
            f"runner_params['cost_for_crash'] {tuple(values)} has {len(values)} value(s), the "
            f"optimizer has {len(weights)} fitness weight(s)"
        )
    return tuple(float(v) for v in values)


def raise_failure(value, context):
    """Ends the run for a failed attempt: the worker's exception where there is one, else an
    `EvaluationFailed` naming what happened."""
    if value.additional_info.get("exception") is not None:
        reraise_remote(value, context)
    info = value.additional_info
    raise EvaluationFailed(
        f"{context} {StatusType(value.status).name} on rank {info.get('rank')} "
        f"({info.get('host')}): {info.get('error')}"
    )


def logged_value(rows, i):
    """The `RunValue` that attempt row `i` of `rows` (`mpil2l.storage.read_attempts`)
    records: the rank (None where the log has none), and for a failure the error's last line
    with the whole text as its traceback."""
    status = StatusType(int(rows["status"][i]))
    rank = int(rows["rank"][i])
    info = {"rank": None if rank < 0 else rank}
    if status != StatusType.SUCCESS:
        text = str(rows["error"][i]).strip()
        info.update(error=text.splitlines()[-1] if text else status.name, traceback=text)
    cost = tuple(float(f) for f in rows["fitness"][i]) if status == StatusType.SUCCESS else None
    times = (float(rows["runtime"][i]), status, float(rows["start"][i]), float(rows["end"][i]))
    return RunValue(cost, *times, info)


def logged_attempts(rows, first_row=0):
    """Every attempt row of `rows` as a `LoggedAttempt`, in the order they were written;
    `rows` holds the log's rows from `first_row` on unless it has a ``row`` column."""
    numbers = rows["row"] if "row" in rows else range(first_row, first_row + len(rows["ind_idx"]))
    return [
        LoggedAttempt(
            int(numbers[i]),
            int(rows["generation"][i]),
            int(rows["ind_idx"][i]),
            int(rows["attempt"][i]),
            np.asarray(rows["params"][i], dtype=float),
            logged_value(rows, i),
        )
        for i in range(len(rows["ind_idx"]))
    ]


def format_fitness(fitness):
    """A fitness tuple as messages print it."""
    return "(" + ", ".join(f"{f:.6g}" for f in fitness) + ")"

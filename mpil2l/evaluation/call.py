"""One call of the target, turned into a `RunValue`: shared by the worker ranks, the
evaluation child processes and rank 0's in-process evaluation."""

import os
import pickle
import socket
import time
import traceback

from ..core.runs import RunValue, StatusType

HOST = socket.gethostname()
# Set in every process that evaluates runs, so that an optimizee can tell where it runs.
RANK_VARIABLE = "MPIL2L_WORKER_RANK"


def failure_info(exc, rank):
    """The `additional_info` of a failed run: what failed, where, and the exception itself when
    it survives pickling (so rank 0 can re-raise it with its own type)."""
    info = {
        "error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "rank": rank,
        "host": HOST,
    }
    try:
        pickle.loads(pickle.dumps(exc))
        info["exception"] = exc
    except Exception:
        pass
    return info


def execute(target, run_info, rank):
    """Calls ``target(run_info)`` and returns a `RunValue`: SUCCESS with the returned cost,
    MEMOUT if it ran out of memory, CRASHED with the error in ``additional_info`` if it
    raised (``sys.exit`` included)."""
    start = time.time()
    try:
        cost = target(run_info)
        status, info = StatusType.SUCCESS, {"rank": rank}
    except MemoryError as exc:
        cost, status, info = None, StatusType.MEMOUT, failure_info(exc, rank)
    except (Exception, SystemExit) as exc:
        cost, status, info = None, StatusType.CRASHED, failure_info(exc, rank)
    end = time.time()
    return RunValue(cost, end - start, status, start, end, info)


def failed(status, error, rank, start, end=None, **extra):
    """A `RunValue` for a run that ended without a result of its own (killed, timed out, lost
    with its process)."""
    end = time.time() if end is None else end
    info = {"error": error, "traceback": "", "rank": rank, "host": HOST, **extra}
    return RunValue(None, end - start, status, start, end, info)


def ensure_picklable(key, value, rank):
    """Returns ``(key, value)``, with a cost that cannot be pickled turned into a CRASHED run
    (so that sending it cannot kill the process that evaluated it)."""
    try:
        pickle.dumps(value.cost)
    except Exception as exc:
        info = failure_info(TypeError(f"the run's result cannot be pickled: {exc}"), rank)
        value = value._replace(cost=None, status=StatusType.CRASHED, additional_info=info)
    return key, value


class BrokenTarget:
    """Stands in for a target that could not be unpickled: every run fails with the
    unpickling error, which rank 0 then reports."""

    def __init__(self, exc):
        self.exc = exc

    def __call__(self, run_info):
        raise self.exc


def set_rank_variable(rank):
    os.environ[RANK_VARIABLE] = str(rank)

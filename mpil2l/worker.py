"""The worker side of the protocol: receive tasks, evaluate them, send the results back.

`serve` is what every rank other than 0 runs for the whole run; `execute` turns one call of
the target into a `RunValue` and is shared with rank 0's in-process evaluation.
"""

import pickle
import socket
import time
import traceback

import cloudpickle
from mpi4py import MPI

from .backoff import Backoff
from .errors import RunAborted
from .protocol import Tag, probe
from .runs import RunValue, StatusType
from .spmd import open_run_comm

HOST = socket.gethostname()


def failure_info(exc, rank):
    """The `additional_info` of a failed run: what failed, where, and the exception itself when
    it survives pickling (so rank 0 can re-raise it with its own type)."""
    info = {
        "error": f"{type(exc).__name__}: {exc}",
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
    """Calls ``target(run_info)`` and returns a `RunValue`: SUCCESS with the returned cost, or
    CRASHED with the error in ``additional_info`` if it raised."""
    start = time.time()
    try:
        cost = target(run_info)
        status, info = StatusType.SUCCESS, {}
    except Exception as exc:
        cost, status, info = None, StatusType.CRASHED, failure_info(exc, rank)
    end = time.time()
    return RunValue(cost, end - start, status, start, end, info)


class _BrokenTarget:
    """Stands in for a target that could not be unpickled on this worker: every run fails
    with the unpickling error, which rank 0 then reports."""

    def __init__(self, exc):
        self.exc = exc

    def __call__(self, run_info):
        raise self.exc


def _send_results(comm, root, results, rank):
    """Sends a RESULTS message; a cost that cannot be pickled turns that run into a CRASHED
    one instead of killing the worker."""
    try:
        comm.send(results, dest=root, tag=Tag.RESULTS)
    except Exception:
        checked = []
        for key, value in results:
            try:
                pickle.dumps(value)
            except Exception as exc:
                info = failure_info(TypeError(f"the run's result cannot be pickled: {exc}"), rank)
                value = value._replace(cost=None, status=StatusType.CRASHED, additional_info=info)
            checked.append((key, value))
        comm.send(checked, dest=root, tag=Tag.RESULTS)


def serve(comm=None, root=0):
    """Runs the worker loop on this rank until rank `root` stops the run.

    Args:
        comm: the communicator shared with the scheduler (default ``MPI.COMM_WORLD``);
            collective with `Scheduler` on rank `root`.
        root: the scheduler's rank.

    Raises:
        RunAborted: rank `root` aborted the run; the message says why.
    """
    comm = open_run_comm(comm or MPI.COMM_WORLD)
    rank = comm.Get_rank()
    status = MPI.Status()
    backoff = Backoff()
    target = None
    try:
        while True:
            message = probe(comm, root, MPI.ANY_TAG, status)
            if message is None:
                backoff.sleep()
                continue
            backoff.reset()
            tag = status.Get_tag()
            payload = message.recv()
            if tag == Tag.TASKS:
                results = [(key, execute(target, run_info, rank)) for key, run_info in payload]
                _send_results(comm, root, results, rank)
            elif tag == Tag.INIT:
                try:
                    target = cloudpickle.loads(payload)
                except Exception as exc:
                    target = _BrokenTarget(exc)
            elif tag == Tag.STOP:
                comm.send(None, dest=root, tag=Tag.STOPPED)
                if payload is not None:
                    raise RunAborted(payload)
                return
    finally:
        comm.Free()

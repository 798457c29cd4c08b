"""The worker side of the protocol: receive tasks, evaluate them, send the results back.

`serve` is what every rank other than 0 runs for the whole run. Runs are evaluated by the
evaluator of `mpil2l.evaluation.process` that rank 0 chose (a child process by default), so the
worker itself stays responsive: it notices a STOP from rank 0, and SIGTERM or SIGINT, within
`mpil2l.evaluation.process.POLL_INTERVAL` even while a run hangs.
"""

import time
from collections import deque

from mpi4py import MPI

from ..core.backoff import Backoff
from ..core.errors import JobTerminated, RunAborted
from ..core.runs import StatusType
from ..evaluation.call import failed
from ..evaluation.process import Limits, make_evaluator
from .protocol import Tag, probe
from .spmd import open_run_comm, terminate_on_signals

# How long a terminated worker waits for rank 0 (terminated too, as a rule) to stop the run
# before it aborts the job itself.
TERMINATE_GRACE = 10.0


class _Stop(Exception):
    """Rank 0's STOP arrived while a run was in progress."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def serve(comm=None, root=0, hooks=None):
    """Runs the worker loop on this rank until rank `root` stops the run.

    Each TASKS message is handed to the evaluator as soon as it arrives (while the previous
    one may still be running) and answered by one RESULTS message once all its runs are done.

    Args:
        comm: the communicator shared with the scheduler (default ``MPI.COMM_WORLD``);
            collective with `Scheduler` on rank `root`.
        root: the scheduler's rank.
        hooks: None, or an object with ``on_result(key, value) -> (key, value)``, called
            with each result before it is sent (it may keep bulky parts on this rank), and
            ``on_sync(payload)``, called with the payload of `Scheduler.sync_workers` (a
            collective operation with rank `root` and every other worker).

    Raises:
        RunAborted: rank `root` aborted the run, or this rank was terminated by a signal and
            rank `root` then stopped the run; the message says why.
        JobTerminated: this rank was terminated by a signal and rank `root` did not stop the
            run within `TERMINATE_GRACE` seconds.
    """
    comm = open_run_comm(comm or MPI.COMM_WORLD)
    rank = comm.Get_rank()
    status = MPI.Status()
    evaluator = None
    batches = deque()  # (keys, results so far) per TASKS message, oldest first

    def handle(tag, payload):
        nonlocal evaluator
        if tag == Tag.TASKS:
            batches.append(([key for key, *_ in payload], []))
            evaluator.submit(payload)
        elif tag == Tag.INIT:
            blob, isolation, limits = payload
            evaluator = make_evaluator(isolation, blob, rank, Limits(*limits))
        elif tag == Tag.STOP:
            raise _Stop(payload)
        elif tag == Tag.SYNC and hooks is not None:
            hooks.on_sync(payload)

    def poll():
        while (message := probe(comm, root, MPI.ANY_TAG, status)) is not None:
            handle(status.Get_tag(), message.recv())

    try:
        with terminate_on_signals():
            backoff = Backoff()
            while True:
                if batches:
                    keys, results = batches[0]
                    result = evaluator.next_result(poll)
                    results.append(result if hooks is None else hooks.on_result(*result))
                    if len(results) == len(keys):
                        batches.popleft()
                        comm.send(results, dest=root, tag=Tag.RESULTS)
                    continue
                message = probe(comm, root, MPI.ANY_TAG, status)
                if message is None:
                    backoff.sleep()
                    continue
                backoff.reset()
                handle(status.Get_tag(), message.recv())
    except _Stop as stop:
        if evaluator is not None:
            evaluator.close()
        _stop(comm, root, stop.reason)
    except JobTerminated as exc:
        if evaluator is not None:
            evaluator.close()
        for keys, results in batches:
            _send_aborted(comm, root, keys, results, rank, exc)
        _await_stop_after_signal(comm, root, rank, exc)
    finally:
        if evaluator is not None:
            evaluator.close()
        comm.Free()


def _stop(comm, root, reason):
    """Answers STOP: drops the batches still queued here, confirms, and raises RunAborted
    when rank 0 aborted the run."""
    status = MPI.Status()
    while (message := probe(comm, root, Tag.TASKS, status)) is not None:
        message.recv()
    comm.send(None, dest=root, tag=Tag.STOPPED)
    if reason is not None:
        raise RunAborted(reason)


def _send_aborted(comm, root, keys, done, rank, exc):
    """Sends what a terminated worker finished of a batch (`keys`), and ABORT for the rest."""
    finished = {key for key, _ in done}
    now = time.time()
    error = f"ABORT: worker rank {rank} was terminated ({exc})"
    aborted = [
        (key, failed(StatusType.ABORT, error, rank, now, now))
        for key in keys
        if key not in finished
    ]
    comm.send(done + aborted, dest=root, tag=Tag.RESULTS)


def _await_stop_after_signal(comm, root, rank, exc):
    """A terminated worker answers any further batch with ABORT and waits for rank 0's STOP;
    rank 0 normally gets the same signal and stops the run at once."""
    status = MPI.Status()
    backoff = Backoff(max_sleep=0.01)
    deadline = time.monotonic() + TERMINATE_GRACE
    while time.monotonic() < deadline:
        message = probe(comm, root, MPI.ANY_TAG, status)
        if message is None:
            backoff.sleep()
            continue
        tag, payload = status.Get_tag(), message.recv()
        if tag == Tag.TASKS:
            _send_aborted(comm, root, [key for key, *_ in payload], [], rank, exc)
        elif tag == Tag.STOP:
            comm.send(None, dest=root, tag=Tag.STOPPED)
            raise RunAborted(f"worker rank {rank} {exc}; the run was stopped") from None
    raise exc

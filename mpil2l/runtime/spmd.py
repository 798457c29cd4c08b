"""SPMD plumbing shared by both sides: opening a run's private communicator, and making an
uncaught exception on any rank end every rank instead of leaving the others waiting."""

import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager

from ..core.backoff import Backoff
from ..core.errors import JobTerminated, RunAborted

# A worker that fails outside a run waits this long before aborting the job, so that rank 0,
# which usually fails the same way, gets its own message out first.
WORKER_ABORT_DELAY = 1.0
# MPI_Abort can tear the job down before the launcher forwards what was just printed.
OUTPUT_GRACE = 0.2


def wait_for(request):
    """Completes an MPI request by polling with `Backoff` (MPICH's Wait spins a core)."""
    backoff = Backoff()
    while not (request.Test() or request.Test()):
        backoff.sleep()


def polled_barrier(comm):
    """Collective: returns once every rank of `comm` has called it, waiting by polling with
    `Backoff` (a blocking MPI barrier spins a core)."""
    wait_for(comm.Ibarrier())


def open_run_comm(comm):
    """Collective: a private duplicate of `comm` for one run. The polled barrier keeps ranks
    that arrive early from spinning inside Dup while rank 0 is still setting up."""
    polled_barrier(comm)
    return comm.Dup()


def _flag(exc, name):
    try:
        setattr(exc, name, True)
    except AttributeError:  # exceptions with __slots__
        pass
    return exc


def mark_on_every_rank(exc):
    """Marks an exception that a collective call raises identically on every rank: each rank
    exits non-zero by itself, so the abort hook prints it once (rank 0) and aborts nothing."""
    return _flag(exc, "_mpil2l_on_every_rank")


def mark_reported(exc):
    """Marks an exception whose message rank 0 has printed and whose workers have stopped, so
    the abort hook lets the process exit non-zero without killing the job."""
    return _flag(exc, "_mpil2l_reported")


_hooked_comms = []


def install_abort_hook(comm):
    """Makes an uncaught exception on any rank of `comm` end the whole job (non-zero exit,
    within seconds) instead of leaving the other ranks waiting for a message that never
    comes."""
    if comm.Get_size() < 2 or _hooked_comms:
        return
    _hooked_comms.append(comm)
    rank = comm.Get_rank()

    def hook(exc_type, exc, tb):
        if isinstance(exc, RunAborted):
            write_stderr(f"mpil2l rank {rank}: {exc}\n")
            return
        if getattr(exc, "_mpil2l_reported", False):
            return
        if getattr(exc, "_mpil2l_on_every_rank", False):
            if rank == 0:  # the same error on every rank: say it once, let every rank exit
                print_error(exc, "mpil2l: error (raised on every rank)")
            return
        sys.stdout.flush()
        if rank != 0:
            time.sleep(WORKER_ABORT_DELAY)
        print_error(exc, f"mpil2l: uncaught exception on rank {rank}; ending all ranks")
        time.sleep(OUTPUT_GRACE)
        comm.Abort(1)

    sys.excepthook = hook


TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def terminate_on_signals():
    """Inside the block, SIGTERM and SIGINT raise `JobTerminated` in the main thread (outside
    the main thread, nothing changes: Python delivers signals only there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise JobTerminated(f"terminated by {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handler) for sig in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)


def write_stderr(text):
    """Writes `text` to stderr in one call: the launcher merges every rank's stderr, and one
    write keeps a message from being cut into by another rank's."""
    sys.stderr.write(text)
    sys.stderr.flush()


def print_error(exc, header):
    """Prints `header` and the exception with its traceback (and causes) to stderr."""
    write_stderr(
        header + "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )

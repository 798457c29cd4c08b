"""The messages between rank 0 (the scheduler) and the workers.

Every message travels on a private duplicate of the run's communicator, so user traffic on
the same communicator can never be mistaken for ours. Payloads are pickled by mpi4py, except
the target, which is cloudpickled once so that functions and classes defined in the user's
``__main__`` reach the workers.

Order on a worker: one INIT, then any number of TASKS (and SYNC, between runs), then STOP.
Each TASKS message is answered by exactly one RESULTS message; STOP is answered by STOPPED;
SYNC is not answered.
"""

from enum import IntEnum


class Tag(IntEnum):
    INIT = 1  # 0 -> worker: (cloudpickled target, isolation, (timeout, memory_limit_mb))
    TASKS = 2  # 0 -> worker: [(key, run_info, timeout or None), ...], evaluated in order
    RESULTS = 3  # worker -> 0: [(key, RunValue), ...], one per task of one TASKS message
    STOP = 4  # 0 -> worker: None to finish normally, or the reason the run was aborted
    STOPPED = 5  # worker -> 0: None; the worker has left its loop and sends nothing more
    SYNC = 6  # 0 -> every worker, only while no run is pending: a payload for the worker's
    # hooks (`serve(hooks=...)`), which then take part in a collective operation with rank 0


TAG_NAMES = {tag.value: tag.name for tag in Tag}


def probe(comm, source, tag, status):
    """Non-blocking matched probe; returns an `MPI.Message` or None.

    Probes twice: MPICH often matches a message that has already arrived only on the second
    call (the first one drives the progress engine), and every polling loop sleeps between
    calls, so a single probe would cost a whole extra sleep per message.
    """
    message = comm.improbe(source, tag, status)
    if message is None:
        message = comm.improbe(source, tag, status)
    return message

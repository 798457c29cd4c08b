"""Rank 0's side of the protocol: SMAC's submit/collect contract on persistent MPI workers.

`Scheduler` is the scheduling core every client uses: the generational loop of `Experiment`
submits a generation and collects it, and asynchronous optimizers or SMAC can submit and
collect one run at a time. Workers run `mpil2l.runtime.worker.serve` meanwhile.

Dispatch is dynamic by default: a worker gets the next batch of runs as soon as it returns
its results. Batches are one run long until run times are known; when runs turn out short
compared to a message round trip, batches grow (towards `BATCH_SECONDS` of work). A second
batch is queued at each worker (see `_pipeline_depth`) so that it does not wait for rank 0
between batches. Static dispatch
(`submit_runs(..., static=True)`) splits a list into equal contiguous chunks, one message
per worker.
"""

import heapq
import math
import time
from collections import deque

import cloudpickle
from mpi4py import MPI

from ..core.backoff import Backoff
from ..evaluation.process import InProcess, Limits, check_isolation, make_evaluator
from .protocol import Tag, probe
from .spmd import install_abort_hook, open_run_comm, wait_for, write_stderr
from .worker import serve

BATCH_SECONDS = 2e-3  # target length of a dynamic batch once run times are known
PIPELINE_BELOW = 1e-3  # runs shorter than this always get a second batch queued per worker
ABORT_GRACE = 5.0  # seconds an aborting rank 0 waits for busy workers before MPI_Abort
_EMA = 0.3  # weight of the newest batch in the run-time estimate


class Scheduler:
    """Submit runs, collect results: SMAC's `BaseRunner` contract on MPI workers.

    Construct it on rank 0 while every other rank of `comm` calls
    ``mpil2l.runtime.worker.serve(comm)`` (`on_workers` does both). `target` is cloudpickled once
    to every worker; each run is a picklable object that the worker passes to
    ``target(run_info)``. Results come back as ``(run_info, RunValue)``: SUCCESS with what
    the target returned, or CRASHED with the remote error in ``additional_info``.

    With one rank, or with ``in_process=True``, runs are evaluated on rank 0 at submission.

    Args:
        target: callable ``target(run_info) -> cost``, picklable with cloudpickle.
        comm: communicator whose rank 0 is this process (default ``MPI.COMM_WORLD``).
        max_workers: use at most this many workers (the others stay idle until shutdown).
        in_process: evaluate on rank 0 instead of on the workers.
        isolation: ``'process'`` (default): each worker evaluates in a child process of its
            own, so a crash of the target costs one run (CRASHED), not the job; ``'none'``:
            in the worker itself. See `mpil2l.evaluation.process`.
        limits: `Limits` ``(timeout, memory_limit_mb)`` per run (process isolation only):
            a run past its time is killed and TIMEOUT, one past its memory MEMOUT.

    Example (``mpiexec -n 4 python script.py``)::

        with on_workers(math.sqrt) as scheduler:
            if scheduler is not None:
                for x in range(100):
                    scheduler.submit_run(x)
                finished = scheduler.get_finished_runs()
                while scheduler.pending_runs():
                    scheduler.wait()
                    finished += scheduler.get_finished_runs()
    """

    def __init__(
        self,
        target,
        comm=None,
        max_workers=None,
        in_process=False,
        isolation="process",
        limits=Limits(),
    ):
        comm = comm or MPI.COMM_WORLD
        if comm.Get_rank() != 0:
            raise RuntimeError(
                "Scheduler runs on rank 0; other ranks call mpil2l.runtime.worker.serve"
            )
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        check_isolation(isolation, limits)
        self._target = target
        self._isolation = isolation
        self._limits = Limits(*limits)
        self._local = None  # rank 0's evaluator when it evaluates in-process
        self._comm = open_run_comm(comm) if comm.Get_size() > 1 else None
        ranks = range(1, comm.Get_size())
        self._workers = [] if in_process else list(ranks)[:max_workers]
        self._all_workers = list(ranks)
        self._queue = deque()  # keys waiting for any worker
        self._avoid = {}  # key -> a worker that should not get it (it failed there)
        self._timeouts = {}  # key -> its own time limit
        self._pinned = {}  # worker -> keys waiting for that worker (static dispatch)
        self._running = {}  # key -> run_info, submitted and not yet collected
        self._finished = []
        self._next_key = 0
        self._inflight = {w: 0 for w in self._workers}
        self._free = deque(reversed(self._workers))  # one entry per free batch slot, newest last
        self._depth = 1
        self._estimate = None  # mean run time on the workers, seconds
        self._sends = []
        self._due = []  # heap: when the batches sent are expected to be done (monotonic s)
        self._status = MPI.Status()
        self._closed = False
        if self._workers or isolation == "process":
            try:
                blob = cloudpickle.dumps(target)
            except Exception as exc:
                self.shutdown(abort_reason=f"the target could not be pickled: {exc}")
                raise TypeError(f"the target cannot be sent to the workers: {exc}") from exc
            init = (blob, isolation, tuple(self._limits))
            for w in self._workers:
                self._sends.append(self._comm.isend(init, dest=w, tag=Tag.INIT))
            if not self._workers:
                self._local = make_evaluator(isolation, blob, 0, self._limits)
        else:
            self._local = InProcess(None, 0, target=target)

    # -- SMAC's contract ---------------------------------------------------------------

    def submit_run(self, run_info, avoid=None, timeout=None):
        """Queues one run and hands it to a worker if one is free. Does not wait.

        `avoid` names a worker rank that should not get the run while another worker exists
        (say, the one where it just failed). `timeout` replaces the limits' time limit for
        this run (process isolation only)."""
        if timeout is not None:
            check_isolation(self._isolation, Limits(timeout, None))
            self._timeouts[self._next_key] = timeout
        if avoid is not None and len(self._workers) > 1:
            self._avoid[self._next_key] = avoid
        self.submit_runs([run_info])

    def submit_runs(self, run_infos, static=False):
        """Queues several runs. With ``static=True`` they are split into equal contiguous
        chunks, one per worker, each sent as one message (a scatter)."""
        self._check_open()
        keys = range(self._next_key, self._next_key + len(run_infos))
        self._next_key += len(run_infos)
        if not self._workers:
            for key, run_info in zip(keys, run_infos):
                value = self._local.run_batch(
                    [(key, run_info, self._timeouts.pop(key, None))], None, []
                )[0][1]
                self._finished.append((run_info, value))
            return
        self._running.update(zip(keys, run_infos))
        if static:
            n = len(self._workers)
            bounds = [len(keys) * i // n for i in range(n + 1)]
            for w, lo, hi in zip(self._workers, bounds, bounds[1:]):
                if hi > lo:
                    self._pinned.setdefault(w, deque()).extend(keys[lo:hi])
        else:
            self._queue.extend(keys)
        self._dispatch()

    def get_finished_runs(self):
        """Returns and forgets every finished ``(run_info, RunValue)`` so far."""
        if self._workers:
            self._collect()
        finished, self._finished = self._finished, []
        return finished

    def wait(self):
        """Blocks, without occupying a core, until at least one run has finished (returns at
        once if one already has, or if nothing is pending)."""
        backoff = Backoff()
        while not self._finished and self._running:
            if self._collect():
                return
            now = time.monotonic()
            if self._forget_due(now):
                # a batch is about done: poll closely again rather than at the long waits'
                # pace, so that its results are seen within microseconds, not half a sleep
                backoff.reset()
            backoff.sleep(self._due[0] - now if self._due else None)

    def pending_runs(self):
        """True while a submitted run has not finished."""
        return bool(self._running)

    def num_workers(self):
        """How many workers evaluate runs (1 when evaluating in-process)."""
        return len(self._workers) or 1

    def sync_workers(self, payload):
        """Hands `payload` to the ``on_sync`` hook of every worker rank (see `serve`), for a
        collective operation that rank 0 then joins. Only between runs: every submitted run
        must have been collected, so that every worker is idle and takes part at once."""
        self._check_open()
        if self._running:
            raise RuntimeError(
                f"sync_workers needs idle workers; {len(self._running)} run(s) are pending"
            )
        if self._comm is None:
            return
        for w in self._all_workers:
            self._sends.append(self._comm.isend(payload, dest=w, tag=Tag.SYNC))

    # -- shutdown ----------------------------------------------------------------------

    def shutdown(self, abort_reason=None):
        """Stops every worker; safe to call twice.

        Without `abort_reason`, first waits for every submitted run (collect them afterwards
        with `get_finished_runs`). With it, drops the runs not yet sent, tells the workers
        why, and gives busy workers `ABORT_GRACE` seconds before aborting the MPI job.
        """
        if self._closed:
            return
        self._closed = True
        if self._local is not None:
            self._local.close()
        if self._comm is None:
            return
        if abort_reason is None:
            while self._running:
                self.wait()
        else:
            self._queue.clear()
            self._pinned.clear()
        for w in self._all_workers:
            self._sends.append(self._comm.isend(abort_reason, dest=w, tag=Tag.STOP))
        self._await_stopped(time.monotonic() + ABORT_GRACE if abort_reason else None)
        for request in self._sends:
            wait_for(request)
        self._comm.Free()
        self._comm = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.shutdown(None if exc is None else f"{type(exc).__name__}: {exc}")
        return False

    # -- internals ---------------------------------------------------------------------

    def _check_open(self):
        if self._closed:
            raise RuntimeError("the scheduler has been shut down")

    def _collect(self):
        """Receives every RESULTS message already here, refills free workers; returns how
        many runs finished."""
        n = self._receive_results()
        if n:
            self._dispatch()
        return n

    def _receive_results(self):
        count = 0
        status = self._status
        while True:
            message = probe(self._comm, MPI.ANY_SOURCE, Tag.RESULTS, status)
            if message is None:
                return count
            self._on_results(status.Get_source(), message.recv())
            count += 1

    def _on_results(self, worker, results):
        for key, value in results:
            self._finished.append((self._running.pop(key), value))
        if worker in self._inflight:
            self._inflight[worker] -= 1
            self._free.append(worker)
        mean = sum(value.time for _, value in results) / len(results)
        self._estimate = (
            mean if self._estimate is None else (1 - _EMA) * self._estimate + _EMA * mean
        )

    def _dispatch(self):
        depth = self._pipeline_depth()
        if depth > self._depth:
            self._free.extend(self._workers)
        self._depth = depth
        size = self._batch_size()
        for _ in range(len(self._free)):
            if not (self._queue or self._pinned):
                break
            # The worker freed last: the others have waited longer, and a waiting worker
            # polls less often the longer it waits, so this one picks the batch up soonest.
            w = self._free.pop()
            if self._inflight[w] >= self._depth:
                continue  # a slot left over from deeper pipelining
            batch = self._next_batch(w, size)
            if not batch:
                self._free.appendleft(w)
                continue
            self._sends.append(self._comm.isend(batch, dest=w, tag=Tag.TASKS))
            if self._estimate is not None:
                now = time.monotonic()
                self._forget_due(now)  # callers that never wait() must not grow the heap
                heapq.heappush(self._due, now + self._estimate * len(batch))
            self._inflight[w] += 1
        if len(self._sends) > 64:
            self._sends = [r for r in self._sends if not r.Test()]

    def _forget_due(self, now):
        """Drops the expected ends that have passed; True if there were any."""
        passed = bool(self._due) and self._due[0] <= now
        while self._due and self._due[0] <= now:
            heapq.heappop(self._due)
        return passed

    def _pipeline_depth(self):
        """Batches queued at each worker: two, so that a worker starts its next batch without
        waiting for rank 0 to notice its results, while runs are short or while the queue
        still holds work for everyone; one near the end of the queue, so that the last runs
        go to whichever worker is free first instead of waiting behind a long run."""
        if self._estimate is None:
            return 1
        if self._estimate < PIPELINE_BELOW or len(self._queue) > len(self._workers):
            return 2
        return 1

    def _batch_size(self):
        """Runs per dynamic batch in this dispatch round: one until run times are known, then
        an equal share of the queue, capped at `BATCH_SECONDS` of estimated work."""
        if self._estimate is None:
            return 1
        size = math.ceil(len(self._queue) / len(self._workers))
        if self._estimate > 0:
            size = min(size, max(1, int(BATCH_SECONDS / self._estimate)))
        return size

    def _next_batch(self, w, size):
        pinned = self._pinned.pop(w, None)
        if pinned:
            keys = list(pinned)
        elif self._queue:
            keys, skipped = [], []
            while self._queue and len(keys) < size:
                key = self._queue.popleft()
                if self._avoid.get(key) == w:
                    skipped.append(key)
                else:
                    self._avoid.pop(key, None)
                    keys.append(key)
            self._queue.extendleft(reversed(skipped))
            if not keys:
                return None
        else:
            return None
        return [(key, self._running[key], self._timeouts.pop(key, None)) for key in keys]

    def _await_stopped(self, deadline):
        waiting = set(self._all_workers)
        status = self._status
        backoff = Backoff()
        while waiting:
            message = probe(self._comm, MPI.ANY_SOURCE, MPI.ANY_TAG, status)
            if message is None:
                if deadline is not None and time.monotonic() > deadline:
                    write_stderr(
                        f"mpil2l: workers {sorted(waiting)} did not stop within {ABORT_GRACE:g} s "
                        "(busy in an evaluation); aborting the MPI job\n"
                    )
                    self._comm.Abort(1)
                backoff.sleep()
                continue
            backoff.reset()
            payload = message.recv()
            if status.Get_tag() == Tag.STOPPED:
                waiting.discard(status.Get_source())
            elif status.Get_tag() == Tag.RESULTS:
                self._on_results(status.Get_source(), payload)


class OnWorkers:
    """The SPMD life cycle of a `Scheduler`, collective on `comm`: rank 0 builds the scheduler
    at construction; entering the ``with`` block gives it to rank 0, while every other rank
    serves runs (`mpil2l.runtime.worker.serve`) until rank 0 leaves the block, then gets
    None; leaving the block on rank 0 shuts the scheduler down (with the exception as the
    abort reason, if one ends the block). Like mpi4py's `MPICommExecutor`.

    `on_workers` returns one; clients that wrap the scheduler (the SMAC runners) hold one.

    Args:
        target: what every run is evaluated with (see `Scheduler`).
        comm: the communicator (default ``MPI.COMM_WORLD``).
        **scheduler_args: the other arguments of `Scheduler`.

    Attributes:
        comm: the communicator.
        scheduler: the `Scheduler` on rank 0, None on the other ranks.
    """

    def __init__(self, target, comm=None, **scheduler_args):
        self.comm = comm or MPI.COMM_WORLD
        install_abort_hook(self.comm)
        self.scheduler = None
        if self.comm.Get_rank() == 0:
            self.scheduler = Scheduler(target, self.comm, **scheduler_args)

    def __enter__(self):
        if self.scheduler is None:
            serve(self.comm)
        return self.scheduler

    def __exit__(self, exc_type, exc, tb):
        self.close(None if exc is None else f"{type(exc).__name__}: {exc}")
        return False

    def close(self, abort_reason=None):
        """Stops the workers (rank 0; see `Scheduler.shutdown`); safe to call twice."""
        if self.scheduler is not None:
            self.scheduler.shutdown(abort_reason)


def on_workers(target, comm=None, **scheduler_args):
    """SPMD entry point: ``with on_workers(target) as scheduler:`` on every rank of `comm`
    yields a `Scheduler` on rank 0 and ``None`` on the other ranks, which serve runs until
    rank 0 leaves the ``with`` block (like mpi4py's `MPICommExecutor`); see `OnWorkers`."""
    return OnWorkers(target, comm, **scheduler_args)

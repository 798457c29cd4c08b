"""The recorder: rank 0's side of the results log while a run goes on. It takes each finished
attempt, writes them in batches and decides when to flush, with the serial log
(`mpil2l.storage.ResultsLog`) and the parallel one (`ParallelResultsLog`, whose flush is a
collective step) behind the same calls. With the parallel log, the workers open it together
with rank 0 (`announce_log`, `serve_with_log`) and write their own outputs into it."""

import time

from ..core.backoff import Backoff
from ..core.errors import RunAborted
from ..runtime.spmd import polled_barrier
from ..runtime.worker import serve
from ..storage.parallel import ParallelResultsLog

# Finished attempts are flushed once this long has passed since the last flush, and at least
# this many times the last flush's duration, so that flushing costs rank 0 a small, bounded
# share of the run (docs/benchmarks.md has the measured share).
MIN_FLUSH_INTERVAL = 0.05
FLUSH_COST_RATIO = 50


class Recorder:
    """Rank 0's writer of the results log: attempts are taken as they finish, written in
    batches (whole columns at a time) and flushed when due.

    With the parallel log, flushing is a collective step that needs every worker idle: it
    happens between generations only (`flush_generation`), never while results arrive.
    """

    def __init__(self):
        self.log = None
        self._pending = []  # (record, params, outputs) taken, not yet appended
        self.attach(None)

    def attach(self, log):
        """Starts recording into `log` (None: the run keeps no log)."""
        self.log = log
        self._pending = []
        self._unflushed_since = None  # when an attempt first waited for a flush
        self._last_flush = time.monotonic()
        self._flush_seconds = 0.0

    @property
    def collective(self):
        """True while the log is the parallel one: its flushes need every worker idle."""
        return isinstance(self.log, ParallelResultsLog)

    @property
    def open(self):
        """True while there is a log to write to."""
        return self.log is not None and not self.log.closed

    def take(self, record, params, outputs):
        """Takes one finished attempt (its `attempt_record`, parameters and outputs)."""
        if self.log is not None:
            self._pending.append((record, params, outputs))

    def write_pending(self):
        """Appends the attempts taken since the last call, in one call to the log."""
        if not self._pending:
            return
        entries, self._pending = self._pending, []
        records = [record for record, _, _ in entries]
        rows = self.log.append_attempts(records, [params for _, params, _ in entries])
        for row, (_, _, outputs) in zip(rows, entries):
            if outputs:
                self.log.append_outputs(row, outputs)
        if self._unflushed_since is None and not self.collective:
            self._unflushed_since = time.monotonic()

    def flush_due(self):
        """True once the flush cadence allows the next flush."""
        interval = max(MIN_FLUSH_INTERVAL, FLUSH_COST_RATIO * self._flush_seconds)
        return time.monotonic() - self._last_flush >= interval

    def flush(self):
        """Writes what is pending and flushes the log to the file."""
        t0 = time.monotonic()
        self.write_pending()
        self.log.flush()
        self.flushed(t0)

    def flushed(self, started=None):
        """Notes a flush begun at `started`, or (without it) a checkpoint, which flushes the
        log too but whose duration is no flush's."""
        self._last_flush = time.monotonic()
        if started is not None:
            self._flush_seconds = self._last_flush - started
        self._unflushed_since = None

    def flush_if_due(self):
        """Flushes attempts waiting in memory when the cadence allows (never collective)."""
        if self.log is not None and self._unflushed_since is not None and self.flush_due():
            self.flush()

    def flush_generation(self):
        """Between generations: flushes the serial log, and the parallel log when due."""
        if not self.collective or self.flush_due():
            self.flush()

    def wait_for_results(self, scheduler):
        """The next finished attempts from `scheduler`; while some taken attempts are not yet
        in the file, flushes when due, so that a killed run loses little work."""
        if self.log is None or self._unflushed_since is None:
            scheduler.wait()
            return scheduler.get_finished_runs()
        backoff = Backoff()
        while True:
            finished = scheduler.get_finished_runs()
            if finished or not scheduler.pending_runs():
                return finished
            if self.flush_due():
                self.flush()
                scheduler.wait()
                return scheduler.get_finished_runs()
            backoff.sleep()

    def close(self):
        """Closes the log; attempts taken and not written are not written (`write_pending`)."""
        if self.open:
            self.log.close()


def announce_log(comm, path=None, error=None):
    """Rank 0 -> the workers in `serve_with_log`: the parallel log to open together (None:
    the run has none), or the `error` that kept rank 0 from creating it. Returns rank 0's
    `ParallelResultsLog`, or None.

    The workers wait in a polled barrier, not in the broadcast (which spins), while rank 0
    creates the file."""
    polled_barrier(comm)
    comm.bcast(("open", path) if error is None else ("error", error), root=0)
    return None if error is not None or path is None else ParallelResultsLog.open(comm, path)


def serve_with_log(comm, collective):
    """A worker's part of a run: serves evaluations; with the parallel log (`collective`),
    opens it with rank 0 (`announce_log`), writes this rank's outputs into it and closes it
    with rank 0."""
    log = None
    if collective:
        polled_barrier(comm)
        what, value = comm.bcast(None, root=0)
        if what == "error":
            raise RunAborted(f"rank 0 could not create the results log: {value}")
        log = None if value is None else ParallelResultsLog.open(comm, value)
    try:
        serve(comm, hooks=log)
    except RunAborted:
        if log is not None:
            log.close()  # rank 0 closes it after stopping the workers
        raise
    if log is not None:
        log.close()

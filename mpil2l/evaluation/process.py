"""Where a worker evaluates runs: in a child process of its own (``isolation='process'``, the
default) or in the worker itself (``'none'``).

A child process adds a small cost per run and buys the rank's survival: a segfault,
``os._exit``, a SIGKILL or a memory blow-up of the optimizee ends one evaluation, not the MPI
job, and a run that exceeds its time limit can be killed with everything it started. The
child is a fresh interpreter, never a fork of the MPI process (fork after MPI_Init is unsafe
on RDMA networks); it sees none of the launcher's variables, so MPI there is a singleton (an
optimizee that asks for ``COMM_WORLD`` gets a world of one rank;
``os.environ['MPIL2L_WORKER_RANK']`` names the worker), sits in a session of its own (so
killing its process group reaches the programs it started) and dies with its parent. It
lives for the whole run and is replaced when it dies. What it gets of the node (its
environment and thread pools, its scheduling policy and the worker's, its memory limit) is
set by `mpil2l.evaluation.resources`.

The two halves of the pipe protocol, side by side (`Sandbox` in the worker, `child_main`
in the child); every message is a pickle preceded by its length:

- worker -> child: ``ChildInit``, then batches ``[(key, run_info, timeout), ...]``;
- child -> worker: ``(None, baseline_rss_kb)`` once ready, then ``(key, RunValue)`` for each
  run of a batch, in order. The child starts a run the moment the previous one is sent, so
  the worker knows when each run started without being told.
"""

import ctypes
import ctypes.util
import faulthandler
import importlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
import traceback
from collections import deque
from typing import NamedTuple, Optional

import cloudpickle

from ..core.runs import StatusType
from .call import BrokenTarget, ensure_picklable, execute, failed, set_rank_variable
from .resources import (
    child_environment,
    enter_relay_policy,
    limit_memory,
    resident_kb,
    restore_policy,
)

ISOLATION_MODES = ("process", "none")
# How often a worker waiting for its child looks for messages from rank 0 (a STOP, or the
# next batch to hand over): at first after POLL_START, then twice as long each time.
POLL_START = 100e-6
POLL_INTERVAL = 0.05
# How long a child gets to exit after its pipe closes before it is killed.
EXIT_GRACE = 1.0
# A child killed by a signal while a memory limit is set counts as MEMOUT when its peak
# memory came this close to the limit.
MEMOUT_FRACTION = 0.9

_HEADER = struct.Struct("<Q")
_CHILD_CODE = (
    "from mpil2l.evaluation.process import child_main; "
    "child_main({read_fd}, {write_fd}, {parent}, {imports!r})"
)


class Limits(NamedTuple):
    """Per-run limits: wall-clock seconds and megabytes of memory beyond what the child
    holds when it starts (None: unlimited)."""

    timeout: Optional[float] = None
    memory_limit_mb: Optional[float] = None


class ChildInit(NamedTuple):
    target: bytes  # cloudpickled
    sys_path: list
    cwd: str  # the worker's, when the run starts (the child may have been started earlier)
    rank: int
    memory_limit_mb: Optional[float]
    log_path: Optional[str]  # the worker's stdout log, if it keeps one
    sched_policy: Optional[int]  # the scheduling policy to evaluate under (None: as inherited)


class _Child(NamedTuple):
    process: subprocess.Popen
    channel: "_Channel"


_spare = None  # a child started ahead of need by `prestart`, waiting for its ChildInit


def prestart(imports=()):
    """Starts this process's next evaluation process now, so that the interpreter's start-up
    and the `imports` (module names) overlap with whatever the caller does before its first
    run; the next `Sandbox` takes it over. A spare nobody takes exits with this process."""
    global _spare
    if _spare is None or _spare.process.poll() is not None:
        _spare = _spawn(imports)


def _take_spare():
    global _spare
    child, _spare = _spare, None
    if child is not None and child.process.poll() is None:
        return child
    return None


def _spawn(imports=()):
    """A new child process, started and waiting for its `ChildInit`."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    code = _CHILD_CODE.format(
        read_fd=to_child_r, write_fd=from_child_w, parent=os.getpid(), imports=tuple(imports)
    )
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            pass_fds=(to_child_r, from_child_w),
            start_new_session=True,
            env=child_environment(),
        )
    except BaseException:
        for fd in (to_child_w, from_child_r):
            os.close(fd)
        raise
    finally:
        os.close(to_child_r)
        os.close(from_child_w)
    return _Child(process, _Channel(from_child_r, to_child_w, blocking=False))


def make_evaluator(isolation, target_blob, rank, limits=Limits()):
    """The evaluator a worker uses: a `Sandbox` or an `InProcess`."""
    check_isolation(isolation, limits)
    if isolation == "process":
        return Sandbox(target_blob, rank, limits)
    return InProcess(target_blob, rank)


def check_isolation(isolation, limits):
    """Raises ValueError for an unknown isolation mode, or limits it cannot enforce."""
    if isolation not in ISOLATION_MODES:
        raise ValueError(f"isolation must be one of {ISOLATION_MODES}, got {isolation!r}")
    timeout, memory_limit_mb = limits
    for name, value in (("timeout", timeout), ("memory_limit_mb", memory_limit_mb)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number > 0 or None, got {value!r}")
        if isolation == "none":
            raise ValueError(
                f"{name}={value!r} needs isolation='process': a run evaluated in the worker "
                "itself cannot be killed or limited"
            )


class Evaluator:
    """What a worker evaluates runs with: `submit` batches of ``(key, run_info, timeout)``
    (timeout None: the limits'), then take their results in order with `next_result`."""

    def run_batch(self, batch, poll, results):
        """Submits `batch`, waits for all of it, appends ``(key, RunValue)`` to `results`."""
        self.submit(batch)
        for _ in batch:
            results.append(self.next_result(poll))
        return results


class InProcess(Evaluator):
    """Evaluates runs in the calling process, when their results are asked for (no limits
    can be enforced)."""

    def __init__(self, target_blob, rank, target=None):
        self.rank = rank
        self.queue = deque()
        set_rank_variable(rank)
        if target is not None:
            self.target = target
            return
        try:
            self.target = cloudpickle.loads(target_blob)
        except Exception as exc:
            self.target = BrokenTarget(exc)

    def submit(self, batch):
        self.queue.extend(batch)

    def busy(self):
        return bool(self.queue)

    def next_result(self, poll=None):
        key, run_info, _ = self.queue.popleft()
        return ensure_picklable(key, execute(self.target, run_info, self.rank), self.rank)

    def close(self):
        self.queue.clear()


class _Channel:
    """Length-prefixed pickles over a pair of pipe ends. With ``blocking=False`` (the
    worker's side) `send` never blocks: what the pipe cannot take waits in ``outbox`` until
    `flush` (the child may be busy writing its own results, and both ends blocking on full
    pipes would deadlock)."""

    def __init__(self, read_fd, write_fd, blocking=True):
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.buffer = bytearray()
        self.outbox = bytearray()
        if not blocking:
            os.set_blocking(write_fd, False)

    def send(self, obj):
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.outbox += _HEADER.pack(len(data))
        self.outbox += data
        self.flush()

    def flush(self):
        """Writes as much of ``outbox`` as the pipe takes. If the other end is gone, what
        it would have read is dropped: its end of the other pipe then reads as closed, and
        the worker replaces a dead child with one that gets every run not yet finished."""
        while self.outbox:
            try:
                written = os.write(self.write_fd, self.outbox)
            except BlockingIOError:
                return
            except BrokenPipeError:
                self.outbox.clear()
                return
            del self.outbox[:written]

    def take(self):
        """The next complete message already read, or None."""
        if len(self.buffer) < _HEADER.size:
            return None
        end = _HEADER.size + _HEADER.unpack_from(self.buffer)[0]
        if len(self.buffer) < end:
            return None
        obj = pickle.loads(memoryview(self.buffer)[_HEADER.size : end])
        del self.buffer[:end]
        return obj

    def fill(self):
        """Reads what the pipe holds (blocks if it is empty); EOFError once the writer is gone."""
        chunk = os.read(self.read_fd, 1 << 20)
        if not chunk:
            raise EOFError
        self.buffer += chunk

    def recv(self):
        while True:
            obj = self.take()
            if obj is not None:
                return obj
            self.fill()

    def close(self):
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


class Sandbox(Evaluator):
    """Evaluates runs in a long-lived child process; see the module docstring.

    Batches are handed to the child as soon as they are submitted, so that the child starts
    the next run the moment it finishes one, while the worker talks to rank 0.

    Args:
        target_blob: the cloudpickled target.
        rank: the worker's rank (reported with every result).
        limits: the per-run `Limits`.
    """

    def __init__(self, target_blob, rank, limits=Limits()):
        self.target_blob = target_blob
        self.rank = rank
        self.limits = limits
        self.sched_policy = enter_relay_policy()  # given back at close
        self.process = None
        self.channel = None
        self.baseline_kb = None  # the child's resident memory once ready
        self.restarts = -1
        self.queue = deque()  # [key, run_info, timeout, handed over at], results not yet read
        self.last_message = 0.0  # when the child last reported (ready or a result)
        self._start()  # now, so that it gets ready while rank 0 prepares the first batch

    def submit(self, batch):
        """Hands `batch` (``[(key, run_info, timeout), ...]``) to the child."""
        entries = [[key, run_info, timeout, time.monotonic()] for key, run_info, timeout in batch]
        self.queue.extend(entries)
        if self.process is None:
            self._start()  # sends the whole queue
        else:
            self.channel.send([tuple(e[:3]) for e in entries])

    def busy(self):
        return bool(self.queue)

    def next_result(self, poll=None):
        """Waits for the result of the oldest run submitted: ``(key, RunValue)``. A run that
        kills the child is CRASHED (or MEMOUT), one past its time limit is killed and
        TIMEOUT; the runs after it go on in a new child. `poll` (or None) is called, with
        waits growing to `POLL_INTERVAL`, while the child works; whatever it raises
        propagates after the child is killed."""
        try:
            return self._next_result(poll)
        except BaseException:
            self._kill()
            raise

    def _next_result(self, poll):
        key, _, timeout, handed = self.queue[0]
        timeout = self.limits.timeout if timeout is None else timeout
        wait = POLL_START
        while True:
            message = self.channel.take()
            now = time.monotonic()
            if message is not None:
                self.last_message = now
                if message[0] is None:  # ready
                    self.baseline_kb = message[1]
                    continue
                self.queue.popleft()
                return message
            started = max(self.last_message, handed) if self.baseline_kb is not None else None
            if timeout is not None and started is not None and now - started >= timeout:
                self._kill()
                error = f"TIMEOUT: the run exceeded its time limit of {timeout:g} s and was killed"
                return self._replace_child(
                    key, failed(StatusType.TIMEOUT, error, self.rank, time.time() - (now - started))
                )
            limit = (
                wait
                if timeout is None or started is None
                else max(0.0, min(wait, started + timeout - now))
            )
            writers = [self.channel.write_fd] if self.channel.outbox else []
            readable, writable, _ = select.select([self.channel.read_fd], writers, [], limit)
            if writable:
                self.channel.flush()
            if readable:
                try:
                    self.channel.fill()
                except EOFError:
                    return self._replace_child(key, self._died(started))
            elif not writable:
                if poll is not None:
                    poll()
                wait = min(wait * 2, POLL_INTERVAL)

    def _replace_child(self, key, value):
        """The oldest run ended with the child: report `value` for it, start a new child for
        the runs after it."""
        self.queue.popleft()
        self._kill()
        self._start()
        return key, value

    def close(self):
        """Ends the child (and anything left in its process group); the worker gets its
        scheduling policy back."""
        self.queue.clear()
        restore_policy(self.sched_policy)
        self.sched_policy = None
        if self.process is None:
            return
        self.channel.close()  # EOF on its pipe: the child returns
        deadline = time.monotonic() + EXIT_GRACE
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        self._kill()

    # -- internals ---------------------------------------------------------------------

    def _start(self):
        self.process, self.channel = _take_spare() or _spawn()
        self.baseline_kb = None
        self.restarts += 1
        log = getattr(getattr(sys.stdout, "log_file", None), "name", None)
        self.channel.send(
            ChildInit(
                self.target_blob,
                list(sys.path),
                os.getcwd(),
                self.rank,
                self.limits.memory_limit_mb,
                log,
                self.sched_policy,
            )
        )
        now = time.monotonic()
        for entry in self.queue:
            entry[3] = now
        if self.queue:
            self.channel.send([tuple(e[:3]) for e in self.queue])

    def _died(self, started):
        """The `RunValue` of the run the child was evaluating when it died."""
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = exit_status = os.waitstatus_to_exitcode(status)
        self._kill()
        start = time.time() - (time.monotonic() - started) if started is not None else time.time()
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            how = f"killed by signal {signal.Signals(sig).name} ({sig})"
            if sig == signal.SIGKILL:
                how += " (sent by another process, or by the kernel's out-of-memory killer)"
        else:
            how = f"exited with code {os.WEXITSTATUS(status)}"
        stage = "while evaluating the run" if started is not None else "while starting"
        status_type = StatusType.CRASHED
        limit = self.limits.memory_limit_mb
        if limit and self.baseline_kb is not None and os.WIFSIGNALED(status):
            if usage.ru_maxrss - self.baseline_kb >= MEMOUT_FRACTION * limit * 1024:
                status_type = StatusType.MEMOUT
        return failed(
            status_type,
            f"the evaluation process {how} {stage}",
            self.rank,
            start,
            exit_status=exit_status,
        )

    def _kill(self):
        """Kills the child's whole process group and reaps the child."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait()
        except ChildProcessError:
            pass
        self.channel.close()
        self.process = None
        self.channel = None


# -- the child's half ------------------------------------------------------------------


def _die_with_parent(parent):
    """Has the kernel kill this process when the worker dies (Linux), so that a worker lost
    to SIGKILL leaves no evaluation running."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the worker died before the prctl
        os._exit(1)


def _process_started(target):
    """Lets a target that has ``process_started()`` act before the first run of this process,
    say, to pick up after the process it replaces (killed for its time limit); a failure
    there is reported and the runs go on."""
    hook = getattr(target, "process_started", None)
    if not callable(hook):
        return
    try:
        hook()
    except Exception:
        sys.stderr.write(
            "mpil2l: process_started() of the evaluation target failed:\n" + traceback.format_exc()
        )


def child_main(read_fd, write_fd, parent, imports=()):
    """The child's loop: take a batch, evaluate each run, send each result at once."""
    _die_with_parent(parent)
    faulthandler.enable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker decides when the child ends
    sys.stdout.reconfigure(line_buffering=True)  # nothing printed is lost if it is killed
    channel = _Channel(read_fd, write_fd)
    for name in imports:
        try:
            importlib.import_module(name)
        except Exception:  # only a head start: the target imports what it needs itself
            pass
    try:
        init = channel.recv()
    except EOFError:  # a spare (`prestart`) whose worker never needed it
        os._exit(0)
    restore_policy(init.sched_policy)
    sys.path[:] = init.sys_path
    os.chdir(init.cwd)
    set_rank_variable(init.rank)
    if init.log_path:
        from ..core.console import StdoutLog

        StdoutLog(init.log_path)
    try:
        target = cloudpickle.loads(init.target)
    except Exception as exc:
        target = BrokenTarget(exc)
    _process_started(target)
    baseline = resident_kb()
    if init.memory_limit_mb:
        limit_memory(init.memory_limit_mb)
    channel.send((None, baseline))
    while True:
        try:
            batch = channel.recv()
        except EOFError:
            break
        for key, run_info, _ in batch:
            value = execute(target, run_info, init.rank)
            try:
                channel.send((key, value))
            except Exception:  # a cost that cannot be pickled (nothing was sent)
                channel.send(ensure_picklable(key, value, init.rank))
        sys.stdout.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no atexit handlers: they belong to the worker's interpreter

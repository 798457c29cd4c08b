"""Launch test programs under mpiexec with a hard timeout, so that a hang fails the test, and
find the processes a launch left behind.

Every launch is tagged: its environment holds ``MPIL2L_TEST_LAUNCH=<a fresh uuid>``, which
mpiexec passes on to the ranks and they to their evaluation processes and the programs those
start. The leftover check reads that tag from ``/proc/<pid>/environ``, so it counts only the
processes of the launches a test asks about, never those of another test run sharing the
machine (CI and a developer, two checkouts) that runs the same scripts.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

REPOSITORY = Path(__file__).resolve().parent.parent
SCRIPTS = REPOSITORY / "tests" / "scripts"
MPIEXEC = Path(sys.executable).parent / "mpiexec"
LAUNCH_VARIABLE = "MPIL2L_TEST_LAUNCH"


class Process(NamedTuple):
    """A live process: its id and its command line."""

    pid: int
    argv: tuple

    def __str__(self):
        return f"{self.pid} {' '.join(self.argv)}"


class Launch:
    """The tag of one launch, inherited by every process started from it.

    Attributes:
        tag: the value of ``MPIL2L_TEST_LAUNCH`` in the environment of the launch.
    """

    def __init__(self):
        self.tag = uuid.uuid4().hex

    def environment(self, env=None):
        """This process's environment with the tag, unbuffered Python output and `env`."""
        return dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}), **{LAUNCH_VARIABLE: self.tag})

    def processes(self):
        """The live processes that carry this launch's tag (zombies excluded)."""
        return live_processes({self.tag})


class LaunchTimeout(AssertionError):
    """A launch still ran when its time was up; it was killed with its process group."""


class MpiRun(subprocess.CompletedProcess):
    """A finished `run_mpi`: the CompletedProcess (text output) and its `launch`."""

    def __init__(self, args, returncode, stdout, stderr, launch):
        super().__init__(args, returncode, stdout, stderr)
        self.launch = launch


def live_processes(tags=None):
    """The live processes, read from ``/proc``: zombies (no command line left) and processes
    this user cannot read are not counted.

    Args:
        tags: if given, only the processes whose environment holds
            ``MPIL2L_TEST_LAUNCH=<tag>`` for one of these tags count.
    """
    entries = None if tags is None else {f"{LAUNCH_VARIABLE}={tag}".encode() for tag in tags}
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if entries is not None:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if entries.isdisjoint(f.read().split(b"\0")):
                        continue
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = tuple(p.decode(errors="replace") for p in f.read().split(b"\0")[:-1])
        except OSError:  # ended meanwhile, or another user's process
            continue
        if argv:
            found.append(Process(int(name), argv))
    return found


def leftover_processes(*launched, grace=5.0):
    """The processes of the given launches still alive `grace` seconds after they ended.

    Args:
        *launched: what `run_mpi` returned, what `start_mpi` or `start_process` gave, or a
            `Launch`; the processes of each of these launches count.
        grace: how long processes the launcher is still reaping get to end.

    Returns:
        The live processes of those launches (empty: nothing left over).
    """
    tags = {getattr(item, "launch", item).tag for item in launched}
    deadline = time.monotonic() + grace
    while True:
        alive = live_processes(tags)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def mpi_argv(n, program, args):
    """``mpiexec -n n python program args...``. `program` is a script of tests/scripts by
    name, the path of any script, or a Python option (``"-m"``, ``"-c"``) whose value and
    the program's arguments come in `args`."""
    mpiexec = str(MPIEXEC) if MPIEXEC.exists() else "mpiexec"
    program = str(program)
    if not program.startswith("-"):
        program = str(SCRIPTS / program)  # an absolute path stays as it is
    return [mpiexec, "-n", str(n), sys.executable, program, *map(str, args)]


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # the whole group ended by itself
        pass


@contextmanager
def start_process(
    argv, *, timeout, env=None, cwd=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE
):
    """Starts `argv` tagged with a fresh `Launch`, in a process group of its own.

    Yields the ``subprocess.Popen`` (text mode) with its `Launch` as ``.launch``. On leaving
    the block, a process still running is killed with its whole group and reaped. A process
    still running `timeout` seconds after the start is killed the same way then, and the
    block fails with `LaunchTimeout`.

    Args:
        argv: the command line.
        timeout: seconds the process may run.
        env: variables added to this process's environment.
        cwd: the working directory.
        stdout: where the output goes (a pipe by default: read it with ``communicate``).
        stderr: where the error output goes (a pipe by default).
    """
    launch = Launch()
    proc = subprocess.Popen(
        argv,
        stdout=stdout,
        stderr=stderr,
        text=True,
        cwd=cwd,
        env=launch.environment(env),
        start_new_session=True,
    )
    proc.launch = launch
    timed_out = threading.Event()

    def kill_at_timeout():
        if proc.poll() is None:
            timed_out.set()
            _kill_group(proc)

    watchdog = threading.Timer(timeout, kill_at_timeout)
    watchdog.daemon = True
    watchdog.start()
    failure = None
    try:
        yield proc
    except BaseException as exc:
        failure = exc
        raise
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            _kill_group(proc)
        try:  # reaps it and closes its pipes once every process holding them has ended
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{' '.join(argv)}: processes of the launch held its output open a minute "
                f"after it ended: {launch.processes()}"
            ) from failure
        if timed_out.is_set():
            raise LaunchTimeout(f"{' '.join(argv)} did not finish in {timeout} s") from failure


@contextmanager
def start_mpi(
    n,
    program,
    *args,
    timeout=120,
    env=None,
    cwd=None,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
):
    """`start_process` for ``mpiexec -n n python program args...`` (see `mpi_argv`): for
    tests that signal or kill the job while it runs."""
    argv = mpi_argv(n, program, args)
    with start_process(
        argv, timeout=timeout, env=env, cwd=cwd, stdout=stdout, stderr=stderr
    ) as proc:
        yield proc


def run_mpi(n, program, *args, timeout=90, env=None, cwd=None):
    """Runs ``mpiexec -n n python program args...`` (see `mpi_argv`) to its end.

    Returns:
        An `MpiRun`: the CompletedProcess (stdout and stderr as text) and its ``launch``.

    Raises:
        AssertionError: the run did not end within `timeout` seconds; it was killed with its
            whole process group, and the message holds its output.
    """
    output = ("", "")
    try:
        with start_mpi(n, program, *args, timeout=timeout, env=env, cwd=cwd) as proc:
            output = proc.communicate()
    except LaunchTimeout as exc:
        raise AssertionError(f"{exc}\nstdout:\n{output[0]}\nstderr:\n{output[1]}") from None
    return MpiRun(proc.args, proc.returncode, *output, proc.launch)


@contextmanager
def results_log_held_open(path):
    """Inside the block, another live process holds the results log at `path` open for
    writing, as a second run would."""
    code = (
        "import sys, time; from mpil2l.storage import ResultsLog\n"
        "log = ResultsLog.open_for_resume(sys.argv[1], rollback=False)\n"
        "print('open', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        yield
    finally:
        holder.kill()
        holder.wait()

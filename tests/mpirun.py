"""Launch test scripts under mpiexec with a hard timeout, so that a hang fails the test."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

SCRIPTS = Path(__file__).parent / "scripts"
MPIEXEC = Path(sys.executable).parent / "mpiexec"


def run_mpi(n, script, *args, timeout=90, env=None):
    """Runs ``mpiexec -n n python tests/scripts/<script> args...``; returns the
    CompletedProcess (stdout and stderr as text). A run past `timeout` is killed with its
    whole process group and reported as a failure."""
    mpiexec = str(MPIEXEC) if MPIEXEC.exists() else "mpiexec"
    cmd = [mpiexec, "-n", str(n), sys.executable, str(SCRIPTS / script), *map(str, args)]
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{' '.join(cmd)} did not finish in {timeout} s\nstdout:\n{out}\nstderr:\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def leftover_processes(marker, grace=5.0):
    """Command lines of processes containing `marker` that are still alive `grace` seconds
    after a run ended (orphans). Processes the launcher is still reaping get that long.
    For a marker naming a script (``*.py``, launched by its path), only processes of this
    checkout count: another checkout's test run on the same machine is no orphan of ours."""
    deadline = time.monotonic() + grace
    while True:
        out = subprocess.run(["pgrep", "-a", "-f", marker], capture_output=True, text=True).stdout
        alive = [
            line for line in out.splitlines()
            if int(line.split()[0]) != os.getpid() and "pgrep" not in line
            and (CHECKOUT + os.sep in line or not marker.endswith(".py"))
        ]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@contextmanager
def results_log_held_open(path):
    """Inside the block, another live process holds the results log at `path` open for
    writing, as a second run would."""
    code = (
        "import sys, time; from mpil2l.storage import ResultsLog\n"
        "log = ResultsLog.open_for_resume(sys.argv[1], rollback=False)\n"
        "print('open', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        yield
    finally:
        holder.kill()
        holder.wait()

"""Running a benchmark script under ``mpiexec`` from a plain ``python`` command: the job runs
in a process group of its own, and ends with the launcher, whether it outlives its time limit
or the launcher is interrupted (Ctrl-C, SIGTERM from a batch system), so that no rank is left
running."""

import os
import shutil
import signal
import subprocess
import sys


def find_mpiexec():
    """The mpiexec next to the running Python (a venv with the `mpich` wheel), else PATH's."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpiexec")
    if found is None:
        sys.exit(f"{os.path.basename(sys.argv[0])}: no mpiexec next to sys.executable or on PATH")
    return found


def run_job(command, env, timeout, name):
    """Runs `command` (an mpiexec command line) and returns its exit status: 124 when it ran
    past `timeout` seconds and was killed. On SIGINT or SIGTERM the whole job is ended first."""
    process = subprocess.Popen(command, env=env, start_new_session=True)

    def end_job_and_exit(signum, _frame):
        end_job(process)
        sys.exit(128 + signum)

    previous = {
        sig: signal.signal(sig, end_job_and_exit) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{name}: the MPI job ran past {timeout} s; killing it", file=sys.stderr)
        end_job(process)
        return 124
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def end_job(process):
    """SIGTERM to the job's process group, then SIGKILL if it is still there after 5 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue

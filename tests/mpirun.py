"""Launch test scripts under mpiexec with a hard timeout, so that a hang fails the test."""

import os
import signal
import subprocess
import sys
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


def leftover_processes(marker):
    """PIDs of processes whose command line contains `marker` (orphans of a finished run)."""
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split() if int(pid) != os.getpid()]

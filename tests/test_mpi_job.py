"""scripts/mpi_job.py: a benchmark's MPI job ends with its launcher (time limit, SIGTERM)."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mpirun import MPIEXEC, leftover_processes

SCRIPTS = Path(__file__).parent.parent / "scripts"


def launcher(marker, timeout):
    """A Python process that runs 2 sleeping ranks through run_job; `marker` names them."""
    rank = f"import time; time.sleep(300)  # {marker}"
    code = (
        f"import sys; sys.path.insert(0, {str(SCRIPTS)!r})\n"
        "from mpi_job import run_job\n"
        f"sys.exit(run_job([{str(MPIEXEC)!r}, '-n', '2', sys.executable, '-c', {rank!r}], None, {timeout}, 'test'))\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)


def wait_for_ranks(marker, n=2, timeout=30):
    deadline = time.monotonic() + timeout
    while len(leftover_processes(marker, grace=0)) < n + 2:  # the launcher, mpiexec and the ranks
        assert time.monotonic() < deadline, "the ranks did not start"
        time.sleep(0.1)


def test_sigterm_to_the_launcher_ends_the_job():
    marker = f"mpi-job-{uuid.uuid4().hex}"
    proc = launcher(marker, timeout=300)
    wait_for_ranks(marker)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert not leftover_processes(marker)


def test_a_job_past_its_time_limit_is_killed():
    marker = f"mpi-job-{uuid.uuid4().hex}"
    started = time.monotonic()
    proc = launcher(marker, timeout=3)
    assert proc.wait(timeout=30) == 124 and time.monotonic() - started < 25
    assert "ran past 3 s" in proc.stderr.read()
    assert not leftover_processes(marker)

"""scripts/mpi_job.py: a benchmark's MPI job ends with its launcher (time limit, SIGTERM)."""

import signal
import sys
import time
from pathlib import Path

from mpirun import MPIEXEC, leftover_processes, start_process

SCRIPTS = Path(__file__).parent.parent / "scripts"
RANK = "import time; time.sleep(300)"


def launcher(timeout):
    """Starts a Python process that runs 2 sleeping ranks through run_job."""
    code = (
        f"import sys; sys.path.insert(0, {str(SCRIPTS)!r})\n"
        "from mpi_job import run_job\n"
        f"command = [{str(MPIEXEC)!r}, '-n', '2', sys.executable, '-c', {RANK!r}]\n"
        f"sys.exit(run_job(command, None, {timeout}, 'test'))\n"
    )
    return start_process([sys.executable, "-c", code], stdout=None, timeout=120)


def wait_for_ranks(proc, n=2, timeout=30):
    deadline = time.monotonic() + timeout
    while sum(p.argv[1:] == ("-c", RANK) for p in proc.launch.processes()) < n:
        assert time.monotonic() < deadline, "the ranks did not start"
        time.sleep(0.1)


def test_sigterm_to_the_launcher_ends_the_job():
    with launcher(timeout=300) as proc:
        wait_for_ranks(proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    assert not leftover_processes(proc)


def test_a_job_past_its_time_limit_is_killed():
    started = time.monotonic()
    with launcher(timeout=3) as proc:
        assert proc.wait(timeout=30) == 124 and time.monotonic() - started < 25
        assert "ran past 3 s" in proc.stderr.read()
    assert not leftover_processes(proc)

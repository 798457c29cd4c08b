"""The launch helper of the tests (tests/mpirun.py): a hang fails, and the leftover check
counts the processes of the launches asked about, whatever else runs the same script."""

import os
import signal
import subprocess
import sys
import time

import pytest

from mpirun import (
    LAUNCH_VARIABLE,
    LaunchTimeout,
    leftover_processes,
    live_processes,
    run_mpi,
    start_process,
)

# run as `leave`: starts a copy of itself as `stay` in a session of its own (an orphan that
# outlives the launch, like a rank that missed the end of its job) and ends
ORPHAN_SCRIPT = """
import subprocess, sys, time
if sys.argv[1] == "leave":
    subprocess.Popen([sys.executable, __file__, "stay"], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
elif sys.argv[1] == "stay":
    time.sleep(120)
"""


def running(script, *arguments):
    """Pids of the processes alive now that run `script` with `arguments`, any launch."""
    return sorted(p.pid for p in live_processes() if p.argv[1:] == (str(script), *arguments))


@pytest.fixture
def orphan_script(tmp_path):
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT)
    yield script
    for pid in running(script, "stay"):  # the orphans this test made
        os.kill(pid, signal.SIGKILL)


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_process_of_the_launch_left_alive_is_counted(orphan_script):
    leaving = run_mpi(2, orphan_script, "leave", timeout=60)
    assert leaving.returncode == 0, leaving.stderr
    wait_for(lambda: len(running(orphan_script, "stay")) == 2)
    left = leftover_processes(leaving, grace=0.5)
    assert sorted(p.pid for p in left) == running(orphan_script, "stay")


def test_processes_of_another_launch_or_untagged_running_the_same_script_are_not_counted(
    orphan_script,
):
    other = run_mpi(2, orphan_script, "leave", timeout=60)
    assert other.returncode == 0, other.stderr
    untagged_env = {k: v for k, v in os.environ.items() if k != LAUNCH_VARIABLE}
    untagged = subprocess.Popen([sys.executable, orphan_script, "stay"], env=untagged_env)
    try:
        wait_for(
            lambda: len(running(orphan_script, "stay")) == 3
        )  # two of the other launch, one untagged
        clean = run_mpi(2, orphan_script, "clean", timeout=60)
        assert clean.returncode == 0, clean.stderr
        assert leftover_processes(clean) == []
        assert untagged.pid not in {p.pid for p in leftover_processes(other, grace=0)}
        assert len(leftover_processes(other, grace=0)) == 2
    finally:
        untagged.kill()
        untagged.wait()


def test_a_run_past_its_timeout_is_killed_with_its_ranks_and_fails(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text("import time\nprint('started', flush=True)\ntime.sleep(120)\n")
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"did not finish in 3 s\nstdout:\nstarted"):
        run_mpi(2, script, timeout=3)
    assert time.monotonic() - started < 30
    # the ranks end with mpiexec's process group or, outside it, when they lose the launcher
    wait_for(lambda: running(script) == [], timeout=20)


def test_a_started_process_past_its_timeout_is_killed_and_the_block_fails():
    with pytest.raises(LaunchTimeout, match="did not finish in 2 s"):
        with start_process(
            [sys.executable, "-c", "import time; time.sleep(120)"], timeout=2
        ) as proc:
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not leftover_processes(proc)


def test_leaving_the_block_kills_the_process_group():
    code = "import subprocess, sys, time; subprocess.Popen(['sleep', '120']); time.sleep(120)"
    with start_process([sys.executable, "-c", code], timeout=60) as proc:
        wait_for(lambda: len(proc.launch.processes()) == 2)  # python and its sleep
    assert proc.returncode == -signal.SIGKILL
    assert not leftover_processes(proc)

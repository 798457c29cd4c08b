"""Resuming runs killed with SIGKILL in the middle of a generation, on real MPI ranks: the
resumed run ends exactly like an uninterrupted one, and no attempt that was in the results
log is evaluated again. Bad checkpoints end every rank with nothing overwritten."""

import collections
import hashlib
import json
import os
import signal
import subprocess
import time
from contextlib import contextmanager

import pytest

from mpirun import leftover_processes, results_log_held_open, run_mpi, start_mpi
from mpil2l.storage import read_attempts
from mpil2l.storage.parallel import mpi_enabled
from mpil2l.storage.results_log import repair_truncated

PARALLEL = mpi_enabled()

SLEEP = 0.3  # seconds per evaluation in the runs that get killed


@contextmanager
def launch(tmp_path, n, name, kind, *options):
    """Runs resume_run.py under mpiexec for the block, its output in ``<name>-launch.log``;
    a job still running when the block ends is killed with its process group."""
    argv = (tmp_path / "root", name, kind, tmp_path / f"{name}.json", *options)
    with open(tmp_path / f"{name}-launch.log", "w") as log:
        with start_mpi(
            n, "resume_run.py", *argv, stdout=log, stderr=subprocess.STDOUT, timeout=180
        ) as proc:
            yield proc


def rows_of(path):
    """(generation, ind_idx, attempt) of every attempt the log holds, as of its last flush;
    None while the file cannot be read yet."""
    try:
        rows = read_attempts(path)
    except Exception:
        return None
    return list(
        zip(rows["generation"].tolist(), rows["ind_idx"].tolist(), rows["attempt"].tolist())
    )


def kill_when(proc, path, ready, timeout=90):
    """SIGKILLs the whole launcher process group once ``ready(rows)`` holds for the rows
    flushed to `path`."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            rows = rows_of(path)
            if rows is not None and ready(rows):
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run did not reach the kill point"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        while time.monotonic() < deadline + 10:  # until every rank of the group is gone
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def markers(folder):
    """How many times each (generation, ind_idx, attempt) started evaluating."""
    counts = collections.Counter()
    for name in os.listdir(folder):
        g, i, a = map(int, name.split("-")[:3])
        counts[(g, i, a)] += 1
    return counts


def result(tmp_path, name):
    """The run's result, less how many generations were packed when (it varies)."""
    out = json.loads((tmp_path / f"{name}.json").read_text())
    out.pop("packed", None)
    return out


@pytest.mark.parametrize(
    "kind, ranks, resume_ranks, options",
    [
        ("ga", 4, 4, ("fail=1",)),  # individual 1 fails its first attempt: retries are replayed too
        ("ce", 4, 2, ()),  # resumed on fewer ranks
        ("sa", 1, 1, ()),
    ],
)
def test_a_run_killed_mid_generation_resumes_to_the_same_end(
    tmp_path, kind, ranks, resume_ranks, options
):
    full = run_mpi(
        2, "resume_run.py", tmp_path / "root", "full", kind, tmp_path / "full.json", *options
    )
    assert full.returncode == 0, full.stdout + full.stderr

    marks = tmp_path / "markers"
    marks.mkdir()
    log_path = tmp_path / "root" / "run" / "results.h5"
    with launch(
        tmp_path, ranks, "run", kind, f"sleep={SLEEP}", f"markers={marks}", *options
    ) as killed:
        # killed once some attempts of generation 1 are in the file, and others are running
        kill_when(killed, log_path, lambda rows: sum(1 for g, _, _ in rows if g == 1) >= 2)
    assert not os.path.exists(tmp_path / "run.json"), "the run was killed before its end"
    flushed = rows_of(log_path)
    if flushed is None and PARALLEL and ranks > 1:
        # killed inside a collective flush (about 1 kill in 60 here): the file is shorter
        # than the end HDF5 recorded; resuming repairs that first, and so does the test
        assert repair_truncated(log_path)
        flushed = rows_of(log_path)
    assert flushed and max(g for g, _, _ in flushed) >= 1
    started_before = markers(marks)

    proc = run_mpi(
        resume_ranks,
        "resume_run.py",
        tmp_path / "root",
        "run",
        kind,
        tmp_path / "run.json",
        "checkpoint=True",
        f"markers={marks}",
        *options,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resuming" in proc.stdout
    if PARALLEL and ranks > 1 and resume_ranks > 1:  # the log was created for the parallel backend
        assert "resuming with the serial results log" not in proc.stdout

    assert result(tmp_path, "run") == result(tmp_path, "full")
    started = markers(marks)
    for key in flushed:  # in the log before the kill: never evaluated again
        assert started[key] == 1, (key, started[key])
    assert all(started_before[key] == started[key] for key in started_before if key[0] == 0)
    final_rows = rows_of(log_path)
    assert len(final_rows) == len(set(final_rows)), "an attempt is in the log twice"
    assert sorted(final_rows) == sorted(rows_of(tmp_path / "root" / "full" / "results.h5"))
    assert not leftover_processes(full, killed, proc)


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_bad_resumes_end_every_rank_and_change_nothing(tmp_path):
    proc = run_mpi(
        4, "resume_run.py", tmp_path / "root", "run", "ga", tmp_path / "run.json", "gens=2"
    )
    runs = [proc]
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "root" / "run"
    before = {name: digest(folder / name) for name in ("results.h5", "trajectory.pickle")}

    def resume(n, name, *options):
        """A run that must fail: resume_run.py writing to x.json, which must stay absent."""
        args = (tmp_path / "root", name, "ga", tmp_path / "x.json", *options)
        runs.append(run_mpi(n, "resume_run.py", *args, timeout=60))
        return runs[-1]

    started = time.monotonic()
    proc = resume(4, "run", "gens=2", "pop=8", "checkpoint=True")
    assert proc.returncode != 0 and time.monotonic() - started < 30
    assert "optimizer parameters pop_size (saved 6, now 8)" in proc.stderr, proc.stderr

    (tmp_path / "foreign.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    proc = resume(3, "other", f"checkpoint={tmp_path / 'foreign.h5'}")
    assert proc.returncode != 0 and "truncated or corrupt" in proc.stderr, proc.stderr
    assert before == {name: digest(folder / name) for name in before}

    with results_log_held_open(folder / "results.h5"):
        proc = resume(3, "run", "gens=2", "checkpoint=True")
    assert proc.returncode != 0 and "LogInUseError" in proc.stderr, proc.stderr
    assert digest(folder / "trajectory.pickle") == before["trajectory.pickle"]
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "root" / "other").exists()
    assert not leftover_processes(*runs)

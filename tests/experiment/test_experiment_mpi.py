"""The experiment runtime on real MPI ranks: results, determinism, bad input, shutdown."""

import json
import os
import time

import pytest

from mpirun import leftover_processes, run_mpi


def run_toy(tmp_path, n, *options, timeout=90):
    out = tmp_path / f"out-{n}-{'-'.join(options) or 'plain'}.json"
    proc = run_mpi(n, "toy_run.py", tmp_path / "root", out, *options, timeout=timeout)
    result = json.loads(out.read_text()) if out.exists() else None
    return proc, result


def assert_failed_cleanly(proc, *needles, started=None, limit=20):
    assert proc.returncode != 0, proc.stdout + proc.stderr
    for needle in needles:
        assert needle in proc.stderr, f"{needle!r} not in stderr:\n{proc.stderr}"
    if started is not None:
        assert time.monotonic() - started < limit
    assert not leftover_processes(proc), "processes left over after the run"


@pytest.mark.parametrize("ranks", [1, 2, 4, 8])
@pytest.mark.parametrize("dispatch", ["dynamic", "static"])
def test_same_results_on_any_rank_count_and_dispatch(tmp_path, ranks, dispatch):
    serial, reference = run_toy(tmp_path, 1, "gens=4", "n=10")
    proc, result = run_toy(tmp_path, ranks, "gens=4", "n=10", f"dispatch={dispatch}")
    assert proc.returncode == 0, proc.stderr
    assert result["results"] == reference["results"]
    assert sorted(result["results"]) == ["0", "1", "2", "3"]
    # one progress line per generation and the best individual at the end
    assert proc.stdout.count("mpil2l: generation") == 4
    assert "mpil2l: best individual" in proc.stdout
    assert not leftover_processes(serial, proc)


def test_in_process_evaluation_matches_workers(tmp_path):
    _, workers = run_toy(tmp_path, 3)
    proc, in_process = run_toy(tmp_path, 3, "multiprocessing=False")
    assert proc.returncode == 0, proc.stderr
    assert in_process["results"] == workers["results"]


def test_max_workers_limits_the_ranks_used(tmp_path):
    proc, result = run_toy(tmp_path, 4, "max_workers=1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("on rank 1") == 8 * 3
    assert "on rank 2" not in proc.stdout and "on rank 3" not in proc.stdout


def test_log_stdout_writes_one_log_per_rank(tmp_path):
    proc, result = run_toy(tmp_path, 3, "log_stdout=True")
    assert proc.returncode == 0, proc.stderr
    logs = os.path.join(result["output_dir"], "logs")
    assert sorted(os.listdir(logs)) == ["rank-0.log", "rank-1.log", "rank-2.log"]
    worker_logs = "".join(open(os.path.join(logs, f"rank-{r}.log")).read() for r in (1, 2))
    assert worker_logs.count("simulating generation") == 8 * 3
    assert "mpil2l: generation 2" in open(os.path.join(logs, "rank-0.log")).read()


def test_time_limit_stops_between_generations(tmp_path):
    proc, result = run_toy(tmp_path, 2, "timeout=1e-9", "gens=5")
    assert proc.returncode == 0, proc.stderr
    assert "time limit" in proc.stdout
    assert len(result["results"]) == 1


def test_failed_individual_gets_worst_fitness_and_run_goes_on(tmp_path):
    proc, result = run_toy(tmp_path, 4, "fault=raise")
    assert proc.returncode == 0, proc.stderr
    assert "individual 3 failed on rank" in proc.stdout
    for generation in result["results"].values():
        assert generation[3][1] == [float("inf")]
        assert all(f[0] < float("inf") for i, f in generation if i != 3)


@pytest.mark.parametrize("dispatch", ["dynamic", "static"])
def test_stop_run_ends_every_rank_with_the_remote_error(tmp_path, dispatch):
    started = time.monotonic()
    proc, _ = run_toy(tmp_path, 4, "fault=raise", "stop_run=True", f"dispatch={dispatch}")
    assert_failed_cleanly(
        proc,
        "ValueError: simulate failed on purpose for individual 3",
        "raised by simulate() of generation 0, individual 3 (attempt 4), the last of 4 attempt(s), "
        "on rank",
        "run aborted by rank 0",
        started=started,
    )


def test_every_individual_failing_ends_the_run(tmp_path):
    proc, _ = run_toy(tmp_path, 3, "fault=raise_all")
    assert_failed_cleanly(proc, "simulate always fails", "every individual of generation 0 failed")


@pytest.mark.parametrize(
    "fault, message",
    [
        ("type", "FitnessError: simulate must return a tuple of fitness values, got float"),
        ("count", "simulate returned 2 fitness value(s)"),
        ("post_process", "RuntimeError: post_process failed on purpose"),
        ("unpicklable", "cannot be sent to the workers"),
    ],
)
def test_errors_on_rank_0_end_every_rank(tmp_path, fault, message):
    started = time.monotonic()
    proc, _ = run_toy(tmp_path, 4, f"fault={fault}")
    assert_failed_cleanly(proc, message, started=started)


@pytest.mark.parametrize(
    "fault, message",
    [
        ("setup_all", "ValueError: optimizer set-up failed on purpose"),
        ("setup_root", "RuntimeError: rank 0 failed on purpose before run_experiment"),
    ],
)
def test_errors_outside_the_run_end_every_rank(tmp_path, fault, message):
    started = time.monotonic()
    proc, _ = run_toy(tmp_path, 4, f"fault={fault}")
    assert_failed_cleanly(proc, message, "uncaught exception on rank 0", started=started)


def test_busy_workers_stop_at_once_when_rank_0_aborts(tmp_path):
    # the worker evaluating a 60 s run kills its evaluation process and stops
    started = time.monotonic()
    proc, _ = run_toy(tmp_path, 3, "fault=slow_worker_abort", "n=2", "gens=1", "rp.max_retries=0")
    assert_failed_cleanly(
        proc,
        "fatal failure",
        "mpil2l rank 1: run aborted",
        "mpil2l rank 2: run aborted",
        started=started,
        limit=15,
    )
    assert "did not stop within" not in proc.stderr


def test_busy_workers_without_isolation_are_aborted_within_seconds(tmp_path):
    started = time.monotonic()
    proc, _ = run_toy(
        tmp_path,
        3,
        "fault=slow_worker_abort",
        "n=2",
        "gens=1",
        "rp.isolation=none",
        "rp.max_retries=0",
    )
    assert_failed_cleanly(proc, "fatal failure", "did not stop within", started=started, limit=30)


def test_unknown_keyword_is_named(tmp_path):
    proc, _ = run_toy(tmp_path, 2, "stop_runn=True")
    assert_failed_cleanly(proc, "unknown keyword(s) ['stop_runn']")


@pytest.mark.parametrize(
    "option, message",
    [
        (
            "dispatch=bogus",
            "runner_params['dispatch'] must be one of ('dynamic', 'static'), got 'bogus'",
        ),
        ("max_workers=0", "runner_params['max_workers'] must be an int >= 1, got 0"),
        ("timeout=-1", "timeout must be True, False or a number of seconds > 0, got -1"),
    ],
)
def test_bad_values_are_named(tmp_path, option, message):
    proc, _ = run_toy(tmp_path, 2, option)
    assert_failed_cleanly(proc, message)


def test_unwritable_root_is_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_mpi(3, "toy_run.py", blocker / "root", tmp_path / "out.json")
    assert_failed_cleanly(proc, f"cannot create root_dir_path '{blocker / 'root'}'")
    assert blocker.read_text() == "not a folder"


def test_existing_run_folder_is_not_touched_without_overwrite(tmp_path):
    run_folder = tmp_path / "root" / "toy"
    run_folder.mkdir(parents=True)
    (run_folder / "precious.txt").write_text("keep me")
    proc, result = run_toy(tmp_path, 3, "overwrite=False")
    assert_failed_cleanly(proc, "already exists; pass overwrite=True")
    assert result is None
    assert sorted(os.listdir(run_folder)) == ["precious.txt"]
    assert (run_folder / "precious.txt").read_text() == "keep me"


def test_overwrite_replaces_the_run_folder(tmp_path):
    run_folder = tmp_path / "root" / "toy"
    run_folder.mkdir(parents=True)
    (run_folder / "old.txt").write_text("old")
    proc, _ = run_toy(tmp_path, 2, "overwrite=True")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(run_folder)) == ["results.h5", "trajectory.pickle"]

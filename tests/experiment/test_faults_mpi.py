"""Fault tolerance on real MPI ranks: every fault of the fault-injection optimizee, alone and
mixed, in both dispatch modes; retries, final results, statuses, and nothing left running."""

import json
import math
import pickle
import signal
import subprocess
import time

import pytest

from mpil2l.optimizees.faults import FAULTS
from mpil2l.storage import read_attempts
from mpil2l.storage.fields import STATUS_NAMES
from mpirun import leftover_processes, run_mpi, start_mpi

LIMITS = {"timeout": 2.0, "memory_limit_mb": 200}  # generous: CI machines are loaded


def run_faults(tmp_path, ranks, faults, runner_params=None, *options, timeout=120):
    out = tmp_path / "out.json"
    params = {**LIMITS, **(runner_params or {})}
    proc = run_mpi(
        ranks,
        "fault_run.py",
        tmp_path / "root",
        out,
        json.dumps(faults),
        json.dumps(params),
        *options,
        timeout=timeout,
    )
    report = json.loads(out.read_text()) if out.exists() else None
    return proc, report


def expected_statuses(plan, max_retries=3):
    """The status of each attempt a plan of faults leads to."""
    plan = [plan] * (max_retries + 1) if isinstance(plan, str) else plan
    statuses = []
    for attempt in range(max_retries + 1):
        fault = plan[attempt] if attempt < len(plan) else None
        statuses.append("SUCCESS" if fault is None else FAULTS[fault].name)
        if fault is None:
            break
    return statuses


def check_report(report, faults, n=8, gens=2, max_retries=3, cost_for_crash=math.inf):
    assert sorted(report["results"]) == [str(g) for g in range(gens)]
    for g in range(gens):
        results = dict((i, f) for i, f in report["results"][str(g)])
        assert sorted(results) == list(range(n)), "every individual has a final result"
        for idx in range(n):
            attempts = sorted(
                (a for a in report["attempts"][str(g)] if a["ind_idx"] == idx),
                key=lambda a: a["attempt"],
            )
            statuses = expected_statuses(faults.get(str(idx), []), max_retries)
            assert [a["status"] for a in attempts] == statuses, (g, idx, attempts)
            assert [a["attempt"] for a in attempts] == list(range(len(statuses)))
            for a in attempts[:-1]:
                assert a["error"], "a failed attempt says why"
            if statuses[-1] == "SUCCESS":
                assert results[idx][0] == attempts[-1]["fitness"][0] < math.inf
            else:
                assert results[idx] == [cost_for_crash]


def assert_nothing_left(proc):
    left = leftover_processes(proc)
    assert not [p for p in left if "child_main(" in str(p)], "evaluation processes left over"
    assert not left, "MPI ranks left over"


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_alone_is_retried_on_another_worker(tmp_path, fault):
    faults = {"3": [fault]}
    proc, report = run_faults(tmp_path, 3, faults)
    assert proc.returncode == 0, proc.stderr
    check_report(report, faults)
    for attempts in report["attempts"].values():
        first, second = sorted(
            (a for a in attempts if a["ind_idx"] == 3), key=lambda a: a["attempt"]
        )
        assert first["rank"] != second["rank"], "the retry went to another worker"
    assert f"individual 3 failed on rank" in proc.stdout + proc.stderr
    assert_nothing_left(proc)


MIXED = {
    "0": ["raise", "nan"],
    "1": ["segfault"],
    "2": ["exit", "kill"],
    "3": ["memory"],
    "4": ["hang"],
    "5": "raise",  # every attempt: retries run out
    "6": [None, "raise"],  # fails only if run twice: it is not
}


@pytest.mark.parametrize(
    "ranks, dispatch", [(4, "dynamic"), (4, "static"), (1, "dynamic"), (6, "dynamic")]
)
def test_every_fault_mixed_in_one_run(tmp_path, ranks, dispatch):
    proc, report = run_faults(tmp_path, ranks, MIXED, {"dispatch": dispatch})
    assert proc.returncode == 0, proc.stderr
    check_report(report, MIXED)
    assert "no attempts left: it gets the fitness (inf,)" in proc.stdout + proc.stderr
    assert_nothing_left(proc)
    # the results log holds every attempt, with the same statuses
    logged = read_attempts(tmp_path / "root" / "faults" / "results.h5")
    names = [STATUS_NAMES[int(code)] for code in logged["status"]]
    expected = sorted(
        (a["generation"], a["ind_idx"], a["attempt"], a["status"])
        for g, attempts in report["attempts"].items()
        for a in [dict(x, generation=int(g)) for x in attempts]
    )
    assert (
        sorted(
            zip(
                logged["generation"].tolist(),
                logged["ind_idx"].tolist(),
                logged["attempt"].tolist(),
                names,
            )
        )
        == expected
    )


def test_cost_for_crash_and_max_retries(tmp_path):
    faults = {"2": "segfault", "5": ["raise"]}
    proc, report = run_faults(tmp_path, 3, faults, {"max_retries": 1, "cost_for_crash": 1e6})
    assert proc.returncode == 0, proc.stderr
    check_report(report, faults, max_retries=1, cost_for_crash=1e6)


def test_non_finite_fitness_is_kept_when_allowed(tmp_path):
    proc, report = run_faults(tmp_path, 2, {"1": "nan"}, {"allow_nonfinite": True}, "gens=1")
    assert proc.returncode == 0, proc.stderr
    assert math.isnan(dict((i, f) for i, f in report["results"]["0"])[1][0])
    assert [a["status"] for a in report["attempts"]["0"] if a["ind_idx"] == 1] == ["SUCCESS"]


def test_errors_name_what_happened(tmp_path):
    faults = {"0": ["segfault"], "1": ["exit"], "2": ["hang"], "3": ["memory"], "4": ["raise"]}
    proc, report = run_faults(tmp_path, 3, faults, None, "gens=1")
    assert proc.returncode == 0, proc.stderr
    errors = {a["ind_idx"]: a["error"] for a in report["attempts"]["0"] if a["attempt"] == 0}
    assert "killed by signal SIGSEGV" in errors[0]
    assert "exited with code 3" in errors[1]
    assert "time limit of 2 s" in errors[2]
    assert "MemoryError" in errors[3]
    assert "RuntimeError: injected fault: generation 0, individual 4" in errors[4]


def test_without_isolation_python_faults_are_still_retried(tmp_path):
    faults = {"1": ["raise", "nan"]}
    proc, report = run_faults(
        tmp_path, 3, faults, {"isolation": "none", "timeout": None, "memory_limit_mb": None}
    )
    assert proc.returncode == 0, proc.stderr
    check_report(report, faults)


@pytest.mark.parametrize("dispatch", ["dynamic", "static"])
def test_stop_run_ends_the_run_when_retries_run_out(tmp_path, dispatch):
    started = time.monotonic()
    proc, _ = run_faults(tmp_path, 4, {"2": "segfault"}, {"dispatch": dispatch}, "stop_run=True")
    assert proc.returncode != 0
    assert (
        "generation 0, individual 2 (attempt 4), the last of 4 attempt(s), CRASHED on rank"
        in proc.stderr
    )
    assert "killed by signal SIGSEGV" in proc.stderr
    assert time.monotonic() - started < 60
    assert_nothing_left(proc)


def test_abort_on_first_run_crash(tmp_path):
    proc, _ = run_faults(tmp_path, 2, {"0": "exit"}, {"abort_on_first_run_crash": True}, "n=1")
    assert proc.returncode != 0
    assert (
        "the first evaluation of the run" in proc.stderr
        and "abort_on_first_run_crash" in proc.stderr
    )
    assert_nothing_left(proc)


def test_a_hanging_run_with_no_timeout_is_ended_by_rank_0s_abort(tmp_path):
    # individual 0 hangs without a limit, individual 1 fails for good with stop_run: the
    # worker in the hang must stop within seconds, its evaluation killed
    started = time.monotonic()
    proc, _ = run_faults(
        tmp_path,
        3,
        {"0": "hang", "1": "raise"},
        {"timeout": None, "max_retries": 0},
        "stop_run=True",
        "n=2",
    )
    assert proc.returncode != 0
    assert "injected fault" in proc.stderr
    assert time.monotonic() - started < 30
    assert "did not stop within" not in proc.stderr
    assert_nothing_left(proc)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"isolation": "thread"}, "isolation must be one of ('process', 'none'), got 'thread'"),
        ({"isolation": "none", "timeout": 5}, "timeout=5 needs isolation='process'"),
        ({"timeout": -1}, "timeout must be a number > 0 or None, got -1"),
        ({"max_retries": -1}, "runner_params['max_retries'] must be an int >= 0, got -1"),
        (
            {"cost_for_crash": "high"},
            "runner_params['cost_for_crash'] must be None, a number or a tuple",
        ),
        ({"allow_nonfinite": 1}, "runner_params['allow_nonfinite'] must be True or False, got 1"),
    ],
)
def test_bad_fault_settings_are_named(tmp_path, params, message):
    proc, _ = run_faults(tmp_path, 2, {}, params)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert_nothing_left(proc)


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_to_the_job_ends_every_rank_and_keeps_what_is_finished(tmp_path, signal_name):
    """What Slurm does at the wall-time (SIGTERM) or a user at the terminal (SIGINT): mpiexec
    forwards the signal to every rank while generation 1 hangs (no time limit)."""
    hangs = {f"1,{i}": "hang" for i in range(4)}
    log = tmp_path / "log.txt"
    args = (tmp_path / "root", tmp_path / "out.json", json.dumps(hangs), "{}", "n=4", "gens=3")
    with (
        open(log, "w") as out,
        start_mpi(4, "fault_run.py", *args, stdout=out, stderr=subprocess.STDOUT) as proc,
    ):
        deadline = time.monotonic() + 60
        while "mpil2l: generation 0:" not in log.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
            time.sleep(0.1)
        time.sleep(0.5)  # generation 1 is hanging now
        started = time.monotonic()
        proc.send_signal(getattr(signal, signal_name))
        proc.wait(timeout=30)
    text = log.read_text()
    assert proc.returncode != 0, text
    assert time.monotonic() - started < 15, text
    assert f"terminated by {signal_name}" in text
    with open(tmp_path / "root" / "faults" / "trajectory.pickle", "rb") as f:
        traj = pickle.load(f)
    assert list(traj.results.all_results.keys()) == [0], "generation 0 is kept"
    assert f"terminated by {signal_name}" in traj.results.interrupted
    assert_nothing_left(proc)

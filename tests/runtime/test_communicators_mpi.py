"""mpil2l on communicators other than a whole COMM_WORLD, and the submit/collect contract."""

import json
import os

import pytest

from mpirun import leftover_processes, run_mpi


def run_case(tmp_path, n, case):
    out = tmp_path / f"{case}-{n}.json"
    proc = run_mpi(n, "comm_cases.py", case, tmp_path / "root", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not leftover_processes(proc)
    return json.loads(out.read_text())


@pytest.mark.parametrize("ranks", [1, 3])
def test_two_experiments_in_one_program(tmp_path, ranks):
    first, second = run_case(tmp_path, ranks, "twice")
    assert first == second  # same seeds, same results
    assert sorted(first) == ["0", "1"]


def test_experiments_on_split_communicators_with_user_traffic_around(tmp_path):
    halves = run_case(tmp_path, 5, "split")
    assert len(halves) == 2
    assert halves[0] == halves[1]  # 3 ranks and 2 ranks give the same results


@pytest.mark.parametrize("ranks", [1, 4])
def test_submit_collect_contract(tmp_path, ranks):
    report = run_case(tmp_path, ranks, "scheduler")
    assert report["num_workers"] == max(ranks - 1, 1)
    assert report["pending_before"] is False
    assert report["pending_after"] is False
    assert report["empty_after_collect"] is True
    runs = report["runs"]
    assert [r[0] for r in runs] == list(range(20))
    for x, status, cost, error in runs:
        if x % 5 == 4:
            assert (status, cost) == ("CRASHED", None)
            assert error == f"KeyError: 'no square for {x}'"
        else:
            assert (status, cost, error) == ("SUCCESS", x * x, None)
    assert report["tracebacks"] is True
    assert report["exception_types"] == ["KeyError"]


@pytest.mark.parametrize("ranks", [1, 3])
def test_submit_collect_statuses_of_runs_that_crash_hang_or_run_out_of_memory(tmp_path, ranks):
    runs = run_case(tmp_path, ranks, "limits")
    assert [r[:3] for r in runs] == [
        [0, "SUCCESS", 0.5],
        [1, "CRASHED", None],
        [2, "CRASHED", None],
        [3, "TIMEOUT", None],
        [3.0, "TIMEOUT", None],
        [4, "MEMOUT", None],
        [5, "SUCCESS", 5.5],
        [6, "CRASHED", None],
    ]
    assert "SIGSEGV" in runs[1][3] and "exited with code 7" in runs[2][3]
    timeouts = sorted(r[3] for r in runs if r[1] == "TIMEOUT")
    assert "time limit of 0.5 s" in timeouts[0] and "time limit of 1 s" in timeouts[1]
    assert "MemoryError" in runs[5][3]
    assert "the run's result cannot be pickled" in runs[7][3]


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policies")
def test_workers_relay_as_batch_tasks_and_evaluate_under_the_usual_policy(tmp_path):
    """A worker that evaluates in a child process only relays: it runs as SCHED_BATCH (its
    wake-ups do not preempt the child); the child, and every child started after one
    died, runs the target under the worker's former policy (SCHED_OTHER), which the worker
    has again once the run is over."""
    report = run_case(tmp_path, 3, "policies")
    runs = report["runs"]
    assert [status for status, _ in runs].count("CRASHED") == 2  # each worker's first child
    assert [cost for status, cost in runs if status == "SUCCESS"] == [
        [os.SCHED_OTHER, os.SCHED_BATCH]
    ] * 10
    assert report["after"] == [os.SCHED_OTHER] * 3


def test_evaluation_processes_get_their_share_of_the_cores_unless_the_user_sized_the_pools(
    tmp_path,
):
    """Without thread settings, every evaluation process's thread pools are sized to its
    worker's share of the cores (3 ranks on this node, as the launcher tells each rank);
    one variable set by the user reaches the children alone, the others stay unset."""
    from mpil2l.evaluation.resources import THREAD_VARIABLES, evaluation_threads

    clean = {name: None for name in THREAD_VARIABLES}
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    share = str(evaluation_threads({"MPI_LOCALNRANKS": "3"}, usable, os.cpu_count()))
    with pytest.MonkeyPatch.context() as mp:
        for name in THREAD_VARIABLES:
            mp.delenv(name, raising=False)
        assert run_case(tmp_path, 3, "threads") == [dict.fromkeys(THREAD_VARIABLES, share)] * 6
        mp.setenv("OMP_NUM_THREADS", "5")
        assert run_case(tmp_path, 3, "threads") == [dict(clean, OMP_NUM_THREADS="5")] * 6

"""Asynchronous optimization (AsyncExperiment) on real MPI ranks: improvement, every worker
used, retries, exactly the budget in the results log, resume after SIGKILL, bad input."""

import json
import os
import signal
import time

import numpy as np
import pytest

from mpil2l.storage import info, read_attempts
from mpil2l.storage.fields import STATUS_CODES
from mpirun import SCRIPTS, leftover_processes, run_mpi, start_mpi

SUCCESS = STATUS_CODES["SUCCESS"]


def run_async(tmp_path, ranks, *options, timeout=120):
    out = tmp_path / "out.json"
    if out.exists():
        out.unlink()
    proc = run_mpi(ranks, "async_run.py", tmp_path / "root", out, *options, timeout=timeout)
    report = json.loads(out.read_text()) if out.exists() else None
    return proc, report


def attempts(tmp_path):
    return read_attempts(tmp_path / "root" / "async" / "results.h5")


def final_rows(rows):
    """Row index of each candidate's last attempt."""
    last = {}
    for i, number in enumerate(rows["ind_idx"].tolist()):
        last[number] = i
    return last


@pytest.mark.parametrize("ranks", [1, 4])
@pytest.mark.parametrize(
    "opt, function", [("random", "sphere"), ("steady", "sphere"), ("steady", "rastrigin")]
)
def test_improves_within_the_budget_using_every_worker(tmp_path, ranks, opt, function):
    budget = 200 if function == "rastrigin" else 80
    proc, report = run_async(
        tmp_path, ranks, f"opt={opt}", f"function={function}", f"budget={budget}"
    )
    assert proc.returncode == 0, proc.stderr
    rows = attempts(tmp_path)
    assert sorted(rows["ind_idx"].tolist()) == list(range(budget)), "each candidate exactly once"
    assert np.all(rows["status"] == SUCCESS) and np.all(rows["generation"] == 0)
    fitness = rows["fitness"][:, 0]
    # against the first ten candidates by number (the same on any rank count: the initial
    # population); on 4 ranks the run depends on the order results arrive in, and Rastrigin's
    # local minima (1, 2, 4, 5 near the integer points) hold some orders: 0.17 of the
    # reference at worst over 100 seeds on 1 rank, so it gets a wider margin than the sphere
    initial = np.median(fitness[rows["ind_idx"] < 10])
    assert (
        report["best_fitness"][0]
        == fitness.min()
        < (0.3 if function == "rastrigin" else 0.1) * initial
    )
    assert report["n_told"] == budget
    assert set(rows["rank"].tolist()) == ({0} if ranks == 1 else {1, 2, 3})
    assert f"mpil2l: {budget} of {budget} evaluations done" in proc.stdout
    assert not leftover_processes(proc)


def test_random_search_gives_the_same_candidates_on_any_rank_count(tmp_path):
    def by_number(ranks):
        proc, _ = run_async(tmp_path, ranks, "opt=random", "budget=30", "overwrite=True")
        assert proc.returncode == 0, proc.stderr
        rows = attempts(tmp_path)
        order = np.argsort(rows["ind_idx"])
        return rows["params"][order], rows["fitness"][order]

    params_1, fitness_1 = by_number(1)
    params_3, fitness_3 = by_number(3)
    assert np.array_equal(params_1, params_3) and np.array_equal(fitness_1, fitness_3)


def test_steady_state_on_one_rank_is_reproducible(tmp_path):
    proc, first = run_async(tmp_path, 1, "opt=steady", "budget=40")
    rows_first = attempts(tmp_path)
    proc, second = run_async(tmp_path, 1, "opt=steady", "budget=40", "overwrite=True")
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(rows_first["params"], attempts(tmp_path)["params"])
    assert first["best_fitness"] == second["best_fitness"]


def test_ordered_steady_state_is_the_same_on_any_rank_count(tmp_path):
    def by_number(ranks, *extra):
        proc, report = run_async(
            tmp_path,
            ranks,
            "opt=steady",
            "budget=50",
            "ordered=True",
            "max_pending=4",
            "overwrite=True",
            *extra,
        )
        assert proc.returncode == 0, proc.stderr
        rows = attempts(tmp_path)
        final = sorted(final_rows(rows).values(), key=lambda i: rows["ind_idx"][i])
        return rows["params"][final], rows["fitness"][final], report["best_number"]

    params_1, fitness_1, best_1 = by_number(1)
    for ranks, extra in ((4, ()), (3, ("fail=6:1,9:2", "sleep=0.002"))):
        params, fitness, best = by_number(ranks, *extra)
        assert (
            np.array_equal(params, params_1)
            and np.array_equal(fitness, fitness_1)
            and best == best_1
        )


def test_failed_attempts_are_retried_on_another_worker(tmp_path):
    budget = 30
    proc, report = run_async(
        tmp_path, 4, "opt=steady", f"budget={budget}", "fail=3:2,7:9", "rp.max_retries=2"
    )
    assert proc.returncode == 0, proc.stderr
    rows = attempts(tmp_path)
    numbers = rows["ind_idx"].tolist()
    assert sorted(set(numbers)) == list(range(budget))
    assert len(numbers) == budget + 2 + 2, "two retries of 3, two of 7"
    for number, statuses in ((3, ["CRASHED", "CRASHED", "SUCCESS"]), (7, ["CRASHED"] * 3)):
        mine = [i for i, n in enumerate(numbers) if n == number]
        assert [rows["attempt"][i] for i in mine] == [0, 1, 2]
        assert [int(rows["status"][i]) for i in mine] == [STATUS_CODES[s] for s in statuses]
        ranks = [rows["rank"][i] for i in mine]
        assert all(a != b for a, b in zip(ranks, ranks[1:])), "each retry on another worker"
        assert all(
            "fails attempt" in rows["error"][i] for i in mine if rows["status"][i] != SUCCESS
        )
    assert "individual 7 failed on rank" in proc.stdout and "no attempts left" in proc.stdout
    assert report["n_told"] == budget


def test_a_run_whose_first_evaluations_all_fail_ends(tmp_path):
    started = time.monotonic()
    fail = ",".join(f"{i}:99" for i in range(10))
    proc, _ = run_async(tmp_path, 3, f"fail={fail}", "budget=20", "rp.max_retries=0")
    assert proc.returncode != 0
    assert "the first 2 evaluation(s) all failed" in proc.stderr
    assert time.monotonic() - started < 30
    assert not leftover_processes(proc)


def wait_until_reaped(pid, timeout=20):
    """Waits for a killed process to be gone, zombie included: the results log refuses a new
    writer while its last writer's process exists."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_for_lines(path, n, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it was killed:\n{proc.communicate()}")
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {n} lines")


@pytest.mark.parametrize(
    "opt, checkpoint_interval, sig, extra",
    [
        ("steady", 1000, signal.SIGKILL, ()),
        ("steady", 0.2, signal.SIGKILL, ()),
        ("random", 0.2, signal.SIGKILL, ()),
        ("steady", 0.2, signal.SIGKILL, ("ordered=True", "max_pending=5")),
        ("steady", 1000, signal.SIGTERM, ()),
    ],
)
def test_resume_after_a_kill_goes_on_without_rerunning_finished_evaluations(
    tmp_path, opt, checkpoint_interval, sig, extra
):
    budget, marks = 90, tmp_path / "marks"
    args = [
        f"opt={opt}",
        f"budget={budget}",
        "sleep=0.03",
        f"marks={marks}",
        "fail=5:1",
        f"checkpoint_interval={checkpoint_interval}",
        *extra,
    ]
    # leaving the block SIGKILLs mpiexec's process group (the job ended by itself on SIGTERM)
    with start_mpi(4, "async_run.py", tmp_path / "root", tmp_path / "out.json", *args) as killed:
        wait_for_lines(marks, 45, killed)
        if sig == signal.SIGTERM:  # mpiexec forwards it to every rank, which stops cleanly
            killed.send_signal(signal.SIGTERM)
            out, err = killed.communicate(timeout=30)
            assert killed.returncode != 0 and "terminated by SIGTERM" in err, err
    # the ranks are not all in mpiexec's process group; they end when they lose the launcher
    assert not leftover_processes(killed, grace=20), "ranks outlived mpiexec"
    writer = info(tmp_path / "root" / "async" / "results.h5")["writer"]
    assert bool(writer) == (sig == signal.SIGKILL), (
        "SIGTERM closes the log; SIGKILL leaves its writer recorded"
    )
    if writer:
        wait_until_reaped(writer["pid"])
    assert not (tmp_path / "out.json").exists()
    before = attempts(tmp_path)
    assert 0 < len(before["ind_idx"]) < budget, "killed mid-run, with rows flushed"
    done_before = {n for n, s in zip(before["ind_idx"].tolist(), before["status"]) if s == SUCCESS}

    resumed, report = run_async(tmp_path, 3, *args, "run=2", "checkpoint=True")
    runs = [killed, resumed]
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout
    rows = attempts(tmp_path)
    n = len(before["ind_idx"])
    for column in ("ind_idx", "attempt", "params", "fitness"):
        assert np.array_equal(rows[column][:n], before[column], equal_nan=column == "fitness"), (
            "rows kept"
        )
    numbers = rows["ind_idx"].tolist()
    assert sorted(set(numbers)) == list(range(budget))
    pairs = list(zip(numbers, rows["attempt"].tolist()))
    assert len(pairs) == len(set(pairs)) == budget + 1, "every attempt once (5 failed once)"
    rerun = {
        int(line.split()[1]) for line in marks.read_text().splitlines() if line.startswith("2 ")
    }
    assert not rerun & done_before, "no evaluation finished before the kill ran again"
    assert report["n_told"] == budget
    if checkpoint_interval == 1000:
        assert report["n_replayed"] == n, "only the first checkpoint: every row replayed"
    if "ordered=True" in extra:  # killed and resumed, the run is the one it would have been
        reference = tmp_path / "reference"
        reference.mkdir()
        proc, _ = run_async(
            reference, 2, *[a for a in args if not a.startswith(("sleep", "marks"))]
        )
        runs.append(proc)
        assert proc.returncode == 0, proc.stderr
        expected = attempts(reference)
        order, expected_order = (
            np.argsort(rows["ind_idx"], kind="stable"),
            np.argsort(expected["ind_idx"], kind="stable"),
        )
        assert np.array_equal(rows["params"][order], expected["params"][expected_order])
    assert not leftover_processes(*runs)


def test_resuming_a_finished_run_with_a_larger_budget_goes_on(tmp_path):
    proc, _ = run_async(tmp_path, 2, "opt=steady", "budget=20")
    assert proc.returncode == 0, proc.stderr
    proc, report = run_async(tmp_path, 2, "opt=steady", "budget=35", "checkpoint=True")
    assert proc.returncode == 0, proc.stderr
    assert sorted(attempts(tmp_path)["ind_idx"].tolist()) == list(range(35))
    assert report["n_replayed"] == 0
    # another run folder goes on from a copy of this one's log, which stays as it is
    other = tmp_path / "other"
    proc = run_mpi(
        3,
        "async_run.py",
        other,
        tmp_path / "other.json",
        "opt=steady",
        "budget=50",
        f"checkpoint={tmp_path / 'root' / 'async'}",
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(read_attempts(other / "async" / "results.h5")["ind_idx"].tolist()) == list(
        range(50)
    )
    assert sorted(attempts(tmp_path)["ind_idx"].tolist()) == list(range(35))


@pytest.mark.parametrize(
    "options, message",
    [
        (["budget=0"], "budget must be >= 1, got 0"),
        (["budget=-5"], "budget must be >= 1, got -5"),
        (["max_pending=0"], "max_pending must be >= 1, got 0"),
        (["checkpoint_interval=0"], "checkpoint_interval must be > 0"),
        (["pop_size=-3"], "pop_size must be >= 1, got -3"),
        (["rp.dispatch=static"], "'dynamic' only"),
        (
            ["checkpoint=5"],
            "checkpoint must be True or a path to a run folder or its results.h5, got int",
        ),
        (["checkpoint=/nonexistent/run"], "no such results log or run folder"),
        (
            ["rp.results_log=parallel"],
            "an asynchronous run's results log is written by rank 0 alone",
        ),
        (
            ["rp.results_log=none", "checkpoint=True"],
            "which runner_params['results_log'] = 'none' does not keep",
        ),
        (["rp.results_log=disk"], "runner_params['results_log'] must be one of"),
    ],
)
def test_bad_input_fails_on_every_rank_with_a_clear_error(tmp_path, options, message):
    started = time.monotonic()
    proc, report = run_async(tmp_path, 3, *options)
    assert proc.returncode != 0 and report is None
    assert message in proc.stderr, proc.stderr
    assert time.monotonic() - started < 30
    assert not leftover_processes(proc)


def test_without_a_results_log(tmp_path):
    """results_log='none': the run is the same (random search: by candidate number), and
    writes no results.h5."""
    proc, report = run_async(tmp_path, 3, "opt=random", "budget=30", "rp.results_log=none")
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "root" / "async"
    assert not (folder / "results.h5").exists() and (folder / "trajectory.pickle").exists()
    assert report["n_told"] == 30 and "mpil2l: 30 of 30 evaluations done" in proc.stdout
    proc, logged = run_async(tmp_path, 3, "opt=random", "budget=30", "overwrite=True")
    assert proc.returncode == 0, proc.stderr
    assert (
        logged["best_fitness"]
        == report["best_fitness"]
        == [attempts(tmp_path)["fitness"][:, 0].min()]
    )


def test_resuming_with_another_optimizer_fails_and_leaves_the_log_alone(tmp_path):
    proc, _ = run_async(tmp_path, 2, "opt=steady", "budget=20")
    runs = [proc]
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "root" / "async"
    before = {name: (folder / name).read_bytes() for name in ("results.h5", "trajectory.pickle")}
    proc, _ = run_async(tmp_path, 2, "opt=random", "budget=30", "checkpoint=True")
    runs.append(proc)
    assert proc.returncode != 0
    assert "cannot resume from" in proc.stderr and "the optimizer is " in proc.stderr
    assert (
        "AsyncRandomSearch, the checkpoint's " in proc.stderr
        and "SteadyStateOptimizer" in proc.stderr
    )
    proc, _ = run_async(tmp_path, 2, "opt=steady", "budget=30", "seed=1", "checkpoint=True")
    runs.append(proc)
    assert proc.returncode != 0
    assert "optimizer parameters seed (saved 0, now 1)" in proc.stderr, proc.stderr
    proc, _ = run_async(tmp_path, 2, "opt=steady", "budget=10", "checkpoint=True")
    runs.append(proc)
    assert proc.returncode != 0 and "budget must be >= 20" in proc.stderr
    proc, _ = run_async(tmp_path, 2, "opt=steady", "budget=30", "checkpoint=True", "overwrite=True")
    runs.append(proc)
    assert proc.returncode != 0 and "overwrite=True would delete it" in proc.stderr
    assert {name: (folder / name).read_bytes() for name in before} == before, (
        "the finished run is untouched"
    )
    assert not leftover_processes(*runs)


def test_the_example_runs_and_resumes(tmp_path):
    example = SCRIPTS.parent.parent / "examples" / "async_rastrigin.py"
    for budget in (60, 90):
        proc = run_mpi(3, example, "--root", tmp_path, "--budget", budget, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert (
            f"{budget} of {budget} evaluations done" in proc.stdout
            and "best individual" in proc.stdout
        )
    rows = read_attempts(tmp_path / "async-rastrigin" / "results.h5")
    assert sorted(rows["ind_idx"].tolist()) == list(range(90))


def test_two_asynchronous_runs_on_split_communicators_agree(tmp_path):
    out = tmp_path / "split.json"
    proc = run_mpi(5, "async_split.py", tmp_path / "root", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    halves = json.loads(out.read_text())
    assert sorted(size for size, _, _ in halves) == [2, 3]
    assert halves[0][1:] == halves[1][1:], "random search: the same best on 3 ranks and on 2"
    assert not leftover_processes(proc)

"""SMAC's v1 runner contract on MPI workers, on 1, 3 and 4 ranks: every status path (SUCCESS,
CRASHED, TIMEOUT, CAPPED, MEMOUT, ABORT), PAR-k, capping, crash cost, several objectives,
first-run abort, retries, AClib command lines with a cutoff, split communicators."""

import json

import pytest

from mpirun import leftover_processes, run_mpi

RANKS = [1, 3, 4]


def run_case(tmp_path, ranks, case):
    out = tmp_path / f"{case}-{ranks}.json"
    proc = run_mpi(ranks, "smac_cases.py", case, out, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not leftover_processes(proc)
    return json.loads(out.read_text())


@pytest.mark.parametrize("ranks", RANKS)
def test_quality_objective_statuses_and_costs(tmp_path, ranks):
    report = run_case(tmp_path, ranks, "quality")
    assert report["workers"] == max(1, ranks - 1)
    rows = {r["config"]["x"]: r for r in report["rows"]}
    for x in (0, 1, 2, 6):
        assert (rows[x]["status"], rows[x]["cost"]) == (
            "SUCCESS",
            x * x + 1.0,
        )  # seed passed: it is accepted
    assert (rows[7]["status"], rows[7]["cost"], rows[7]["info"]["error"]) == (
        "MEMOUT",
        1e9,
        "MemoryError",
    )
    assert (rows[8]["status"], rows[8]["cost"]) == (
        "TIMEOUT",
        1e9,
    )  # a quality run killed at its cutoff
    assert rows[8]["time"] < 5
    assert (rows[3]["status"], rows[3]["cost"]) == ("CRASHED", 1e9)
    assert rows[3]["info"]["error"] == "ValueError: no good at 3"
    assert "quality_target" in rows[3]["info"]["traceback"]
    assert (rows[4]["status"], rows[4]["cost"]) == ("CRASHED", 1e9)  # NaN
    assert "nan" in rows[4]["info"]["error"]
    assert (rows[5]["status"], rows[5]["cost"], rows[5]["info"]["note"]) == (
        "SUCCESS",
        25.0,
        "five",
    )
    status, cost, runtime = report["run"]
    assert (status, cost) == (1, 4.0)  # StatusType.SUCCESS; run() is run_wrapper for one config


@pytest.mark.parametrize("ranks", RANKS)
def test_runtime_objective_kills_at_the_cutoff_and_applies_par_k(tmp_path, ranks):
    report = run_case(tmp_path, ranks, "runtime")
    ok, timeout, capped, crashed = report["rows"]
    assert ok["status"] == "SUCCESS" and ok["cost"] == ok["time"] < 2.0
    assert (timeout["status"], timeout["cost"]) == ("TIMEOUT", 5.0)  # par_factor 10 x cutoff 0.5
    assert timeout["time"] < 5, "killed at the cutoff, not left to sleep 30 s"
    assert (capped["status"], capped["cost"]) == ("CAPPED", 5.0)
    assert (crashed["status"], crashed["cost"]) == (
        "CRASHED",
        5.0,
    )  # runtime objective: par_factor * cutoff
    assert crashed["info"]["error"] == "RuntimeError: negative time"
    assert report["no_cutoff"] == "the runtime objective needs a cutoff: RunInfo.cutoff is None"


@pytest.mark.parametrize("ranks", RANKS)
def test_first_run_crash_raises(tmp_path, ranks):
    result = run_case(tmp_path, ranks, "first_crash")["result"]
    assert result.startswith("FirstRunCrashedException: the first run crashed")
    assert "no good at 3" in result


@pytest.mark.parametrize("ranks", RANKS)
def test_max_retries_reruns_crashes_then_reports_them(tmp_path, ranks):
    rows = run_case(tmp_path, ranks, "retries")["rows"]
    assert [(r["config"]["x"], r["status"]) for r in rows] == [(1, "SUCCESS"), (3, "CRASHED")]
    assert rows[1]["cost"] == 2147483647.0


@pytest.mark.parametrize("ranks", RANKS)
def test_aclib_command_line_target(tmp_path, ranks):
    rows = {r["config"]["mode"]: r for r in run_case(tmp_path, ranks, "aclib")["rows"]}
    assert (rows["ok"]["status"], rows["ok"]["cost"], rows["ok"]["time"]) == ("SUCCESS", 11.0, 0.01)
    assert rows["hang"]["status"] == "TIMEOUT" and rows["hang"]["time"] < 5
    assert rows["garbage"]["status"] == "CRASHED"
    assert (
        "exited with code 3 without a 'Result of this algorithm run: {json}' line"
        in rows["garbage"]["info"]["error"]
    )


def test_a_target_without_seed_or_instance_parameters_gets_only_the_config(tmp_path):
    rows = run_case(tmp_path, 3, "plain")["rows"]
    assert (rows[0]["status"], rows[0]["cost"]) == ("SUCCESS", 1.25)


@pytest.mark.parametrize("ranks", RANKS)
def test_aclib_command_line_target_under_the_runtime_objective(tmp_path, ranks):
    rows = {r["config"]["mode"]: r for r in run_case(tmp_path, ranks, "aclib_runtime")["rows"]}
    assert (rows["ok"]["status"], rows["ok"]["cost"]) == (
        "SUCCESS",
        0.01,
    )  # the runtime it reported
    assert (rows["sat"]["status"], rows["sat"]["cost"]) == ("SUCCESS", 0.03)  # AClib's SAT/UNSAT
    assert (rows["hang"]["status"], rows["hang"]["cost"]) == (
        "TIMEOUT",
        10.0,
    )  # killed at the cutoff of 1 s
    assert rows["hang"]["time"] < 5
    assert (rows["abort"]["status"], rows["abort"]["cost"]) == ("ABORT", 10.0)
    assert (rows["slow"]["status"], rows["slow"]["cost"], rows["slow"]["time"]) == (
        "TIMEOUT",
        10.0,
        10.0,
    )  # clamped
    assert (
        rows["odd"]["status"] == "CRASHED"
        and "reported the unknown status 'WEIRD'" in rows["odd"]["info"]["error"]
    )


@pytest.mark.parametrize("ranks", [1, 4])
def test_several_objectives_by_name(tmp_path, ranks):
    rows = {r["config"]["mode"]: r for r in run_case(tmp_path, ranks, "multi")["rows"]}
    assert (rows["dict"]["status"], rows["dict"]["cost"]) == (
        "SUCCESS",
        [0.5, 3.0],
    )  # in multi_objectives' order
    assert (rows["list"]["status"], rows["list"]["cost"]) == ("SUCCESS", [1.0, 2.0])
    assert (rows["missing"]["status"], rows["missing"]["cost"]) == ("CRASHED", [5.0, 6.0])
    assert "without the objective(s) ['size']" in rows["missing"]["info"]["error"]


def test_two_runners_on_the_halves_of_a_split_communicator(tmp_path):
    out = tmp_path / "split.json"
    proc = run_mpi(4, "smac_cases.py", "split", out, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    halves = json.loads(out.read_text())
    assert halves == [{"workers": 1, "rows": [x + 0.25 for x in range(6)]}] * 2

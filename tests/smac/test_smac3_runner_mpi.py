"""SMAC3's runner (smac 2.x) on MPI workers: every outcome of a trial on 1 and 4 ranks, SMAC's
hyper-parameter optimization and algorithm configuration facades end to end on 4 ranks with
every worker busy, a refused scenario, rank 0 failing inside SMAC, the example, and the module
without smac installed (the only test that runs when smac is missing; the others skip)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpirun import REPOSITORY, leftover_processes, run_mpi


def run_case(tmp_path, ranks, case, timeout=300):
    proc = run_mpi(ranks, "smac3_cases.py", case, tmp_path, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not leftover_processes(proc)
    return json.loads((tmp_path / "report.json").read_text())


def max_overlap(trials):
    """The most trials running at one time, from their start and end times."""
    events = sorted([(t["start"], 1) for t in trials] + [(t["end"], -1) for t in trials])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


@pytest.fixture(scope="module")
def four_ranks(tmp_path_factory):
    """One 4-rank job for every case (importing smac on every rank is what takes time)."""
    pytest.importorskip("smac")
    return run_case(tmp_path_factory.mktemp("smac3"), 4, "all")


@pytest.fixture(scope="module")
def one_rank(tmp_path_factory):
    pytest.importorskip("smac")
    return run_case(tmp_path_factory.mktemp("smac3"), 1, "statuses")


@pytest.mark.parametrize("ranks", [1, 4])
def test_every_trial_outcome_maps_to_smac3(request, ranks):
    report = request.getfixturevalue({1: "one_rank", 4: "four_ranks"}[ranks])
    workers = max(1, ranks - 1)
    assert report["workers"] == workers
    assert report["available"][:workers] == list(
        range(workers, 0, -1)
    )  # then submit_trial waits for a worker
    rows = {r["config"]["mode"]: r for r in report["rows"]}
    assert (rows["ok"]["status"], rows["ok"]["cost"]) == (
        "SUCCESS",
        7.5,
    )  # the seed reached the target
    assert (rows["info"]["status"], rows["info"]["cost"], rows["info"]["info"]["note"]) == (
        "SUCCESS",
        2.5,
        "with info",
    )
    assert (rows["raise"]["status"], rows["raise"]["cost"]) == ("CRASHED", 1e6)
    assert rows["raise"]["info"]["error"] == "ValueError: no good"
    assert "status_target" in rows["raise"]["info"]["traceback"]
    assert (rows["nan"]["status"], rows["nan"]["info"]["error"]) == (
        "CRASHED",
        "the target returned the cost nan",
    )
    assert (rows["none"]["status"], rows["none"]["info"]["error"]) == (
        "CRASHED",
        "the target returned no cost",
    )
    assert rows["wrong_count"]["status"] == "CRASHED"
    assert "2 costs for the objectives ['cost']" in rows["wrong_count"]["info"]["error"]
    assert (rows["hang"]["status"], rows["hang"]["cost"]) == ("TIMEOUT", 1e6)
    assert rows["hang"]["time"] < 5, "killed at trial_walltime_limit, not left to sleep 60 s"
    assert (rows["memory"]["status"], rows["memory"]["cost"]) == ("MEMORYOUT", 1e6)
    ranks_used = {row["info"]["rank"] for row in report["rows"]}
    assert ranks_used == ({0} if ranks == 1 else {1, 2, 3})
    assert report["run"] == ["SUCCESS", 3.5]  # run() goes through a worker too
    assert report["run_wrapper"] == "CRASHED"
    multi = {r["config"]["mode"]: r for r in report["multi"]}
    assert (multi["ok"]["status"], multi["ok"]["cost"]) == (
        "SUCCESS",
        [0.25, 3.0],
    )  # dict -> objectives' order
    assert (multi["missing"]["status"], multi["missing"]["cost"]) == ("CRASHED", [9.0, 99.0])
    assert "without the objective(s) ['time']" in multi["missing"]["info"]["error"]


def test_smac3_facades_run_their_trials_on_every_worker(four_ranks):
    report = four_ranks
    hpo = report["hpo"]
    assert hpo["workers"] == 3
    assert len(hpo["trials"]) == 12 and {t["status"] for t in hpo["trials"]} == {"SUCCESS"}
    assert {t["info"]["rank"] for t in hpo["trials"]} == {1, 2, 3}
    assert max_overlap(hpo["trials"]) == 3, "SMAC's loop kept every worker busy"
    assert hpo["incumbent_cost"] == min(t["cost"] for t in hpo["trials"])
    for t in hpo["trials"]:
        assert t["cost"] == pytest.approx(
            (t["config"]["x"] - 1.0) ** 2 + (t["config"]["y"] + 2.0) ** 2
        )
    ac = report["ac"]["trials"]
    assert len(ac) == 12 and {t["info"]["rank"] for t in ac} == {1, 2, 3}
    assert {t["instance"] for t in ac} == {"inst-1", "inst-2", "inst-3"}
    for t in ac:  # the instance reached the target
        assert t["cost"] == pytest.approx(
            abs(t["config"]["x"] - float(t["instance"].split("-")[1]))
        )


def test_a_scenario_with_dask_workers_is_refused_on_every_rank(four_ranks):
    expected = "scenario.n_workers must be 1 with SMAC3Runner, got 2: the MPI ranks are the workers"
    assert [message.split(" (")[0] for message in four_ranks["refused"]] == [expected] * 4
    assert (
        four_ranks["unkillable"]
        == [
            "timeout=5.0 needs isolation='process': a run evaluated in the worker "
            "itself cannot be killed or limited"
        ]
        * 4
    )


def test_smac_failing_on_rank_0_ends_every_rank(tmp_path):
    pytest.importorskip("smac")
    start = time.monotonic()
    proc = run_mpi(4, "smac3_cases.py", "rank0_fails", tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "RuntimeError: SMAC failed on rank 0" in proc.stderr
    assert time.monotonic() - start < 60, (
        "trials of 30 s were still running: the workers did not stop"
    )
    assert not leftover_processes(proc)


def test_the_module_imports_without_smac_and_says_what_to_install():
    code = (
        "import sys; sys.modules['smac'] = None\n"
        "import mpil2l\n"
        "try:\n"
        "    mpil2l.SMAC3Runner(None, len)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("SMAC3Runner needs SMAC3 (smac 2.x): pip install 'mpil2l[smac]'")


def test_the_smac3_example_runs_on_mpi_ranks(tmp_path):
    pytest.importorskip("smac")
    example = REPOSITORY / "examples" / "smac3_hpo.py"
    proc = run_mpi(3, example, "--trials", "8", "--output", tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SMAC3 on 2 MPI workers" in proc.stdout
    assert "after 8 trials" in proc.stdout

"""scripts/compare_l2l.py: the mpil2l side of the L2L comparison runs without L2L and says
why the L2L column is empty; with .venv-l2l present (make l2l-venv), both sides agree where
they must (grid search is deterministic)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mpirun import REPOSITORY

ROOT = REPOSITORY
SCRIPT = ROOT / "scripts" / "compare_l2l.py"
L2L_PYTHON = ROOT / ".venv-l2l" / "bin" / "python"


def compare(tmp_path, *args, cwd=None):
    out = tmp_path / "records.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, json.loads(out.read_text())


def test_mpil2l_side_runs_without_l2l_and_says_why(tmp_path):
    table, records = compare(
        tmp_path,
        "GridSearch",
        "CrossEntropy",
        "--seeds",
        "2",
        "--l2l-python",
        str(tmp_path / "none"),
    )
    rows = [
        line
        for line in table.splitlines()
        if line.startswith("| GridSearch") or line.startswith("| CrossEntropy")
    ]
    assert len(rows) == 6
    assert "| GridSearch | Rastrigin2d | 0 (2/2) | no L2L environment at" in table
    assert "(make l2l-venv)" in table
    runs = records["mpil2l"]["CrossEntropy"]["Ackley2d"]
    assert len(runs) == 2 and all(0 < r["evaluations"] <= 1000 and r["best"] < 0.01 for r in runs)
    assert records["mpil2l"]["GridSearch"]["Rosenbrock2d"][0]["evaluations"] == 31 * 31


def test_bad_arguments_are_named():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "NoSuchOptimizer"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "unknown optimizer(s) ['NoSuchOptimizer']" in proc.stderr


@pytest.mark.skipif(not L2L_PYTHON.exists(), reason="no .venv-l2l (make l2l-venv)")
def test_both_sides_give_the_same_grid_search(tmp_path):
    # a relative interpreter path, as the Makefile passes it
    _, records = compare(
        tmp_path, "GridSearch", "--seeds", "1", "--l2l-python", ".venv-l2l/bin/python", cwd=ROOT
    )
    for function in ("Rastrigin2d", "Rosenbrock2d", "Ackley2d"):
        ours, theirs = (
            records["mpil2l"]["GridSearch"][function][0],
            records["l2l"]["GridSearch"][function][0],
        )
        assert (ours["best"], ours["evaluations"]) == (theirs["best"], theirs["evaluations"])


def test_cooling_schedules_run_over_the_generations_the_budget_allows(tmp_path):
    _, records = compare(
        tmp_path,
        "SimulatedAnnealing",
        "ParallelTempering",
        "--seeds",
        "1",
        "--budget",
        "400",
        "--l2l-python",
        str(tmp_path / "none"),
    )
    for name, chains in (("SimulatedAnnealing", 20), ("ParallelTempering", 10)):
        run = records["mpil2l"][name]["Rosenbrock2d"][0]
        assert run["n_iteration"] == run["generations"] == 400 // chains
        assert run["evaluations"] == 400


@pytest.mark.skipif(not L2L_PYTHON.exists(), reason="no .venv-l2l (make l2l-venv)")
def test_both_sides_start_from_the_same_points_and_l2l_runs_are_reproducible(tmp_path):
    names = ["GradientDescent-Adam", "FACE", "CrossEntropy", "GeneticAlgorithm"]
    args = [*names, "--seeds", "2", "--budget", "120", "--l2l-python", str(L2L_PYTHON)]
    _, records = compare(tmp_path, *args)
    for name in names:
        for function in ("Rastrigin2d", "Rosenbrock2d", "Ackley2d"):
            for ours, theirs in zip(
                records["mpil2l"][name][function], records["l2l"][name][function]
            ):
                a, b = ours["generation_0"], theirs["generation_0"]
                if name.startswith(
                    "GradientDescent"
                ):  # random steps around the start, then the start
                    a, b = a[-1:], b[-1:]
                assert a == b, (name, function)
    (tmp_path / "again").mkdir()
    _, again = compare(tmp_path / "again", *args)
    for function, runs in records["l2l"][
        "GeneticAlgorithm"
    ].items():  # DEAP's global generators, seeded
        assert [r["best"] for r in again["l2l"]["GeneticAlgorithm"][function]] == [
            r["best"] for r in runs
        ]

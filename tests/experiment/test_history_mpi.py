"""Finished generations packed into the results log on real MPI runs (mpil2l.model.history): a run
that checkpoints (and so packs) after every generation ends with the same trajectory as a run
without a results log, also when it was killed and resumed, and its trajectory.pickle loads
in a fresh process once results.h5 is gone.

The parallel case needs h5py built with MPI (`make test-parallel`); it skips elsewhere.
"""

import json
import os
import shutil
import subprocess
import sys

import h5py
import pytest

from mpirun import SCRIPTS, leftover_processes, run_mpi
from test_resume_mpi import kill_when, launch

GENS = 5
CONTENT = ("results", "individuals", "attempts")
needs_parallel = pytest.mark.skipif(
    not h5py.get_config().mpi, reason="h5py without MPI (run `make test-parallel`)"
)


def run(tmp_path, n, name, *options, timeout=120):
    proc = run_mpi(
        n,
        "resume_run.py",
        tmp_path / "root",
        name,
        "ga",
        tmp_path / f"{name}.json",
        f"gens={GENS}",
        "fail=1",
        *options,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads((tmp_path / f"{name}.json").read_text())


def content_of_pickle(path):
    """`resume_run.content` of a trajectory.pickle, loaded in a fresh Python process."""
    code = (
        "import json, pickle, sys; sys.path.insert(0, sys.argv[2]); from resume_run import content;"
        "print(json.dumps(content(pickle.load(open(sys.argv[1], 'rb')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    "backend, ranks",
    [("serial", 4), ("serial", 1), pytest.param("parallel", 3, marks=needs_parallel)],
)
def test_packed_generations_end_as_a_run_without_log(tmp_path, backend, ranks):
    _, plain = run(tmp_path, 3, "plain", "log=none")
    _, packed = run(tmp_path, ranks, "packed", f"log={backend}", "every=1")
    assert plain["packed"] == [0] * (GENS + 1), "without a results log every generation stays live"
    # every generation before the one being post-processed is packed, and all at the end
    assert packed["packed"] == list(range(GENS + 1))
    assert {k: packed[k] for k in CONTENT} == {k: plain[k] for k in CONTENT}
    assert (
        packed["final_fitness"] == plain["final_fitness"] and len(packed["attempts"]["1"]) == 7
    )  # + a retry

    folder = tmp_path / "root" / "packed"
    os.remove(folder / "results.h5")
    assert content_of_pickle(folder / "trajectory.pickle") == {k: plain[k] for k in CONTENT}


@pytest.mark.parametrize("resume", ["in place", "from another folder"])
def test_a_packed_run_killed_mid_generation_resumes_to_the_same_end(tmp_path, resume):
    plain_run, plain = run(tmp_path, 2, "plain", "log=none")
    log_path = tmp_path / "root" / "run" / "results.h5"
    # (the serial log: a parallel one killed in a collective flush may be refused as truncated)
    options = (f"gens={GENS}", "fail=1", "every=1", "sleep=0.2", "log=serial")
    with launch(tmp_path, 4, "run", "ga", *options) as killed:
        # killed once some attempts of generation 2 are in the file: 0 and 1 are packed
        kill_when(killed, log_path, lambda rows: sum(1 for g, _, _ in rows if g == 2) >= 2)
    assert not (tmp_path / "run.json").exists(), "the run was killed before its end"

    if resume == "in place":
        name, checkpoint = "run", "checkpoint=True"
    else:
        name, checkpoint = "moved", f"checkpoint={tmp_path / 'killed'}"
        shutil.move(tmp_path / "root" / "run", tmp_path / "killed")
    resumed_run, resumed = run(tmp_path, 3, name, checkpoint, "every=1", timeout=150)
    assert resumed["packed"][0] >= 2 and resumed["packed"][-1] == GENS
    assert {k: resumed[k] for k in CONTENT} == {k: plain[k] for k in CONTENT}
    assert resumed["final_fitness"] == plain["final_fitness"]
    os.remove(tmp_path / "root" / name / "results.h5")
    assert content_of_pickle(tmp_path / "root" / name / "trajectory.pickle") == {
        k: plain[k] for k in CONTENT
    }
    assert not leftover_processes(plain_run, killed, resumed_run)


def test_an_optimizer_without_get_state_still_packs_its_generations(tmp_path):
    """toy_run.py's RandomSearch cannot checkpoint; with a results log its finished
    generations are stored and packed all the same once they hold SPILL_EVALUATIONS (here
    16: every second generation of 8), and the run ends as without a log. Below the
    threshold (the default, 10,000) they stay live."""
    code = (
        "import json, pickle, sys; traj = pickle.load(open(sys.argv[1], 'rb'));"
        "print(json.dumps({'packed': [traj.individuals.is_packed(g) for g in traj.individuals],"
        " 'individuals': [[g, [[i.generation, i.ind_idx, i.x.tolist()] for i in v]]"
        " for g, v in traj.individuals.items()],"
        " 'results': list(traj.results.all_results.items()),"
        " 'attempts': {g: len(v) for g, v in traj.results.attempts.items()}}))"
    )
    ends = {}
    for name, options in (
        ("none", ["rp.results_log=none"]),
        ("spill", ["spill=16"]),
        ("small", []),
    ):
        proc = run_mpi(
            3, "toy_run.py", tmp_path / name, tmp_path / f"{name}.json", "gens=4", *options
        )
        assert proc.returncode == 0, proc.stderr
        folder = tmp_path / name / "toy"
        assert (folder / "results.h5").exists() == (name != "none")
        if name != "none":
            os.remove(folder / "results.h5")
        out = subprocess.run(
            [sys.executable, "-c", code, str(folder / "trajectory.pickle")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        ends[name] = json.loads(out.stdout)
    assert ends["none"].pop("packed") == ends["small"].pop("packed") == [False] * 5
    # every evaluated generation is packed; the last one expanded, never evaluated, stays live
    assert ends["spill"].pop("packed") == [True] * 4 + [False]
    assert ends["spill"] == ends["none"] == ends["small"] and len(ends["none"]["results"]) == 4


@pytest.mark.parametrize("backend", ["serial", pytest.param("parallel", marks=needs_parallel)])
def test_an_optimizer_reads_packed_generations_mid_run(tmp_path, backend):
    """An optimizer that reads an older generation in post_process gets it back from the
    results log once it is packed (with the parallel log: rank 0 alone reads the file the
    ranks hold open together), the same as in a run that keeps everything in memory."""
    seen = {}
    for name, options in (
        ("none", ["rp.results_log=none"]),
        (backend, [f"rp.results_log={backend}", "spill=8"]),
    ):
        out = tmp_path / f"{name}.json"
        proc = run_mpi(3, "toy_run.py", tmp_path / name, out, "gens=6", "look_back=3", *options)
        assert proc.returncode == 0, proc.stderr
        seen[name] = json.loads(out.read_text())["seen"]
        if name != "none":
            with h5py.File(tmp_path / name / "toy" / "results.h5", "r") as f:
                assert len(f["checkpoint/history"]) > 0, "generations were stored in the log"
    assert [(g, packed) for g, packed, _, _ in seen["none"]] == [(0, False), (1, False), (2, False)]
    assert [(g, packed) for g, packed, _, _ in seen[backend]] == [(0, True), (1, True), (2, True)]
    assert [rest for _, _, *rest in seen[backend]] == [rest for _, _, *rest in seen["none"]]

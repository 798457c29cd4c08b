"""The command-line optimizee on real MPI ranks: fitness from stdout or a result file,
outputs in one archive per worker, failures retried, a timeout kills the program's group."""

import json
import tarfile

import pytest

from mpirun import leftover_processes, run_mpi


def run_command(tmp_path, ranks, mode="", *options):
    out = tmp_path / "out.json"
    proc = run_mpi(ranks, "command_run.py", tmp_path / "root", out, mode, *options, timeout=120)
    report = json.loads(out.read_text()) if out.exists() else None
    return proc, report


def archive_members(tmp_path):
    members = {}
    for path in sorted((tmp_path / "root" / "outputs").glob("rank-*.tar")):
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                members[member.name] = tar.extractfile(member).read().decode()
    return members


def fitness_by_point(report):
    for g, results in report["results"].items():
        for (idx, fitness), point in zip(results, report["points"][g]):
            yield idx, fitness[0], sum(v * v for v in point)


@pytest.mark.parametrize("result", ["stdout", "file"])
def test_fitness_comes_from_the_program(tmp_path, result):
    proc, report = run_command(
        tmp_path,
        3,
        "file" if result == "file" else "",
        f"result={result}",
        "launcher=env LAUNCHED=yes",
    )
    assert proc.returncode == 0, proc.stderr
    for _, got, expected in fitness_by_point(report):
        assert got == pytest.approx(expected, rel=1e-12)
    members = archive_members(tmp_path)
    # one archive per worker rank, not one file per individual
    assert sorted(p.name for p in (tmp_path / "root" / "outputs").iterdir()) == [
        "rank-1.tar",
        "rank-2.tar",
    ]
    for g in range(2):
        for i in range(6):
            assert "launched=yes" in members[f"g{g}/i{i}/a0/stdout"]
            assert members[f"g{g}/i{i}/a0/stderr"] == f"stderr of individual {i}\n"


def test_a_failing_program_is_retried_with_its_stderr_in_the_error(tmp_path):
    proc, report = run_command(tmp_path, 3, "fail")
    assert proc.returncode == 0, proc.stderr
    for g in ("0", "1"):
        first = [a for a in report["attempts"][g] if a["ind_idx"] == 1]
        assert [a["status"] for a in sorted(first, key=lambda a: a["attempt"])] == [
            "CRASHED",
            "SUCCESS",
        ]
        error = next(a["error"] for a in first if a["attempt"] == 0)
        assert "exited with code 2" in error and "boom: failing on purpose" in error
    assert all(got == pytest.approx(expected) for _, got, expected in fitness_by_point(report))


def test_a_program_without_fitness_fails_clearly(tmp_path):
    proc, report = run_command(tmp_path, 2, "silent", "max_retries=0", "gens=1", "n=2")
    assert proc.returncode != 0
    assert "the program printed no fitness" in proc.stderr


def test_a_timeout_kills_the_program_and_what_it_started(tmp_path):
    proc, report = run_command(tmp_path, 3, "hang", "timeout=2", "gens=1")
    assert proc.returncode == 0, proc.stderr
    attempts = sorted(
        (a for a in report["attempts"]["0"] if a["ind_idx"] == 2), key=lambda a: a["attempt"]
    )
    assert [a["status"] for a in attempts] == ["TIMEOUT", "SUCCESS"]
    left = leftover_processes(proc)
    assert not [p for p in left if p.argv[:2] == ("sleep", "300")], (
        "the program's own child survived"
    )
    assert not left
    members = archive_members(tmp_path)
    assert "evaluating individual 2 attempt 0" in members.get("g0/i2/a0/stdout.killed", "")

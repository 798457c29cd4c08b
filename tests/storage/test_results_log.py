"""The HDF5 results log: layout, round trips, growth, durability under SIGKILL, the atomic
checkpoint, clear errors for bad files, the readers and ``python -m mpil2l``. No MPI."""

import collections
import csv
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc

import h5py
import numpy as np
import pytest

from mpil2l.__main__ import main as cli
from mpil2l.model.conversion import dict_to_list
from mpil2l.evaluation.simulation import Task, attempt_record
from mpil2l.core.runs import RunValue, StatusType
from mpil2l.storage.results_log import COLUMNS_FROM_RECORDS, repair_truncated
from mpil2l.storage import (
    LogInUseError,
    ResultsLog,
    ResultsLogError,
    export_csv,
    info,
    output_names,
    read_attempts,
    read_best,
    read_checkpoint,
    read_generations,
    read_outputs,
    read_parameters,
    summary,
)
from mpil2l.storage import fields as F
from mpil2l.model.trajectory import Trajectory
from mpirun import REPOSITORY

INDIVIDUAL = {"x": 1.5, "v": [1.0, 2.0, 3.0], "m": np.arange(4.0).reshape(2, 2)}
VECTOR, SPEC = dict_to_list(INDIVIDUAL, get_dict_spec=True)
N_PARAMS = VECTOR.size  # 8
ROOT = str(REPOSITORY)


def record(g, i, attempt=0, ok=True, n_obj=1):
    return {
        "generation": g,
        "ind_idx": i,
        "attempt": attempt,
        "rank": 1 + i % 3,
        "status": "SUCCESS" if ok else "CRASHED",
        "fitness": tuple(float(i + k) for k in range(n_obj)) if ok else None,
        "start": 1000.0 + i,
        "end": 1001.5 + i,
        "runtime": 1.5,
        "error": "" if ok else f"Traceback (most recent call last):\nValueError: individual {i}",
    }


def new_log(tmp_path, name="results.h5", n_obj=1, **kwargs):
    return ResultsLog.create(str(tmp_path / name), n_obj, SPEC, **kwargs)


def run_child(code, *args):
    """Starts a Python child running `code` (mpil2l importable), stdout piped."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_line(child, prefix, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            raise AssertionError(f"child ended before printing {prefix!r}: {child.stderr.read()}")
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"child did not print {prefix!r} within {timeout} s")


# -- layout and round trip ----------------------------------------------------------------------


def test_layout_follows_the_fields_module(tmp_path):
    with new_log(tmp_path, n_obj=2, fitness_weights=(-1.0, 0.5)) as log:
        log.append_attempts([record(0, 0, n_obj=2)], [VECTOR])
    with h5py.File(tmp_path / "results.h5", "r") as f:
        assert f.attrs["format"] == F.FORMAT_NAME and f.attrs["format_version"] == F.FORMAT_VERSION
        assert f.attrs["created"] and f.attrs["mpil2l_version"] and f.attrs["writer"] == ""
        assert list(f.attrs["fitness_weights"]) == [-1.0, 0.5]
        for c in F.ATTEMPT_COLUMNS:
            ds = f["attempts"][c.name]
            assert ds.maxshape[0] is None and ds.chunks is not None
            assert ds.shape[0] == 1
            assert ds.dtype == c.dtype or c.dtype is F.STRING and h5py.check_string_dtype(ds.dtype)
        assert f["attempts/fitness"].shape == (1, 2) and f["attempts/params"].shape == (1, N_PARAMS)
        assert json.loads(f["attempts/status"].attrs["codes"])["3"] == "CRASHED"
        assert list(f["attempts/params"].attrs["keys"]) == ["m", "v", "x"]
        assert list(f["attempts/params"].attrs["column_names"])[:2] == ["m[0,0]", "m[0,1]"]
        assert f["attempts"].attrs["n_rows"] == 1
        assert set(f) == {"attempts", "generations", "parameters", "checkpoint", "outputs"}


def test_round_trip_of_attempts_generations_parameters_best_and_checkpoint(tmp_path):
    path = tmp_path / "results.h5"
    traj = Trajectory(name="rt")
    traj.f_add_parameter("n_iteration", 3)
    traj.f_add_parameter("ga.pop_size", 10)
    traj.f_add_parameter("ga.sigma", np.array([0.1, 0.2]))
    traj.f_add_parameter("label", "demo")
    traj.f_add_parameter("flag", True)
    traj.f_add_parameter("nothing", None)
    Params = collections.namedtuple("Params", "a b")
    traj.f_add_parameter("params", Params(1, "two"))
    traj.f_add_parameter("big", np.arange(10000.0))  # a dataset, not an attribute
    traj.f_add_parameter("long.text", "y" * 40000)
    with ResultsLog.create(str(path), 2, SPEC, fitness_weights=(-1.0, 1.0)) as log:
        log.write_parameters(traj)
        prefixed = {"individual." + k: v for k, v in INDIVIDUAL.items()}
        rows = log.append_attempts(
            [
                record(0, 0, n_obj=2),
                record(0, 1, ok=False, n_obj=2),
                record(0, 1, attempt=1, n_obj=2),
            ],
            [VECTOR, INDIVIDUAL, prefixed],
        )
        assert rows == range(0, 3)
        rows = log.append_attempts(
            [
                dict(
                    record(1, 0, n_obj=2),
                    rank=None,
                    status=StatusType.TIMEOUT,
                    fitness=None,
                    runtime=None,
                )
            ],
            np.array([VECTOR * 2]),
        )
        assert rows == range(3, 4) and log.n_attempts == 4
        log.append_generation(
            {
                "generation": 0,
                "n_individuals": 2,
                "best_fitness": (1.0, 2.0),
                "best_weighted_fitness": 1.0,
                "mean_weighted_fitness": 0.5,
                "best_ind_idx": 1,
                "wall_seconds": 0.25,
            }
        )
        log.append_generation({"generation": 1})
        log.write_best(
            [INDIVIDUAL, VECTOR * 0],
            [(1.0, 2.0), (3.0, 4.0)],
            weighted_fitness=[1.0, 1.0],
            generation=[0, 1],
            ind_idx=1,
        )
        log.save_checkpoint(b"optimizer state", generation=1)
        assert log.load_checkpoint() == b"optimizer state"

    a = read_attempts(path)
    assert a["generation"].tolist() == [0, 0, 0, 1] and a["ind_idx"].tolist() == [0, 1, 1, 0]
    assert a["attempt"].tolist() == [0, 0, 1, 0] and a["rank"].tolist() == [1, 2, 2, -1]
    assert [F.STATUS_NAMES[c] for c in a["status"]] == ["SUCCESS", "CRASHED", "SUCCESS", "TIMEOUT"]
    assert a["fitness"][0].tolist() == [0.0, 1.0] and np.isnan(a["fitness"][1]).all()
    np.testing.assert_array_equal(a["params"][:3], [VECTOR] * 3)
    np.testing.assert_array_equal(a["params"][3], VECTOR * 2)
    assert a["start"][0] == 1000.0 and a["end"][0] == 1001.5 and np.isnan(a["runtime"][3])
    assert a["error"][0] == "" and a["error"][1].endswith("ValueError: individual 1")

    g = read_generations(path)
    assert g["generation"].tolist() == [0, 1] and g["best_fitness"][0].tolist() == [1.0, 2.0]
    assert (
        g["wall_seconds"][0] == 0.25
        and np.isnan(g["best_weighted_fitness"][1])
        and g["best_ind_idx"][1] == -1
    )

    p = read_parameters(path)
    assert p["n_iteration"] == 3 and p["ga.pop_size"] == 10 and p["ga.sigma"].tolist() == [0.1, 0.2]
    assert (
        p["label"] == "demo"
        and p["flag"] is True
        and p["nothing"] is None
        and p["params"] == [1, "two"]
    )
    assert p["big"].shape == (10000,) and p["long.text"] == "y" * 40000

    best = read_best(path)
    assert [b["fitness"] for b in best] == [(1.0, 2.0), (3.0, 4.0)] and best[1]["generation"] == 1
    assert (
        best[0]["individual"]["m"].tolist() == [[0.0, 1.0], [2.0, 3.0]]
        and best[0]["individual"]["x"] == 1.5
    )
    assert read_checkpoint(path) == b"optimizer state"
    facts = info(path)
    assert facts["n_attempts"] == 4 and facts["n_generations"] == 2 and facts["writer"] is None
    assert facts["fitness_weights"] == (-1.0, 1.0) and facts["checkpoint"]["generation"] == 1


def test_records_made_by_attempt_record_are_stored(tmp_path):
    ok = RunValue((0.5,), 2.0, StatusType.SUCCESS, 10.0, 12.0, {"rank": 3})
    bad = RunValue(None, 1.0, StatusType.MEMOUT, 10.0, 11.0, {"rank": 2, "error": "out of memory"})
    task = Task(4, 7, 1, {"individual." + k: v for k, v in INDIVIDUAL.items()})
    with new_log(tmp_path) as log:
        log.append_attempts(
            [attempt_record(task, ok), attempt_record(task, bad)], [task.params] * 2
        )
    a = read_attempts(tmp_path / "results.h5")
    assert (
        a["generation"].tolist() == [4, 4]
        and a["attempt"].tolist() == [1, 1]
        and a["rank"].tolist() == [3, 2]
    )
    assert a["status"].tolist() == [StatusType.SUCCESS, StatusType.MEMOUT]
    assert a["fitness"][0, 0] == 0.5 and a["error"].tolist() == ["", "out of memory"]


def test_a_bad_record_appends_nothing(tmp_path):
    with new_log(tmp_path) as log:
        log.append_attempts([record(0, 0)], [VECTOR])
        bad = [
            ([record(0, 1), {"generation": 0}], [VECTOR, VECTOR], "record 1 .* lacks 'ind_idx'"),
            (
                [record(0, 1), dict(record(0, 2), status="LOST")],
                [VECTOR] * 2,
                "unknown status 'LOST'",
            ),
            (
                [record(0, 1), dict(record(0, 2), fitness=(1.0, 2.0))],
                [VECTOR] * 2,
                r"has 2 value\(s\), the log has 1",
            ),
            ([record(0, 1)], [VECTOR[:3]], "must have 8 values, got 3"),
            ([record(0, 1)], [{"x": 1.0}], "no parameter 'm'"),
            ([record(0, 1)], [VECTOR, VECTOR], r"1 record\(s\) but 2 params"),
        ]
        for records, params, message in bad:
            with pytest.raises(ValueError, match=message):
                log.append_attempts(records, params)
            assert log.n_attempts == 1
        log.append_attempts([record(0, 1)], [VECTOR])
    assert read_attempts(tmp_path / "results.h5")["ind_idx"].tolist() == [0, 1]


def test_batches_are_stored_as_single_records_are(tmp_path):
    """Batches of several successful records go in whole columns at a time: the same rows as
    one record per call, for vectors, prefixed or plain individual dicts, 2-d arrays and no
    params at all."""
    N = COLUMNS_FROM_RECORDS + 3
    individuals = [
        {("individual." + k if i % 2 else k): np.asarray(v) + i for k, v in INDIVIDUAL.items()}
        for i in range(N)
    ]
    vectors = np.array([VECTOR + i for i in range(N)])
    cases = [individuals, list(vectors), vectors, None]
    statuses = ["SUCCESS", StatusType.SUCCESS, int(StatusType.SUCCESS)]
    for n, params in enumerate(cases):
        records = [
            dict(record(n, i, n_obj=2), status=statuses[i % 3], rank=None if i == 4 else i)
            for i in range(N)
        ]
        with new_log(tmp_path, f"one{n}.h5", n_obj=2) as log:
            for i, r in enumerate(records):
                log.append_attempts([r], None if params is None else [params[i]])
        with new_log(tmp_path, f"batch{n}.h5", n_obj=2) as log:
            assert (
                log._attempt_columns(records, params) is not None
            )  # the column-wise path takes them
            assert log.append_attempts(records, params) == range(0, N)
        one, batch = (
            read_attempts(tmp_path / f"one{n}.h5"),
            read_attempts(tmp_path / f"batch{n}.h5"),
        )
        for name in one:
            np.testing.assert_array_equal(one[name], batch[name], err_msg=f"{name} (case {n})")
        assert batch["rank"].tolist()[4] == -1 and set(batch["status"].tolist()) == {
            StatusType.SUCCESS
        }
        if params is None:
            assert np.isnan(batch["params"]).all()
        else:
            np.testing.assert_array_equal(batch["params"], vectors)


def test_rows_rolled_back_lose_their_error_texts(tmp_path):
    """Empty error texts are not written to rows that were never written; rows that held a
    text before a rollback (in this session or an earlier one) are overwritten."""
    path = tmp_path / "results.h5"
    with new_log(tmp_path) as log:
        log.append_attempts([record(0, i, ok=False) for i in range(6)], [VECTOR] * 6)
        log.flush()
        log.truncate_attempts(2)
        log.append_attempts([record(1, i) for i in range(5)], [VECTOR] * 5)
    assert read_attempts(path)["error"].tolist()[:2] == [
        f"Traceback (most recent call last):\nValueError: individual {i}" for i in range(2)
    ]
    assert read_attempts(path)["error"].tolist()[2:] == [""] * 5
    with ResultsLog.open_for_resume(str(path), rollback=False) as log:
        log.truncate_attempts(0)
        log.append_attempts([record(2, i) for i in range(8)], [VECTOR] * 8)
    assert read_attempts(path)["error"].tolist() == [""] * 8


def killed_parallel_writer(path, reserve=0, outputs=None):
    """A log laid out for the parallel backend as a killed writer leaves it (not trimmed):
    10 attempts and a checkpoint; `reserve` rows allocated at the end of the file and never
    written; `outputs` of attempt 3."""
    log = ResultsLog.create(str(path), 1, SPEC, for_parallel=True)
    log.append_attempts([record(0, i) for i in range(10)], [VECTOR] * 10)
    log.save_checkpoint(b"state", generation=0)
    if reserve:
        log.reserve(reserve)
    log.flush()
    if outputs:
        log.append_outputs(3, outputs)
        log.flush()
    log._file.close()
    return path


def test_a_log_killed_while_growing_is_extended_and_one_missing_data_is_left_alone(tmp_path):
    """The parallel backend grows datasets collectively; a job killed before anything is
    written at the new end leaves the file shorter than HDF5 recorded. Resuming extends it
    (zeros where nothing was written); a file that lacks written data is left as it was."""
    path = killed_parallel_writer(tmp_path / "results.h5", reserve=100_000)
    data = path.read_bytes()
    unwritten = len(data) - len(data.rstrip(b"\0"))
    assert unwritten > 1000
    os.truncate(path, len(data) - unwritten // 2)
    with pytest.raises(ResultsLogError, match="truncated or corrupt") as refused:
        read_attempts(path)
    assert f"python -m mpil2l repair {path}" in str(refused.value)  # the way out, named
    assert repair_truncated(path) and path.read_bytes() == data
    assert read_attempts(path)["ind_idx"].tolist() == list(range(10))
    assert not repair_truncated(path)  # whole: nothing to do

    with new_log(tmp_path, "whole.h5") as log:  # every byte written
        log.append_attempts([record(0, i) for i in range(300)], [VECTOR] * 300)
        log.save_checkpoint(bytes(range(256)) * 64, generation=0)
    data = (tmp_path / "whole.h5").read_bytes()
    for cut in (len(data) // 2, len(data) - 1000):
        part = tmp_path / "part.h5"
        part.write_bytes(data[:cut])
        assert not repair_truncated(part) and part.read_bytes() == data[:cut]
    foreign = tmp_path / "foreign.h5"
    foreign.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    assert (
        not repair_truncated(foreign) and foreign.read_bytes() == b"\x89HDF\r\n\x1a\n" + b"\0" * 100
    )


def test_a_log_missing_metadata_is_not_repaired(tmp_path):
    """A job killed inside HDF5's own flush can leave metadata unwritten past the end of the
    file: zeros there would not make it a log again, so it is left as it was."""
    path = killed_parallel_writer(tmp_path / "results.h5", outputs={"trace": np.arange(5.0)})
    with h5py.File(path, "r") as f:
        header = h5py.h5o.get_info(f["outputs/trace"].id).addr
    data = path.read_bytes()
    os.truncate(path, header)  # the output's metadata and everything after it never written
    assert not repair_truncated(path) and path.read_bytes() == data[:header]


def test_cli_repair(tmp_path, capsys):
    """`python -m mpil2l repair` extends a parallel log left short by a kill, says that a whole
    log needs nothing, and refuses anything else with the file left as it was."""
    path = killed_parallel_writer(tmp_path / "results.h5", reserve=100_000)
    data = path.read_bytes()
    os.truncate(path, len(data) - 1000)
    assert cli(["summary", str(path)]) == 2
    assert f"python -m mpil2l repair {path}" in capsys.readouterr().err
    assert cli(["repair", str(path)]) == 0
    assert (
        capsys.readouterr().out
        == f"extended {path} by 1000 byte(s) of zeros to the end HDF5 recorded; "
        "it reads as a whole log again\n"
    )
    assert path.read_bytes() == data and cli(["summary", str(path)]) == 0
    capsys.readouterr()
    assert cli(["repair", str(path)]) == 0
    assert capsys.readouterr().out == f"{path} opens as it is: nothing to repair\n"

    with new_log(tmp_path, "whole.h5") as log:  # written data missing: no repair
        log.append_attempts([record(0, i) for i in range(300)], [VECTOR] * 300)
    part = tmp_path / "part.h5"
    part.write_bytes((tmp_path / "whole.h5").read_bytes()[:3000])
    before = part.read_bytes()
    for target, message in [
        (part, "left byte for byte as it was"),
        (tmp_path / "nope.h5", "No such file"),
    ]:
        assert cli(["repair", str(target)]) == 2
        err = capsys.readouterr().err
        assert (
            err.startswith("python -m mpil2l repair: error: ")
            and message in err
            and err.count("\n") == 1
        )
    assert part.read_bytes() == before


def test_a_bad_record_in_a_long_batch_is_named(tmp_path):
    with new_log(tmp_path) as log:
        good = [record(0, i) for i in range(6)]
        for i, bad, message in [
            (3, {"generation": 0}, "record 3 .* lacks 'ind_idx'"),
            (5, dict(record(0, 5), status="LOST"), "unknown status 'LOST'"),
            (2, dict(record(0, 2), fitness=(1.0, 2.0)), r"has 2 value\(s\), the log has 1"),
            (4, dict(record(0, 4), fitness=("a",)), "record 4"),
        ]:
            with pytest.raises(ValueError, match=message):
                log.append_attempts(good[:i] + [bad] + good[i + 1 :], [VECTOR] * 6)
            assert log.n_attempts == 0
        params = [VECTOR] * 5 + [{"x": 1.0}]
        with pytest.raises(ValueError, match="record 5 .*no parameter 'm'"):
            log.append_attempts(good, params)
        assert log.n_attempts == 0
        log.append_attempts(good, [VECTOR] * 6)
    assert read_attempts(tmp_path / "results.h5")["ind_idx"].tolist() == list(range(6))


def test_create_validates_its_arguments_and_refuses_an_existing_file(tmp_path):
    path = tmp_path / "results.h5"
    with pytest.raises(ValueError, match="n_objectives must be >= 1, got 0"):
        ResultsLog.create(str(path), 0, SPEC)
    with pytest.raises(TypeError, match="param_spec must be the dict spec"):
        ResultsLog.create(str(path), 1, [("x", "weird", 1)])
    with pytest.raises(ValueError, match="fitness_weights"):
        ResultsLog.create(str(path), 2, SPEC, fitness_weights=(1.0,))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ResultsLog.create(str(tmp_path / "missing" / "r.h5"), 1, SPEC)
    assert not path.exists()
    new_log(tmp_path).close()
    with pytest.raises(FileExistsError, match=f"{path}.*overwrite=True"):
        new_log(tmp_path)
    with new_log(tmp_path, overwrite=True) as log:
        assert log.n_attempts == 0


# -- growth, throughput, memory --------------------------------------------------------------------


def test_two_hundred_thousand_rows_append_quickly(tmp_path):
    n, batch = 200_000, 1000
    records = [record(0, i, ok=i % 10 != 0) for i in range(batch)]
    params = np.tile(VECTOR, (batch, 1))
    log = new_log(tmp_path)
    started = time.perf_counter()
    for g in range(n // batch):
        log.append_attempts(records, params)
        if g % 10 == 9:
            log.flush()
    log.close()
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"{n} rows took {elapsed:.1f} s"
    path = tmp_path / "results.h5"
    with h5py.File(path, "r") as f:  # close trims the capacity to the rows
        assert f["attempts/generation"].shape == (n,) and f["attempts/params"].shape == (
            n,
            N_PARAMS,
        )
        assert f["attempts/generation"].chunks[0] < n
    a = read_attempts(path, start=n - batch)
    assert a["ind_idx"].tolist() == list(range(batch))
    assert (a["status"] == StatusType.CRASHED).sum() == batch // 10


def test_single_row_appends_are_buffered_and_cheap(tmp_path):
    log = new_log(tmp_path)
    rec = record(0, 1)
    started = time.perf_counter()
    for _ in range(20_000):
        log.append_attempts([rec], [VECTOR])
    log.close()
    assert time.perf_counter() - started < 10
    assert info(tmp_path / "results.h5")["n_attempts"] == 20_000


def test_writer_memory_stays_flat(tmp_path):
    log = new_log(tmp_path)
    records = [record(0, i, ok=i % 4 != 0) for i in range(500)]
    params = np.tile(VECTOR, (500, 1))

    def append(n_batches):
        for b in range(n_batches):
            log.append_attempts(records, params)
            log.append_outputs(log.n_attempts - 1, {"trace": np.arange(50.0)})
            log.append_generation({"generation": b})
            if b % 4 == 3:
                log.flush()

    append(40)  # 20k rows: buffers and caches reach their size
    tracemalloc.start()
    try:
        gc.collect()  # h5py's selections form reference cycles the collector frees later
        before = tracemalloc.get_traced_memory()[0]
        append(200)  # 100k more rows
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        log.close()
    assert log.n_attempts == 120_000
    assert growth < 64 * 1024, f"the writer's memory grew by {growth} bytes over 100k rows"


# -- durability ------------------------------------------------------------------------------------

WRITER = """
    import sys
    import numpy as np
    from mpil2l.storage import ResultsLog
    path = sys.argv[1]
    log = ResultsLog.create(path, 1, [("x", 1, 1), ("y", 0, 2)])  # Scalar x, Sequence y
    g = 0
    while True:
        records = [{"generation": g, "ind_idx": i, "attempt": 0, "status": "SUCCESS",
                    "fitness": (float(g * 1000 + i),), "error": ""} for i in range(500)]
        rows = log.append_attempts(records, [(g, i, -i) for i in range(500)])
        log.append_outputs(rows[-1], {"trace": np.full(g + 1, g)})
        log.append_generation({"generation": g, "n_individuals": 500})
        log.flush()
        print("flushed", log.n_attempts, flush=True)
        g += 1
"""


def test_flushed_rows_survive_sigkill(tmp_path):
    path = tmp_path / "killed.h5"
    child = run_child(WRITER, path)
    try:
        for _ in range(4):
            flushed = int(wait_for_line(child, "flushed").split()[1])
        time.sleep(0.05)  # killed while writing more
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close(), child.stderr.close(), child.stdin.close()
    a = read_attempts(path)
    n = a["generation"].size
    assert n >= flushed and n % 500 == 0
    g, i = a["generation"], a["ind_idx"]
    np.testing.assert_array_equal(i, np.tile(np.arange(500), n // 500))
    np.testing.assert_array_equal(a["fitness"][:, 0], g * 1000.0 + i)
    np.testing.assert_array_equal(a["params"], np.stack([g, i, -i], axis=1).astype(float))
    assert read_generations(path)["generation"].size >= flushed // 500
    assert read_outputs(path, "trace")[499].tolist() == [0]
    assert "ended without closing it" in summary(path)
    # the same host, the writer is dead: its stale lock is taken over
    with ResultsLog.open_for_resume(str(path), rollback=False) as log:
        assert log.n_attempts == n
        log.append_attempts([dict(record(99, 0), fitness=(1.0,))], [(0.0, 0.0, 0.0)])
    assert read_attempts(path)["generation"][-1] == 99 and info(path)["writer"] is None


CHECKPOINTER = """
    import sys
    from mpil2l.storage import ResultsLog
    log = ResultsLog.create(sys.argv[1], 1, [("x", 1, 1)])
    size = 8 << 20
    g = 0
    while True:
        log.save_checkpoint(bytes([g % 251]) * size, generation=g)
        print("saved", g, flush=True)
        g += 1
"""


def test_checkpoint_survives_sigkill_during_the_swap(tmp_path):
    for trial, delay in enumerate((0.0, 0.013, 0.031)):
        path = tmp_path / f"ckpt{trial}.h5"
        child = run_child(CHECKPOINTER, path)
        try:
            saved = int(wait_for_line(child, "saved").split()[1])
            time.sleep(delay)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close(), child.stderr.close(), child.stdin.close()
        data = read_checkpoint(path)
        generation = info(path)["checkpoint"]["generation"]
        assert generation >= saved
        assert data == bytes([generation % 251]) * (8 << 20)


def test_checkpoint_alternates_slots_and_falls_back_to_the_previous_one(tmp_path, caplog):
    path = tmp_path / "results.h5"
    with new_log(tmp_path) as log:
        assert log.load_checkpoint() is None
        for g in range(20):
            log.save_checkpoint(bytes([g]) * 100_000, generation=g)
            if g == 3:
                size = os.path.getsize(path)
        assert log.load_checkpoint() == bytes([19]) * 100_000
        log.save_checkpoint(b"", generation=20)
        assert log.load_checkpoint() == b""
        log.save_checkpoint(b"last", generation=21)
    assert os.path.getsize(path) <= size + 64 * 1024, "saving checkpoints must not grow the file"
    with h5py.File(path, "r+") as f:
        current = f["checkpoint"].attrs["current"]
        assert {f"slot{current}", f"slot{1 - current}"} == set(f["checkpoint"])
        f["checkpoint"][f"slot{current}"][0] = ord("X")  # a torn write of the current slot
    with caplog.at_level(logging.WARNING, logger="mpil2l.storage"):
        assert read_checkpoint(path) == b""
    assert "damaged" in caplog.text
    with h5py.File(path, "r+") as f:
        f["checkpoint"][f"slot{1 - current}"].attrs["crc32"] = 1
    with pytest.raises(ResultsLogError, match="no checkpoint slot passes its CRC check"):
        read_checkpoint(path)


def test_resume_rolls_back_to_the_checkpoint(tmp_path):
    path = str(tmp_path / "results.h5")
    with new_log(tmp_path) as log:
        rows = log.append_attempts([record(0, i) for i in range(3)], [VECTOR] * 3)
        log.append_outputs(rows[0], {"a": [1, 2]})
        log.append_generation({"generation": 0})
        log.save_checkpoint(b"after generation 0", generation=0)
        rows = log.append_attempts([record(1, i) for i in range(2)], [VECTOR] * 2)  # interrupted
        log.append_outputs(rows[0], {"a": [3], "b": 1.0})
    assert info(path)["n_attempts"] == 5
    with ResultsLog.open_for_resume(path, rollback=False) as log:
        assert log.n_attempts == 5
    with ResultsLog.open_for_resume(path) as log:
        assert log.n_attempts == 3 and log.n_generations == 1
        assert log.load_checkpoint() == b"after generation 0"
        rows = log.append_attempts([record(1, i) for i in range(4)], [VECTOR] * 4)
        assert rows == range(3, 7)
        log.append_outputs(rows[1], {"a": np.array([7, 8, 9])})
    a = read_attempts(path)
    assert a["generation"].tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert {r: v.tolist() for r, v in read_outputs(path, "a").items()} == {0: [1, 2], 4: [7, 8, 9]}
    assert read_outputs(path, "b") == {}


# -- outputs ---------------------------------------------------------------------------------------


def test_outputs_are_ragged_without_a_group_per_attempt(tmp_path):
    path = tmp_path / "results.h5"
    with new_log(tmp_path) as log:
        rows = log.append_attempts([record(0, i) for i in range(6000)], [VECTOR] * 6000)
        for r in rows:
            log.append_outputs(r, {"trace": np.arange(r % 5, dtype=float), "count": r})
            if r % 2:
                log.append_outputs(r, {"image": np.full((r % 3 + 1, 2), r, dtype=np.int32)})
        with pytest.raises(ValueError, match="rows must increase"):
            log.append_outputs(rows[10], {"count": 1})
        with pytest.raises(ValueError, match=r"1 dimension\(s\), got an array of shape \(\)"):
            log.append_outputs(rows[-1], {"trace": 1.0})
        with pytest.raises(TypeError, match="stored as int32, got float64"):
            log.append_outputs(rows[-1], {"image": np.zeros((1, 2))})
        with pytest.raises(TypeError, match="must be numeric"):
            log.append_outputs(rows[-1], {"text": "abc"})
        with pytest.raises(ValueError, match="without '/'"):
            log.append_outputs(rows[-1], {"a/b": 1})
        with pytest.raises(ValueError, match=r"attempt row in \[0, 6000\)"):
            log.append_outputs(6000, {"count": 1})
    assert output_names(path) == ["count", "image", "trace"]
    with h5py.File(path, "r") as f:
        assert set(f["outputs"]["trace"]) == {"values", "row", "start", "shape"}
        assert set(f["outputs"]["count"]) == {"values", "row", "start"}  # scalars: no shape
        assert f["outputs/trace/values"].shape == (sum(r % 5 for r in range(6000)),)
    trace = read_outputs(path, "trace")
    assert len(trace) == 6000 and trace[7].tolist() == [0.0, 1.0] and trace[5].size == 0
    image = read_outputs(path, "image", rows=[5, 6, 7])
    assert set(image) == {5, 7} and image[5].shape == (3, 2) and image[5].dtype == np.int32
    assert read_outputs(path, "count")[5999] == 5999
    with pytest.raises(KeyError, match="no output 'nope'"):
        read_outputs(path, "nope")


# -- bad files -------------------------------------------------------------------------------------


def test_missing_foreign_and_non_hdf5_files_are_refused_clearly(tmp_path):
    missing = tmp_path / "missing.h5"
    with pytest.raises(FileNotFoundError, match="missing.h5' does not exist"):
        ResultsLog.open_for_resume(str(missing))
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.arange(3)
    for path, message in [
        (text, "notes.txt' is not an HDF5 file"),
        (empty, "empty.h5' is an empty file"),
        (foreign, "foreign.h5' is an HDF5 file but not an mpil2l results log: it has no 'format'"),
        (tmp_path, "is a folder"),
    ]:
        with pytest.raises(ResultsLogError, match=message):
            ResultsLog.open_for_resume(str(path))
        with pytest.raises(ResultsLogError, match=message):
            summary(path)
    assert isinstance(ResultsLogError("x"), ValueError)


def test_truncated_newer_and_incomplete_logs_are_refused_clearly(tmp_path):
    good = tmp_path / "results.h5"
    with new_log(tmp_path) as log:
        log.append_attempts([record(0, i) for i in range(5000)], [VECTOR] * 5000)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ResultsLogError, match="truncated.h5' cannot be opened as HDF5: it is truncated or corrupt"
    ):
        ResultsLog.open_for_resume(str(truncated))
    with pytest.raises(ResultsLogError, match="truncated or corrupt"):
        read_attempts(truncated)

    newer = tmp_path / "newer.h5"
    newer.write_bytes(data)
    with h5py.File(newer, "r+") as f:
        f.attrs["format_version"] = F.FORMAT_VERSION + 1
    with pytest.raises(ResultsLogError, match="newer.h5' has format version 2, newer than"):
        ResultsLog.open_for_resume(str(newer))

    incomplete = tmp_path / "incomplete.h5"
    incomplete.write_bytes(data)
    with h5py.File(incomplete, "r+") as f:
        del f["attempts/fitness"]
    with pytest.raises(
        ResultsLogError,
        match="incomplete.h5' is an incomplete results log: it lacks /attempts/fitness",
    ):
        ResultsLog.open_for_resume(str(incomplete))


HOLDER = """
    import sys
    from mpil2l.storage import ResultsLog
    log = ResultsLog.open_for_resume(sys.argv[1], rollback=False)
    log.append_attempts([{"generation": 5, "ind_idx": 0, "attempt": 0, "status": "SUCCESS",
                          "fitness": (1.0,)}])
    log.flush()
    # not flushed
    log.append_attempts([{"generation": 6, "ind_idx": 0, "attempt": 0, "status": "SUCCESS"}])
    print("ready", flush=True)
    sys.stdin.read()
    log.close()
    print("closed", flush=True)
"""


def test_a_log_open_in_another_process_is_refused_but_readable(tmp_path):
    path = str(tmp_path / "results.h5")
    new_log(tmp_path).close()
    child = run_child(HOLDER, path)
    try:
        wait_for_line(child, "ready")
        with pytest.raises(
            LogInUseError, match=r"results\.h5' is open"
        ):  # by its HDF5 lock or its writer attribute
            ResultsLog.open_for_resume(path)
        with pytest.raises(LogInUseError):
            ResultsLog.create(path, 1, SPEC, overwrite=True)
        assert read_attempts(path)["generation"].tolist() == [5]  # as of the last flush
        assert "open for writing by process" in summary(path)
        child.stdin.close()
        wait_for_line(child, "closed")
    finally:
        child.kill()
        child.wait()
        child.stdout.close(), child.stderr.close()
    with ResultsLog.open_for_resume(path, rollback=False) as log:
        assert log.n_attempts == 2


def test_the_writer_attribute_guards_where_file_locks_do_not(tmp_path, caplog):
    path = str(tmp_path / "results.h5")
    new_log(tmp_path).close()

    def set_writer(host, pid):
        with h5py.File(path, "r+") as f:
            f.attrs["writer"] = json.dumps({"host": host, "pid": pid, "opened": "then"})

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket

        set_writer(socket.gethostname(), sleeper.pid)  # alive, on this host
        with pytest.raises(LogInUseError, match=f"open for writing by process {sleeper.pid}"):
            ResultsLog.open_for_resume(path)
    finally:
        sleeper.kill()
        sleeper.wait()
    with caplog.at_level(logging.WARNING, logger="mpil2l.storage"):
        ResultsLog.open_for_resume(path).close()  # dead: taken over
    assert "ended without closing it" in caplog.text
    set_writer("node-that-crashed", 4242)
    with pytest.raises(LogInUseError, match="node-that-crashed .* break_lock=True"):
        ResultsLog.open_for_resume(path)
    ResultsLog.open_for_resume(path, break_lock=True).close()
    with ResultsLog.open_for_resume(path) as log:
        with pytest.raises(LogInUseError, match="already open for writing in this process"):
            ResultsLog.open_for_resume(path)
        log.flush()


def test_a_closed_log_refuses_writes_and_closes_twice(tmp_path):
    log = new_log(tmp_path)
    log.close()
    log.close()
    with pytest.raises(ValueError, match="is closed"):
        log.append_attempts([record(0, 0)])


# -- readers and the command line ------------------------------------------------------------------


def make_run(tmp_path, finished=True):
    path = tmp_path / "run.h5"
    with ResultsLog.create(str(path), 1, SPEC, fitness_weights=(-1.0,)) as log:
        for g in range(30):
            records = [record(g, i, ok=(g + i) % 7 != 0) for i in range(10)]
            records[3]["status"] = "TIMEOUT" if g == 2 else records[3]["status"]
            log.append_attempts(records, [VECTOR + i for i in range(10)])
            log.append_generation(
                {
                    "generation": g,
                    "n_individuals": 10,
                    "best_fitness": (30.0 - g,),
                    "best_weighted_fitness": g - 30.0,
                    "mean_weighted_fitness": -40.0,
                    "best_ind_idx": 2,
                    "wall_seconds": 0.1,
                }
            )
            log.flush()
        if finished:
            log.write_best(VECTOR + 2, (1.0,), weighted_fitness=-1.0, generation=29, ind_idx=2)
    return path


def test_summary_reports_statuses_best_and_generations(tmp_path):
    text = summary(make_run(tmp_path), max_generations=6)
    assert "30 attempt(s)" not in text and "300 attempt(s) in 30 generation(s)" in text
    assert "weights (-1.0,)" in text and "parameters: m[0,0], m[0,1]" in text
    assert "CRASHED" in text and "TIMEOUT" in text and "closed" in text
    assert (
        "best individual(s) (final):" in text
        and "generation 29, ind_idx 2: fitness (1), weighted -1" in text
    )
    assert "x = 3.5" in text and "m = [[2., 3.], [4., 5.]]" in text
    lines = text.splitlines()
    assert any(line.split()[:1] == ["29"] for line in lines) and "(24 more)" in text
    crashed = sum((g + i) % 7 == 0 for g in range(30) for i in range(10) if not (g == 2 and i == 3))
    assert any(line.split() == ["CRASHED", str(crashed)] for line in lines)


def test_summary_of_a_checkpoint_without_generation(tmp_path):
    path = tmp_path / "async.h5"
    with ResultsLog.create(str(path), 1, SPEC) as log:  # as an asynchronous run saves it
        log.append_attempts([record(-1, i) for i in range(3)], [VECTOR] * 3)
        log.save_checkpoint(b"state")
    text = summary(path)
    assert "checkpoint: saved " in text and "generation -1" not in text


def test_summary_of_an_unfinished_run_shows_the_best_so_far(tmp_path):
    text = summary(make_run(tmp_path, finished=False))
    assert (
        "best individual(s) (so far):" in text
        and "generation 29, ind_idx 2" in text
        and "x = 3.5" in text
    )


def test_export_csv_has_one_row_per_attempt_and_named_parameter_columns(tmp_path):
    out = tmp_path / "out.csv"
    assert export_csv(make_run(tmp_path), out, block_rows=64) == 300
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 300
    assert list(rows[0])[:8] == [
        "generation",
        "ind_idx",
        "attempt",
        "rank",
        "status",
        "fitness",
        "m[0,0]",
        "m[0,1]",
    ]
    assert list(rows[0])[-4:] == ["start", "end", "runtime", "error"]
    row = rows[10 * 3 + 4]
    assert row["generation"] == "3" and row["ind_idx"] == "4" and float(row["x"]) == 5.5
    assert rows[0]["status"] == "CRASHED" and rows[0]["fitness"] == "nan"
    assert rows[0]["error"].startswith("Traceback (most recent call last):\nValueError")


def test_cli_summary_and_export(tmp_path, capsys):
    path = make_run(tmp_path)
    assert cli(["summary", str(path), "-g", "0"]) == 0
    out = capsys.readouterr().out
    assert (
        "attempts by status:" in out
        and len([l for l in out.splitlines() if l.startswith("  ") and l.split()[0].isdigit()])
        >= 30
    )
    assert cli(["export", str(path)]) == 0
    assert "wrote 300 attempt(s) to" in capsys.readouterr().out
    assert (tmp_path / "run.csv").exists()
    assert (
        cli(["export", str(path), "-o", str(tmp_path / "x.csv")]) == 0
        and (tmp_path / "x.csv").exists()
    )


def test_cli_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w"):
        pass
    for args, message in [
        (["summary", str(tmp_path / "nope.h5")], "nope.h5' does not exist"),
        (["export", str(foreign)], "not an mpil2l results log"),
        (["plot", str(tmp_path / "nope.h5")], None),
    ]:
        assert cli(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"python -m mpil2l {args[0]}: error: ")
        assert message is None or message in err
    with pytest.raises(SystemExit) as exc:
        cli([])
    assert exc.value.code == 2


def test_python_dash_m_mpil2l(tmp_path):
    path = make_run(tmp_path)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ok = subprocess.run(
        [sys.executable, "-m", "mpil2l", "summary", str(path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0 and "best individual(s) (final):" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "mpil2l", "summary", str(tmp_path / "x.h5")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


def test_plot_without_matplotlib_names_the_extra(tmp_path, capsys, monkeypatch):
    path = make_run(tmp_path)
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    assert cli(["plot", str(path)]) == 2
    assert "pip install mpil2l[plot]" in capsys.readouterr().err


def test_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = make_run(tmp_path)
    assert cli(["plot", str(path), "-o", str(tmp_path / "fit.png")]) == 0
    assert (tmp_path / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = tmp_path / "empty.h5"
    ResultsLog.create(str(empty), 1, SPEC).close()
    assert cli(["plot", str(empty)]) == 2
    assert "no generation statistics" in capsys.readouterr().err

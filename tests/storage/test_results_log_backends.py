"""The writer API on both results-log backends, in this process (one rank): the serial
`ResultsLog`, and `ParallelResultsLog` (h5py ``driver='mpio'`` on a communicator of one
rank; skipped where h5py has no MPI, run by `make test-parallel`). The files must read
back the same. Multi-rank runs are in test_results_log_mpi.py."""

import os

import h5py
import numpy as np
import pytest

from mpil2l.model.conversion import dict_to_list
from mpil2l.storage import (
    ResultsLog,
    read_attempts,
    read_best,
    read_checkpoint,
    read_generations,
    read_outputs,
)
from mpil2l.storage import fields as F
from mpil2l.storage.parallel import ParallelResultsLog, choose_backend, mpi_enabled

INDIVIDUAL = {"x": 1.5, "v": [1.0, 2.0, 3.0]}
VECTOR, SPEC = dict_to_list(INDIVIDUAL, get_dict_spec=True)

needs_parallel = pytest.mark.skipif(
    not mpi_enabled(), reason="h5py without MPI (run `make test-parallel`)"
)
BACKENDS = ["serial", pytest.param("parallel", marks=needs_parallel)]


def open_log(path, backend):
    log = ResultsLog.create(
        str(path), 1, SPEC, fitness_weights=(-1.0,), for_parallel=backend == "parallel"
    )
    if backend == "serial":
        return log
    from mpi4py import MPI

    log.detach()
    return ParallelResultsLog.open(MPI.COMM_WORLD, str(path))


def finish(log):
    """Closes the log; returns a serial log still open (as the Experiment does)."""
    if isinstance(log, ParallelResultsLog):
        log.close()
        return log.finish_serially()
    return log


def fill_times(path, group):
    """{dataset path: writes fill values when it grows} of the numeric datasets under `group`."""
    times = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind != "O":
                times[name] = obj.id.get_create_plist().get_fill_time() != h5py.h5d.FILL_TIME_NEVER

        f[group].visititems(visit)
    return times


def check_fill_values(path, backend, group, parallel_fills):
    """Which numeric datasets write fill values as they grow. The serial layout: all of
    them. The parallel layout: not the tables (`parallel_fills` False: a collective resize
    that writes them took ~50 ms per dataset on 4 oversubscribed ranks, 0.2 ms without),
    but the outputs and the checkpoint datasets (True): their allocations lie at the end of
    the file, and without fill values the file is physically shorter than HDF5 recorded
    until something is written there, so a job killed then left a file h5py calls truncated
    (test_resume_mpi's SIGKILL test failed 1 in 6 that way)."""
    times = fill_times(path, group)
    assert times and all(
        fills == (backend == "serial" or parallel_fills) for fills in times.values()
    ), times


def record(g, i, ok=True):
    return {
        "generation": g,
        "ind_idx": i,
        "attempt": 0,
        "rank": 1,
        "status": "SUCCESS" if ok else "CRASHED",
        "fitness": (float(i),) if ok else None,
        "start": 1.0,
        "end": 2.0,
        "runtime": 1.0,
        "error": "" if ok else f"Traceback: individual {i} failed",
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_round_trip_across_many_flushes(tmp_path, backend):
    """Rows beyond the capacity, outputs of varying size and dtype, failures with error
    texts, generation rows, the best individual: everything reads back."""
    path = tmp_path / "results.h5"
    log = open_log(path, backend)
    expected = {}
    row = 0
    for g in range(5):
        n = 700 * (g + 1)  # more rows than a chunk: the capacity grows between flushes
        rows = log.append_attempts(
            [record(g, i, ok=i % 97 != 3) for i in range(n)], [VECTOR + i for i in range(n)]
        )
        assert rows == range(row, row + n)
        for r in list(rows)[::50]:
            i = r - row
            if i % 97 == 3:
                continue
            trace = np.arange(i % 7, dtype=np.float64) * g
            log.append_outputs(r, {"trace": trace, "grid": np.full((2, i % 3), i, dtype=np.int16)})
            expected[r] = (trace, np.full((2, i % 3), i, dtype=np.int16))
        row += n
        log.append_generation({"generation": g, "n_individuals": n, "best_fitness": (0.0,)})
        log.flush()
        assert (
            log._file["attempts"].attrs[F.ATTR_N_ROWS] == row
        )  # counted in the file after each flush
    log = finish(log)
    log.write_best(INDIVIDUAL, (0.5,), weighted_fitness=-0.5, generation=4, ind_idx=3)
    log.close()

    a = read_attempts(path)
    assert len(a["generation"]) == row == 700 * 15
    failed = np.flatnonzero(a["status"] != F.STATUS_CODES["SUCCESS"])
    assert all(a["error"][r] == f"Traceback: individual {a['ind_idx'][r]} failed" for r in failed)
    assert (a["error"][a["status"] == F.STATUS_CODES["SUCCESS"]] == "").all()
    np.testing.assert_array_equal(a["params"][:, 0], VECTOR[0] + a["ind_idx"])
    assert read_generations(path)["n_individuals"].tolist() == [700, 1400, 2100, 2800, 3500]
    trace, grid = read_outputs(path, "trace"), read_outputs(path, "grid")
    assert sorted(trace) == sorted(grid) == sorted(expected)
    for r, (t, gr) in expected.items():
        np.testing.assert_array_equal(trace[r], t)
        assert grid[r].dtype == np.int16
        np.testing.assert_array_equal(grid[r], gr)
    assert read_best(path)[0]["ind_idx"] == 3
    with h5py.File(path, "r") as f:  # trimmed
        assert f["attempts/fitness"].shape[0] == row
        assert f["outputs/trace/values"].shape[0] == f["outputs/trace"].attrs["n_values"]
        assert f.attrs[F.ATTR_WRITER] in ("", b"")
    for group in ("attempts", "generations"):
        check_fill_values(path, backend, group, parallel_fills=False)
    check_fill_values(path, backend, "outputs", parallel_fills=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_checkpoint_round_trip(tmp_path, backend):
    path = tmp_path / "results.h5"
    log = open_log(path, backend)
    log.append_attempts([record(0, 0)], [VECTOR])
    log.save_checkpoint(b"first" * 100_000, generation=0)
    log.save_checkpoint(b"second", generation=1)
    assert log.load_checkpoint() == b"second"
    log.append_checkpoint_history(b"history" * 1000)
    finish(log).close()
    assert read_checkpoint(path) == b"second"
    check_fill_values(path, backend, "checkpoint", parallel_fills=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_history_pieces_in_one_step(tmp_path, backend, monkeypatch):
    path = tmp_path / "results.h5"
    log = open_log(path, backend)
    first = log.append_checkpoint_history(b"a" * 10)
    steps = []
    if backend == "parallel":
        run = ParallelResultsLog._run
        monkeypatch.setattr(
            ParallelResultsLog,
            "_run",
            lambda self, op, plan: (steps.append(op), run(self, op, plan)),
        )
    pieces = [b"b" * 70_000, b"", memoryview(b"c" * 5)]  # (a spill: several generations at once)
    refs = log.append_checkpoint_pieces(pieces)
    assert first == (0, 10) and refs == [(10, 70_000), (70_010, 0), (70_010, 5)]
    assert steps == (["history"] if backend == "parallel" else [])
    assert [log.read_checkpoint_history(*ref) for ref in refs] == [bytes(piece) for piece in pieces]
    assert log.append_checkpoint_pieces([]) == [] and steps == (
        ["history"] if backend == "parallel" else []
    )
    log.save_checkpoint(b"refers to them", generation=0)
    finish(log).close()
    with h5py.File(path, "r") as f:
        assert bytes(f["checkpoint/history"][70_010:70_015]) == b"ccccc"


def allocated_end(file):
    """The end, as a file offset, of every chunk allocated in `file`."""
    ends = [0]

    def visit(_, obj):
        if isinstance(obj, h5py.Dataset) and obj.chunks:
            for i in range(obj.id.get_num_chunks()):
                info = obj.id.get_chunk_info(i)
                ends.append(info.byte_offset + info.size)

    file.visititems(visit)
    return max(ends)


@needs_parallel
def test_the_parallel_file_covers_its_allocations_before_hdf5_records_them(tmp_path, monkeypatch):
    """Growing a table under parallel HDF5 allocates chunks that nothing writes until rows
    arrive (no fill values), and HDF5 records the new end of the file at its next flush: by
    then the file must be that long, or a job killed in between leaves a file HDF5 refuses
    as truncated. Every flush finds the file covering every allocated chunk."""
    path = tmp_path / "results.h5"
    log = open_log(path, "parallel")
    seen = []
    flush = h5py.File.flush

    def checked_flush(file):
        seen.append((os.path.getsize(path), allocated_end(file)))
        flush(file)

    monkeypatch.setattr(h5py.File, "flush", checked_flush)
    for g in range(4):
        n = 30_000 * (
            g + 1
        )  # rows beyond the capacity: the tables grow, a little of them is written
        log.append_attempts([record(g, i) for i in range(n)], [VECTOR + i for i in range(n)])
        log.flush()
        log.save_checkpoint(bytes(300_000 * (g + 1)), generation=g)
    monkeypatch.undo()
    assert len(seen) > 8 and all(size >= end for size, end in seen), seen
    assert seen[-1][1] > seen[0][1]  # it did grow
    finish(log).close()
    assert len(read_attempts(path)["generation"]) == 300_000


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_outputs_are_refused(tmp_path, backend):
    log = open_log(tmp_path / "results.h5", backend)
    log.append_attempts([record(0, 0), record(0, 1)], [VECTOR, VECTOR])
    log.append_outputs(1, {"trace": np.zeros(3)})
    with pytest.raises(ValueError, match="row must be an attempt row"):
        log.append_outputs(2, {"trace": np.zeros(3)})
    with pytest.raises(ValueError, match="rows must increase"):
        log.append_outputs(0, {"trace": np.zeros(3)})
    with pytest.raises(ValueError, match="1 dimension"):
        log.append_outputs(1, {"trace": np.zeros((3, 1))})
    with pytest.raises(TypeError, match="must be numeric"):
        log.append_outputs(1, {"names": np.array(["a"])})
    finish(log).close()


def test_choose_backend():
    assert choose_backend("serial", 8) == "serial"
    assert choose_backend("none", 8) == "none"
    assert choose_backend("auto", 1) == "serial"
    assert choose_backend("auto", 4) == ("parallel" if mpi_enabled() else "serial")
    with pytest.raises(ValueError, match="must be one of"):
        choose_backend("mpio", 4)
    if not mpi_enabled():
        with pytest.raises(ValueError, match="needs h5py built with MPI"):
            choose_backend("parallel", 4)

"""The results log of real MPI runs, on both backends: outputs returned by simulate stored
with the attempt they belong to (read back and checked against the stored parameters),
the backend chosen automatically or forced, and bad backend settings.

The parallel cases need h5py built with MPI (`make test-parallel`); they skip elsewhere.
"""

import h5py
import numpy as np
import pytest

from mpirun import leftover_processes, run_mpi
from mpil2l.storage import output_names, read_attempts, read_outputs
from mpil2l.storage import fields as F

PARALLEL = bool(h5py.get_config().mpi)
needs_parallel = pytest.mark.skipif(
    not PARALLEL, reason="h5py without MPI (run `make test-parallel`)"
)
BACKENDS = ["serial", pytest.param("parallel", marks=needs_parallel)]


def run_outputs(tmp_path, n, *options, timeout=120):
    proc = run_mpi(n, "outputs_run.py", tmp_path / "root", *options, timeout=timeout)
    return proc, tmp_path / "root" / "outputs" / "results.h5"


def check_outputs(path, gens=3, n=12):
    """Every stored array equals what simulate computed from the stored parameters."""
    a = read_attempts(path)
    success = a["status"] == F.STATUS_CODES["SUCCESS"]
    # individual 2 fails once per generation: one extra row, CRASHED with its traceback
    assert len(a["status"]) == gens * (n + 1)
    crashed = np.flatnonzero(~success)
    assert (a["ind_idx"][crashed] == 2).all() and len(crashed) == gens
    assert all("fails on purpose" in a["error"][r] for r in crashed)
    assert all(a["error"][r] == "" for r in np.flatnonzero(success))
    expected = [r for r in np.flatnonzero(success) if a["ind_idx"][r] % 5 != 4]
    assert output_names(path) == ["score", "spikes", "trace"]
    trace, spikes, score = (read_outputs(path, name) for name in ("trace", "spikes", "score"))
    for stored in (trace, spikes, score):
        assert sorted(stored) == expected
    for r in expected:
        x, i, g = a["params"][r], int(a["ind_idx"][r]), int(a["generation"][r])
        np.testing.assert_array_equal(trace[r], x[0] * np.arange(3 + i % 4) + x[1])
        assert spikes[r].dtype == np.int32 and spikes[r].shape == (i % 3, 2)
        np.testing.assert_array_equal(
            spikes[r], np.array([[g, i]] * (i % 3), dtype=np.int32).reshape(-1, 2)
        )
        assert score[r].dtype == np.float32 and score[r].shape == ()
        assert score[r] == np.float32(x.sum())
    with h5py.File(path, "r") as f:  # trimmed to the data, and closed properly
        assert f.attrs[F.ATTR_WRITER] in ("", b"")
        group = f["outputs/trace"]
        assert group[F.OUTPUT_VALUES].shape[0] == group.attrs["n_values"]
        assert f["attempts/generation"].shape[0] == len(a["status"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ranks", [1, 4])
def test_outputs_of_simulate_are_stored_with_their_attempt(tmp_path, backend, ranks):
    proc, path = run_outputs(tmp_path, ranks, f"log={backend}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"BACKEND {backend}" in proc.stdout
    check_outputs(path)
    assert not leftover_processes(proc)


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs_without_isolation_and_with_static_dispatch(tmp_path, backend):
    proc, path = run_outputs(
        tmp_path, 3, f"log={backend}", "isolation=none", "dispatch=static", "gens=4", "n=9"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_outputs(path, gens=4, n=9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_outputs_evaluated_on_rank_0(tmp_path, backend):
    proc, path = run_outputs(tmp_path, 2, f"log={backend}", "mp=False", "gens=2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_outputs(path, gens=2)


def test_auto_chooses_parallel_where_h5py_has_mpi(tmp_path):
    proc, path = run_outputs(tmp_path, 3, "log=auto", "gens=2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"BACKEND {'parallel' if PARALLEL else 'serial'}" in proc.stdout
    check_outputs(path, gens=2)
    proc, path = run_outputs(tmp_path, 1, "log=auto", "gens=2")
    assert "BACKEND serial" in proc.stdout  # one rank: nothing to write in parallel


def test_no_results_log(tmp_path):
    proc, path = run_outputs(tmp_path, 2, "log=none", "gens=2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not path.exists()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_output_that_changes_dimensions_ends_the_run_clearly(tmp_path, backend):
    proc, path = run_outputs(tmp_path, 3, f"log={backend}", "bad=ndim", timeout=60)
    assert proc.returncode != 0
    assert "output 'trace' has 1 dimension(s)" in proc.stderr, proc.stderr
    assert "generation 0" in proc.stdout  # what was flushed before stays readable
    assert len(read_attempts(path)["status"]) >= 13
    assert not leftover_processes(proc)


@pytest.mark.parametrize("value", ["fast", "Parallel", ""])
def test_an_unknown_backend_is_refused_on_every_rank(tmp_path, value):
    proc, path = run_outputs(tmp_path, 2, f"log={value}", timeout=60)
    assert proc.returncode != 0
    assert (
        "runner_params['results_log'] must be one of ('auto', 'parallel', 'serial', 'none')"
        in proc.stderr
    )
    assert proc.stderr.count("mpil2l: error") == 1  # said once, by rank 0
    assert not path.exists()


@pytest.mark.skipif(PARALLEL, reason="this h5py has MPI")
def test_parallel_without_mpi_h5py_is_refused_clearly(tmp_path):
    proc, path = run_outputs(tmp_path, 2, "log=parallel", timeout=60)
    assert proc.returncode != 0
    assert "needs h5py built with MPI" in proc.stderr and "make parallel-venv" in proc.stderr
    assert not path.exists()


@needs_parallel
def test_checkpoints_outgrow_datasets_that_rank_0_created_alone(tmp_path):
    """A run's first and last checkpoints are saved by rank 0 alone (serial HDF5); the
    datasets they create or grow must then grow on every rank together under mpio, or the
    ranks' views of the file part and HDF5's next flush fails on every rank."""
    path = tmp_path / "results.h5"
    proc = run_mpi(3, "parallel_log_steps.py", path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checkpoints read back: 5000000" in proc.stdout
    assert not leftover_processes(proc)

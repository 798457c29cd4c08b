"""The parallel results-log backend: one file opened with h5py's ``driver='mpio'`` on every
rank of the run, the same layout as the serial `ResultsLog`, and the workers writing their
own per-attempt outputs into it, so that bulk data never passes through rank 0.

Who writes what:

* rank 0 creates the file alone (`ResultsLog.create` and `write_parameters`, serial HDF5),
  then every rank opens it collectively (`ParallelResultsLog.open`);
* rank 0 appends the attempt and generation rows and the outputs' index (row, start,
  shape); a worker keeps the arrays its evaluations returned (`on_result`: only their names,
  dtypes and shapes travel to rank 0, as a `HeldOutputs`) until the next flush;
* `flush` (between generations, while no run is pending) is one collective step with an
  agreed plan that rank 0 computes and hands to every worker (`Scheduler.sync_workers`,
  arriving in the workers' `on_sync`): create the output groups that appeared, resize the
  datasets that must grow (identical calls on every rank; rank 0 then makes the file as
  long as the new chunks, `_cover`), then independent writes (rank 0 its rows and the
  index, each rank the values of its own outputs at the offsets rank 0 assigned), a
  barrier, the row-count attributes, and HDF5's flush;
* `save_checkpoint` and `append_checkpoint_pieces` are collective steps too (rank 0
  writes the bytes, every rank creates and resizes the datasets and writes the attributes);
* `close` is the same step as a flush, then the file is closed on every rank, after the
  workers have left their serve loop; rank 0 then reopens it on its own
  (`finish_serially`) for what parallel HDF5 cannot write, the error texts of failed
  attempts (variable-length strings; kept in memory until then, so a killed run keeps
  their statuses but not their texts), trims the datasets to their data, and writes /best.
  (Shrinking datasets collectively hangs HDF5 1.10's close; dataset handles are dropped
  in the same order on every rank before it, as closing them is collective.)

No collective happens anywhere else, so a worker busy in an evaluation can never leave
rank 0 waiting in one. A chunked dataset is allocated in full when it grows under parallel
HDF5, so capacities grow by half their size at most (the file holds up to a third of
unused rows until `finish_serially` trims it).
"""

import itertools
import math
import os

import h5py
import numpy as np

from ..evaluation.simulation import HeldOutputs, SimulationResult
from ..runtime.spmd import open_run_comm, polled_barrier
from . import fields as F
from .checkpoint_slots import (
    checkpoint_slot,
    commit_slot,
    history_dataset,
    joined_pieces,
    load_checkpoint_slots,
    next_slot,
    slot_attributes,
)
from .hdf5_file import has_parallel_layout, open_hdf5
from .results_log import ResultsLog
from .tables import (
    OUTPUT_INDEX_CHUNK,
    BufferedTable,
    RaggedOutput,
    grown_capacity,
    output_array,
    value_chunk,
)

BACKENDS = ("auto", "parallel", "serial", "none")


def mpi_enabled():
    """True if this h5py was built with MPI (``driver='mpio'`` available)."""
    return bool(h5py.get_config().mpi)


def laid_out_for_parallel(path):
    """True if the results log at `path` was created for this backend (see
    `has_parallel_layout`), so that a resumed run can go on with it in parallel."""
    with h5py.File(path, "r") as file:
        return has_parallel_layout(file)


def choose_backend(setting, comm_size):
    """The backend a run uses: `setting` is 'auto' (parallel where h5py has MPI and the run
    has more than one rank), 'parallel', 'serial' or 'none' (no results log).

    Raises:
        ValueError: an unknown setting, or 'parallel' with an h5py built without MPI.
    """
    if setting not in BACKENDS:
        raise ValueError(f"runner_params['results_log'] must be one of {BACKENDS}, got {setting!r}")
    if setting == "parallel" and not mpi_enabled():
        raise ValueError(
            "runner_params['results_log']='parallel' needs h5py built with MPI, but this h5py "
            "is serial (h5py.get_config().mpi is False; the PyPI wheel is): build the parallel "
            "stack with `make parallel-venv` (see README), or use 'auto' or 'serial'"
        )
    if setting == "auto":
        return "parallel" if mpi_enabled() and comm_size > 1 else "serial"
    return setting


class _CollectiveTable(BufferedTable):
    """Rank 0's table under parallel HDF5: it never resizes by itself (resizing is
    collective), so rows beyond the capacity wait in ``held`` until the next flush, and the
    variable-length ``error`` column is kept in ``errors`` for `finish_serially`."""

    def __init__(self, group, columns):
        super().__init__(group, columns)
        self.held = []  # [(block, k)], rows beyond the capacity
        self.n_held = 0
        self.errors = {}  # row -> error text, for the failed attempts

    def __len__(self):
        return self.n_rows + self.n_held + self.n_buffered

    def _write(self, block, k):
        take = 0 if self.held else max(0, min(k, self.capacity - self.n_rows))
        if take:
            self._write_rows({name: array[:take] for name, array in block.items()}, take)
        if take < k:
            self.held.append(
                ({name: np.array(array[take:k]) for name, array in block.items()}, k - take)
            )
            self.n_held += k - take

    def _write_rows(self, block, k):
        errors = block.get("error")
        if errors is not None:
            for i in np.flatnonzero(errors != ""):
                self.errors[self.n_rows + int(i)] = str(errors[i])
        end = self.n_rows + k
        for name, ds in self.datasets.items():
            if ds.dtype.kind != "O":  # parallel HDF5 writes no variable-length data
                ds[self.n_rows : end] = block[name]
        self.n_rows = end

    def write_held(self):
        held, self.held, self.n_held = self.held, [], 0
        for block, k in held:
            self._write_rows(block, k)

    def forget_from(self, total):
        if total < self.n_rows + self.n_held:
            raise ValueError("the parallel results log cannot forget rows it has passed on")
        super().forget_from(total - self.n_held)  # only buffered rows go


def _allocated_end(ds, before):
    """The end, as a file offset, of the chunks of `ds` that hold its elements from `before`
    on (0 if none is allocated)."""
    end = 0
    steps = [range(0, n, c) for n, c in zip(ds.shape, ds.chunks)]
    steps[0] = range(before // ds.chunks[0] * ds.chunks[0], ds.shape[0], ds.chunks[0])
    for coord in itertools.product(*steps):
        info = ds.id.get_chunk_info_by_coord(coord)
        if info.byte_offset is not None:
            end = max(end, info.byte_offset + info.size)
    return end


def _dataset_plan(datasets, needed, chunk):
    """The collective resizes that give `datasets` room for `needed` rows."""
    capacity = min(ds.shape[0] for ds in datasets)
    if needed <= capacity:
        return []
    capacity = grown_capacity(capacity, needed, chunk)
    return [(ds.name, capacity) for ds in datasets]


class ParallelResultsLog(ResultsLog):
    """The parallel backend (h5py ``driver='mpio'``); see the module docstring.

    Every rank of the run holds one, opened with `open`. On rank 0 it has the serial log's
    methods (``append_attempts``, ``append_outputs``, ``append_generation``, ``flush``,
    ``save_checkpoint``, ``close``); ``flush``, ``save_checkpoint`` and ``close`` are
    collective: rank 0 calls them and the workers follow, through `on_sync` while they
    serve (rank 0 reaches them with ``announce``) or through `follow` outside their serve
    loop. On a worker, `on_result` keeps the outputs of each evaluation.

    Example (every rank of ``mpiexec -n 4``, workers serving with ``hooks=log``)::

        if comm.rank == 0:
            ResultsLog.create(path, 1, spec, for_parallel=True).detach()
        log = ParallelResultsLog.open(comm, path)
        if comm.rank == 0:
            rows = log.append_attempts(records, params)
            log.append_outputs(rows[0], held_outputs)  # HeldOutputs from a worker's on_result
            log.flush()  # the workers take part through on_sync (or follow)
            log.close()
            log.finish_serially().close()
        else:
            serve(comm, hooks=log)  # on_result keeps the arrays, on_sync writes them
            log.close()
    """

    _table_class = _CollectiveTable

    def __init__(self, file, path, comm):
        super().__init__(file, path)
        self.comm = comm
        self.rank = comm.Get_rank()
        self.announce = None  # rank 0: hands a plan to the serving workers' on_sync
        self._held = {}  # this rank's outputs not yet written: seq -> {name: array}
        self._next_seq = 0
        self._kinds = {name: (r.dtype, r.ndim) for name, r in self._outputs.items()}
        self._kinds_seen = set()  # (name, dtype string, ndim) checked against _kinds
        self._created = set(self._outputs)
        self._entries = {}  # rank 0: name -> [(row, shape, size, rank, seq)] not yet written
        # rank 0, during a step: name -> (n_entries, rows, starts, shapes, end_values)
        self._index = {}

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, comm, path):
        """Opens a log that rank 0 created, on every rank of `comm` (collective).

        Raises:
            ValueError: this h5py has no MPI.
        """
        if not mpi_enabled():
            raise ValueError(
                "the parallel results log needs h5py built with MPI (h5py.get_config().mpi)"
            )
        comm = open_run_comm(comm)  # (its Dup lets no rank go on before all arrived)
        file = h5py.File(path, "r+", driver="mpio", comm=comm)
        log = cls(file, path, comm)
        log._history_n = log._checkpoint_counts().get("history", 0)  # a resumed log has some
        return log

    # -- rank 0: appending ------------------------------------------------------------------

    def append_outputs(self, row, outputs):
        """Records named arrays of attempt `row`: a dict of arrays (evaluated here), or the
        `HeldOutputs` a worker keeps; either is written at the next flush."""
        self._check_attempt_row(row)
        if not isinstance(outputs, HeldOutputs):
            outputs = self._hold(
                {name: output_array(name, value) for name, value in outputs.items()}
            )
        for name, (dtype, shape) in outputs.arrays.items():
            self._check_kind(name, dtype, len(shape))
            entries = self._entries.setdefault(name, [])
            last = (
                entries[-1][0]
                if entries
                else (self._outputs[name].last_row if name in self._outputs else -1)
            )
            if row <= last:
                raise ValueError(
                    f"output {name!r} already has an entry for attempt row {last}; "
                    f"rows must increase, got {row}"
                )
            entries.append((int(row), tuple(shape), math.prod(shape), outputs.rank, outputs.seq))

    def _check_kind(self, name, dtype, ndim):
        """Checks that arrays of `dtype` (a dtype or its string) and `ndim` dimensions can be
        stored as output `name` (each name keeps the kind and dimensions of its first)."""
        if (name, dtype, ndim) in self._kinds_seen:
            return  # the same as an earlier array of this name: once per attempt, so cheap
        dtype = np.dtype(dtype)
        kind = self._kinds.get(name)
        if kind is None:
            self._kinds[name] = (dtype.newbyteorder("="), ndim)
        elif ndim != kind[1]:
            raise ValueError(
                f"output {name!r} has {kind[1]} dimension(s), got an array with {ndim}"
            )
        elif not np.can_cast(dtype, kind[0], "same_kind"):
            raise TypeError(f"output {name!r} is stored as {kind[0]}, got {dtype}")
        self._kinds_seen.add((name, dtype.str, ndim))

    # -- every rank: outputs held here -------------------------------------------------------

    def _hold(self, arrays):
        seq = self._next_seq
        self._next_seq += 1
        self._held[seq] = arrays
        return HeldOutputs(
            self.rank, seq, {name: (a.dtype.str, a.shape) for name, a in arrays.items()}
        )

    def on_result(self, key, value):
        """Worker hook (`serve`): keeps the arrays of a result that has outputs, and sends on
        only their description."""
        cost = value.cost
        if type(cost) is SimulationResult and isinstance(cost.outputs, dict):
            value = value._replace(cost=SimulationResult(cost.fitness, self._hold(cost.outputs)))
        return key, value

    def on_sync(self, payload):
        """Worker hook (`serve`): takes part in the collective step rank 0 started."""
        self._run(*payload)

    def follow(self):
        """Worker, outside its serve loop: takes part in rank 0's collective steps until rank 0
        closes the log."""
        while not self.closed:
            polled_barrier(self.comm)  # rather than spinning in bcast until rank 0 gets there
            self._run(*self.comm.bcast(None, root=0))

    # -- collective steps ---------------------------------------------------------------------

    def flush(self):
        """Collective (see the class docstring): writes everything appended so far."""
        self._check_open()
        self._start("flush", self._plan())

    def close(self):
        """Collective: flushes and closes on every rank; on a worker,
        follows rank 0 until it closes. Safe to call twice."""
        if self.closed:
            return
        if self.rank != 0:
            self.follow()
            return
        self._start("close", self._plan())

    def save_checkpoint(self, data, generation=None):
        """Collective: replaces the checkpoint atomically (rank 0 writes the bytes)."""
        self._check_open()
        data = memoryview(data).cast("B")
        self.flush()
        slot = next_slot(self._file["checkpoint"])
        attrs = slot_attributes(data, generation, self._counts())
        self._data = data
        self._start("checkpoint", {"slot": slot, "n": len(data), "attrs": attrs})

    def append_checkpoint_pieces(self, pieces):
        """Collective: appends pieces the next checkpoints refer to, in one step (rank 0
        writes them)."""
        self._check_open()
        if not pieces:
            return []
        self._data, refs = joined_pieces(pieces, self._history_n)
        self._start(
            "history", {"end": self._history_n + int(self._data.size)}
        )  # (which drops self._data)
        return refs

    def load_checkpoint(self):
        self._check_open()
        return load_checkpoint_slots(self._file["checkpoint"], self.path)[0]

    def _start(self, op, plan):
        if self.rank != 0:
            raise RuntimeError(f"{op} starts on rank 0; the workers follow it")
        if self.announce is not None:
            self.announce((op, plan))
        else:
            polled_barrier(self.comm)
            self.comm.bcast((op, plan), root=0)
        self._run(op, plan)

    def _run(self, op, plan):
        # HDF5's collective calls below wait inside MPI, which spins a core: on shared or
        # oversubscribed cores the ranks that came first would keep a late one off the CPU
        polled_barrier(self.comm)
        if op == "checkpoint":
            self._write_checkpoint(**plan)
            return
        if op == "history":
            ds = history_dataset(self._file["checkpoint"], plan["end"])
            if self.rank == 0 and self._data.size:
                ds[self._history_n : plan["end"]] = self._data
            self._history_n, self._data = plan["end"], None
            return
        file = self._file
        for name, dtype, ndim in plan["create"]:
            self._outputs[name] = RaggedOutput.create(file["outputs"], name, np.dtype(dtype), ndim)
            self._created.add(name)
        grown = []
        for path, length in plan["resize"]:
            ds = file[path]
            grown.append((ds, ds.shape[0]))
            ds.resize(length, axis=0)
        self._cover(grown)
        if self.rank == 0:
            self._write_rows()
        for name, start, seqs in plan["writes"].get(self.rank, ()):
            ds = file[f"outputs/{name}/{F.OUTPUT_VALUES}"]
            block = np.concatenate([self._held[seq].pop(name).ravel() for seq in seqs]).astype(
                ds.dtype, copy=False
            )
            if block.size:  # one write per name and rank: this rank's values lie side by side
                ds[start : start + block.size] = block
            for seq in seqs:
                if not self._held[seq]:
                    del self._held[seq]
        polled_barrier(self.comm)  # every value is in place before the counts say so
        for path, key, value in plan["attrs"]:
            file[path].attrs[key] = value
        if op == "close":
            self.closed = True
            self._errors = self._attempts.errors
            # Every rank drops its dataset handles in the same order: closing them is
            # collective, and h5py would otherwise close whatever is left in id order.
            self._attempts = self._generations = None
            for name in sorted(self._outputs):
                del self._outputs[name]
            file.close()
            self.comm.Free()
        else:
            file.flush()

    def _cover(self, grown):
        """Rank 0, right after datasets grew (``[(dataset, length before)]``): makes the file
        at least as long as the chunks that growing allocated. Parallel HDF5 allocates them
        at once, and the tables write no fill values there (`BufferedTable.create`), so
        nothing is written there until rows arrive; a job killed after HDF5 recorded the new
        end of the file and before that would leave a file that HDF5 refuses as truncated
        (the other datasets' fill values extend the file as they grow)."""
        if self.rank != 0:
            return
        end = max((_allocated_end(ds, before) for ds, before in grown), default=0)
        if end > os.path.getsize(self.path):
            os.truncate(self.path, end)  # a hole: reads as zeros, takes no disk

    def _write_checkpoint(self, slot, n, attrs):
        group = self._file["checkpoint"]
        ds = checkpoint_slot(group, slot, n)
        ds.attrs["crc32"] = -1
        if self.rank == 0:
            if n:
                ds[:n] = np.frombuffer(self._data, dtype=np.uint8)
            self._data = None
        polled_barrier(self.comm)
        commit_slot(group, slot, attrs)

    # -- rank 0: the plan of a collective step -------------------------------------------------

    def _plan(self):
        """What every rank does in the next step: the output groups to create, the datasets to
        resize, where each rank writes its values, and the count attributes."""
        plan = {"create": [], "resize": [], "writes": {}, "attrs": []}
        for table in (self._attempts, self._generations):
            table.drain()
            needed = table.n_rows + table.n_held
            resize = _dataset_plan(list(table.datasets.values()), needed, table.chunk_rows)
            if resize:
                table.capacity = resize[0][1]
                plan["resize"] += resize
            if table.n_rows_synced != needed:
                plan["attrs"].append((table.group.name, F.ATTR_N_ROWS, needed))
                table.n_rows_synced = needed
        self._index = {}
        for name, entries in self._entries.items():
            if not entries:
                continue
            dtype, ndim = self._kinds[name]
            if name in self._created:
                ragged = self._outputs[name]
                n_entries, n_values = ragged.n_entries, ragged.n_values
                values_ds, index_ds = ragged.values, ragged.index
            else:
                plan["create"].append((name, dtype.str, ndim))
                n_entries = n_values = 0
                values_ds = index_ds = None
            # values grouped by the rank that holds them (in row order within a rank), so
            # that each rank writes one block per name; the index stays in row order
            order = sorted(range(len(entries)), key=lambda k: entries[k][3])
            sizes = np.array([entries[k][2] for k in order], dtype=np.int64)
            starts = np.empty(len(entries), dtype=np.int64)
            starts[order] = n_values + np.concatenate([[0], np.cumsum(sizes)[:-1]])
            for k in order:
                rank = entries[k][3]
                writes = plan["writes"].setdefault(rank, [])
                if not writes or writes[-1][0] != name:
                    writes.append((name, int(starts[k]), []))
                writes[-1][2].append(entries[k][4])
            end_entries, end_values = n_entries + len(entries), n_values + int(sizes.sum())
            group = f"/outputs/{name}"
            if values_ds is None:
                if end_values:
                    plan["resize"].append(
                        (
                            f"{group}/{F.OUTPUT_VALUES}",
                            grown_capacity(0, end_values, value_chunk(dtype)),
                        )
                    )
                index_names = [F.OUTPUT_ROW, F.OUTPUT_START] + ([F.OUTPUT_SHAPE] if ndim else [])
                capacity = grown_capacity(0, end_entries, OUTPUT_INDEX_CHUNK)
                plan["resize"] += [(f"{group}/{key}", capacity) for key in index_names]
            else:
                plan["resize"] += _dataset_plan([values_ds], end_values, values_ds.chunks[0])
                plan["resize"] += _dataset_plan(index_ds, end_entries, OUTPUT_INDEX_CHUNK)
            shapes = np.array([e[1] for e in entries], dtype=np.int64).reshape(len(entries), ndim)
            rows = np.array([e[0] for e in entries], dtype=np.int64)
            self._index[name] = (n_entries, rows, starts, shapes, end_values)
            plan["attrs"] += [(group, "n_entries", end_entries), (group, "n_values", end_values)]
        self._entries = {}
        return plan

    def _write_rows(self):
        """Rank 0's independent writes of a step: the table rows and the outputs' index."""
        for table in (self._attempts, self._generations):
            table.write_held()
        for name, (n_entries, rows, starts, shapes, end_values) in self._index.items():
            ragged = self._outputs[name]
            end = n_entries + len(rows)
            ragged.index[0][n_entries:end] = rows
            ragged.index[1][n_entries:end] = starts
            if ragged.ndim:
                ragged.index[2][n_entries:end] = shapes
            ragged.n_entries, ragged.n_values, ragged.last_row = end, end_values, int(rows[-1])
            ragged.counts_synced = (end, end_values)
        self._index = {}

    # -- rank 0: after the collective close -----------------------------------------------------

    def finish_serially(self):
        """Rank 0, after `close`: reopens the file on its own and does what parallel HDF5
        cannot (writing the error texts of failed attempts) or does badly (trimming the
        datasets to their data: shrinking them collectively hangs HDF5 1.10's close).
        Returns the serial `ResultsLog`, open (for ``write_best``; close it afterwards)."""
        if not self.closed:
            raise RuntimeError("finish_serially needs the collective close first")
        log = ResultsLog(open_hdf5(self.path, "r+"), self.path)
        log._history_n = self._history_n  # (a checkpoint saved now goes on after every piece)
        errors, self._errors = self._errors, {}
        if errors:
            rows = np.fromiter(errors, dtype=np.int64, count=len(errors))
            order = np.argsort(rows)
            ds = log._file["attempts/error"]
            for i in order:  # failed attempts are few; one write each
                ds[int(rows[i])] = errors[int(rows[i])]
        for part in (log._attempts, log._generations, *log._outputs.values()):
            part.trim()
        log._file.flush()
        return log

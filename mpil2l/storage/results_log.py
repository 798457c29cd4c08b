"""The results log: one HDF5 file per experiment holding every evaluation attempt, the
per-generation statistics, the run's parameters, the best individuals and a checkpoint
(layout: `mpil2l.storage.layout`; docs/results-log.md).

The writer keeps rows in bounded buffers (`mpil2l.storage.tables`: at most one chunk's worth,
a few MiB) and writes them when they fill and at every `flush`; memory does not grow with the
history. The row counts are only rewritten by `flush`, so a process killed between flushes
leaves the file as of its last flush. `save_checkpoint` replaces the checkpoint atomically
(`mpil2l.storage.checkpoint_slots`), so saving every generation does not grow the file.

Only the process that owns a `ResultsLog` writes to the file (the serial backend: rank 0).
HDF5's file lock keeps a second writer out (and, on the same host, a crashed writer's stale
``writer`` attribute is detected and taken over: `mpil2l.storage.writer_lock`); readers
(`mpil2l.storage.reader`) open without locking so a running experiment can be inspected, as
of its last flush.

The parallel backend (h5py ``driver='mpio'``, where the workers write their own outputs)
is `mpil2l.storage.parallel.ParallelResultsLog`: the same layout, with rank 0 creating the
file through this class (``for_parallel=True``) and handing it over (`detach`).

`ResultsLogError`, `LogInUseError` and `repair_truncated` are importable from here too.
"""

import json
import math
import os

import numpy as np

from ..model.trajectory import INDIVIDUAL_PREFIX
from . import fields as F
from .attributes import attribute_text, timestamp
from .checkpoint_slots import (
    checkpoint_slot,
    commit_slot,
    history_dataset,
    joined_pieces,
    load_checkpoint_slots,
    next_slot,
    read_history,
    slot_attributes,
)
from .errors import LogInUseError, ResultsLogError
from .hdf5_file import check_format, open_hdf5
from .layout import check_create_args, make_room, write_layout
from .parameters import write_parameter_group
from .repair import repair_truncated
from .tables import BufferedTable, RaggedOutput, grown_capacity, output_array
from .writer_lock import claim_writer

__all__ = [
    "COLUMNS_FROM_RECORDS",
    "BaseResultsLog",
    "LogInUseError",
    "ResultsLog",
    "ResultsLogError",
    "repair_truncated",
]

# append_attempts converts whole columns at a time from this many records on (below, one
# record at a time is as fast; docs/results-log.md, "Design measurements")
COLUMNS_FROM_RECORDS = 16
# a status's code from the status itself, its name or its value (see `fields.status_code`)
_STATUS_CODE_OF = {**{status: int(status) for status in F.StatusType}, **F.STATUS_CODES}


class BaseResultsLog:
    """What a results-log backend provides; the file's layout is `mpil2l.storage.layout`'s.

    Backends: the serial `ResultsLog`, and `mpil2l.storage.parallel.ParallelResultsLog`
    (``driver='mpio'``), whose flush, checkpoint and close are collective.
    Usable as a context manager: the log is closed at the end of the block.
    """

    def append_attempts(self, records, params=None):
        """Appends evaluation attempts; returns the range of their rows."""
        raise NotImplementedError

    def _attempt_columns(self, records, params):
        """`records` and their `params` as one array per column (what `BufferedTable.append`
        takes), or None when some value is missing or malformed."""
        n = len(records)
        try:
            block = {
                name: np.array([r[name] for r in records], dtype=dtype)
                for name, dtype in (
                    ("generation", np.int64),
                    ("ind_idx", np.int64),
                    ("attempt", np.int32),
                )
            }
            block["status"] = np.array(
                [_STATUS_CODE_OF[r["status"]] for r in records], dtype=np.int8
            )
            block["rank"] = np.array(
                [-1 if r.get("rank") is None else r["rank"] for r in records], dtype=np.int32
            )
            nan_row = (math.nan,) * self.n_objectives
            fitness = np.array(
                [nan_row if r.get("fitness") is None else r["fitness"] for r in records],
                dtype=np.float64,
            )
            if fitness.shape != (n, self.n_objectives):
                return None
            block["fitness"] = fitness
            for name in ("start", "end", "runtime"):
                block[name] = np.array(
                    [math.nan if r.get(name) is None else r[name] for r in records],
                    dtype=np.float64,
                )
            errors = [r.get("error") for r in records]
            if any(errors):
                return None  # rare: the careful path also counts the strings' bytes
            block["error"] = np.full(n, "", dtype=object)
            block["params"] = self._param_rows(params, n)
        except (KeyError, TypeError, ValueError):
            return None
        return None if block["params"] is None else block

    def _param_rows(self, params, n):
        """`params` as an (n, n_params) array, or None when some individual does not fit."""
        if params is None:
            return np.full((n, self.n_params), np.nan)
        kinds = {type(p) is dict for p in params} if not isinstance(params, np.ndarray) else {False}
        if kinds == {False}:  # flat vectors (a 2-d array, or one vector per record)
            if any(p is None for p in params):
                return None
            rows = np.array(params, dtype=np.float64).reshape(n, -1)
            return rows if rows.shape[1] == self.n_params else None
        if kinds != {True}:
            return None
        parts = []
        for key, size in zip(self._spec_keys, self._spec_sizes):
            prefixed = INDIVIDUAL_PREFIX + key
            values = [p[prefixed] if prefixed in p else p[key] for p in params]
            part = np.array(values, dtype=np.float64).reshape(n, -1)
            if part.shape[1] != size:
                return None
            parts.append(part)
        return np.concatenate(parts, axis=1) if len(parts) != 1 else parts[0]

    def append_outputs(self, row, outputs):
        """Appends named per-attempt arrays for attempt `row`."""
        raise NotImplementedError

    def append_generation(self, stats):
        """Appends one generation's statistics; returns its row."""
        raise NotImplementedError

    def write_parameters(self, traj):
        """Stores the trajectory's parameters (replacing earlier ones)."""
        raise NotImplementedError

    def write_best(self, params, fitness, weighted_fitness=None, generation=None, ind_idx=None):
        """Stores the final best individual(s) (replacing earlier ones)."""
        raise NotImplementedError

    def save_checkpoint(self, data, generation=None):
        """Replaces the checkpoint, atomically."""
        raise NotImplementedError

    def load_checkpoint(self):
        """The last checkpoint's bytes, or None."""
        raise NotImplementedError

    def flush(self):
        """Makes everything appended so far durable in the file."""
        raise NotImplementedError

    def close(self):
        """Flushes and closes; safe to call twice."""
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class ResultsLog(BaseResultsLog):
    """The serial results-log backend: the process that owns it (rank 0) writes the file.

    Create one with `create` or `open_for_resume`, never directly.

    Example:
        >>> import os, tempfile
        >>> from mpil2l.model.conversion import dict_to_list
        >>> vec, spec = dict_to_list({"x": 1.0, "y": [2.0, 3.0]}, get_dict_spec=True)
        >>> path = os.path.join(tempfile.mkdtemp(), "results.h5")
        >>> with ResultsLog.create(path, n_objectives=1, param_spec=spec) as log:
        ...     rows = log.append_attempts(
        ...         [{"generation": 0, "ind_idx": 0, "attempt": 0, "rank": 1, "status": "SUCCESS",
        ...           "fitness": (0.5,), "start": 0.0, "end": 1.0, "runtime": 1.0, "error": ""}],
        ...         params=[vec])
        ...     log.flush()
        >>> rows
        range(0, 1)
        >>> from mpil2l.storage.reader import read_attempts
        >>> read_attempts(path)["fitness"].tolist()
        [[0.5]]
    """

    _table_class = BufferedTable

    def __init__(self, file, path):
        self._file = file
        self.path = path
        self.n_objectives = int(file.attrs[F.ATTR_N_OBJECTIVES])
        params = file["attempts/params"]
        self.param_spec = F.spec_from_json(params.attrs[F.ATTR_PARAM_SPEC])
        self.param_names = F.param_column_names(self.param_spec)
        self.n_params = params.shape[1]
        self._attempts = self._table_class(file["attempts"], F.ATTEMPT_COLUMNS)
        self._generations = self._table_class(file["generations"], F.GENERATION_COLUMNS)
        self._outputs = {name: RaggedOutput(group) for name, group in file["outputs"].items()}
        self._history_n = 0  # valid bytes of /checkpoint/history (set from the checkpoint)
        self._spec_keys = [key for key, _, _ in self.param_spec]
        self._spec_sizes = [F.spec_width([entry]) for entry in self.param_spec]
        self.closed = False

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path,
        n_objectives,
        param_spec,
        overwrite=False,
        *,
        fitness_weights=None,
        for_parallel=False,
    ):
        """Creates a new results log.

        Args:
            path: the HDF5 file to create.
            n_objectives: fitness values per attempt (>= 1).
            param_spec: the dict spec of the individuals (``dict_to_list(individual,
                get_dict_spec=True)[1]``); at least one parameter.
            overwrite: replace an existing file; without it an existing file is an error.
            fitness_weights: the optimizer's fitness weights, stored for readers (optional).
            for_parallel: lay the file out for `mpil2l.storage.parallel.ParallelResultsLog`
                (chunks allocated as datasets grow), which reopens it after `detach`.

        Raises:
            FileExistsError: `path` exists and `overwrite` is False.
            FileNotFoundError: the folder of `path` does not exist.
            LogInUseError: `path` is open in another process.
            TypeError, ValueError: a bad `n_objectives`, `param_spec` or `fitness_weights`.
        """
        path = os.fspath(path)
        args = check_create_args(n_objectives, param_spec, fitness_weights)
        make_room(path, overwrite)
        file = open_hdf5(path, "w-")
        try:
            write_layout(file, *args, created=timestamp(), early=for_parallel)
            log = cls(file, path)
            log._claim(break_lock=False)
        except BaseException:
            file.close()
            raise
        return log

    @classmethod
    def open_for_resume(cls, path, *, rollback=True, break_lock=False, keep_attempts=False):
        """Opens an existing results log to append to it.

        Args:
            path: the file.
            rollback: forget the attempts, generations and outputs appended after the last
                checkpoint (all of them if no checkpoint was saved), so that resuming from
                `load_checkpoint` does not record the interrupted generation twice.
            break_lock: take over a log whose recorded writer runs on another host and may
                have crashed (on the same host a dead writer is detected and replaced).
            keep_attempts: with `rollback`, keep the attempts appended after the checkpoint
                (and their outputs): evaluations that finished in the interrupted
                generation, which the resumed run takes over (`attempts_since_checkpoint`)
                instead of running them again. Only the generation rows are rolled back.

        Raises:
            FileNotFoundError: `path` does not exist.
            ResultsLogError: `path` is not a results log this version reads (not HDF5,
                truncated, another program's file, a newer format, incomplete).
            LogInUseError: another process has it open for writing.
        """
        path = os.fspath(path)
        file = open_hdf5(path, "r+")
        try:
            check_format(file, path)
            log = cls(file, path)
            log._claim(break_lock)
            log._history_n = log._checkpoint_counts().get("history", 0)
            if rollback:
                log._rollback(keep_attempts)
        except BaseException:
            file.close()
            raise
        return log

    def _claim(self, break_lock):
        """Records this process as the writer, refusing a live one (`claim_writer`)."""
        claim_writer(self._file, self.path, break_lock)

    def _checkpoint_counts(self):
        """The table and output lengths when the current checkpoint was saved ({} if none)."""
        group = self._file["checkpoint"]
        if int(group.attrs.get(F.ATTR_CURRENT, -1)) < 0:
            return {}
        _, attrs = load_checkpoint_slots(group, self.path)
        return json.loads(attribute_text(attrs.get("counts", "{}")))

    def _rollback(self, keep_attempts=False):
        counts = self._checkpoint_counts()
        self._history_n = counts.get("history", 0)
        self._generations.truncate(counts.get("generations", 0))
        if not keep_attempts:
            self._attempts.truncate(counts.get("attempts", 0))
            outputs = counts.get("outputs", {})
            for name, ragged in self._outputs.items():
                ragged.truncate(*outputs.get(name, (0, 0)))
        self.flush()

    def truncate_attempts(self, n_rows):
        """Forgets the attempt rows from `n_rows` on, with their outputs (attempts of an
        interrupted run that its resumed run does not take over), and flushes."""
        self._check_open()
        self._attempts.truncate(n_rows)
        for ragged in self._outputs.values():
            ragged.drain()
            k = int(np.searchsorted(ragged.index[0][: ragged.n_entries], n_rows))
            n_values = int(ragged.index[1][k]) if k < ragged.n_entries else ragged.n_values
            ragged.truncate(k, n_values)
        self.flush()

    def attempts_since_checkpoint(self):
        """The attempt rows appended after the current checkpoint (all rows if there is
        none), as a dict of numpy columns (`fields.ATTEMPT_COLUMNS`) plus ``row``, the rows'
        indices."""
        self._check_open()
        self._attempts.drain()
        first = min(self._checkpoint_counts().get("attempts", 0), self._attempts.n_rows)
        stop = self._attempts.n_rows
        out = {"row": np.arange(first, stop, dtype=np.int64)}
        for c in F.ATTEMPT_COLUMNS:
            ds = self._attempts.datasets[c.name]
            out[c.name] = ds.asstr()[first:stop] if c.dtype is F.STRING else ds[first:stop]
        return out

    # -- appending ------------------------------------------------------------------------------

    @property
    def n_attempts(self):
        """Attempt rows appended so far (buffered ones included)."""
        return len(self._attempts)

    @property
    def n_generations(self):
        """Generation rows appended so far."""
        return len(self._generations)

    def _check_open(self):
        if self.closed:
            raise ValueError(f"results log {self.path!r} is closed")

    def _check_attempt_row(self, row):
        """Checks that the log is open and `row` is an appended attempt row."""
        self._check_open()
        if (
            isinstance(row, bool)
            or not isinstance(row, (int, np.integer))
            or not 0 <= row < len(self._attempts)
        ):
            raise ValueError(
                f"row must be an attempt row in [0, {len(self._attempts)}), got {row!r}"
            )

    def _flatten(self, individual):
        """One flat parameter vector from a vector or an individual dict (keys with or without
        the 'individual.' prefix)."""
        if isinstance(individual, dict):
            parts = []
            for key, size in zip(self._spec_keys, self._spec_sizes):
                value = individual.get(key, individual.get(INDIVIDUAL_PREFIX + key))
                if value is None:
                    raise ValueError(
                        f"the individual has no parameter {key!r}; it has {sorted(individual)}"
                    )
                value = np.asarray(value, dtype=float).ravel()
                if value.size != size:
                    raise ValueError(
                        f"parameter {key!r} has {value.size} value(s), the log's spec {size}"
                    )
                parts.append(value)
            return np.concatenate(parts)
        vector = np.asarray(individual, dtype=float).ravel()
        if vector.size != self.n_params:
            raise ValueError(
                f"a flattened individual must have {self.n_params} values, got {vector.size}"
            )
        return vector

    def append_attempts(self, records, params=None):
        """Appends evaluation attempts.

        Args:
            records: dicts as `mpil2l.evaluation.simulation.attempt_record` makes them: generation,
                ind_idx, attempt, status (a `StatusType`, its name or value) required; rank,
                fitness (None when failed), start, end, runtime, error optional.
            params: one individual per record (a flat vector in `dict_to_list` order, or an
                individual dict, with or without the 'individual.' prefix), a 2-d array, or
                None (NaN parameters).

        Returns:
            The range of the rows the attempts got (for `append_outputs`).

        Raises:
            ValueError: a record lacks a required key, has an unknown status or a fitness of
                the wrong length, or a parameter vector has the wrong size.
        """
        self._check_open()
        if not isinstance(records, (list, tuple)):
            records = list(records)
        table = self._attempts
        first = len(table)
        if params is not None:
            if (
                isinstance(params, np.ndarray)
                and params.ndim == 2
                and params.shape[1] != self.n_params
            ):
                raise ValueError(
                    f"append_attempts: params must have {self.n_params} columns, "
                    f"got shape {params.shape}"
                )
            if len(params) != len(records):
                raise ValueError(
                    f"append_attempts: got {len(records)} record(s) but {len(params)} params"
                )
        block = (
            self._attempt_columns(records, params) if len(records) >= COLUMNS_FROM_RECORDS else None
        )
        if block is not None:
            table.append(block, len(records))
            return range(first, len(table))
        # one record at a time, to name the one that is wrong
        buf = table.buffer
        generation, ind_idx, attempt, rank = (
            buf["generation"],
            buf["ind_idx"],
            buf["attempt"],
            buf["rank"],
        )
        status, fitness, vectors = buf["status"], buf["fitness"], buf["params"]
        start, end, runtime, error = buf["start"], buf["end"], buf["runtime"], buf["error"]
        n_obj = self.n_objectives
        i = 0
        try:
            for i, record in enumerate(records):
                j = table.claim_row()
                generation[j] = record["generation"]
                ind_idx[j] = record["ind_idx"]
                attempt[j] = record["attempt"]
                status[j] = F.status_code(record["status"])
                value = record.get("rank")
                rank[j] = -1 if value is None else value
                value = record.get("fitness")
                if value is None:
                    fitness[j] = np.nan
                elif len(value) == n_obj:
                    fitness[j] = value
                else:
                    raise ValueError(
                        f"fitness {tuple(value)} has {len(value)} value(s), "
                        f"the log has {n_obj} objective(s)"
                    )
                if params is None or params[i] is None:
                    vectors[j] = np.nan
                elif isinstance(params[i], dict):
                    vectors[j] = self._flatten(params[i])
                else:
                    vector = np.asarray(params[i], dtype=np.float64).ravel()
                    if vector.size != self.n_params:
                        raise ValueError(
                            f"a flattened individual must have {self.n_params} values, "
                            f"got {vector.size}"
                        )
                    vectors[j] = vector
                value = record.get("start")
                start[j] = math.nan if value is None else value
                value = record.get("end")
                end[j] = math.nan if value is None else value
                value = record.get("runtime")
                runtime[j] = math.nan if value is None else value
                value = record.get("error")
                error[j] = value = "" if not value else str(value)
                table.add_string_bytes(len(value))
        except (KeyError, TypeError, ValueError) as exc:
            table.forget_from(first)
            if isinstance(exc, KeyError):
                exc = f"lacks {exc}"
            raise ValueError(f"append_attempts: record {i} ({records[i]!r}): {exc}") from None
        return range(first, len(table))

    def append_outputs(self, row, outputs):
        """Stores named extra arrays an attempt returned besides its fitness.

        Each name keeps the dtype kind and number of dimensions of its first array; shapes
        may differ between attempts.

        Args:
            row: the attempt's row (from `append_attempts`); rows must increase per name.
            outputs: ``{name: array-like of numbers}``.

        Raises:
            ValueError: `row` is not an appended row, a name is invalid, or an array has
                another number of dimensions than the name's first one.
            TypeError: an array is not numeric or cannot be cast to the name's dtype.
        """
        self._check_attempt_row(row)
        for name, value in outputs.items():
            array = output_array(name, value)
            ragged = self._outputs.get(name)
            if ragged is None:
                dtype = array.dtype.newbyteorder("=")
                ragged = self._outputs[name] = RaggedOutput.create(
                    self._file["outputs"], name, dtype, array.ndim
                )
            ragged.append(int(row), array)

    def append_generation(self, stats):
        """Appends one generation's statistics.

        Args:
            stats: a dict like an optimizer's ``statistics`` entries: generation (required),
                n_individuals, best_weighted_fitness, mean_weighted_fitness, best_ind_idx,
                best_fitness (a tuple), wall_seconds; missing values are stored as NaN / -1.

        Returns:
            The generation's row.
        """
        self._check_open()
        if "generation" not in stats:
            raise ValueError(f"append_generation: stats lack 'generation': {stats!r}")
        best = stats.get("best_fitness")
        best = (
            np.full(self.n_objectives, np.nan)
            if best is None
            else np.asarray(best, dtype=float).ravel()
        )
        if best.size != self.n_objectives:
            raise ValueError(
                f"append_generation: best_fitness {tuple(best)} has {best.size} value(s), "
                f"the log has {self.n_objectives} objective(s)"
            )

        def value(key, default):
            item = stats.get(key)
            return default if item is None else item

        block = {
            "generation": np.array([stats["generation"]], dtype=np.int64),
            "n_individuals": np.array([value("n_individuals", 0)], dtype=np.int64),
            "best_weighted_fitness": np.array(
                [value("best_weighted_fitness", np.nan)], dtype=np.float64
            ),
            "mean_weighted_fitness": np.array(
                [value("mean_weighted_fitness", np.nan)], dtype=np.float64
            ),
            "best_ind_idx": np.array([value("best_ind_idx", -1)], dtype=np.int64),
            "best_fitness": best[None, :],
            "wall_seconds": np.array([value("wall_seconds", np.nan)], dtype=np.float64),
        }
        row = len(self._generations)
        self._generations.append(block, 1)
        return row

    # -- one-off writes -------------------------------------------------------------------------

    def write_parameters(self, traj):
        """Stores the trajectory's parameters in /parameters, replacing earlier ones.

        Args:
            traj: a `Trajectory` (its ``traj.par``, groups as 'group.name') or a plain dict.
        """
        self._check_open()
        group = self._file["parameters"]
        if hasattr(traj, "v_name"):
            self._file.attrs[F.ATTR_TRAJECTORY_NAME] = str(traj.v_name)
        write_parameter_group(group, traj)

    def write_best(self, params, fitness, weighted_fitness=None, generation=None, ind_idx=None):
        """Stores the final best individual(s) in /best, replacing earlier ones.

        Args:
            params: one individual (an individual dict or a flat vector) or a list of them
                (or a 2-d array).
            fitness: its fitness tuple, or one per individual.
            weighted_fitness, generation, ind_idx: a value, or one per individual (optional).

        Raises:
            ValueError: the numbers of individuals, fitnesses and values disagree, or a
                size is wrong.
        """
        self._check_open()
        if isinstance(params, np.ndarray):
            single = params.ndim == 1
        else:
            single = isinstance(params, dict) or not isinstance(
                params[0], (dict, list, tuple, np.ndarray)
            )
        if single:
            params = [params]
        k = len(params)
        if not k:
            raise ValueError("write_best: no individual given")
        rows = np.empty((k, self.n_params))
        for i, individual in enumerate(params):
            try:
                rows[i] = self._flatten(individual)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"write_best: individual {i}: {exc}") from None
        fitness = np.asarray(fitness, dtype=float)
        if fitness.ndim <= 1:
            fitness = fitness.reshape(1, -1)
        if fitness.shape != (k, self.n_objectives):
            raise ValueError(
                f"write_best: {k} individual(s) need fitness of shape "
                f"{(k, self.n_objectives)}, got {fitness.shape}"
            )

        def column(values, default, dtype):
            out = np.full(k, default, dtype=dtype)
            if values is not None:
                values = np.asarray(values, dtype=dtype).ravel()
                if values.size not in (1, k):
                    raise ValueError(f"write_best: expected 1 or {k} values, got {values.size}")
                out[:] = values
            return out

        data = {
            "params": rows,
            "fitness": fitness,
            "weighted_fitness": column(weighted_fitness, np.nan, np.float64),
            "generation": column(generation, -1, np.int64),
            "ind_idx": column(ind_idx, -1, np.int64),
        }
        if "best" in self._file:
            del self._file["best"]
        group = self._file.create_group("best")
        for c in F.BEST_COLUMNS:
            ds = group.create_dataset(c.name, data=data[c.name].astype(c.dtype))
            ds.attrs["doc"] = c.doc
        group.attrs["written"] = timestamp()

    # -- checkpoint -----------------------------------------------------------------------------

    def save_checkpoint(self, data, generation=None):
        """Replaces the checkpoint with `data`, atomically: until the new one is complete the
        previous one stays current. Also flushes everything appended so far.

        Args:
            data: the pickled optimizer state and trajectory (bytes-like).
            generation: the last generation the checkpoint includes (informative).
        """
        self._check_open()
        data = memoryview(data).cast("B")
        self.flush()
        group = self._file["checkpoint"]
        slot = next_slot(group)
        n = len(data)
        ds = checkpoint_slot(group, slot, n)
        ds.attrs["crc32"] = -1  # no CRC-32 matches: the slot is invalid while being written
        if n:
            ds[:n] = np.frombuffer(data, dtype=np.uint8)
        commit_slot(group, slot, slot_attributes(data, generation, self._counts()))

    def _counts(self):
        """The table and output lengths a checkpoint records (for rolling back to it)."""
        return {
            "attempts": self._attempts.n_rows,
            "generations": self._generations.n_rows,
            "outputs": {name: [r.n_entries, r.n_values] for name, r in self._outputs.items()},
            "history": self._history_n,
        }

    def append_checkpoint_history(self, data):
        """Appends a piece that the next checkpoints refer to (say, one finished generation
        of the trajectory) and returns its ``(offset, length)`` for `read_checkpoint_history`.
        It becomes durable with the next `save_checkpoint`."""
        return self.append_checkpoint_pieces([data])[0]

    def append_checkpoint_pieces(self, pieces):
        """`append_checkpoint_history` of several pieces in one write; returns their
        ``(offset, length)``."""
        self._check_open()
        if not pieces:
            return []
        data, refs = joined_pieces(pieces, self._history_n)
        end = self._history_n + data.size
        ds = history_dataset(self._file["checkpoint"], end)
        if data.size:
            ds[self._history_n : end] = data
        self._history_n = end
        return refs

    def read_checkpoint_history(self, offset, length):
        """The bytes of a piece `append_checkpoint_history` stored."""
        self._check_open()
        return read_history(self._file["checkpoint"], offset, length, self.path)

    def load_checkpoint(self):
        """The bytes of the last checkpoint saved, or None if there is none.

        Raises:
            ResultsLogError: every checkpoint slot is corrupt.
        """
        self._check_open()
        return load_checkpoint_slots(self._file["checkpoint"], self.path)[0]

    # -- durability -----------------------------------------------------------------------------

    def flush(self):
        """Writes the buffered rows, records the row counts and flushes the HDF5 file (to the
        operating system: it survives the process being killed). Call it at least once per
        generation."""
        self._check_open()
        for table in (self._attempts, self._generations):
            table.drain()
            table.sync()
        for ragged in self._outputs.values():
            ragged.drain()
            ragged.sync()
        self._file.flush()

    def reserve(self, n_attempts):
        """Grows the attempts table to hold at least `n_attempts` rows and the generations
        table by a chunk, now: for the parallel backend, where growing is collective."""
        self._check_open()
        for table, n in ((self._attempts, n_attempts), (self._generations, 1)):
            if n > table.capacity:
                table.grow(grown_capacity(table.capacity, n, table.chunk_rows))

    def detach(self):
        """Flushes and closes the file, leaving it recorded as open for writing by this
        process: for handing it to the parallel backend, which reopens it on every rank."""
        self.flush()
        self.closed = True
        self._file.close()

    def close(self):
        """Flushes, trims the datasets to their data, releases the writer lock and closes the
        file. Safe to call twice."""
        if self.closed:
            return
        try:
            self.flush()
            for table in (self._attempts, self._generations):
                table.trim()
            for ragged in self._outputs.values():
                ragged.trim()
            self._file.attrs[F.ATTR_WRITER] = ""
        finally:
            self.closed = True
            self._file.close()

    def __repr__(self):
        state = (
            "closed"
            if self.closed
            else f"{self.n_attempts} attempts, {self.n_generations} generations"
        )
        return f"ResultsLog({self.path!r}, {state})"

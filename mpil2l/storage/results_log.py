"""The results log: one HDF5 file per experiment holding every evaluation attempt, the
per-generation statistics, the run's parameters, the best individuals and a checkpoint.

Layout (format ``mpil2l-results``, version 1; names and dtypes in `mpil2l.storage.fields`)::

    /                        attrs: format, format_version, created (ISO 8601, UTC),
                             mpil2l_version, n_objectives, fitness_weights (optional),
                             trajectory_name (set by write_parameters),
                             writer (JSON host/pid/opened while open for writing, '' once closed)
    /attempts                one row per evaluation attempt; attr n_rows = rows written
        generation  int64 (N,)          ind_idx  int64 (N,)
        attempt     int32 (N,)          rank     int32 (N,)     -1 unknown
        status      int8  (N,)          attr codes: JSON {"1": "SUCCESS", "2": "TIMEOUT", ...}
        fitness     float64 (N, n_objectives)   NaN when the attempt failed
        params      float64 (N, n_params)       the individual as `dict_to_list` flattens it;
                                                attrs param_spec (JSON dict spec), keys,
                                                column_names (up to 4096 columns)
        start, end, runtime  float64 (N,)       seconds (start/end since the epoch)
        error       vlen UTF-8 str (N,)         error and traceback; '' on success
    /generations             one row per generation; attr n_rows
        generation, n_individuals, best_ind_idx  int64 (G,)
        best_weighted_fitness, mean_weighted_fitness, wall_seconds  float64 (G,)
        best_fitness  float64 (G, n_objectives)
    /parameters              the trajectory's parameters, one attribute each (group
                             parameters as 'group.name'): numbers and numeric arrays as
                             they are, anything else as a JSON string (so a string
                             attribute is always JSON); values too large for an attribute
                             are datasets of the same name ('/' escaped as %2F)
    /best                    the final best individual(s), K rows: params (K, n_params),
                             fitness (K, n_objectives), weighted_fitness, generation, ind_idx
    /checkpoint              attr current: 0 or 1 (-1 before the first checkpoint)
        slot0, slot1  uint8 (capacity,)  the pickled optimizer state + trajectory; attrs
                      nbytes, crc32 (-1 while being written), generation, saved (ISO
                      time), counts (JSON: the table and output lengths at that time,
                      and the bytes of history in use)
        history       uint8 (capacity,), optional: append-only pieces a checkpoint refers
                      to by (offset, length), so that what does not change between
                      checkpoints (finished generations) is written once; the bytes past
                      the current checkpoint's counts are unused
    /outputs/<name>          ragged per-attempt arrays, one group per *name* (never per
                             attempt); attrs ndim, n_entries, n_values
        values  (V,)            the arrays' values, flattened and concatenated (the dtype
                                of the name's first array)
        row     int64 (M,)      the /attempts row each entry belongs to
        start   int64 (M,)      where each entry begins in values
        shape   int64 (M, ndim) each entry's shape (absent for scalars)

Every table and output dataset is chunked and extendable (``maxshape`` None). Datasets
grow by whole chunks, so their length is a capacity: the ``n_rows`` (``n_entries``,
``n_values``) attribute says how much of it holds data, and `close` trims them to it. The
writer keeps rows in a bounded buffer (at most one chunk's worth, a few MiB) and writes them
when it fills and at every `flush`; memory does not grow with the history. The ``n_rows``
attributes are only rewritten by `flush`, so a process killed between flushes leaves the
file as of its last flush.

The checkpoint has two slots: `save_checkpoint` writes the slot that is *not* current,
flushes, then points ``current`` at it and flushes again, so a kill at any moment leaves one
complete checkpoint, verified by its CRC-32 when loaded. Slots are overwritten in place and
only grow, so saving every generation does not grow the file. Pieces appended to the
history (`append_checkpoint_history`) before a checkpoint are part of it: the current slot
records how many history bytes are valid, and a later writer appends after them.

Only the process that owns a `ResultsLog` writes to the file (the serial backend: rank 0).
HDF5's file lock keeps a second writer (and, on the same host, a crashed writer's stale
``writer`` attribute is detected and taken over); readers (`mpil2l.storage.reader`) open
without locking so a running experiment can be inspected, as of its last flush.

The parallel backend (h5py ``driver='mpio'``, where the workers write their own outputs)
is `mpil2l.storage.parallel.ParallelResultsLog`: the same layout, with rank 0 creating the
file through this class (``for_parallel=True``) and handing it over (`detach`).
"""

import datetime
import json
import logging
import math
import os
import re
import socket
import zlib

import h5py
import numpy as np

from ..trajectory import INDIVIDUAL_PREFIX
from . import fields as F

logger = logging.getLogger("mpil2l.storage")

CHUNK_BYTES = 1 << 20  # target size of a table chunk
MAX_CHUNK_ROWS = 4096
GENERATION_CHUNK_ROWS = 1024
OUTPUT_INDEX_CHUNK = 4096
CHECKPOINT_CHUNK = 256 << 10
HISTORY = "history"  # /checkpoint/history
BUFFER_STRING_BYTES = 4 << 20  # write buffered rows once their error messages hold this much
OUTPUT_BUFFER_BYTES = 4 << 20
LARGE_ATTRIBUTE = 16 << 10  # parameter values bigger than this (bytes) become datasets
COLUMNS_FROM_RECORDS = 16  # (below, one record at a time is as fast: ~2 us each)
# a status's code from the status itself, its name or its value (see `fields.status_code`)
_STATUS_CODE_OF = {**{status: int(status) for status in F.StatusType}, **F.STATUS_CODES}
MAX_NAMED_COLUMNS = 4096  # wider params datasets carry no per-column names attribute


class ResultsLogError(ValueError):
    """A file is not a usable results log: not HDF5, truncated, corrupt, from another program
    or from a newer mpil2l."""


class LogInUseError(RuntimeError):
    """A results log is already open for writing by another process."""


# -- opening and validating --------------------------------------------------------------


def _has_hdf5_signature(path):
    """True if the HDF5 signature is at offset 0, 512, 1024, 2048, ... (where a superblock
    may follow a user block)."""
    signature = b"\x89HDF\r\n\x1a\n"
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset + len(signature) <= size:
            f.seek(offset)
            if f.read(len(signature)) == signature:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


# HDF5's refusal of a file shorter than the end it recorded
_TRUNCATED = re.compile(r"truncated file: eof = (\d+), sblock->base_addr = \d+, stored_eof = (\d+)")


def open_hdf5(path, mode, locking=None):
    """Opens `path` with h5py, translating failures into errors that name the file.

    Args:
        path: the file.
        mode: ``'r'``, ``'r+'``, ``'w'`` or ``'w-'``.
        locking: h5py's ``locking`` (None: HDF5's default, which honours
            ``HDF5_USE_FILE_LOCKING``).

    Raises:
        FileNotFoundError: `path` does not exist (or its folder, for ``'w'``).
        ResultsLogError: `path` is a folder, not an HDF5 file, or truncated or corrupt.
        LogInUseError: another process holds the file open for writing.
    """
    path = os.fspath(path)
    if mode not in ("w", "w-"):
        if not os.path.exists(path):
            raise FileNotFoundError(f"results log {path!r} does not exist")
        if os.path.isdir(path):
            raise ResultsLogError(f"{path!r} is a folder, not a results log")
        if not _has_hdf5_signature(path):
            what = "an empty file" if os.path.getsize(path) == 0 else "not an HDF5 file"
            raise ResultsLogError(f"{path!r} is {what}, not an mpil2l results log")
    try:
        try:
            return h5py.File(path, mode, locking=locking)
        except (TypeError, ValueError) as exc:  # an HDF5 too old for the locking setting
            if locking is None or "lock" not in str(exc):
                raise
            return h5py.File(path, mode)
    except OSError as exc:
        message = str(exc)
        if isinstance(exc, BlockingIOError) or "unable to lock file" in message:
            raise LogInUseError(
                f"results log {path!r} is open in another process (its HDF5 file lock is held); "
                "end that process first (mpil2l.storage.reader reads without locking)"
            ) from None
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise type(exc)(exc.errno, f"cannot open results log {path!r}: {exc.strerror or message}") from None
        reason = message.split("(", 1)[-1].rstrip(")") if "(" in message else message
        hint = ""
        if _TRUNCATED.search(message):
            hint = (
                "; if a run with the parallel results log was killed while writing it, "
                f"`python -m mpil2l repair {path}` may make it readable (resuming the run does that itself)"
            )
        raise ResultsLogError(
            f"{path!r} cannot be opened as HDF5: it is truncated or corrupt ({reason}){hint}"
        ) from None


def check_format(file, path):
    """Checks that an open HDF5 file is a complete mpil2l results log this version reads.

    Raises:
        ResultsLogError: naming `path` and what is wrong.
    """
    found = file.attrs.get(F.ATTR_FORMAT)
    if isinstance(found, bytes):
        found = found.decode("utf-8", "replace")
    if found != F.FORMAT_NAME:
        what = "has no 'format' attribute" if found is None else f"has format {found!r}"
        raise ResultsLogError(
            f"{path!r} is an HDF5 file but not an mpil2l results log: it {what}, expected {F.FORMAT_NAME!r}"
        )
    version = file.attrs.get(F.ATTR_VERSION)
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ResultsLogError(f"{path!r} has no valid format_version attribute (got {version!r})") from None
    if version > F.FORMAT_VERSION:
        raise ResultsLogError(
            f"{path!r} has format version {version}, newer than this mpil2l reads "
            f"({F.FORMAT_VERSION}); upgrade mpil2l"
        )
    required = [f"attempts/{c.name}" for c in F.ATTEMPT_COLUMNS]
    required += [f"generations/{c.name}" for c in F.GENERATION_COLUMNS]
    required += ["parameters", "checkpoint", "outputs"]
    for name in required:
        if name not in file:
            raise ResultsLogError(
                f"{path!r} is an incomplete results log: it lacks /{name} (was its creation interrupted?)"
            )
    for attr in (F.ATTR_N_OBJECTIVES,):
        if attr not in file.attrs:
            raise ResultsLogError(f"{path!r} is an incomplete results log: it lacks the {attr!r} attribute")
    if F.ATTR_N_ROWS not in file["attempts"].attrs or F.ATTR_N_ROWS not in file["generations"].attrs:
        raise ResultsLogError(f"{path!r} is an incomplete results log: a table lacks its n_rows attribute")
    return version


def table_length(group):
    """Rows of a table group that hold data: its ``n_rows`` attribute, bounded by the
    shortest dataset (a log killed mid-write can have datasets of different lengths)."""
    n = int(group.attrs.get(F.ATTR_N_ROWS, 0))
    for item in group.values():
        if isinstance(item, h5py.Dataset):
            n = min(n, item.shape[0])
    return max(n, 0)


# -- tables ---------------------------------------------------------------------------------


def _grown_capacity(capacity, needed, chunk):
    """The next capacity >= `needed`: 1.5 times the current one at least, whole chunks."""
    target = max(needed, capacity + capacity // 2, chunk)
    return -(-target // chunk) * chunk


def _chunk_rows(widths):
    widest = max([1] + [min(w, CHUNK_BYTES // 8) for w in widths])
    rows = max(1, CHUNK_BYTES // (8 * widest))
    return min(MAX_CHUNK_ROWS, 1 << (rows.bit_length() - 1))


def write_rows(dataset, first, array, file_space=None):
    """``dataset[first : first + len(array)] = array`` through h5py's low-level calls: a
    quarter of the time of the slicing syntax, which matters at one write per column per
    flush. `file_space`: the dataset's current dataspace, if the caller keeps it (valid
    until the dataset is resized)."""
    array = np.ascontiguousarray(array)
    if file_space is None:
        file_space = dataset.id.get_space()
    file_space.select_hyperslab((first,) + (0,) * (array.ndim - 1), array.shape)
    memory_type = h5py.h5t.py_create(dataset.dtype) if array.dtype == object else None
    memory_space = _MEMORY_SPACES.get(array.shape)
    if memory_space is None:
        memory_space = _MEMORY_SPACES[array.shape] = h5py.h5s.create_simple(array.shape)
        if len(_MEMORY_SPACES) > MEMORY_SPACES_KEPT:
            del _MEMORY_SPACES[next(iter(_MEMORY_SPACES))]
    dataset.id.write(memory_space, file_space, array, mtype=memory_type)


# dataspaces of the arrays written lately, by shape (most writes repeat a few shapes)
_MEMORY_SPACES = {}
MEMORY_SPACES_KEPT = 64


def write_attribute(obj, name, value):
    """Overwrites the existing attribute `name` of `obj` in place, through h5py's low-level
    calls (a fifth of ``attrs.modify``'s cost, paid by every counter at every flush)."""
    attribute = h5py.h5a.open(obj.id, name.encode())
    try:
        attribute.write(np.asarray(value, dtype=attribute.dtype))
    finally:
        attribute.close()


class _Table:
    """A group of column datasets with a shared row count, written through a bounded buffer.

    ``n_rows`` counts the rows in the datasets, ``len(table)`` those plus the buffered ones.
    """

    def __init__(self, group, columns):
        self.group = group
        self.columns = columns
        self.datasets = {c.name: group[c.name] for c in columns}
        self.capacity = min(ds.shape[0] for ds in self.datasets.values())
        self.n_rows = table_length(group)
        self.chunk_rows = min(ds.chunks[0] for ds in self.datasets.values())
        self.buffer_rows = self.chunk_rows
        self.buffer = {}
        for c in columns:
            shape = (self.buffer_rows,) + self.datasets[c.name].shape[1:]
            self.buffer[c.name] = np.empty(shape, dtype=object if c.dtype is F.STRING else c.dtype)
        self._n_buffered = 0
        self._string_bytes = 0
        self._synced = int(group.attrs.get(F.ATTR_N_ROWS, 0))
        self._file_spaces = {}  # name -> the dataset's dataspace, until it is resized
        # Rows from here on hold no text in the string columns (they were never written, so
        # they read as ''): empty texts need not be written there. Rows below may hold some
        # (this file may have been written before, and rolled back).
        self._texts_below = min(ds.shape[0] for ds in self.datasets.values())

    @classmethod
    def create(cls, parent, name, columns, widths, chunk_rows, early=False):
        """Creates the table's group and datasets; `early`: allocate chunks when the
        datasets grow, without fill values (what parallel HDF5 needs of datasets written
        independently)."""
        group = parent.create_group(name)
        for c in columns:
            width = () if c.width is None else (widths[c.width],)
            kwargs = {} if c.fill is None else {"fillvalue": c.fill}
            if early and c.dtype is not F.STRING:  # the parallel backend writes strings serially
                # rows past n_rows are never read: no fill values, whose collective writes
                # make every resize under parallel HDF5 slow (~50 ms per dataset on 4
                # oversubscribed ranks, 0.2 ms without); the file is made to cover the new
                # chunks instead (`ParallelResultsLog._cover`). The log's other datasets keep
                # fill values: without them, SIGKILLs right after a checkpoint landed inside
                # HDF5's flush and left object headers unwritten (2 of 112 in
                # test_resume_mpi, 0 of 80 with them)
                kwargs["dcpl"] = _early_allocation()
                kwargs["fill_time"] = "never"
            ds = group.create_dataset(
                c.name,
                shape=(0,) + width,
                maxshape=(None,) + width,
                chunks=(chunk_rows,) + tuple(min(w, CHUNK_BYTES // 8) for w in width),
                dtype=c.dtype,
                **kwargs,
            )
            ds.attrs["doc"] = c.doc
        group.attrs[F.ATTR_N_ROWS] = 0
        return cls(group, columns)

    def __len__(self):
        return self.n_rows + self._n_buffered

    def claim_row(self):
        """Appends one row to the buffer and returns its index there (the caller fills
        ``buffer[name][index]`` for every column)."""
        if self._n_buffered == self.buffer_rows or self._string_bytes >= BUFFER_STRING_BYTES:
            self.drain()
        self._n_buffered += 1
        return self._n_buffered - 1

    def add_string_bytes(self, n):
        self._string_bytes += n

    def forget_from(self, total):
        """Drops the rows appended from row `total` on (a failed append undone)."""
        if total >= self.n_rows:
            self._n_buffered = min(self._n_buffered, total - self.n_rows)
        else:
            self._n_buffered = 0
            self.n_rows = total

    def append(self, block, k):
        """Appends `k` rows: `block` maps every column name to an array of `k` rows."""
        i = 0
        while i < k:
            if self._n_buffered == 0 and k - i >= self.buffer_rows:
                self._write({name: a[i:k] for name, a in block.items()}, k - i)
                return
            take = min(k - i, self.buffer_rows - self._n_buffered)
            start = self._n_buffered
            for name, array in block.items():
                self.buffer[name][start : start + take] = array[i : i + take]
                if array.dtype == object:
                    self._string_bytes += sum(map(len, array[i : i + take]))
            self._n_buffered += take
            i += take
            if self._n_buffered == self.buffer_rows or self._string_bytes >= BUFFER_STRING_BYTES:
                self.drain()

    def drain(self):
        """Writes the buffered rows to the datasets."""
        if self._n_buffered:
            k = self._n_buffered
            self._write({name: a[:k] for name, a in self.buffer.items()}, k)
            self._n_buffered = 0
            self._string_bytes = 0
            for array in self.buffer.values():
                if array.dtype == object:
                    array[:k] = None  # drop the strings

    def _write(self, block, k):
        end = self.n_rows + k
        if end > self.capacity:
            self.capacity = _grown_capacity(self.capacity, end, self.chunk_rows)
            for ds in self.datasets.values():
                ds.resize(self.capacity, axis=0)
            self._file_spaces = {}
        for name, ds in self.datasets.items():
            array = block[name]
            if array.dtype == object:
                if self.n_rows >= self._texts_below and not any(array):
                    continue  # empty texts: the fill value says the same, with no heap object
                self._texts_below = max(self._texts_below, end)
            space = self._file_spaces.get(name)
            if space is None:
                space = self._file_spaces[name] = ds.id.get_space()
            write_rows(ds, self.n_rows, array, space)
        self.n_rows = end

    def sync(self):
        """Records the row count in the file (call after `drain`)."""
        if self._synced != self.n_rows:
            write_attribute(self.group, F.ATTR_N_ROWS, self.n_rows)
            self._synced = self.n_rows

    def truncate(self, n_rows):
        """Forgets every row from `n_rows` on (they are overwritten by later appends)."""
        self.drain()
        self.n_rows = min(self.n_rows, n_rows)

    def trim(self):
        """Shrinks the datasets to the rows written."""
        if self.capacity != self.n_rows:
            for ds in self.datasets.values():
                ds.resize(self.n_rows, axis=0)
            self.capacity = self.n_rows
            self._file_spaces = {}


def output_array(name, value):
    """`value` as the numpy array of output `name`.

    Raises:
        ValueError: `name` is not a non-empty string without '/'.
        TypeError: `value` is not numeric.
    """
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"output names must be non-empty strings without '/', got {name!r}")
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"output {name!r} must be numeric, got dtype {array.dtype}")
    return array


def value_chunk(dtype):
    """Chunk length of an output's ``values`` dataset."""
    return max(1, CHUNK_BYTES // dtype.itemsize)


class _Ragged:
    """One named per-attempt output: values of every entry concatenated, plus an index."""

    def __init__(self, group):
        self.group = group
        self.name = group.name.rsplit("/", 1)[-1]
        self.ndim = int(group.attrs["ndim"])
        self.values = group[F.OUTPUT_VALUES]
        self.dtype = self.values.dtype
        self.index = [group[F.OUTPUT_ROW], group[F.OUTPUT_START]]
        if self.ndim:
            self.index.append(group[F.OUTPUT_SHAPE])
        self.n_entries = min([int(group.attrs["n_entries"])] + [ds.shape[0] for ds in self.index])
        self.n_values = min(int(group.attrs["n_values"]), self.values.shape[0])
        self.last_row = int(group[F.OUTPUT_ROW][self.n_entries - 1]) if self.n_entries else -1
        self._pending = []  # (row, flat values, shape)
        self._pending_bytes = 0
        self._synced = (int(group.attrs["n_entries"]), int(group.attrs["n_values"]))

    @classmethod
    def create(cls, parent, name, dtype, ndim):
        group = parent.create_group(name)
        group.create_dataset(F.OUTPUT_VALUES, shape=(0,), maxshape=(None,), chunks=(value_chunk(dtype),), dtype=dtype)
        for key in (F.OUTPUT_ROW, F.OUTPUT_START):
            group.create_dataset(key, shape=(0,), maxshape=(None,), chunks=(OUTPUT_INDEX_CHUNK,), dtype=F.INDEX)
        if ndim:
            group.create_dataset(
                F.OUTPUT_SHAPE, shape=(0, ndim), maxshape=(None, ndim), chunks=(OUTPUT_INDEX_CHUNK, ndim), dtype=F.INDEX
            )
        group.attrs["ndim"] = ndim
        group.attrs["n_entries"] = 0
        group.attrs["n_values"] = 0
        return cls(group)

    def append(self, row, array):
        if array.ndim != self.ndim:
            raise ValueError(
                f"output {self.name!r} has {self.ndim} dimension(s), got an array of shape {array.shape}"
            )
        if not np.can_cast(array.dtype, self.dtype, "same_kind"):
            raise TypeError(f"output {self.name!r} is stored as {self.dtype}, got {array.dtype}")
        if row <= self.last_row:
            raise ValueError(
                f"output {self.name!r} already has an entry for attempt row {self.last_row}; "
                f"rows must increase, got {row}"
            )
        self.last_row = row
        flat = np.array(array, dtype=self.dtype, copy=True).ravel()
        self._pending.append((row, flat, array.shape))
        self._pending_bytes += flat.nbytes
        if self._pending_bytes >= OUTPUT_BUFFER_BYTES or len(self._pending) >= OUTPUT_INDEX_CHUNK:
            self.drain()

    def drain(self):
        if not self._pending:
            return
        sizes = np.array([flat.size for _, flat, _ in self._pending], dtype=np.int64)
        starts = self.n_values + np.concatenate([[0], np.cumsum(sizes)[:-1]])
        k = len(self._pending)
        end_entries, end_values = self.n_entries + k, self.n_values + int(sizes.sum())
        if end_values > self.values.shape[0]:
            self.values.resize(_grown_capacity(self.values.shape[0], end_values, self.values.chunks[0]), axis=0)
        if end_entries > self.index[0].shape[0]:
            capacity = _grown_capacity(self.index[0].shape[0], end_entries, OUTPUT_INDEX_CHUNK)
            for ds in self.index:
                ds.resize(capacity, axis=0)
        if end_values > self.n_values:
            write_rows(self.values, self.n_values, np.concatenate([flat for _, flat, _ in self._pending]))
        write_rows(self.index[0], self.n_entries, np.array([row for row, _, _ in self._pending], dtype=np.int64))
        write_rows(self.index[1], self.n_entries, starts)
        if self.ndim:
            write_rows(self.index[2], self.n_entries, np.array([shape for _, _, shape in self._pending], dtype=np.int64))
        self.n_entries, self.n_values = end_entries, end_values
        self._pending = []
        self._pending_bytes = 0

    def sync(self):
        if self._synced != (self.n_entries, self.n_values):
            write_attribute(self.group, "n_entries", self.n_entries)
            write_attribute(self.group, "n_values", self.n_values)
            self._synced = (self.n_entries, self.n_values)

    def truncate(self, n_entries, n_values):
        self.drain()
        self.n_entries = min(self.n_entries, n_entries)
        self.n_values = min(self.n_values, n_values)
        self.last_row = int(self.index[0][self.n_entries - 1]) if self.n_entries else -1

    def trim(self):
        if self.values.shape[0] != self.n_values:
            self.values.resize(self.n_values, axis=0)
        for ds in self.index:
            if ds.shape[0] != self.n_entries:
                ds.resize(self.n_entries, axis=0)


# -- checkpoint -----------------------------------------------------------------------------


def _next_slot(group):
    """The checkpoint slot to write next: the one that is not current."""
    current = int(group.attrs[F.ATTR_CURRENT])
    return 0 if current < 0 else 1 - current


def _joined(pieces, offset):
    """`pieces` (bytes-like) side by side in one uint8 array, and where each lies once the
    array is stored from `offset` on: ``[(offset, length)]``."""
    arrays = [np.frombuffer(memoryview(piece).cast("B"), dtype=np.uint8) for piece in pieces]
    ends = offset + np.cumsum([a.size for a in arrays], dtype=np.int64)
    refs = [(int(end) - a.size, a.size) for end, a in zip(ends, arrays)]
    data = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    return data, refs


def _checkpoint_bytes(group, name, capacity):
    """Creates a dataset of checkpoint bytes. In a log laid out for the parallel backend its
    chunks are allocated as it grows, also when rank 0 creates or grows it alone (a run's
    first and last checkpoints): parallel HDF5 grows such a dataset on every rank at once,
    where a chunk left for a write to allocate would be allocated by the writing rank only,
    and the ranks' views of the file would part (MPI_File_set_size then fails at the next
    flush)."""
    kwargs = {"dcpl": _early_allocation()} if has_parallel_layout(group.file) else {}
    return group.create_dataset(
        name, shape=(capacity,), maxshape=(None,), chunks=(CHECKPOINT_CHUNK,), dtype=F.CHECKPOINT_BYTES, **kwargs
    )


def _history_dataset(group, n):
    """/checkpoint/history, created or grown to hold `n` bytes."""
    if HISTORY not in group:
        _checkpoint_bytes(group, HISTORY, 0)
    ds = group[HISTORY]
    if n > ds.shape[0]:
        ds.resize(_grown_capacity(ds.shape[0], n, CHECKPOINT_CHUNK), axis=0)
    return ds


def _checkpoint_slot(group, slot, n):
    """The dataset of checkpoint `slot`, created or grown (whole chunks) to hold `n` bytes."""
    name = f"slot{slot}"
    if name not in group:
        return _checkpoint_bytes(group, name, max(CHECKPOINT_CHUNK, -(-n // CHECKPOINT_CHUNK) * CHECKPOINT_CHUNK))
    ds = group[name]
    if n > ds.shape[0]:
        ds.resize(-(-n // CHECKPOINT_CHUNK) * CHECKPOINT_CHUNK, axis=0)
    return ds


def load_checkpoint_slots(group, path):
    """The bytes of the newest valid checkpoint in a /checkpoint group, with its attributes.

    Returns:
        ``(data, attrs)``, or ``(None, {})`` when no checkpoint was saved.

    Raises:
        ResultsLogError: checkpoints were saved but none passes its CRC check.
    """
    current = int(group.attrs.get(F.ATTR_CURRENT, -1))
    if current < 0:
        return None, {}
    for slot in (current, 1 - current):
        name = f"slot{slot}"
        if name not in group or "crc32" not in group[name].attrs:
            continue
        ds = group[name]
        n = int(ds.attrs["nbytes"])
        data = ds[:n].tobytes() if n else b""
        if len(data) == n and zlib.crc32(data) == int(ds.attrs["crc32"]):
            if slot != current:
                logger.warning("%s: the current checkpoint is damaged; using the previous one", path)
            return data, dict(ds.attrs)
    raise ResultsLogError(f"{path!r}: no checkpoint slot passes its CRC check; the checkpoint is corrupt")


def _early_allocation():
    """Creation properties of a dataset whose chunks are allocated as it grows, not when
    first written: what writes from single ranks under parallel HDF5 need."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return dcpl


def has_parallel_layout(file):
    """True if the log open in `file` was created for the parallel backend (``for_parallel``:
    chunks allocated when a dataset grows, which writes from several ranks need)."""
    return file["attempts/generation"].id.get_create_plist().get_alloc_time() == h5py.h5d.ALLOC_TIME_EARLY


MAX_MISSING_BYTES = 256 << 20


def _read_attribute_names(_, obj):
    list(obj.attrs)  # (returns None: visititems stops at the first object that returns a value)


def repair_truncated(path):
    """Makes a results log that HDF5 refuses as truncated readable again, when what it lacks
    is space the writer had allocated and not yet written: the parallel backend grows its
    datasets in a collective step, and a job killed before anything was written at the new
    end leaves the file shorter than the end HDF5 recorded (bytes past the end were never
    written by anyone, or the file would be longer). The file is extended with zeros to
    that end and kept so only if it then reads as a whole log laid out for the parallel
    backend (its format, every attempt row below the row count written, its checkpoint
    passing its CRC check, every object and its attributes readable); otherwise it is cut
    back to its size, its bytes unchanged (a job killed inside HDF5's own flush can leave
    metadata unwritten there, which no repair restores).

    Returns:
        True if the file was extended.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    try:
        with h5py.File(path, "r", locking=False):
            return False
    except OSError as exc:
        match = _TRUNCATED.search(str(exc))
    if match is None or int(match[1]) != size:
        return False
    recorded = int(match[2])
    if not size < recorded <= size + max(size, MAX_MISSING_BYTES):
        return False
    os.truncate(path, recorded)
    try:
        with h5py.File(path, "r", locking=False) as file:
            check_format(file, path)
            if not has_parallel_layout(file):
                raise ResultsLogError("not laid out for the parallel backend, the only one that leaves logs so")
            statuses = file["attempts"]["status"][: table_length(file["attempts"])]
            if statuses.size and not statuses.all():
                raise ResultsLogError("attempt rows below the row count were never written")
            load_checkpoint_slots(file["checkpoint"], path)
            file.visititems(_read_attribute_names)  # metadata never written (killed inside HDF5's flush)
    except Exception as exc:
        logger.debug("%s: not repaired by extending it (%s)", path, exc)
        if os.path.getsize(path) == recorded:
            os.truncate(path, size)
        return False
    logger.warning("%s was %d bytes shorter than HDF5 recorded (a writer killed while growing it); "
                   "extended with zeros", path, recorded - size)
    return True


def read_history(group, offset, length, path):
    """Bytes ``offset:offset + length`` of a /checkpoint group's history.

    Raises:
        ResultsLogError: the history is missing or shorter than that.
    """
    ds = group.get(HISTORY)
    if ds is None or offset < 0 or offset + length > ds.shape[0]:
        raise ResultsLogError(f"{path!r}: the checkpoint refers to history bytes the file does not hold; it is corrupt")
    return ds[offset : offset + length].tobytes()


# -- parameters ----------------------------------------------------------------------------


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _flatten_parameters(traj):
    """The trajectory's parameters as ``{name: value}``, groups as 'group.name'."""
    source = traj.par if hasattr(traj, "par") else traj
    flat = {}
    for name, value in source.items():
        if hasattr(value, "params") and hasattr(value, "f_add_parameter"):  # a ParameterGroup
            for key, item in value.items():
                flat[f"{name}.{key}"] = item
        else:
            flat[str(name)] = value
    return flat


def _numeric(value):
    """`value` as a numpy number or array if it is numeric (bools are not), else None."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return np.asarray(value)[()]
    if isinstance(value, (list, tuple, np.ndarray)) and not (isinstance(value, tuple) and hasattr(value, "_fields")):
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            return None
        if array.dtype.kind in "iuf" and array.size:
            return array
    return None


# -- the interface and the serial backend -----------------------------------------------------


class BaseResultsLog:
    """What a results-log backend provides; see the module docstring for the layout.

    Backends: the serial `ResultsLog`, and `mpil2l.storage.parallel.ParallelResultsLog`
    (``driver='mpio'``), whose flush, checkpoint and close are collective.
    Usable as a context manager: the log is closed at the end of the block.
    """

    def append_attempts(self, records, params=None):
        """Appends evaluation attempts; returns the range of their rows."""
        raise NotImplementedError

    def _attempt_columns(self, records, params):
        """`records` and their `params` as one array per column (what `_Table.append`
        takes), or None when some value is missing or malformed."""
        n = len(records)
        try:
            block = {
                name: np.array([r[name] for r in records], dtype=dtype)
                for name, dtype in (("generation", np.int64), ("ind_idx", np.int64), ("attempt", np.int32))
            }
            block["status"] = np.array([_STATUS_CODE_OF[r["status"]] for r in records], dtype=np.int8)
            block["rank"] = np.array([-1 if r.get("rank") is None else r["rank"] for r in records], dtype=np.int32)
            nan_row = (math.nan,) * self.n_objectives
            fitness = np.array([nan_row if r.get("fitness") is None else r["fitness"] for r in records], dtype=np.float64)
            if fitness.shape != (n, self.n_objectives):
                return None
            block["fitness"] = fitness
            for name in ("start", "end", "runtime"):
                block[name] = np.array([math.nan if r.get(name) is None else r[name] for r in records], dtype=np.float64)
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


def _text(value):
    """An attribute's string, whether stored fixed-length (bytes) or variable-length."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _mpil2l_version():
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "unknown"
    try:
        return version("mpil2l")
    except PackageNotFoundError:
        return "unknown"


def _check_not_in_use(path):
    """Raises `LogInUseError` if another process writes the file at `path` (an HDF5 lock, or
    a live writer on this host recorded in a results log); anything else may be replaced."""
    if not os.path.isfile(path) or not _has_hdf5_signature(path):
        return
    try:
        with open_hdf5(path, "r") as file:
            writer = file.attrs.get(F.ATTR_WRITER, "")
    except ResultsLogError:
        return
    if writer:
        try:
            info = json.loads(writer)
            host, pid = info["host"], int(info["pid"])
        except (ValueError, KeyError, TypeError):
            return
        if host == socket.gethostname() and (pid == os.getpid() or _pid_alive(pid)):
            raise LogInUseError(f"results log {path!r} is open for writing by process {pid}; not replacing it")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process its parent has not reaped yet (a zombie) writes nothing
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _check_create_args(n_objectives, param_spec, fitness_weights):
    """Validates `ResultsLog.create`'s arguments; returns ``(n_objectives, param_spec,
    spec_json, n_params, fitness_weights)`` ready for `_write_layout`."""
    if isinstance(n_objectives, bool) or not isinstance(n_objectives, (int, np.integer)):
        raise TypeError(f"n_objectives must be an integer, got {type(n_objectives).__name__} {n_objectives!r}")
    if n_objectives < 1:
        raise ValueError(f"n_objectives must be >= 1, got {n_objectives}")
    try:
        spec_json = F.spec_to_json(param_spec)
        param_spec = F.spec_from_json(spec_json)
    except (TypeError, ValueError, KeyError) as exc:
        raise TypeError(
            "param_spec must be the dict spec dict_to_list(individual, get_dict_spec=True) returns, "
            f"got {param_spec!r} ({exc})"
        ) from None
    n_params = F.spec_width(param_spec)
    if n_params < 1:
        raise ValueError(f"param_spec must describe at least one value, got {param_spec!r}")
    if fitness_weights is not None:
        fitness_weights = np.asarray(fitness_weights, dtype=float).ravel()
        if fitness_weights.size != n_objectives:
            raise ValueError(
                f"fitness_weights {tuple(fitness_weights)} has {fitness_weights.size} value(s), "
                f"n_objectives is {n_objectives}"
            )
    return int(n_objectives), param_spec, spec_json, n_params, fitness_weights


def _make_room(path, overwrite):
    """Checks that a log can be created at `path`, removing the file there if `overwrite`."""
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"results log {path!r} already exists; pass overwrite=True to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot create results log {path!r}: folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise ResultsLogError(f"cannot create results log {path!r}: it is a folder")
    if os.path.lexists(path):
        _check_not_in_use(path)
        os.remove(path)  # never truncate in place: HDF5 truncates before it checks the lock


def _write_layout(file, n_objectives, param_spec, spec_json, n_params, fitness_weights, created, early=False):
    """Creates every group, dataset and attribute of an empty log in `file`; `early`: for
    the parallel backend (see `_Table.create`)."""
    attrs = file.attrs
    attrs[F.ATTR_FORMAT] = F.FORMAT_NAME
    attrs[F.ATTR_VERSION] = F.FORMAT_VERSION
    attrs[F.ATTR_CREATED] = created
    attrs[F.ATTR_MPIL2L_VERSION] = _mpil2l_version()
    attrs[F.ATTR_N_OBJECTIVES] = int(n_objectives)
    if fitness_weights is not None:
        attrs[F.ATTR_FITNESS_WEIGHTS] = fitness_weights
    widths = {F.OBJECTIVES: int(n_objectives), F.PARAMS: n_params}
    attempts = _Table.create(file, "attempts", F.ATTEMPT_COLUMNS, widths, _chunk_rows(widths.values()), early)
    status = attempts.datasets["status"]
    status.attrs[F.ATTR_STATUS_CODES] = json.dumps({str(k): v for k, v in sorted(F.STATUS_NAMES.items())})
    params = attempts.datasets["params"]
    params.attrs[F.ATTR_PARAM_SPEC] = spec_json
    params.attrs[F.ATTR_PARAM_KEYS] = [key for key, _, _ in param_spec]
    if n_params <= MAX_NAMED_COLUMNS:
        params.attrs[F.ATTR_PARAM_NAMES] = F.param_column_names(param_spec)
    _Table.create(file, "generations", F.GENERATION_COLUMNS, widths, GENERATION_CHUNK_ROWS, early)
    file.create_group("parameters")
    file.create_group("outputs")
    file.create_group("checkpoint").attrs[F.ATTR_CURRENT] = -1
    attrs[F.ATTR_WRITER] = ""


class ResultsLog(BaseResultsLog):
    """The serial results-log backend: the process that owns it (rank 0) writes the file.

    Create one with `create` or `open_for_resume`, never directly.

    Example:
        >>> import os, tempfile
        >>> from mpil2l.conversion import dict_to_list
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

    _table_class = _Table

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
        self._outputs = {name: _Ragged(group) for name, group in file["outputs"].items()}
        self._history_n = 0  # valid bytes of /checkpoint/history (set from the checkpoint)
        self._spec_keys = [key for key, _, _ in self.param_spec]
        self._spec_sizes = [F.spec_width([entry]) for entry in self.param_spec]
        self.closed = False

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def create(cls, path, n_objectives, param_spec, overwrite=False, *, fitness_weights=None, for_parallel=False):
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
        args = _check_create_args(n_objectives, param_spec, fitness_weights)
        _make_room(path, overwrite)
        file = open_hdf5(path, "w-")
        try:
            _write_layout(file, *args, created=_now(), early=for_parallel)
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
        """Records this process as the writer, refusing a live one."""
        owner = self._file.attrs.get(F.ATTR_WRITER, "")
        if owner:
            try:
                info = json.loads(owner)
                host, pid, opened = info["host"], int(info["pid"]), info.get("opened", "?")
            except (ValueError, KeyError, TypeError):
                host, pid, opened = "?", -1, "?"
            who = f"process {pid} on host {host} (since {opened})"
            if host == socket.gethostname():
                if pid == os.getpid():
                    raise LogInUseError(f"results log {self.path!r} is already open for writing in this process")
                if _pid_alive(pid):
                    raise LogInUseError(f"results log {self.path!r} is open for writing by {who}")
                logger.warning("%s: taking over from %s, which ended without closing it", self.path, who)
            elif not break_lock:
                raise LogInUseError(
                    f"results log {self.path!r} was opened for writing by {who} and not closed; "
                    "if that process has ended, open it with break_lock=True"
                )
            else:
                logger.warning("%s: breaking the lock of %s", self.path, who)
        writer = {"host": socket.gethostname(), "pid": os.getpid(), "opened": _now()}
        self._file.attrs[F.ATTR_WRITER] = json.dumps(writer)
        self._file.flush()

    def _checkpoint_counts(self):
        """The table and output lengths when the current checkpoint was saved ({} if none)."""
        group = self._file["checkpoint"]
        if int(group.attrs.get(F.ATTR_CURRENT, -1)) < 0:
            return {}
        _, attrs = load_checkpoint_slots(group, self.path)
        return json.loads(_text(attrs.get("counts", "{}")))

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

    def _flatten(self, individual):
        """One flat parameter vector from a vector or an individual dict (keys with or without
        the 'individual.' prefix)."""
        if isinstance(individual, dict):
            parts = []
            for key, size in zip(self._spec_keys, self._spec_sizes):
                value = individual.get(key, individual.get(INDIVIDUAL_PREFIX + key))
                if value is None:
                    raise ValueError(f"the individual has no parameter {key!r}; it has {sorted(individual)}")
                value = np.asarray(value, dtype=float).ravel()
                if value.size != size:
                    raise ValueError(f"parameter {key!r} has {value.size} value(s), the log's spec {size}")
                parts.append(value)
            return np.concatenate(parts)
        vector = np.asarray(individual, dtype=float).ravel()
        if vector.size != self.n_params:
            raise ValueError(f"a flattened individual must have {self.n_params} values, got {vector.size}")
        return vector

    def append_attempts(self, records, params=None):
        """Appends evaluation attempts.

        Args:
            records: dicts as `mpil2l.evaluation.attempt_record` makes them: generation,
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
            if isinstance(params, np.ndarray) and params.ndim == 2 and params.shape[1] != self.n_params:
                raise ValueError(f"append_attempts: params must have {self.n_params} columns, got shape {params.shape}")
            if len(params) != len(records):
                raise ValueError(f"append_attempts: got {len(records)} record(s) but {len(params)} params")
        # whole columns at a time pay off from `COLUMNS_FROM_RECORDS` records on
        block = self._attempt_columns(records, params) if len(records) >= COLUMNS_FROM_RECORDS else None
        if block is not None:
            table.append(block, len(records))
            return range(first, len(table))
        # one record at a time, to name the one that is wrong
        buf = table.buffer
        generation, ind_idx, attempt, rank = buf["generation"], buf["ind_idx"], buf["attempt"], buf["rank"]
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
                    raise ValueError(f"fitness {tuple(value)} has {len(value)} value(s), the log has {n_obj} objective(s)")
                if params is None or params[i] is None:
                    vectors[j] = np.nan
                elif isinstance(params[i], dict):
                    vectors[j] = self._flatten(params[i])
                else:
                    vector = np.asarray(params[i], dtype=np.float64).ravel()
                    if vector.size != self.n_params:
                        raise ValueError(f"a flattened individual must have {self.n_params} values, got {vector.size}")
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
        self._check_open()
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < len(self._attempts):
            raise ValueError(f"row must be an attempt row in [0, {len(self._attempts)}), got {row!r}")
        for name, value in outputs.items():
            array = output_array(name, value)
            ragged = self._outputs.get(name)
            if ragged is None:
                dtype = array.dtype.newbyteorder("=")
                ragged = self._outputs[name] = _Ragged.create(self._file["outputs"], name, dtype, array.ndim)
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
        best = np.full(self.n_objectives, np.nan) if best is None else np.asarray(best, dtype=float).ravel()
        if best.size != self.n_objectives:
            raise ValueError(
                f"append_generation: best_fitness {tuple(best)} has {best.size} value(s), the log has "
                f"{self.n_objectives} objective(s)"
            )

        def value(key, default):
            item = stats.get(key)
            return default if item is None else item

        block = {
            "generation": np.array([stats["generation"]], dtype=np.int64),
            "n_individuals": np.array([value("n_individuals", 0)], dtype=np.int64),
            "best_weighted_fitness": np.array([value("best_weighted_fitness", np.nan)], dtype=np.float64),
            "mean_weighted_fitness": np.array([value("mean_weighted_fitness", np.nan)], dtype=np.float64),
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
        for name in list(group.attrs):
            del group.attrs[name]
        for name in list(group):
            del group[name]
        if hasattr(traj, "v_name"):
            self._file.attrs[F.ATTR_TRAJECTORY_NAME] = str(traj.v_name)
        for name, value in _flatten_parameters(traj).items():
            numeric = _numeric(value)
            if numeric is None:
                value = json.dumps(value, default=_json_default)
                size = len(value.encode("utf-8"))
            else:
                value, size = numeric, numeric.nbytes
            if size > LARGE_ATTRIBUTE:
                dataset_name = name.replace("%", "%25").replace("/", "%2F")
                group.create_dataset(dataset_name, data=value, dtype=F.STRING if isinstance(value, str) else None)
            else:
                group.attrs[name] = value

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
            single = isinstance(params, dict) or not isinstance(params[0], (dict, list, tuple, np.ndarray))
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
                f"write_best: {k} individual(s) need fitness of shape {(k, self.n_objectives)}, got {fitness.shape}"
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
        group.attrs["written"] = _now()

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
        slot = _next_slot(group)
        n = len(data)
        ds = _checkpoint_slot(group, slot, n)
        ds.attrs["crc32"] = -1  # no CRC-32 matches: the slot is invalid while being written
        if n:
            ds[:n] = np.frombuffer(data, dtype=np.uint8)
        ds.attrs["generation"] = -1 if generation is None else int(generation)
        # fixed-length strings: rewriting a variable-length one leaks global-heap space
        ds.attrs["saved"] = np.bytes_(_now())
        ds.attrs["counts"] = np.bytes_(json.dumps(self._counts()))
        ds.attrs["nbytes"] = n
        ds.attrs["crc32"] = zlib.crc32(data)
        self._file.flush()
        group.attrs[F.ATTR_CURRENT] = slot
        self._file.flush()

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
        data, refs = _joined(pieces, self._history_n)
        end = self._history_n + data.size
        ds = _history_dataset(self._file["checkpoint"], end)
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
                table.capacity = _grown_capacity(table.capacity, n, table.chunk_rows)
                for ds in table.datasets.values():
                    ds.resize(table.capacity, axis=0)
                table._file_spaces = {}

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
        state = "closed" if self.closed else f"{self.n_attempts} attempts, {self.n_generations} generations"
        return f"ResultsLog({self.path!r}, {state})"

"""The log's extendable tables, written through bounded buffers: `BufferedTable` (a group of
column datasets with a shared row count: /attempts, /generations) and `RaggedOutput` (one
named per-attempt output: values concatenated, plus an index), and how they are chunked.

Datasets grow by whole chunks, so their length is a capacity: the ``n_rows`` (``n_entries``,
``n_values``) attribute says how much of it holds data, and is only rewritten by ``sync``
(a flush), so a process killed between flushes leaves the file as of its last flush.
"""

import h5py
import numpy as np

from . import fields as F
from .attributes import write_attribute
from .hdf5_file import early_allocation

CHUNK_BYTES = 1 << 20  # target size of a table chunk
MAX_CHUNK_ROWS = 4096
OUTPUT_INDEX_CHUNK = 4096
BUFFER_STRING_BYTES = 4 << 20  # write buffered rows once their error messages hold this much
OUTPUT_BUFFER_BYTES = 4 << 20
MEMORY_SPACES_KEPT = 64

# dataspaces of the arrays written lately, by shape (most writes repeat a few shapes)
_MEMORY_SPACES = {}


def grown_capacity(capacity, needed, chunk):
    """The next capacity >= `needed`: 1.5 times the current one at least, whole chunks."""
    target = max(needed, capacity + capacity // 2, chunk)
    return -(-target // chunk) * chunk


def table_chunk_rows(widths):
    """Rows per chunk of a table whose 2-d columns have `widths` values per row: about
    `CHUNK_BYTES` for the widest, a power of two, at most `MAX_CHUNK_ROWS`."""
    widest = max([1] + [min(w, CHUNK_BYTES // 8) for w in widths])
    rows = max(1, CHUNK_BYTES // (8 * widest))
    return min(MAX_CHUNK_ROWS, 1 << (rows.bit_length() - 1))


def write_rows(dataset, first, array, file_space=None):
    """``dataset[first : first + len(array)] = array`` through h5py's low-level calls, which
    cost less than the slicing syntax: a flush writes once per column. `file_space`: the
    dataset's current dataspace, if the caller keeps it (valid until the dataset is
    resized)."""
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


def table_length(group):
    """Rows of a table group that hold data: its ``n_rows`` attribute, bounded by the
    shortest dataset (a log killed mid-write can have datasets of different lengths)."""
    n = int(group.attrs.get(F.ATTR_N_ROWS, 0))
    for item in group.values():
        if isinstance(item, h5py.Dataset):
            n = min(n, item.shape[0])
    return max(n, 0)


class BufferedTable:
    """A group of column datasets with a shared row count, written through a bounded buffer
    (at most one chunk's worth of rows).

    ``n_rows`` counts the rows in the datasets, ``len(table)`` those plus the buffered ones;
    ``n_rows_synced`` is the row count the file records.
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
            dtype = object if c.dtype is F.STRING else c.dtype
            self.buffer[c.name] = np.empty(shape, dtype=dtype)
        self.n_buffered = 0
        self._string_bytes = 0
        self.n_rows_synced = int(group.attrs.get(F.ATTR_N_ROWS, 0))
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
                # Rows past n_rows are never read: no fill values, whose collective writes
                # make every resize under parallel HDF5 slow; the file is made to cover the
                # new chunks instead (`ParallelResultsLog._cover`). The log's other datasets
                # keep fill values: without them, a SIGKILL right after a checkpoint can land
                # inside HDF5's flush and leave object headers unwritten (docs/results-log.md,
                # "Design measurements").
                kwargs["dcpl"] = early_allocation()
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
        return self.n_rows + self.n_buffered

    def claim_row(self):
        """Appends one row to the buffer and returns its index there (the caller fills
        ``buffer[name][index]`` for every column)."""
        if self.n_buffered == self.buffer_rows or self._string_bytes >= BUFFER_STRING_BYTES:
            self.drain()
        self.n_buffered += 1
        return self.n_buffered - 1

    def add_string_bytes(self, n):
        """Counts `n` bytes of text in the buffered rows (written once they hold
        `BUFFER_STRING_BYTES`)."""
        self._string_bytes += n

    def forget_from(self, total):
        """Drops the rows appended from row `total` on (a failed append undone)."""
        if total >= self.n_rows:
            self.n_buffered = min(self.n_buffered, total - self.n_rows)
        else:
            self.n_buffered = 0
            self.n_rows = total

    def append(self, block, k):
        """Appends `k` rows: `block` maps every column name to an array of `k` rows."""
        i = 0
        while i < k:
            if self.n_buffered == 0 and k - i >= self.buffer_rows:
                self._write({name: a[i:k] for name, a in block.items()}, k - i)
                return
            take = min(k - i, self.buffer_rows - self.n_buffered)
            start = self.n_buffered
            for name, array in block.items():
                self.buffer[name][start : start + take] = array[i : i + take]
                if array.dtype == object:
                    self._string_bytes += sum(map(len, array[i : i + take]))
            self.n_buffered += take
            i += take
            if self.n_buffered == self.buffer_rows or self._string_bytes >= BUFFER_STRING_BYTES:
                self.drain()

    def drain(self):
        """Writes the buffered rows to the datasets."""
        if self.n_buffered:
            k = self.n_buffered
            self._write({name: a[:k] for name, a in self.buffer.items()}, k)
            self.n_buffered = 0
            self._string_bytes = 0
            for array in self.buffer.values():
                if array.dtype == object:
                    array[:k] = None  # drop the strings

    def grow(self, capacity):
        """Resizes every dataset to `capacity` rows."""
        self.capacity = capacity
        for ds in self.datasets.values():
            ds.resize(capacity, axis=0)
        self._file_spaces = {}

    def _write(self, block, k):
        """Writes `k` rows after the last one written (a subclass may hold some back)."""
        end = self.n_rows + k
        if end > self.capacity:
            self.grow(grown_capacity(self.capacity, end, self.chunk_rows))
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
        if self.n_rows_synced != self.n_rows:
            write_attribute(self.group, F.ATTR_N_ROWS, self.n_rows)
            self.n_rows_synced = self.n_rows

    def truncate(self, n_rows):
        """Forgets every row from `n_rows` on (they are overwritten by later appends)."""
        self.drain()
        self.n_rows = min(self.n_rows, n_rows)

    def trim(self):
        """Shrinks the datasets to the rows written."""
        if self.capacity != self.n_rows:
            self.grow(self.n_rows)


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


class RaggedOutput:
    """One named per-attempt output (/outputs/<name>): the values of every entry
    concatenated, plus an index (row, start and shape of each entry), written through a
    bounded buffer. ``counts_synced`` is the ``(n_entries, n_values)`` the file records."""

    def __init__(self, group):
        self.group = group
        self.name = group.name.rsplit("/", 1)[-1]
        self.ndim = int(group.attrs["ndim"])
        self.values = group[F.OUTPUT_VALUES]
        self.dtype = self.values.dtype
        self.index = [group[F.OUTPUT_ROW], group[F.OUTPUT_START]]
        if self.ndim:
            self.index.append(group[F.OUTPUT_SHAPE])
        n_entries = int(group.attrs["n_entries"])
        self.n_entries = min([n_entries] + [ds.shape[0] for ds in self.index])
        self.n_values = min(int(group.attrs["n_values"]), self.values.shape[0])
        last = self.n_entries - 1
        self.last_row = int(group[F.OUTPUT_ROW][last]) if self.n_entries else -1
        self._pending = []  # (row, flat values, shape)
        self._pending_bytes = 0
        self.counts_synced = (n_entries, int(group.attrs["n_values"]))

    @classmethod
    def create(cls, parent, name, dtype, ndim):
        """Creates the group and datasets of output `name`, arrays of `dtype` and `ndim`
        dimensions."""
        group = parent.create_group(name)
        group.create_dataset(
            F.OUTPUT_VALUES,
            shape=(0,),
            maxshape=(None,),
            chunks=(value_chunk(dtype),),
            dtype=dtype,
        )
        for key in (F.OUTPUT_ROW, F.OUTPUT_START):
            group.create_dataset(
                key, shape=(0,), maxshape=(None,), chunks=(OUTPUT_INDEX_CHUNK,), dtype=F.INDEX
            )
        if ndim:
            group.create_dataset(
                F.OUTPUT_SHAPE,
                shape=(0, ndim),
                maxshape=(None, ndim),
                chunks=(OUTPUT_INDEX_CHUNK, ndim),
                dtype=F.INDEX,
            )
        group.attrs["ndim"] = ndim
        group.attrs["n_entries"] = 0
        group.attrs["n_values"] = 0
        return cls(group)

    def append(self, row, array):
        """Appends attempt `row`'s array (rows must increase).

        Raises:
            ValueError: another number of dimensions, or a row not after the last one.
            TypeError: a dtype that cannot be cast to the output's.
        """
        if array.ndim != self.ndim:
            raise ValueError(
                f"output {self.name!r} has {self.ndim} dimension(s), got an array of shape "
                f"{array.shape}"
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
        """Writes the buffered entries to the datasets."""
        if not self._pending:
            return
        sizes = np.array([flat.size for _, flat, _ in self._pending], dtype=np.int64)
        starts = self.n_values + np.concatenate([[0], np.cumsum(sizes)[:-1]])
        k = len(self._pending)
        end_entries, end_values = self.n_entries + k, self.n_values + int(sizes.sum())
        if end_values > self.values.shape[0]:
            capacity = grown_capacity(self.values.shape[0], end_values, self.values.chunks[0])
            self.values.resize(capacity, axis=0)
        if end_entries > self.index[0].shape[0]:
            capacity = grown_capacity(self.index[0].shape[0], end_entries, OUTPUT_INDEX_CHUNK)
            for ds in self.index:
                ds.resize(capacity, axis=0)
        if end_values > self.n_values:
            values = np.concatenate([flat for _, flat, _ in self._pending])
            write_rows(self.values, self.n_values, values)
        rows = np.array([row for row, _, _ in self._pending], dtype=np.int64)
        write_rows(self.index[0], self.n_entries, rows)
        write_rows(self.index[1], self.n_entries, starts)
        if self.ndim:
            shapes = np.array([shape for _, _, shape in self._pending], dtype=np.int64)
            write_rows(self.index[2], self.n_entries, shapes)
        self.n_entries, self.n_values = end_entries, end_values
        self._pending = []
        self._pending_bytes = 0

    def sync(self):
        """Records the entry and value counts in the file (call after `drain`)."""
        if self.counts_synced != (self.n_entries, self.n_values):
            write_attribute(self.group, "n_entries", self.n_entries)
            write_attribute(self.group, "n_values", self.n_values)
            self.counts_synced = (self.n_entries, self.n_values)

    def truncate(self, n_entries, n_values):
        """Forgets the entries from `n_entries` on and the values from `n_values` on."""
        self.drain()
        self.n_entries = min(self.n_entries, n_entries)
        self.n_values = min(self.n_values, n_values)
        self.last_row = int(self.index[0][self.n_entries - 1]) if self.n_entries else -1

    def trim(self):
        """Shrinks the datasets to the entries and values written."""
        if self.values.shape[0] != self.n_values:
            self.values.resize(self.n_values, axis=0)
        for ds in self.index:
            if ds.shape[0] != self.n_entries:
                ds.resize(self.n_entries, axis=0)

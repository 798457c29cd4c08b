"""A trajectory's finished generations, kept packed instead of as live objects.

L2L's trajectory keeps every generation it ever evaluated: ``traj.individuals[g]`` (a list of
`Individual`), ``traj.results.all_results[g]`` and ``traj.results.attempts[g]``. A run of a
million evaluations holds a gigabyte of them on rank 0. Here those three tables are
`GenerationTable`\\ s sharing one `GenerationHistory`, where a generation is either

* live: its objects, as in L2L; or
* packed: one *piece*, its individuals and per-generation results pickled together and
  compressed (zlib level 1), held as bytes or as a `HistoryRef` to where a results log's
  ``/checkpoint/history`` holds it (a run's checkpoints write every finished generation
  there once; see `mpil2l.experiment.checkpoint`).

Reading a packed generation unpacks its piece; the last `CACHED_GENERATIONS` unpacked stay
cached (shared by the three tables), so that reading one twice returns the same objects.
Packed generations are read-only snapshots: a change made in place to their objects
(``traj.individuals[g][0].params[...] = ...``) lasts only while they are cached.
Assigning or deleting a packed generation's entry (``traj.individuals[g] = [...]``) makes
that generation live again first, so it works as on a dict.

Pickling a trajectory stays self-contained: packed generations are written as their
compressed bytes (read from the results log where they lie), so a loaded
``trajectory.pickle`` needs no results log and holds its history compactly.

Example:
    >>> history = GenerationHistory()
    >>> individuals = history.table("individuals")
    >>> individuals[0] = ["first generation"]
    >>> history.pack(0, history.piece(0))
    >>> individuals.is_packed(0), individuals[0]
    (True, ['first generation'])
"""

import pickle
import zlib
from collections import OrderedDict
from collections.abc import MutableMapping
from contextlib import contextmanager
from typing import NamedTuple

from . import pickles

PROTOCOL = pickle.HIGHEST_PROTOCOL
COMPRESSION_LEVEL = 1  # zlib's fastest level: the pickled individuals compress well already
CACHED_GENERATIONS = 2
INDIVIDUALS = "individuals"
# the per-generation result groups of a trajectory, packed with the generation's individuals
GENERATION_RESULTS = ("all_results", "attempts")
_PICKLE_START = b"\x80"  # pickles of protocol 2 and above start so; zlib streams with 0x78


class _Packed:
    """Marks a table entry whose value lies in the history's piece of that generation."""

    def __reduce__(self):
        return "PACKED"  # pickled by name: the one instance, also after unpickling

    def __repr__(self):
        return "<packed>"


PACKED = _Packed()


def pack_generation(individuals, results):
    """One generation's piece: ``(individuals, {table name: value})`` pickled and compressed."""
    return zlib.compress(pickle.dumps((individuals, results), protocol=PROTOCOL), COMPRESSION_LEVEL)


def unpack_generation(piece):
    """``(individuals, results)`` from a piece, compressed or (as older checkpoints wrote
    them) a plain pickle."""
    data = bytes(piece)
    if data[:1] != _PICKLE_START:
        data = zlib.decompress(data)
    return pickles.loads(data)


class HistoryRef(NamedTuple):
    """Where a packed generation's piece lies in a results log."""

    file: object  # where the piece lies: ``read(offset, length)``, ``path`` and ``reading()``
    offset: int
    length: int

    def read(self):
        return self.file.read(self.offset, self.length)


class GenerationTable(MutableMapping):
    """One per-generation table of a trajectory (``traj.individuals``, or the data of
    ``traj.results.all_results`` or ``.attempts``): a dict ``generation -> value`` whose
    packed entries are unpacked when read. Keys keep their insertion order."""

    def __init__(self, history, name):
        self._history = history
        self._name = name
        self._entries = {}  # generation -> value, or PACKED

    def __getitem__(self, g):
        value = self._entries[g]
        if value is PACKED:
            return self._history.load(g, self._name)
        return value

    def __setitem__(self, g, value):
        if self._entries.get(g) is PACKED:
            self._history.unpack(g)
        self._entries[g] = value

    def __delitem__(self, g):
        if self._entries.get(g) is PACKED:
            self._history.unpack(g)
        del self._entries[g]

    def __contains__(self, g):
        return g in self._entries

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def is_packed(self, g):
        """True if generation `g`'s entry is packed (False if live or absent)."""
        return self._entries.get(g) is PACKED

    def __repr__(self):
        return f"{type(self).__name__}({self._entries!r})"


class GenerationHistory:
    """The per-generation tables of one trajectory and the pieces of their packed
    generations (see the module docstring)."""

    def __init__(self):
        self._tables = {}  # name -> GenerationTable
        self._pieces = {}  # generation -> bytes or HistoryRef
        self._cache = OrderedDict()  # generation -> (individuals, results), newest last

    def table(self, name, items=None):
        """The table `name`, made new when `items` (a mapping) is given: this history's own
        table is returned as it is, any other mapping's items are copied into a new table."""
        current = self._tables.get(name)
        if current is not None and (items is None or items is current):
            return current
        if current is not None:  # replaced: the other tables keep their packed values
            for g in [g for g in current if current.is_packed(g)]:
                self.unpack(g)
        table = GenerationTable(self, name)
        if items is not None:
            for g, value in items.items():
                table._entries[g] = value
        self._tables[name] = table
        return table

    def owns(self, table):
        """True if `table` is this history's current table of its name."""
        return isinstance(table, GenerationTable) and self._tables.get(table._name) is table

    def is_packed(self, g):
        return g in self._pieces

    def _live(self, g):
        """``(individuals, results)`` of live generation `g` (every table holding it)."""
        individuals, results = None, {}
        for name, table in self._tables.items():
            if g in table._entries:
                if name == INDIVIDUALS:
                    individuals = table._entries[g]
                else:
                    results[name] = table._entries[g]
        return individuals, results

    def piece(self, g):
        """Generation `g`'s piece (bytes): the packed one, or the live generation packed now
        (the tables' values, unchanged)."""
        piece = self._pieces.get(g)
        if isinstance(piece, HistoryRef):
            return piece.read()
        if piece is not None:
            return piece
        return pack_generation(*self._live(g))

    def pack(self, g, piece):
        """Makes generation `g` packed into `piece` (bytes from `piece`, or a `HistoryRef`
        to them): its live values are dropped from the tables (they stay cached, as the
        newest unpacked generation). A packed generation gets the new piece."""
        if g in self._pieces:
            self._pieces[g] = piece
            return
        live = self._live(g)
        packed = False
        for table in self._tables.values():
            if g in table._entries:
                table._entries[g] = PACKED
                packed = True
        if packed:
            self._pieces[g] = piece
            self._remember(g, live)

    def attach(self, pieces, names):
        """Adds packed generations: ``pieces`` maps generation -> piece, each holding the
        values of the tables `names`. The tables' keys are sorted by generation afterwards.
        """
        for name in names:
            table = self.table(name)
            for g in pieces:
                table._entries[g] = PACKED
        self._pieces.update(pieces)
        for table in self._tables.values():
            table._entries = dict(sorted(table._entries.items(), key=lambda item: item[0]))

    def load(self, g, name):
        """The value of table `name` for packed generation `g`."""
        individuals, results = self._unpacked(g)
        return individuals if name == INDIVIDUALS else results[name]

    def _unpacked(self, g):
        if g in self._cache:
            self._cache.move_to_end(g)
            return self._cache[g]
        piece = self._pieces[g]
        if isinstance(piece, HistoryRef):  # errors reading the file name it
            source, piece = f"in {piece.file.path!r}", piece.read()
        else:
            source = "in memory"
        try:
            loaded = unpack_generation(piece)
            individuals, results = loaded
            if individuals and getattr(individuals[0], "generation", g) != g:
                raise ValueError(f"the piece holds generation {individuals[0].generation}")
        except Exception as exc:
            raise ValueError(
                f"generation {g} of this trajectory is packed {source}, which does not hold it "
                f"(replaced or damaged?): {type(exc).__name__}: {exc}"
            ) from exc
        self._remember(g, loaded)
        return loaded

    def _remember(self, g, loaded):
        self._cache[g] = loaded
        self._cache.move_to_end(g)
        while len(self._cache) > CACHED_GENERATIONS:
            self._cache.popitem(last=False)

    def unpack(self, g):
        """Makes packed generation `g` live again in every table that holds it."""
        if g not in self._pieces:
            return
        individuals, results = self._unpacked(g)
        for name, table in self._tables.items():
            if table._entries.get(g) is PACKED:
                table._entries[g] = individuals if name == INDIVIDUALS else results[name]
        del self._pieces[g]
        self._cache.pop(g, None)

    @contextmanager
    def without(self, generations):
        """Inside the block, the tables lack `generations` (live or packed, nothing is
        unpacked); afterwards they are as they were, in the same order."""
        saved = [(table, table._entries) for table in self._tables.values()]
        pieces = self._pieces
        drop = set(generations)
        for table, entries in saved:
            table._entries = {g: v for g, v in entries.items() if g not in drop}
        self._pieces = {g: p for g, p in pieces.items() if g not in drop}
        try:
            yield
        finally:
            for table, entries in saved:
                table._entries = entries
            self._pieces = pieces

    def __getstate__(self):
        pieces = {}
        files = {id(p.file): p.file for p in self._pieces.values() if isinstance(p, HistoryRef)}
        with _reading_all(list(files.values())):
            for g, piece in self._pieces.items():
                pieces[g] = piece.read() if isinstance(piece, HistoryRef) else piece
        return {"_tables": self._tables, "_pieces": pieces}

    def __setstate__(self, state):
        self._tables = state["_tables"]
        self._pieces = state["_pieces"]
        self._cache = OrderedDict()


@contextmanager
def _reading_all(files):
    if not files:
        yield
        return
    with files[0].reading(), _reading_all(files[1:]):
        yield

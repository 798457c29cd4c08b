"""The checkpoint of a results log (/checkpoint): two slots of bytes written alternately, and
the history, append-only pieces of bytes that checkpoints refer to.

`save_checkpoint` writes the slot that is *not* current (`next_slot`), with its CRC-32 set
to -1 while the bytes are written, flushes, then points the group's ``current`` attribute at
it and flushes again, so a kill at any moment leaves one complete checkpoint, verified by its
CRC-32 when loaded (`load_checkpoint_slots`). Slots are overwritten in place and only grow.
Pieces appended to the history before a checkpoint are part of it: the slot's ``counts``
attribute records how many history bytes are valid, and a later writer appends after them.
"""

import json
import logging
import zlib

import numpy as np

from . import fields as F
from .attributes import timestamp
from .errors import ResultsLogError
from .hdf5_file import early_allocation, has_parallel_layout
from .tables import grown_capacity

logger = logging.getLogger("mpil2l.storage")

CHECKPOINT_CHUNK = 256 << 10
HISTORY = "history"  # /checkpoint/history


def next_slot(group):
    """The checkpoint slot to write next: the one that is not current."""
    current = int(group.attrs[F.ATTR_CURRENT])
    return 0 if current < 0 else 1 - current


def slot_attributes(data, generation, counts):
    """The attributes of a slot holding `data` (a uint8 memoryview), in the order they are
    written once the bytes are in place: the CRC-32 last, as it makes the slot valid.

    Args:
        data: the checkpoint's bytes.
        generation: the last generation the checkpoint includes, or None.
        counts: the table and output lengths, and the history bytes in use, at this time.
    """
    return {
        "generation": -1 if generation is None else int(generation),
        # fixed-length strings: rewriting a variable-length one leaks global-heap space
        "saved": np.bytes_(timestamp()),
        "counts": np.bytes_(json.dumps(counts)),
        "nbytes": len(data),
        "crc32": zlib.crc32(data),
    }


def commit_slot(group, slot, attrs):
    """Makes checkpoint `slot` of `group` current once its bytes are written: writes its
    attributes (`slot_attributes`), flushes, points ``current`` at it and flushes again."""
    ds = group[f"slot{slot}"]
    for key, value in attrs.items():
        ds.attrs[key] = value
    group.file.flush()
    group.attrs[F.ATTR_CURRENT] = slot
    group.file.flush()


def joined_pieces(pieces, offset):
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
    kwargs = {"dcpl": early_allocation()} if has_parallel_layout(group.file) else {}
    return group.create_dataset(
        name,
        shape=(capacity,),
        maxshape=(None,),
        chunks=(CHECKPOINT_CHUNK,),
        dtype=F.CHECKPOINT_BYTES,
        **kwargs,
    )


def history_dataset(group, n):
    """/checkpoint/history, created or grown to hold `n` bytes."""
    if HISTORY not in group:
        _checkpoint_bytes(group, HISTORY, 0)
    ds = group[HISTORY]
    if n > ds.shape[0]:
        ds.resize(grown_capacity(ds.shape[0], n, CHECKPOINT_CHUNK), axis=0)
    return ds


def checkpoint_slot(group, slot, n):
    """The dataset of checkpoint `slot`, created or grown (whole chunks) to hold `n` bytes."""
    name = f"slot{slot}"
    capacity = -(-n // CHECKPOINT_CHUNK) * CHECKPOINT_CHUNK
    if name not in group:
        return _checkpoint_bytes(group, name, max(CHECKPOINT_CHUNK, capacity))
    ds = group[name]
    if n > ds.shape[0]:
        ds.resize(capacity, axis=0)
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
                logger.warning(
                    "%s: the current checkpoint is damaged; using the previous one", path
                )
            return data, dict(ds.attrs)
    raise ResultsLogError(
        f"{path!r}: no checkpoint slot passes its CRC check; the checkpoint is corrupt"
    )


def read_history(group, offset, length, path):
    """Bytes ``offset:offset + length`` of a /checkpoint group's history.

    Raises:
        ResultsLogError: the history is missing or shorter than that.
    """
    ds = group.get(HISTORY)
    if ds is None or offset < 0 or offset + length > ds.shape[0]:
        raise ResultsLogError(
            f"{path!r}: the checkpoint refers to history bytes the file does not hold; "
            "it is corrupt"
        )
    return ds[offset : offset + length].tobytes()

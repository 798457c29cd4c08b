"""Repairing a results log that HDF5 refuses as truncated: what a job of the parallel
backend killed while its datasets grew can leave (`python -m mpil2l repair`; resuming a run
does it first)."""

import logging
import os

import h5py

from .checkpoint_slots import load_checkpoint_slots
from .errors import ResultsLogError
from .hdf5_file import TRUNCATED_FILE, check_format, has_parallel_layout
from .tables import table_length

logger = logging.getLogger("mpil2l.storage")

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
        match = TRUNCATED_FILE.search(str(exc))
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
                raise ResultsLogError(
                    "not laid out for the parallel backend, the only one that leaves logs so"
                )
            statuses = file["attempts"]["status"][: table_length(file["attempts"])]
            if statuses.size and not statuses.all():
                raise ResultsLogError("attempt rows below the row count were never written")
            load_checkpoint_slots(file["checkpoint"], path)
            # metadata never written (killed inside HDF5's flush) fails here
            file.visititems(_read_attribute_names)
    except Exception as exc:
        logger.debug("%s: not repaired by extending it (%s)", path, exc)
        if os.path.getsize(path) == recorded:
            os.truncate(path, size)
        return False
    logger.warning(
        "%s was %d bytes shorter than HDF5 recorded (a writer killed while growing it); "
        "extended with zeros",
        path,
        recorded - size,
    )
    return True

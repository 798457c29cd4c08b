"""Opening a results log's HDF5 file and checking that it is one: errors that name the file
and say what is wrong with it, instead of h5py's."""

import os
import re

import h5py

from . import fields as F
from .errors import LogInUseError, ResultsLogError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# HDF5's refusal of a file shorter than the end it recorded: groups 1 and 2 hold the file's
# size and the recorded end
TRUNCATED_FILE = re.compile(
    r"truncated file: eof = (\d+), sblock->base_addr = \d+, stored_eof = (\d+)"
)


def has_hdf5_signature(path):
    """True if the HDF5 signature is at offset 0, 512, 1024, 2048, ... (where a superblock
    may follow a user block)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset + len(HDF5_SIGNATURE) <= size:
            f.seek(offset)
            if f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


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
        if not has_hdf5_signature(path):
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
                f"results log {path!r} is open in another process (its HDF5 file lock is "
                "held); end that process first (mpil2l.storage.reader reads without locking)"
            ) from None
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise type(exc)(
                exc.errno, f"cannot open results log {path!r}: {exc.strerror or message}"
            ) from None
        reason = message.split("(", 1)[-1].rstrip(")") if "(" in message else message
        hint = ""
        if TRUNCATED_FILE.search(message):
            hint = (
                "; if a run with the parallel results log was killed while writing it, "
                f"`python -m mpil2l repair {path}` may make it readable (resuming the run "
                "does that itself)"
            )
        raise ResultsLogError(
            f"{path!r} cannot be opened as HDF5: it is truncated or corrupt ({reason}){hint}"
        ) from None


def check_format(file, path):
    """Checks that an open HDF5 file is a complete mpil2l results log this version reads.

    Returns:
        The file's format version.

    Raises:
        ResultsLogError: naming `path` and what is wrong.
    """
    found = file.attrs.get(F.ATTR_FORMAT)
    if isinstance(found, bytes):
        found = found.decode("utf-8", "replace")
    if found != F.FORMAT_NAME:
        what = "has no 'format' attribute" if found is None else f"has format {found!r}"
        raise ResultsLogError(
            f"{path!r} is an HDF5 file but not an mpil2l results log: it {what}, "
            f"expected {F.FORMAT_NAME!r}"
        )
    version = file.attrs.get(F.ATTR_VERSION)
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ResultsLogError(
            f"{path!r} has no valid format_version attribute (got {version!r})"
        ) from None
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
                f"{path!r} is an incomplete results log: it lacks /{name} "
                "(was its creation interrupted?)"
            )
    for attr in (F.ATTR_N_OBJECTIVES,):
        if attr not in file.attrs:
            raise ResultsLogError(
                f"{path!r} is an incomplete results log: it lacks the {attr!r} attribute"
            )
    tables = (file["attempts"], file["generations"])
    if any(F.ATTR_N_ROWS not in table.attrs for table in tables):
        raise ResultsLogError(
            f"{path!r} is an incomplete results log: a table lacks its n_rows attribute"
        )
    return version


def early_allocation():
    """Creation properties of a dataset whose chunks are allocated as it grows, not when
    first written: what writes from single ranks under parallel HDF5 need."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return dcpl


def has_parallel_layout(file):
    """True if the log open in `file` was created for the parallel backend (``for_parallel``:
    chunks allocated when a dataset grows, which writes from several ranks need)."""
    plist = file["attempts/generation"].id.get_create_plist()
    return plist.get_alloc_time() == h5py.h5d.ALLOC_TIME_EARLY

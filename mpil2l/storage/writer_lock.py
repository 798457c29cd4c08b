"""The writer lock of a results log: its ``writer`` attribute records the process that has
it open for writing (JSON host/pid/opened; '' once closed). HDF5's file lock keeps a second
writer out while the first runs; the attribute also tells a crashed writer's log (taken over
on the same host, where the process can be checked, and with ``break_lock`` from another
host) from a live one."""

import json
import logging
import os
import socket

from . import fields as F
from .attributes import timestamp
from .errors import LogInUseError, ResultsLogError
from .hdf5_file import has_hdf5_signature, open_hdf5

logger = logging.getLogger("mpil2l.storage")


def pid_alive(pid):
    """True if process `pid` of this host runs (a zombie does not: it writes nothing)."""
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


def recorded_writer(text):
    """The writer a ``writer`` attribute records, ``(host, pid, opened)``, or None when
    `text` is empty or not such a record."""
    if not text:
        return None
    try:
        info = json.loads(text)
        return info["host"], int(info["pid"]), info.get("opened", "?")
    except (ValueError, KeyError, TypeError):
        return None


def check_not_in_use(path):
    """Raises `LogInUseError` if another process writes the file at `path` (an HDF5 lock, or
    a live writer on this host recorded in a results log); anything else may be replaced."""
    if not os.path.isfile(path) or not has_hdf5_signature(path):
        return
    try:
        with open_hdf5(path, "r") as file:
            writer = recorded_writer(file.attrs.get(F.ATTR_WRITER, ""))
    except ResultsLogError:
        return
    if writer is None:
        return
    host, pid, _ = writer
    if host == socket.gethostname() and (pid == os.getpid() or pid_alive(pid)):
        raise LogInUseError(
            f"results log {path!r} is open for writing by process {pid}; not replacing it"
        )


def claim_writer(file, path, break_lock):
    """Records this process as the writer of the log open in `file` (at `path`), refusing a
    live one, and flushes.

    Args:
        break_lock: take over from a writer recorded on another host (which may have
            crashed); a dead writer on this host is taken over in any case.

    Raises:
        LogInUseError: a live writer (this process included), or one on another host
            without `break_lock`.
    """
    owner = file.attrs.get(F.ATTR_WRITER, "")
    if owner:
        host, pid, opened = recorded_writer(owner) or ("?", -1, "?")
        who = f"process {pid} on host {host} (since {opened})"
        if host == socket.gethostname():
            if pid == os.getpid():
                raise LogInUseError(
                    f"results log {path!r} is already open for writing in this process"
                )
            if pid_alive(pid):
                raise LogInUseError(f"results log {path!r} is open for writing by {who}")
            logger.warning("%s: taking over from %s, which ended without closing it", path, who)
        elif not break_lock:
            raise LogInUseError(
                f"results log {path!r} was opened for writing by {who} and not closed; "
                "if that process has ended, open it with break_lock=True"
            )
        else:
            logger.warning("%s: breaking the lock of %s", path, who)
    writer = {"host": socket.gethostname(), "pid": os.getpid(), "opened": timestamp()}
    file.attrs[F.ATTR_WRITER] = json.dumps(writer)
    file.flush()

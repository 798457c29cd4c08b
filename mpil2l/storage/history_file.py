"""The ``/checkpoint/history`` of a results log as the source of packed generations
(`mpil2l.model.history.HistoryRef` points into it)."""

from contextlib import contextmanager

from ..model.history import HistoryRef
from .reader import open_log
from .checkpoint_slots import read_history


class HistoryFile:
    """The ``/checkpoint/history`` of one results log, as packed generations read it.

    Args:
        path: the results log.
        current_log: ``current_log() -> ResultsLog or None``: the log open for writing now,
            read through while it is open (HDF5 does not open a file twice in a process);
            otherwise the file is opened read-only for each read (or once, inside
            `reading`).
    """

    def __init__(self, path, current_log=None):
        self.path = path
        self._current_log = current_log
        self._file = None

    def ref(self, offset, length):
        """A `HistoryRef` to bytes ``offset:offset + length``."""
        return HistoryRef(self, int(offset), int(length))

    def read(self, offset, length):
        """The bytes ``offset:offset + length`` of the history.

        Raises:
            ResultsLogError: the file holds no such bytes.
            FileNotFoundError: the file is gone.
        """
        log = self._current_log() if self._current_log is not None else None
        if log is not None and not log.closed and log.path == self.path:
            return log.read_checkpoint_history(offset, length)
        if self._file is not None:
            return read_history(self._file["checkpoint"], offset, length, self.path)
        with open_log(self.path) as file:
            return read_history(file["checkpoint"], offset, length, self.path)

    @contextmanager
    def reading(self):
        """Inside the block, reads share one read-only opening of the file (unless the log
        is open for writing)."""
        log = self._current_log() if self._current_log is not None else None
        if self._file is not None or (log is not None and not log.closed and log.path == self.path):
            yield
            return
        with open_log(self.path) as file:
            self._file = file
            try:
                yield
            finally:
                self._file = None

    def __repr__(self):
        return f"HistoryFile({self.path!r})"

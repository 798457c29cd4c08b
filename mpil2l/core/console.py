"""Console and log-file output: rank 0's progress logger and the per-rank stdout copy that
``prepare_experiment(log_stdout=True)`` asks for."""

import logging
import sys

logger = logging.getLogger("mpil2l")


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time, so `StdoutLog` captures it too."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


def configure_logger(rank, debug):
    """Rank 0 reports progress on stdout (every message with ``debug``); workers report
    warnings only."""
    if not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("mpil2l: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    if rank == 0:
        logger.setLevel(logging.DEBUG if debug else logging.INFO)
    else:
        logger.setLevel(logging.WARNING)


class Tee:
    """A text stream that writes to the console stream and to a log file."""

    def __init__(self, stream, log_file):
        self.stream = stream
        self.log_file = log_file

    def write(self, text):
        self.stream.write(text)
        self.log_file.write(text)
        return len(text)

    def flush(self):
        self.stream.flush()
        self.log_file.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


class StdoutLog:
    """Copies this rank's ``sys.stdout`` and ``sys.stderr`` into one log file until `close`."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1)
        self.saved = sys.stdout, sys.stderr
        sys.stdout = Tee(sys.stdout, self.file)
        sys.stderr = Tee(sys.stderr, self.file)

    def close(self):
        if self.file.closed:
            return
        sys.stdout, sys.stderr = self.saved
        self.file.close()

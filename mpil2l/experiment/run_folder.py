"""The run folder ``<root_dir_path>/<name>``: where a run writes, created or kept on rank 0,
and how a ``checkpoint=`` path names the results log to go on from."""

import os
import pickle
import shutil
from typing import NamedTuple

RESULTS_LOG_NAME = "results.h5"
TRAJECTORY_NAME = "trajectory.pickle"


class RunPaths(NamedTuple):
    """Where a run writes: ``output_dir_path`` is ``<root_dir_path>/<name>``."""

    root_dir_path: str
    output_dir_path: str
    logs_path: str

    @classmethod
    def of(cls, root_dir_path, name):
        """The paths of the run `name` under `root_dir_path`."""
        output = os.path.join(root_dir_path, name)
        return cls(root_dir_path, output, os.path.join(output, "logs"))

    @property
    def results_log(self):
        """The run's results log, ``<run folder>/results.h5``."""
        return os.path.join(self.output_dir_path, RESULTS_LOG_NAME)

    @property
    def trajectory(self):
        """Where `end_experiment` (or an interrupted run) saves the trajectory."""
        return os.path.join(self.output_dir_path, TRAJECTORY_NAME)

    def rank_log(self, rank):
        """The file that ``log_stdout=True`` copies rank `rank`'s output into."""
        return os.path.join(self.logs_path, f"rank-{rank}.log")


def create_run_folder(paths, overwrite, log_stdout, copy_log=None):
    """Creates the run folder (and its ``logs`` folder for `log_stdout`), with a copy of the
    results log `copy_log` (another run's, to go on from) if given.

    Raises:
        FileExistsError: the folder exists and `overwrite` is False (nothing is touched).
        OSError: it cannot be created.
    """
    root, output = paths.root_dir_path, paths.output_dir_path
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:
        raise type(exc)(
            exc.errno, f"cannot create root_dir_path {root!r}: {exc.strerror}"
        ) from None
    if os.path.lexists(output):
        if not overwrite:
            raise FileExistsError(
                f"run folder {output!r} already exists; pass overwrite=True to replace it "
                "or choose another name"
            )
        shutil.rmtree(output)
    try:
        os.makedirs(paths.logs_path if log_stdout else output)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot create run folder {output!r}: {exc.strerror}") from None
    if copy_log is not None:
        shutil.copyfile(copy_log, paths.results_log)


def keep_run_folder(paths, log_stdout):
    """Goes on in an existing run folder (resuming in place)."""
    if log_stdout:
        os.makedirs(paths.logs_path, exist_ok=True)


def results_log_path(checkpoint):
    """The results log a ``checkpoint=`` path names: the file itself, or ``results.h5`` in a
    run folder.

    Raises:
        FileNotFoundError: there is no such file or folder, or the folder holds no log.
    """
    path = os.path.abspath(os.fspath(checkpoint))
    if os.path.isdir(path):
        log = os.path.join(path, RESULTS_LOG_NAME)
        if not os.path.exists(log):
            raise FileNotFoundError(
                f"checkpoint: the run folder {path!r} holds no {RESULTS_LOG_NAME}"
            )
        return log
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint: no such results log or run folder: {path!r}")
    return path


def same_file(a, b):
    """True if the paths `a` and `b` name the same file (links resolved)."""
    return os.path.realpath(a) == os.path.realpath(b)


def save_atomically(obj, path):
    """Pickles `obj` to `path` so that a reader sees the old file or the new one, whole."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f)
    os.replace(tmp, path)

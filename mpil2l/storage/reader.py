"""Reading a results log: its tables as numpy arrays, its parameters, best individuals,
outputs, checkpoint and file-level facts (the command line's text, CSV and plot:
`mpil2l.storage.presentation`).

Every function takes the file's path and opens it read-only *without* HDF5 file locking, so
the log of a running experiment can be read; it then shows the state of the writer's last
flush.

Example:
    >>> import os, tempfile
    >>> from mpil2l.model.conversion import dict_to_list
    >>> from mpil2l.storage import ResultsLog
    >>> path = os.path.join(tempfile.mkdtemp(), "results.h5")
    >>> _, spec = dict_to_list({"x": 0.0}, get_dict_spec=True)
    >>> stats = {"generation": 0, "n_individuals": 4, "best_fitness": (1.0,),
    ...          "best_weighted_fitness": -1.0, "mean_weighted_fitness": -3.0}
    >>> with ResultsLog.create(path, 1, spec) as log:
    ...     _ = log.append_generation(stats)
    >>> read_generations(path)["best_weighted_fitness"].tolist()
    [-1.0]
"""

import json
import os
from contextlib import contextmanager

import numpy as np

from ..model.conversion import list_to_dict
from . import fields as F
from .attributes import attribute_text
from .checkpoint_slots import load_checkpoint_slots
from .hdf5_file import check_format, open_hdf5
from .parameters import read_parameter_group
from .tables import table_length

__all__ = [
    "file_info",
    "info",
    "open_log",
    "output_names",
    "param_spec_of",
    "read_attempts",
    "read_best",
    "read_checkpoint",
    "read_generations",
    "read_outputs",
    "read_parameters",
    "stored_best",
    "table_columns",
]


@contextmanager
def open_log(path):
    """Opens a results log read-only (without locking) and checks its format.

    Yields:
        The open ``h5py.File``.

    Raises:
        FileNotFoundError: `path` does not exist.
        ResultsLogError: `path` is not a results log this version reads.
    """
    path = os.fspath(path)
    file = open_hdf5(path, "r", locking=False)
    try:
        check_format(file, path)
        yield file
    finally:
        file.close()


def table_columns(group, columns, start=0, stop=None):
    """Rows ``start:stop`` of an open table group (bounded by `table_length`) as a dict of
    numpy arrays, one per column of `columns` (`fields.Column`); strings as str objects."""
    n = table_length(group)
    stop = n if stop is None else min(stop, n)
    start = min(start, stop)
    out = {}
    for c in columns:
        ds = group[c.name]
        out[c.name] = ds.asstr()[start:stop] if c.dtype is F.STRING else ds[start:stop]
    return out


def read_attempts(path, start=0, stop=None):
    """Every attempt (or rows ``start:stop``) as a dict of numpy arrays, one per column of
    `fields.ATTEMPT_COLUMNS`: ``status`` holds codes (`fields.STATUS_NAMES` names them),
    ``fitness`` and ``params`` are 2-d, ``error`` holds str objects."""
    with open_log(path) as file:
        return table_columns(file["attempts"], F.ATTEMPT_COLUMNS, start, stop)


def read_generations(path):
    """The per-generation statistics as a dict of numpy arrays (`fields.GENERATION_COLUMNS`)."""
    with open_log(path) as file:
        return table_columns(file["generations"], F.GENERATION_COLUMNS)


def param_spec_of(file):
    """The dict spec of the individuals of the log open in `file`."""
    return F.spec_from_json(file["attempts/params"].attrs[F.ATTR_PARAM_SPEC])


def read_parameters(path):
    """The trajectory's parameters as stored by `ResultsLog.write_parameters`: numbers and
    numeric arrays as numpy values, everything else decoded from JSON."""
    with open_log(path) as file:
        return read_parameter_group(file["parameters"])


def read_best(path):
    """The final best individual(s) written with `ResultsLog.write_best`, best first.

    Returns:
        A list of dicts: ``individual`` (a dict, as `list_to_dict` rebuilds it), ``params``
        (the flat vector), ``fitness`` (a tuple), ``weighted_fitness``, ``generation`` and
        ``ind_idx``; empty if nothing was written.
    """
    with open_log(path) as file:
        return stored_best(file)


def stored_best(file):
    """`read_best` of the log open in `file`."""
    if "best" not in file:
        return []
    spec = param_spec_of(file)
    group = file["best"]
    data = {c.name: group[c.name][()] for c in F.BEST_COLUMNS}
    return [
        {
            "individual": list_to_dict(data["params"][i], spec),
            "params": data["params"][i],
            "fitness": tuple(float(v) for v in data["fitness"][i]),
            "weighted_fitness": float(data["weighted_fitness"][i]),
            "generation": int(data["generation"][i]),
            "ind_idx": int(data["ind_idx"][i]),
        }
        for i in range(data["params"].shape[0])
    ]


def output_names(path):
    """The names of the per-attempt outputs stored."""
    with open_log(path) as file:
        return sorted(file["outputs"])


def read_outputs(path, name, rows=None):
    """One named output of every attempt that stored it.

    Args:
        path: the results log.
        name: the output's name.
        rows: only these attempt rows (an iterable), or None for all.

    Returns:
        ``{attempt row: numpy array}``.

    Raises:
        KeyError: no output `name` was stored.
    """
    with open_log(path) as file:
        if name not in file["outputs"]:
            raise KeyError(f"{path!r} has no output {name!r}; it has {sorted(file['outputs'])}")
        group = file["outputs"][name]
        n = min(int(group.attrs["n_entries"]), group[F.OUTPUT_ROW].shape[0])
        n_values = min(int(group.attrs["n_values"]), group[F.OUTPUT_VALUES].shape[0])
        row = group[F.OUTPUT_ROW][:n]
        start = group[F.OUTPUT_START][:n]
        ndim = int(group.attrs["ndim"])
        shape = group[F.OUTPUT_SHAPE][:n] if ndim else np.zeros((n, 0), dtype=np.int64)
        sizes = np.prod(shape, axis=1).astype(np.int64) if ndim else np.ones(n, dtype=np.int64)
        wanted = (
            np.arange(n)
            if rows is None
            else np.flatnonzero(np.isin(row, np.fromiter(rows, dtype=np.int64)))
        )
        values = group[F.OUTPUT_VALUES]
        out = {}
        for i in wanted:
            lo, hi = int(start[i]), int(start[i] + sizes[i])
            if hi > n_values:
                continue  # written after the last flush
            out[int(row[i])] = values[lo:hi].reshape(tuple(shape[i]))
        return out


def read_checkpoint(path):
    """The bytes of the log's last valid checkpoint, or None."""
    with open_log(path) as file:
        return load_checkpoint_slots(file["checkpoint"], os.fspath(path))[0]


def info(path):
    """The log's file-level facts: format, version, creation time, mpil2l version,
    n_objectives, fitness_weights (or None), param_spec, param_names, writer (a dict while
    open for writing, else None), n_attempts, n_generations, outputs, checkpoint (the
    current slot's generation and save time, or None)."""
    with open_log(path) as file:
        return file_info(file)


def file_info(file):
    """`info` of the log open in `file`."""
    attrs = file.attrs
    writer = attrs.get(F.ATTR_WRITER, "")
    weights = attrs.get(F.ATTR_FITNESS_WEIGHTS)
    spec = param_spec_of(file)
    checkpoint = None
    group = file["checkpoint"]
    current = int(group.attrs.get(F.ATTR_CURRENT, -1))
    if current >= 0 and f"slot{current}" in group:
        slot = group[f"slot{current}"].attrs
        saved = attribute_text(slot.get("saved", b"?"))
        checkpoint = {"generation": int(slot.get("generation", -1)), "saved": saved}
    return {
        "format": str(attrs[F.ATTR_FORMAT]),
        "format_version": int(attrs[F.ATTR_VERSION]),
        "created": str(attrs.get(F.ATTR_CREATED, "?")),
        "mpil2l_version": str(attrs.get(F.ATTR_MPIL2L_VERSION, "?")),
        "n_objectives": int(attrs[F.ATTR_N_OBJECTIVES]),
        "fitness_weights": None if weights is None else tuple(float(w) for w in np.ravel(weights)),
        "param_spec": spec,
        "param_names": F.param_column_names(spec),
        "writer": json.loads(writer) if writer else None,
        "n_attempts": table_length(file["attempts"]),
        "n_generations": table_length(file["generations"]),
        "outputs": sorted(file["outputs"]),
        "checkpoint": checkpoint,
    }

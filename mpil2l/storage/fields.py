"""The results log's vocabulary: format name and version, every column's name, dtype and
width, the status codes, and how parameter specs and column names are written.

Declared once here; the writer (`results_log`), the reader (`reader`) and the command line
take names and dtypes from this module only.
"""

import json
from typing import NamedTuple, Optional

import h5py
import numpy as np

from ..model.conversion import DictEntryType, entry_size
from ..core.runs import StatusType

FORMAT_NAME = "mpil2l-results"
# Bumped when a change would make an older reader misread a file; readers accept files whose
# version is <= FORMAT_VERSION.
FORMAT_VERSION = 1

# The variable-length UTF-8 string dtype of error messages and JSON-encoded values.
STRING = h5py.string_dtype("utf-8")

# Widths of 2-d columns, resolved when a log is created.
OBJECTIVES = "n_objectives"
PARAMS = "n_params"


class Column(NamedTuple):
    """One column of a table: a dataset of `dtype` with one row per entry.

    ``width`` is None for a 1-d dataset, or `OBJECTIVES` / `PARAMS` for a 2-d dataset with
    that many values per row. ``fill`` is what a row that was never written reads as.
    """

    name: str
    dtype: object
    width: Optional[str]
    fill: object
    doc: str


# /attempts: one row per evaluation attempt (`mpil2l.evaluation.simulation.attempt_record` plus the
# flattened individual).
ATTEMPT_COLUMNS = (
    Column("generation", np.dtype("int64"), None, -1, "generation of the individual"),
    Column("ind_idx", np.dtype("int64"), None, -1, "index of the individual in its generation"),
    Column(
        "attempt",
        np.dtype("int32"),
        None,
        -1,
        "0 for the first attempt, 1 for the first retry, ...",
    ),
    Column("rank", np.dtype("int32"), None, -1, "MPI rank that evaluated it; -1 unknown"),
    Column("status", np.dtype("int8"), None, 0, "StatusType value; 0 = never written"),
    Column(
        "fitness",
        np.dtype("float64"),
        OBJECTIVES,
        np.nan,
        "fitness tuple; NaN if the attempt failed",
    ),
    Column(
        "params", np.dtype("float64"), PARAMS, np.nan, "the individual flattened by dict_to_list"
    ),
    Column("start", np.dtype("float64"), None, np.nan, "start time, seconds since the epoch"),
    Column("end", np.dtype("float64"), None, np.nan, "end time, seconds since the epoch"),
    Column("runtime", np.dtype("float64"), None, np.nan, "seconds the evaluation took"),
    Column("error", STRING, None, None, "error and traceback of a failed attempt; '' on success"),
)

# /generations: one row per evaluated generation (an optimizer's `statistics` entry).
GENERATION_COLUMNS = (
    Column("generation", np.dtype("int64"), None, -1, "generation"),
    Column("n_individuals", np.dtype("int64"), None, 0, "individuals evaluated"),
    Column("best_weighted_fitness", np.dtype("float64"), None, np.nan, "best sum(w_i * f_i)"),
    Column(
        "mean_weighted_fitness",
        np.dtype("float64"),
        None,
        np.nan,
        "mean over the finite weighted fitnesses",
    ),
    Column("best_ind_idx", np.dtype("int64"), None, -1, "ind_idx of the best individual"),
    Column(
        "best_fitness",
        np.dtype("float64"),
        OBJECTIVES,
        np.nan,
        "fitness tuple of the best individual",
    ),
    Column(
        "wall_seconds", np.dtype("float64"), None, np.nan, "wall-clock seconds the generation took"
    ),
)

# /best: the final best individual(s), written once at the end (rewritten if called again).
BEST_COLUMNS = (
    Column(
        "params", np.dtype("float64"), PARAMS, np.nan, "the individual flattened by dict_to_list"
    ),
    Column("fitness", np.dtype("float64"), OBJECTIVES, np.nan, "its fitness tuple"),
    Column(
        "weighted_fitness",
        np.dtype("float64"),
        None,
        np.nan,
        "its weighted fitness, NaN if unknown",
    ),
    Column("generation", np.dtype("int64"), None, -1, "generation it was found in, -1 if unknown"),
    Column("ind_idx", np.dtype("int64"), None, -1, "its ind_idx, -1 if unknown"),
)

# /checkpoint/slot0, slot1: the pickled state as bytes.
CHECKPOINT_BYTES = np.dtype("uint8")

# /outputs/<name>: ragged per-attempt arrays. Each name is one group holding:
INDEX = np.dtype("int64")  # the dtype of row, start and shape
OUTPUT_VALUES = "values"  # (V,) every array's values, flattened and concatenated
OUTPUT_ROW = "row"  # (M,) int64: the /attempts row each entry belongs to
OUTPUT_START = "start"  # (M,) int64: where the entry's values begin in `values`
OUTPUT_SHAPE = "shape"  # (M, ndim) int64: the entry's shape (absent when ndim == 0)

# Attribute names.
ATTR_FORMAT = "format"
ATTR_VERSION = "format_version"
ATTR_CREATED = "created"
ATTR_MPIL2L_VERSION = "mpil2l_version"
ATTR_N_OBJECTIVES = "n_objectives"
ATTR_FITNESS_WEIGHTS = "fitness_weights"  # optional
ATTR_TRAJECTORY_NAME = "trajectory_name"  # set by write_parameters
ATTR_WRITER = "writer"  # JSON {"host", "pid", "opened"} while open for writing, '' once closed
ATTR_N_ROWS = "n_rows"  # on a table group: rows written (datasets may be longer)
ATTR_STATUS_CODES = "codes"  # on /attempts/status: JSON {"1": "SUCCESS", ...}
ATTR_PARAM_SPEC = (
    "param_spec"  # on params datasets: JSON [[key, "Scalar"|"Sequence", n or shape], ...]
)
ATTR_PARAM_KEYS = "keys"  # on params datasets: the individual's keys, in spec order
ATTR_PARAM_NAMES = "column_names"  # on params datasets: one name per column (`param_column_names`)
ATTR_CURRENT = "current"  # on /checkpoint: the valid slot, -1 before the first checkpoint

# Status codes: StatusType's values; 0 is a row that was never written.
STATUS_CODES = {status.name: int(status.value) for status in StatusType}
STATUS_NAMES = {code: name for name, code in STATUS_CODES.items()}
STATUS_NAMES[0] = "UNWRITTEN"


def status_code(status):
    """The int8 code of a status given as a `StatusType`, its name or its value.

    Raises:
        ValueError: `status` names no `StatusType`.
    """
    if isinstance(status, str):
        try:
            return STATUS_CODES[status]
        except KeyError:
            raise ValueError(f"unknown status {status!r}; known: {sorted(STATUS_CODES)}") from None
    try:
        return int(StatusType(status))
    except ValueError:
        raise ValueError(f"unknown status {status!r}; known: {sorted(STATUS_CODES)}") from None


def spec_to_json(param_spec):
    """A dict spec (`mpil2l.model.conversion.dict_to_list`) as a JSON string."""
    entries = []
    for key, entry_type, length_or_shape in param_spec:
        size = list(length_or_shape) if isinstance(length_or_shape, tuple) else int(length_or_shape)
        entries.append([str(key), DictEntryType(entry_type).name, size])
    return json.dumps(entries)


def spec_from_json(text):
    """The dict spec `spec_to_json` wrote, ready for `mpil2l.model.conversion.list_to_dict`."""
    spec = []
    for key, kind, size in json.loads(text):
        spec.append(
            (key, DictEntryType[kind], tuple(size) if isinstance(size, list) else int(size))
        )
    return spec


def spec_width(param_spec):
    """Number of values in a flattened individual described by `param_spec`."""
    return sum(entry_size(n) for _, _, n in param_spec)


def param_column_names(param_spec):
    """One name per flattened value: ``key`` for a scalar, ``key[i]`` for a sequence,
    ``key[i,j]`` for an n-d array (C order, as `dict_to_list` lays them out).

    Example:
        >>> from mpil2l.model.conversion import dict_to_list
        >>> _, spec = dict_to_list({"b": 1.0, "a": [1.0, 2.0]}, get_dict_spec=True)
        >>> param_column_names(spec)
        ['a[0]', 'a[1]', 'b']
    """
    names = []
    for key, entry_type, length_or_shape in param_spec:
        if DictEntryType(entry_type) == DictEntryType.Scalar:
            names.append(str(key))
        elif isinstance(length_or_shape, tuple):
            names.extend(
                f"{key}[{','.join(map(str, index))}]" for index in np.ndindex(*length_or_shape)
            )
        else:
            names.extend(f"{key}[{i}]" for i in range(int(length_or_shape)))
    return names


def fitness_column_names(n_objectives):
    """``fitness`` for a single objective, ``fitness_0 .. fitness_<n-1>`` otherwise."""
    if n_objectives == 1:
        return ["fitness"]
    return [f"fitness_{i}" for i in range(n_objectives)]

"""Creating an empty results log: every group, dataset and attribute of the layout below
(format ``mpil2l-results``, version 1; names and dtypes in `mpil2l.storage.fields`)::

    /                        attrs: format, format_version, created (ISO 8601, UTC),
                             mpil2l_version, n_objectives, fitness_weights (optional),
                             trajectory_name (set by write_parameters),
                             writer (JSON host/pid/opened while open for writing, '' once closed)
    /attempts                one row per evaluation attempt; attr n_rows = rows written
        generation  int64 (N,)          ind_idx  int64 (N,)
        attempt     int32 (N,)          rank     int32 (N,)     -1 unknown
        status      int8  (N,)          attr codes: JSON {"1": "SUCCESS", "2": "TIMEOUT", ...}
        fitness     float64 (N, n_objectives)   NaN when the attempt failed
        params      float64 (N, n_params)       the individual as `dict_to_list` flattens it;
                                                attrs param_spec (JSON dict spec), keys,
                                                column_names (up to 4096 columns)
        start, end, runtime  float64 (N,)       seconds (start/end since the epoch)
        error       vlen UTF-8 str (N,)         error and traceback; '' on success
    /generations             one row per generation; attr n_rows
        generation, n_individuals, best_ind_idx  int64 (G,)
        best_weighted_fitness, mean_weighted_fitness, wall_seconds  float64 (G,)
        best_fitness  float64 (G, n_objectives)
    /parameters              the trajectory's parameters (`mpil2l.storage.parameters`)
    /best                    the final best individual(s), K rows: params (K, n_params),
                             fitness (K, n_objectives), weighted_fitness, generation, ind_idx
    /checkpoint              attr current: 0 or 1 (-1 before the first checkpoint)
        slot0, slot1  uint8 (capacity,)  the pickled optimizer state + trajectory; attrs
                      nbytes, crc32 (-1 while being written), generation, saved (ISO
                      time), counts (JSON: the table and output lengths at that time,
                      and the bytes of history in use)
        history       uint8 (capacity,), optional: append-only pieces a checkpoint refers
                      to by (offset, length), so that what does not change between
                      checkpoints (finished generations) is written once; the bytes past
                      the current checkpoint's counts are unused
    /outputs/<name>          ragged per-attempt arrays, one group per *name* (never per
                             attempt); attrs ndim, n_entries, n_values
        values  (V,)            the arrays' values, flattened and concatenated (the dtype
                                of the name's first array)
        row     int64 (M,)      the /attempts row each entry belongs to
        start   int64 (M,)      where each entry begins in values
        shape   int64 (M, ndim) each entry's shape (absent for scalars)

Every table and output dataset is chunked and extendable (``maxshape`` None); see
`mpil2l.storage.tables` for how they grow and `mpil2l.storage.checkpoint_slots` for the
checkpoint.
"""

import json
import os

import numpy as np

from . import fields as F
from .errors import ResultsLogError
from .tables import BufferedTable, table_chunk_rows
from .writer_lock import check_not_in_use

GENERATION_CHUNK_ROWS = 1024
MAX_NAMED_COLUMNS = 4096  # wider params datasets carry no per-column names attribute


def mpil2l_version():
    """The installed mpil2l's version, or 'unknown'."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "unknown"
    try:
        return version("mpil2l")
    except PackageNotFoundError:
        return "unknown"


def check_create_args(n_objectives, param_spec, fitness_weights):
    """Validates `ResultsLog.create`'s arguments.

    Returns:
        ``(n_objectives, param_spec, spec_json, n_params, fitness_weights)``, ready for
        `write_layout`.

    Raises:
        TypeError, ValueError: naming the argument that is wrong.
    """
    if isinstance(n_objectives, bool) or not isinstance(n_objectives, (int, np.integer)):
        raise TypeError(
            f"n_objectives must be an integer, got {type(n_objectives).__name__} {n_objectives!r}"
        )
    if n_objectives < 1:
        raise ValueError(f"n_objectives must be >= 1, got {n_objectives}")
    try:
        spec_json = F.spec_to_json(param_spec)
        param_spec = F.spec_from_json(spec_json)
    except (TypeError, ValueError, KeyError) as exc:
        raise TypeError(
            "param_spec must be the dict spec dict_to_list(individual, get_dict_spec=True) "
            f"returns, got {param_spec!r} ({exc})"
        ) from None
    n_params = F.spec_width(param_spec)
    if n_params < 1:
        raise ValueError(f"param_spec must describe at least one value, got {param_spec!r}")
    if fitness_weights is not None:
        fitness_weights = np.asarray(fitness_weights, dtype=float).ravel()
        if fitness_weights.size != n_objectives:
            raise ValueError(
                f"fitness_weights {tuple(fitness_weights)} has {fitness_weights.size} "
                f"value(s), n_objectives is {n_objectives}"
            )
    return int(n_objectives), param_spec, spec_json, n_params, fitness_weights


def make_room(path, overwrite):
    """Checks that a log can be created at `path`, removing the file there if `overwrite`.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
        FileNotFoundError: the folder of `path` does not exist.
        ResultsLogError: `path` is a folder.
        LogInUseError: `path` is open in another process.
    """
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(
            f"results log {path!r} already exists; pass overwrite=True to replace it"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"cannot create results log {path!r}: folder {folder!r} does not exist"
        )
    if os.path.isdir(path):
        raise ResultsLogError(f"cannot create results log {path!r}: it is a folder")
    if os.path.lexists(path):
        check_not_in_use(path)
        os.remove(path)  # never truncate in place: HDF5 truncates before it checks the lock


def write_layout(
    file, n_objectives, param_spec, spec_json, n_params, fitness_weights, created, early=False
):
    """Creates every group, dataset and attribute of an empty log in `file`; `early`: for
    the parallel backend (see `BufferedTable.create`)."""
    attrs = file.attrs
    attrs[F.ATTR_FORMAT] = F.FORMAT_NAME
    attrs[F.ATTR_VERSION] = F.FORMAT_VERSION
    attrs[F.ATTR_CREATED] = created
    attrs[F.ATTR_MPIL2L_VERSION] = mpil2l_version()
    attrs[F.ATTR_N_OBJECTIVES] = int(n_objectives)
    if fitness_weights is not None:
        attrs[F.ATTR_FITNESS_WEIGHTS] = fitness_weights
    widths = {F.OBJECTIVES: int(n_objectives), F.PARAMS: n_params}
    chunk_rows = table_chunk_rows(widths.values())
    attempts = BufferedTable.create(file, "attempts", F.ATTEMPT_COLUMNS, widths, chunk_rows, early)
    status = attempts.datasets["status"]
    codes = {str(k): v for k, v in sorted(F.STATUS_NAMES.items())}
    status.attrs[F.ATTR_STATUS_CODES] = json.dumps(codes)
    params = attempts.datasets["params"]
    params.attrs[F.ATTR_PARAM_SPEC] = spec_json
    params.attrs[F.ATTR_PARAM_KEYS] = [key for key, _, _ in param_spec]
    if n_params <= MAX_NAMED_COLUMNS:
        params.attrs[F.ATTR_PARAM_NAMES] = F.param_column_names(param_spec)
    BufferedTable.create(
        file, "generations", F.GENERATION_COLUMNS, widths, GENERATION_CHUNK_ROWS, early
    )
    file.create_group("parameters")
    file.create_group("outputs")
    file.create_group("checkpoint").attrs[F.ATTR_CURRENT] = -1
    attrs[F.ATTR_WRITER] = ""

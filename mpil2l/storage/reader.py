"""Reading a results log: tables as numpy arrays, a text summary, CSV export and a plot.

Every function takes the file's path and opens it read-only *without* HDF5 file locking, so
the log of a running experiment can be read; it then shows the state of the writer's last
flush.

Example:
    >>> import os, tempfile
    >>> from mpil2l.conversion import dict_to_list
    >>> from mpil2l.storage import ResultsLog
    >>> path = os.path.join(tempfile.mkdtemp(), "results.h5")
    >>> _, spec = dict_to_list({"x": 0.0}, get_dict_spec=True)
    >>> with ResultsLog.create(path, 1, spec) as log:
    ...     _ = log.append_generation({"generation": 0, "n_individuals": 4, "best_fitness": (1.0,),
    ...                                "best_weighted_fitness": -1.0, "mean_weighted_fitness": -3.0})
    >>> read_generations(path)["best_weighted_fitness"].tolist()
    [-1.0]
"""

import csv
import json
import os
from contextlib import contextmanager

import numpy as np

from ..conversion import list_to_dict
from . import fields as F
from .results_log import ResultsLogError, check_format, load_checkpoint_slots, open_hdf5, table_length

__all__ = [
    "export_csv",
    "info",
    "open_log",
    "output_names",
    "plot",
    "read_attempts",
    "read_best",
    "read_checkpoint",
    "read_generations",
    "read_outputs",
    "read_parameters",
    "summary",
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


def _read_table(group, columns, start=0, stop=None):
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
        return _read_table(file["attempts"], F.ATTEMPT_COLUMNS, start, stop)


def read_generations(path):
    """The per-generation statistics as a dict of numpy arrays (`fields.GENERATION_COLUMNS`)."""
    with open_log(path) as file:
        return _read_table(file["generations"], F.GENERATION_COLUMNS)


def _param_spec(file):
    return F.spec_from_json(file["attempts/params"].attrs[F.ATTR_PARAM_SPEC])


def read_parameters(path):
    """The trajectory's parameters as stored by `ResultsLog.write_parameters`: numbers and
    numeric arrays as numpy values, everything else decoded from JSON."""
    with open_log(path) as file:
        group = file["parameters"]
        params = {}
        for name, value in group.attrs.items():
            params[name] = json.loads(value) if isinstance(value, str) else value
        for name, ds in group.items():
            name = name.replace("%2F", "/").replace("%25", "%")
            if ds.dtype.kind == "O":
                params[name] = json.loads(ds.asstr()[()])
            else:
                params[name] = ds[()]
        return params


def read_best(path):
    """The final best individual(s) written with `ResultsLog.write_best`, best first.

    Returns:
        A list of dicts: ``individual`` (a dict, as `list_to_dict` rebuilds it), ``params``
        (the flat vector), ``fitness`` (a tuple), ``weighted_fitness``, ``generation`` and
        ``ind_idx``; empty if nothing was written.
    """
    with open_log(path) as file:
        return _read_best(file)


def _read_best(file):
    if "best" not in file:
        return []
    spec = _param_spec(file)
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
        wanted = np.arange(n) if rows is None else np.flatnonzero(np.isin(row, np.fromiter(rows, dtype=np.int64)))
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
        return _info(file)


def _info(file):
    attrs = file.attrs
    writer = attrs.get(F.ATTR_WRITER, "")
    weights = attrs.get(F.ATTR_FITNESS_WEIGHTS)
    spec = _param_spec(file)
    checkpoint = None
    group = file["checkpoint"]
    current = int(group.attrs.get(F.ATTR_CURRENT, -1))
    if current >= 0 and f"slot{current}" in group:
        slot = group[f"slot{current}"].attrs
        saved = slot.get("saved", b"?")
        saved = saved.decode("utf-8") if isinstance(saved, bytes) else str(saved)
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


# -- summary ----------------------------------------------------------------------------------


def _g(value):
    return f"{value + 0.0:.6g}"  # + 0.0: no "-0"


def _fitness_text(values):
    return "(" + ", ".join(_g(float(v)) for v in values) + ")"


def _individual_text(vector, spec):
    parts = []
    for key, value in list_to_dict(vector, spec).items():
        if isinstance(value, np.ndarray):
            value = " ".join(np.array2string(value, precision=6, threshold=12, separator=", ").split())
        else:
            value = _g(value)
        parts.append(f"{key} = {value}")
    return ", ".join(parts)


def _best_so_far(file, spec, generations):
    """The best individual of the generation table, when /best was not written."""
    best = generations["best_weighted_fitness"]
    usable = np.flatnonzero(~np.isnan(best))
    if not usable.size:
        return []
    i = usable[np.argmax(best[usable])]
    g, idx = int(generations["generation"][i]), int(generations["best_ind_idx"][i])
    attempts = file["attempts"]
    n = table_length(attempts)
    vector = None
    block = 1 << 18
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        match = np.flatnonzero(
            (attempts["generation"][lo:hi] == g)
            & (attempts["ind_idx"][lo:hi] == idx)
            & (attempts["status"][lo:hi] == F.STATUS_CODES["SUCCESS"])
        )
        if match.size:
            vector = attempts["params"][lo + int(match[0])]
            break
    return [
        {
            "params": vector,
            "fitness": tuple(generations["best_fitness"][i]),
            "weighted_fitness": float(best[i]),
            "generation": g,
            "ind_idx": idx,
        }
    ]


def summary(path, max_generations=20):
    """A text report: the file's facts, attempts per status, the best individual(s) and the
    per-generation statistics (the first and last `max_generations` / 2 rows when there are
    more).

    Raises:
        FileNotFoundError, ResultsLogError: as `open_log`.
    """
    path = os.fspath(path)
    with open_log(path) as file:
        facts = _info(file)
        spec = facts["param_spec"]
        attempts = file["attempts"]
        n = facts["n_attempts"]
        status = attempts["status"][:n]
        generation_of_attempt = attempts["generation"][:n]
        generations = _read_table(file["generations"], F.GENERATION_COLUMNS)
        best = _read_best(file)
        best_source = "final"
        if not best:
            best = _best_so_far(file, spec, generations)
            best_source = "so far"

    lines = [f"mpil2l results log {path}"]
    lines.append(
        f"  format {facts['format']} v{facts['format_version']}, created {facts['created']}, "
        f"mpil2l {facts['mpil2l_version']}"
    )
    writer = facts["writer"]
    if writer:
        lines.append(
            f"  open for writing by process {writer.get('pid')} on {writer.get('host')} since "
            f"{writer.get('opened')} (or that process ended without closing it): figures as of its last flush"
        )
    else:
        lines.append("  closed")
    weights = facts["fitness_weights"]
    objectives = f"{facts['n_objectives']} objective(s)" + (f", weights {weights}" if weights else "")
    names = facts["param_names"]
    shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
    lines.append(f"  {objectives}; parameters: {shown}")
    checkpoint = facts["checkpoint"]
    if checkpoint is None:
        saved = "none"
    elif checkpoint["generation"] < 0:  # an asynchronous run's: it has no generations
        saved = f"saved {checkpoint['saved']}"
    else:
        saved = f"generation {checkpoint['generation']}, saved {checkpoint['saved']}"
    lines.append(f"  {n} attempt(s) in {len(generations['generation'])} generation(s); checkpoint: {saved}")
    if facts["outputs"]:
        lines.append(f"  outputs: {', '.join(facts['outputs'])}")

    lines.append("")
    lines.append("attempts by status:")
    codes, counts = np.unique(status, return_counts=True)
    if not codes.size:
        lines.append("  (none)")
    for code, count in zip(codes, counts):
        lines.append(f"  {F.STATUS_NAMES.get(int(code), f'code {int(code)}'):<14}{count:>10}")
    failed = status != F.STATUS_CODES["SUCCESS"]
    if n:
        lines.append(f"  {'failed':<14}{int(failed.sum()):>10} ({100.0 * failed.sum() / n:.2f}%)")

    lines.append("")
    lines.append(f"best individual(s) ({best_source}):")
    if not best:
        lines.append("  (none recorded)")
    for rank, entry in enumerate(best, 1):
        where = []
        if entry["generation"] >= 0:
            where.append(f"generation {entry['generation']}")
        if entry["ind_idx"] >= 0:
            where.append(f"ind_idx {entry['ind_idx']}")
        weighted = "" if np.isnan(entry["weighted_fitness"]) else f", weighted {_g(entry['weighted_fitness'])}"
        lines.append(f"  #{rank} {', '.join(where) or 'origin unknown'}: fitness {_fitness_text(entry['fitness'])}{weighted}")
        if entry["params"] is not None:
            lines.append(f"      {_individual_text(entry['params'], spec)}")

    lines.append("")
    lines.append("generations:")
    g = generations["generation"]
    if not g.size:
        lines.append("  (none)")
    else:
        failed_per_generation = {}
        if n:
            gens, fails = np.unique(generation_of_attempt[failed], return_counts=True)
            failed_per_generation = dict(zip(gens.tolist(), fails.tolist()))
        header = f"  {'gen':>6} {'n_ind':>6} {'failed':>6} {'best_weighted':>14} {'mean_weighted':>14} {'best_idx':>8} {'seconds':>9}  best_fitness"
        lines.append(header)
        rows = list(range(g.size))
        if max_generations is not None and g.size > max_generations:
            half = max(1, max_generations // 2)
            rows = rows[:half] + [None] + rows[-half:]
        for i in rows:
            if i is None:
                lines.append(f"  {'...':>6} ({g.size - 2 * half} more)")
                continue
            lines.append(
                f"  {int(g[i]):>6} {int(generations['n_individuals'][i]):>6} "
                f"{failed_per_generation.get(int(g[i]), 0):>6} "
                f"{_g(generations['best_weighted_fitness'][i]):>14} {_g(generations['mean_weighted_fitness'][i]):>14} "
                f"{int(generations['best_ind_idx'][i]):>8} {_g(generations['wall_seconds'][i]):>9}  "
                f"{_fitness_text(generations['best_fitness'][i])}"
            )
    return "\n".join(lines) + "\n"


# -- export -----------------------------------------------------------------------------------


def export_csv(path, out_csv, block_rows=65536):
    """Writes one CSV row per attempt: generation, ind_idx, attempt, rank, status (its name),
    the fitness (``fitness`` or ``fitness_<i>``), one column per parameter value (named as
    `fields.param_column_names` names them: ``x``, ``w[0]``, ``m[0,1]``), start, end,
    runtime, error. Reads `block_rows` rows at a time, so any log fits in memory.

    Returns:
        The number of attempts written.
    """
    path = os.fspath(path)
    with open_log(path) as file:
        facts = _info(file)
        group = file["attempts"]
        n = facts["n_attempts"]
        header = ["generation", "ind_idx", "attempt", "rank", "status"]
        header += F.fitness_column_names(facts["n_objectives"])
        header += facts["param_names"]
        header += ["start", "end", "runtime", "error"]
        with open(out_csv, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            for lo in range(0, n, block_rows):
                block = _read_table(group, F.ATTEMPT_COLUMNS, lo, lo + block_rows)
                names = [F.STATUS_NAMES.get(int(c), str(int(c))) for c in block["status"]]
                columns = [block["generation"].tolist(), block["ind_idx"].tolist(), block["attempt"].tolist(),
                           block["rank"].tolist(), names]
                columns += [col.tolist() for col in block["fitness"].T]
                columns += [col.tolist() for col in block["params"].T]
                columns += [block["start"].tolist(), block["end"].tolist(), block["runtime"].tolist(),
                            block["error"].tolist()]
                writer.writerows(zip(*columns))
    return n


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install mpil2l[plot] (or pip install matplotlib)") from None
    return Figure, FigureCanvasAgg


def plot(path, out_png):
    """Plots the best and the mean weighted fitness of every generation into `out_png`.

    Returns:
        `out_png`.

    Raises:
        ImportError: matplotlib is not installed (``pip install mpil2l[plot]``).
        ResultsLogError: the log has no generation statistics.
    """
    Figure, FigureCanvasAgg = _matplotlib()
    path = os.fspath(path)
    generations = read_generations(path)
    if not generations["generation"].size:
        raise ResultsLogError(f"{path!r} has no generation statistics to plot")

    def finite(values):
        values = np.asarray(values, dtype=float).copy()
        values[~np.isfinite(values)] = np.nan
        return values

    figure = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    g = generations["generation"]
    axes.plot(g, finite(generations["best_weighted_fitness"]), marker="o", markersize=3, label="best")
    axes.plot(g, finite(generations["mean_weighted_fitness"]), marker="o", markersize=3, label="mean")
    axes.set_xlabel("generation")
    axes.set_ylabel("weighted fitness")
    axes.set_title(os.path.basename(path))
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(out_png, dpi=100)
    return out_png

"""The results log as the command line shows it (``python -m mpil2l summary/export/plot``): a
text summary, one CSV row per attempt and a plot of the fitness per generation.

Example:
    >>> import os, tempfile
    >>> from mpil2l.model.conversion import dict_to_list
    >>> from mpil2l.storage import ResultsLog
    >>> path = os.path.join(tempfile.mkdtemp(), "results.h5")
    >>> ResultsLog.create(path, 1, dict_to_list({"x": 0.0}, get_dict_spec=True)[1]).close()
    >>> summary(path).splitlines()[-2:]
    ['generations:', '  (none)']
"""

import csv
import os

import numpy as np

from ..model.conversion import list_to_dict
from . import fields as F
from .errors import ResultsLogError
from .reader import file_info, open_log, read_generations, stored_best, table_columns
from .tables import table_length

__all__ = ["export_csv", "plot", "summary"]


# -- summary ----------------------------------------------------------------------------------


def _g(value):
    return f"{value + 0.0:.6g}"  # + 0.0: no "-0"


def _fitness_text(values):
    return "(" + ", ".join(_g(float(v)) for v in values) + ")"


def _individual_text(vector, spec):
    parts = []
    for key, value in list_to_dict(vector, spec).items():
        if isinstance(value, np.ndarray):
            value = " ".join(
                np.array2string(value, precision=6, threshold=12, separator=", ").split()
            )
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
        facts = file_info(file)
        spec = facts["param_spec"]
        attempts = file["attempts"]
        n = facts["n_attempts"]
        status = attempts["status"][:n]
        generation_of_attempt = attempts["generation"][:n]
        generations = table_columns(file["generations"], F.GENERATION_COLUMNS)
        best = stored_best(file)
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
            f"{writer.get('opened')} (or that process ended without closing it): figures as of "
            "its last flush"
        )
    else:
        lines.append("  closed")
    weights = facts["fitness_weights"]
    objectives = f"{facts['n_objectives']} objective(s)" + (
        f", weights {weights}" if weights else ""
    )
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
    lines.append(
        f"  {n} attempt(s) in {len(generations['generation'])} generation(s); checkpoint: {saved}"
    )
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
        weighted = (
            ""
            if np.isnan(entry["weighted_fitness"])
            else f", weighted {_g(entry['weighted_fitness'])}"
        )
        origin = ", ".join(where) or "origin unknown"
        fitness = _fitness_text(entry["fitness"])
        lines.append(f"  #{rank} {origin}: fitness {fitness}{weighted}")
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
        header = (
            f"  {'gen':>6} {'n_ind':>6} {'failed':>6} {'best_weighted':>14} "
            f"{'mean_weighted':>14} {'best_idx':>8} {'seconds':>9}  best_fitness"
        )
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
                f"{_g(generations['best_weighted_fitness'][i]):>14} "
                f"{_g(generations['mean_weighted_fitness'][i]):>14} "
                f"{int(generations['best_ind_idx'][i]):>8} "
                f"{_g(generations['wall_seconds'][i]):>9}  "
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
        facts = file_info(file)
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
                block = table_columns(group, F.ATTEMPT_COLUMNS, lo, lo + block_rows)
                names = [F.STATUS_NAMES.get(int(c), str(int(c))) for c in block["status"]]
                columns = [
                    block["generation"].tolist(),
                    block["ind_idx"].tolist(),
                    block["attempt"].tolist(),
                    block["rank"].tolist(),
                    names,
                ]
                columns += [col.tolist() for col in block["fitness"].T]
                columns += [col.tolist() for col in block["params"].T]
                columns += [
                    block["start"].tolist(),
                    block["end"].tolist(),
                    block["runtime"].tolist(),
                    block["error"].tolist(),
                ]
                writer.writerows(zip(*columns))
    return n


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plotting needs matplotlib: pip install mpil2l[plot] (or pip install matplotlib)"
        ) from None
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
    axes.plot(
        g, finite(generations["best_weighted_fitness"]), marker="o", markersize=3, label="best"
    )
    axes.plot(
        g, finite(generations["mean_weighted_fitness"]), marker="o", markersize=3, label="mean"
    )
    axes.set_xlabel("generation")
    axes.set_ylabel("weighted fitness")
    axes.set_title(os.path.basename(path))
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(out_png, dpi=100)
    return out_png

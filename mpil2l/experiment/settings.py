"""The settings of a run, declared once: the keywords of ``prepare_experiment`` and the
``runner_params`` dict, each with its default and its meaning. The docstrings, the reference
page ``docs/reference/settings.md`` and the checks all read these tables; `validate_settings`
turns the keywords into one immutable `RunSettings`, checked once.
"""

import numbers
import os
import textwrap
from types import MappingProxyType
from typing import Mapping, NamedTuple, Optional

from ..evaluation.process import Limits, check_isolation


class Setting(NamedTuple):
    """One setting: its name, its default and what it means (one Markdown sentence or two)."""

    name: str
    default: object
    description: str


PREPARE_SETTINGS = (
    Setting(
        "name", "L2L-run", "The run's name: the folder ``<root_dir_path>/<name>`` holds its files."
    ),
    Setting("trajectory_name", "trajectory", "The trajectory's name."),
    Setting(
        "checkpoint",
        None,
        "Resume an interrupted run: ``True`` goes on with the run folder ``<name>`` where it "
        "stopped (and starts it if there is none); the path of a results log or run folder goes on "
        "from that run's last checkpoint; a `Trajectory` saved by mpil2l goes on from it in a new "
        "results log. Attempts that finished after the checkpoint are read from the log, not run "
        "again.",
    ),
    Setting(
        "log_stdout",
        False,
        "Also copy every rank's stdout and stderr into ``<run folder>/logs/rank-<r>.log``.",
    ),
    Setting(
        "runner_params",
        None,
        "How individuals are evaluated: a dict of the runner parameters below.",
    ),
    Setting(
        "multiprocessing",
        True,
        "Evaluate on the worker ranks; ``False`` evaluates on rank 0, one individual after the "
        "other.",
    ),
    Setting("debug", False, "Log every dispatch detail."),
    Setting(
        "stop_run",
        False,
        "End the run when an individual has failed every attempt (by default it gets "
        "``cost_for_crash`` and the run goes on). A run in which a whole generation fails, or "
        "``simulate`` returns the wrong type, always ends.",
    ),
    Setting(
        "timeout",
        True,
        "The run's time limit, checked between generations: ``True`` for two hours (as in L2L), a "
        "number of seconds, or ``False`` for none.",
    ),
    Setting(
        "overwrite",
        False,
        "Replace an existing run folder of the same name; by default that is an error and "
        "nothing is touched.",
    ),
)

RUNNER_SETTINGS = (
    Setting(
        "dispatch",
        "dynamic",
        "``'dynamic'``: each worker gets the next individual when it is free; ``'static'``: a "
        "generation is split among the workers up front.",
    ),
    Setting("max_workers", None, "Use at most this many worker ranks (``None``: all)."),
    Setting(
        "isolation",
        "process",
        "``'process'``: each worker evaluates in a child process that a crash cannot take down; "
        "``'none'``: in the worker rank itself.",
    ),
    Setting(
        "timeout",
        None,
        "Seconds per evaluation attempt: a longer attempt is killed and counts as TIMEOUT.",
    ),
    Setting(
        "memory_limit_mb",
        None,
        "Memory per evaluation attempt, beyond the evaluation process's own: an attempt that needs "
        "more is MEMOUT.",
    ),
    Setting(
        "max_retries",
        3,
        "Further attempts of a failed individual, on another worker where there is one.",
    ),
    Setting(
        "cost_for_crash",
        None,
        "The fitness of an individual that failed every attempt: a number for every objective or a "
        "tuple (``None``: the worst value each fitness weight allows).",
    ),
    Setting(
        "allow_nonfinite",
        False,
        "Accept NaN or infinite fitness instead of counting it as CRASHED.",
    ),
    Setting(
        "abort_on_first_run_crash",
        False,
        "End the run if its first evaluation fails (SMAC's setting).",
    ),
    Setting(
        "results_log",
        "auto",
        "How ``results.h5`` is written: ``'parallel'`` (every rank writes, parallel HDF5), "
        "``'serial'`` (rank 0 writes), ``'auto'`` (parallel where h5py has MPI and there are "
        "workers) or ``'none'`` (no log, nothing to resume from).",
    ),
)


def defaults(settings):
    """``{name: default}`` of a settings table."""
    return {setting.name: setting.default for setting in settings}


def args_docstring(settings, indent):
    """A settings table as the ``Args:`` entries of a docstring, indented by `indent`."""
    lines = []
    for s in settings:
        text = f"{s.name}: {s.description} Default ``{s.default!r}``."
        lines += textwrap.wrap(
            text,
            width=100,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + 4),
        )
    return "\n".join(lines)


def markdown_table(settings):
    """A settings table as Markdown: name, default, meaning."""
    rows = ["| name | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| ``{s.name}`` | ``{s.default!r}`` | {s.description} |" for s in settings]
    return "\n".join(rows)


PREPARE_KEYWORDS = tuple(defaults(PREPARE_SETTINGS))
DEFAULT_RUNNER_PARAMS = defaults(RUNNER_SETTINGS)
DISPATCH_MODES = ("dynamic", "static")
# L2L's file-based runner settings; they have no meaning when workers are MPI ranks.
L2L_RUNNER_KEYS = ("srun", "exec", "work_path", "paths_obj")
DEFAULT_TIME_LIMIT = 2 * 3600.0  # what L2L's timeout=True means


class RunSettings(NamedTuple):
    """The keywords of ``prepare_experiment``, checked: what a run is told, once."""

    name: str
    trajectory_name: str
    checkpoint: object  # None, True, a path or a Trajectory
    log_stdout: bool
    runner_params: Mapping  # read-only, every key of `RUNNER_SETTINGS`
    multiprocessing: bool
    debug: bool
    stop_run: bool
    time_limit: Optional[float]  # seconds, or None
    overwrite: bool


def validate_settings(kwargs):
    """Checks the keywords of ``prepare_experiment`` and returns them as `RunSettings`.

    Raises:
        TypeError: an unknown keyword or runner parameter.
        ValueError: a bad value.
    """
    unknown = sorted(set(kwargs) - set(PREPARE_KEYWORDS))
    if unknown:
        raise TypeError(
            f"prepare_experiment() got unknown keyword(s) {unknown}; "
            f"known: {list(PREPARE_KEYWORDS)}"
        )
    given = dict(defaults(PREPARE_SETTINGS), **kwargs)
    name = given["name"]
    if not isinstance(name, str) or not name or os.sep in name or name in (".", ".."):
        raise ValueError(f"name must be a non-empty folder name, got {name!r}")
    checkpoint = None if given["checkpoint"] is False else given["checkpoint"]
    return RunSettings(
        name=name,
        trajectory_name=given["trajectory_name"],
        checkpoint=checkpoint,
        log_stdout=bool(given["log_stdout"]),
        runner_params=MappingProxyType(check_runner_params(given["runner_params"])),
        multiprocessing=bool(given["multiprocessing"]),
        debug=bool(given["debug"]),
        stop_run=bool(given["stop_run"]),
        time_limit=time_limit(given["timeout"]),
        overwrite=bool(given["overwrite"]),
    )


def check_runner_params(given):
    """``runner_params`` with every default filled in, checked.

    Raises:
        TypeError: not a dict, an unknown key, or one of L2L's file-runner keys.
        ValueError: a bad value.
    """
    params = dict(DEFAULT_RUNNER_PARAMS)
    if given is None:
        return params
    if not isinstance(given, dict):
        raise TypeError(f"runner_params must be a dict, got {type(given).__name__}")
    l2l_only = sorted(set(given) & set(L2L_RUNNER_KEYS))
    if l2l_only:
        raise TypeError(
            f"runner_params {l2l_only} configure L2L's file-based runner; mpil2l evaluates on "
            "MPI ranks: launch the script with mpiexec or srun instead"
        )
    unknown = sorted(set(given) - set(DEFAULT_RUNNER_PARAMS))
    if unknown:
        raise TypeError(f"unknown runner_params {unknown}; known: {sorted(DEFAULT_RUNNER_PARAMS)}")
    params.update(given)
    if params["dispatch"] not in DISPATCH_MODES:
        raise ValueError(
            f"runner_params['dispatch'] must be one of {DISPATCH_MODES}, got {params['dispatch']!r}"
        )
    max_workers = params["max_workers"]
    if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
        raise ValueError(f"runner_params['max_workers'] must be an int >= 1, got {max_workers!r}")
    try:
        check_isolation(params["isolation"], Limits(params["timeout"], params["memory_limit_mb"]))
    except ValueError as exc:
        raise ValueError(f"runner_params: {exc}") from None
    retries = params["max_retries"]
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"runner_params['max_retries'] must be an int >= 0, got {retries!r}")
    cost = params["cost_for_crash"]
    values = cost if isinstance(cost, (tuple, list)) else (cost,)
    if cost is not None and not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(
            "runner_params['cost_for_crash'] must be None, a number or a tuple of numbers, "
            f"got {cost!r}"
        )
    for key in ("allow_nonfinite", "abort_on_first_run_crash"):
        if not isinstance(params[key], bool):
            raise ValueError(f"runner_params[{key!r}] must be True or False, got {params[key]!r}")
    return params


def time_limit(timeout):
    """The run's time limit in seconds (None: none) for ``prepare_experiment``'s `timeout`."""
    if timeout is True:
        return DEFAULT_TIME_LIMIT
    if timeout is False or timeout is None:
        return None
    if isinstance(timeout, (int, float)) and timeout > 0:
        return float(timeout)
    raise ValueError(f"timeout must be True, False or a number of seconds > 0, got {timeout!r}")

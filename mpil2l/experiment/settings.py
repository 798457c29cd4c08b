"""The settings of a run, declared once: the keywords of ``prepare_experiment`` and the
``runner_params`` dict, each with its default and its meaning. The docstrings, the reference
page ``docs/reference/settings.md`` and the checks all read these tables.
"""

from typing import NamedTuple


class Setting(NamedTuple):
    """One setting: its name, its default and what it means (one Markdown sentence or two)."""

    name: str
    default: object
    description: str


PREPARE_SETTINGS = (
    Setting("name", "L2L-run", "The run's name: the folder ``<root_dir_path>/<name>`` holds its files."),
    Setting("trajectory_name", "trajectory", "The trajectory's name."),
    Setting(
        "checkpoint",
        None,
        "Resume an interrupted run: ``True`` goes on with the run folder ``<name>`` where it stopped "
        "(and starts it if there is none); the path of a results log or run folder goes on from that "
        "run's last checkpoint; a `Trajectory` saved by mpil2l goes on from it in a new results log. "
        "Attempts that finished after the checkpoint are read from the log, not run again.",
    ),
    Setting(
        "log_stdout",
        False,
        "Also copy every rank's stdout and stderr into ``<run folder>/logs/rank-<r>.log``.",
    ),
    Setting("runner_params", None, "How individuals are evaluated: a dict of the runner parameters below."),
    Setting(
        "multiprocessing",
        True,
        "Evaluate on the worker ranks; ``False`` evaluates on rank 0, one individual after the other.",
    ),
    Setting("debug", False, "Log every dispatch detail."),
    Setting(
        "stop_run",
        False,
        "End the run when an individual has failed every attempt (by default it gets ``cost_for_crash`` "
        "and the run goes on). A run in which a whole generation fails, or ``simulate`` returns the "
        "wrong type, always ends.",
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
        "Replace an existing run folder of the same name; by default that is an error and nothing is "
        "touched.",
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
    Setting("allow_nonfinite", False, "Accept NaN or infinite fitness instead of counting it as CRASHED."),
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


def markdown_table(settings):
    """A settings table as Markdown: name, default, meaning."""
    rows = ["| name | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| ``{s.name}`` | ``{s.default!r}`` | {s.description} |" for s in settings]
    return "\n".join(rows)

"""The drivers of an optimization run: the generational `Experiment` (L2L's API) and the
asynchronous `AsyncExperiment`, with what they share: settings, the run folder, the attempt
policy, the recorder of the results log and checkpointing."""

from .asynchronous import AsyncExperiment
from .checkpoint import RESULTS_LOG_NAME, ResumeError
from .generational import (
    DEFAULT_RUNNER_PARAMS,
    DEFAULT_TIME_LIMIT,
    DISPATCH_MODES,
    L2L_RUNNER_KEYS,
    PREPARE_KEYWORDS,
    Experiment,
    RunPaths,
)

__all__ = [
    "DEFAULT_RUNNER_PARAMS",
    "DEFAULT_TIME_LIMIT",
    "DISPATCH_MODES",
    "L2L_RUNNER_KEYS",
    "PREPARE_KEYWORDS",
    "RESULTS_LOG_NAME",
    "AsyncExperiment",
    "Experiment",
    "ResumeError",
    "RunPaths",
]

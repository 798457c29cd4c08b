"""The drivers of an optimization run, the generational `Experiment` (L2L's API) and the
asynchronous `AsyncExperiment`, and the parts both are built from:

- `settings`: the keywords and runner parameters, declared once, checked into `RunSettings`;
- `run_folder`: where a run writes;
- `attempts`: the attempt policy (retries, crash cost, the end of a run) and logged rows;
- `recorder`: rank 0's writer of the results log and its flush cadence;
- `checkpoint` (the checkpoint format) and `checkpointing` (saving, finding, resuming);
- `driver`: the collective preparation, the scheduler, aborting and ending a run.
"""

from .asynchronous import AsyncExperiment
from .checkpoint import ResumeError
from .generational import Experiment
from .run_folder import RESULTS_LOG_NAME, RunPaths
from .settings import (
    DEFAULT_RUNNER_PARAMS,
    DEFAULT_TIME_LIMIT,
    DISPATCH_MODES,
    L2L_RUNNER_KEYS,
    PREPARE_KEYWORDS,
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

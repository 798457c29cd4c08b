"""The HDF5 results log of an experiment: the writer (`ResultsLog`) and the readers."""

from .reader import (
    export_csv,
    info,
    output_names,
    plot,
    read_attempts,
    read_best,
    read_checkpoint,
    read_generations,
    read_outputs,
    read_parameters,
    summary,
)
from .parallel import ParallelResultsLog
from .results_log import BaseResultsLog, LogInUseError, ResultsLog, ResultsLogError

__all__ = [
    "BaseResultsLog",
    "LogInUseError",
    "ParallelResultsLog",
    "ResultsLog",
    "ResultsLogError",
    "export_csv",
    "info",
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

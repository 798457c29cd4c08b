"""The HDF5 results log of an experiment: the writer (`ResultsLog`), the readers and the
command line's presentation of a log."""

from .errors import LogInUseError, ResultsLogError
from .parallel import ParallelResultsLog
from .presentation import export_csv, plot, summary
from .reader import (
    info,
    output_names,
    read_attempts,
    read_best,
    read_checkpoint,
    read_generations,
    read_outputs,
    read_parameters,
)
from .results_log import BaseResultsLog, ResultsLog

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

"""mpil2l: learning to learn on persistent MPI workers, with L2L's experiment API."""

from .conversion import dict_to_list, list_to_dict
from .errors import EvaluationFailed, FirstRunCrashedException, JobTerminated, RunAborted
from .experiment import Experiment
from .isolation import Limits
from .optimizee import Optimizee
from .optimizers.optimizer import Optimizer
from .runs import RunInfo, RunValue, StatusType
from .scheduler import Scheduler, on_workers
from .smac_runner import MPIRunner
from .trajectory import Individual, ParameterGroup, Trajectory
from .worker import serve

__all__ = [
    "EvaluationFailed",
    "Experiment",
    "FirstRunCrashedException",
    "Individual",
    "JobTerminated",
    "Limits",
    "MPIRunner",
    "Optimizee",
    "Optimizer",
    "ParameterGroup",
    "RunAborted",
    "RunInfo",
    "RunValue",
    "Scheduler",
    "StatusType",
    "Trajectory",
    "dict_to_list",
    "list_to_dict",
    "on_workers",
    "serve",
]

"""mpil2l: learning to learn on persistent MPI workers, with L2L's experiment API."""


from .experiment import Experiment


from .runs import RunInfo, RunValue, StatusType
from .scheduler import Scheduler, on_workers
from .trajectory import Individual, ParameterGroup, Trajectory
from .worker import serve

__all__ = [
    "Experiment",
    "Individual",
    "Optimizee",
    "Optimizer",
    "ParameterGroup",
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

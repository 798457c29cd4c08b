"""mpil2l: learning to learn on persistent MPI workers, with L2L's experiment API.

The public names below are imported on first use, so that the evaluation process of a
worker (`mpil2l.isolation`) starts without loading MPI or the optimizers it does not need.
"""

import importlib

# public name -> the module that defines it
_EXPORTS = {
    "AskTellOptimizer": ".optimizers.asktell",
    "AsyncExperiment": ".async_experiment",
    "EvaluationFailed": ".errors",
    "Experiment": ".experiment",
    "FirstRunCrashedException": ".errors",
    "Individual": ".trajectory",
    "JobTerminated": ".errors",
    "Limits": ".isolation",
    "MPIRunner": ".smac_runner",
    "Optimizee": ".optimizee",
    "Optimizer": ".optimizers.optimizer",
    "ParameterGroup": ".trajectory",
    "ResumeError": ".checkpoint",
    "RunAborted": ".errors",
    "RunInfo": ".runs",
    "RunValue": ".runs",
    "SMAC3Runner": ".smac3_runner",
    "Scheduler": ".scheduler",
    "SimulationResult": ".evaluation",
    "StatusType": ".runs",
    "Trajectory": ".trajectory",
    "dict_to_list": ".conversion",
    "list_to_dict": ".conversion",
    "on_workers": ".scheduler",
    "serve": ".worker",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mpil2l' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__

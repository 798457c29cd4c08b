"""mpil2l: learning to learn on persistent MPI workers, with L2L's experiment API.

The public names below are imported on first use, so that the evaluation process of a
worker (`mpil2l.evaluation.process`) starts without loading MPI or the optimizers it does not need.
"""

import importlib

# public name -> the module that defines it
_EXPORTS = {
    "AskTellOptimizer": ".optimizers.asktell",
    "AsyncExperiment": ".experiment.asynchronous",
    "EvaluationFailed": ".core.errors",
    "Experiment": ".experiment.generational",
    "FirstRunCrashedException": ".core.errors",
    "Individual": ".model.trajectory",
    "JobTerminated": ".core.errors",
    "Limits": ".evaluation.process",
    "MPIRunner": ".smac.runner",
    "Optimizee": ".optimizees.base",
    "Optimizer": ".optimizers.optimizer",
    "ParameterGroup": ".model.trajectory",
    "ResumeError": ".experiment.checkpoint",
    "RunAborted": ".core.errors",
    "RunInfo": ".core.runs",
    "RunValue": ".core.runs",
    "SMAC3Runner": ".smac.smac3",
    "Scheduler": ".runtime.scheduler",
    "SimulationResult": ".evaluation.simulation",
    "StatusType": ".core.runs",
    "Trajectory": ".model.trajectory",
    "dict_to_list": ".model.conversion",
    "list_to_dict": ".model.conversion",
    "on_workers": ".runtime.scheduler",
    "serve": ".runtime.worker",
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

"""Unpickling what earlier releases saved (checkpoints, trajectories, history pieces), whose
classes lived in modules that have since moved into the layered packages."""

import importlib
import io
import pickle

# module path an earlier release pickled -> the module that holds its classes now
RENAMED_MODULES = {
    "mpil2l.backoff": "mpil2l.core.backoff",
    "mpil2l.checkpoint": "mpil2l.experiment.checkpoint",
    "mpil2l.conversion": "mpil2l.model.conversion",
    "mpil2l.errors": "mpil2l.core.errors",
    "mpil2l.evaluation": "mpil2l.evaluation.simulation",
    "mpil2l.execution": "mpil2l.evaluation.call",
    "mpil2l.experiment": "mpil2l.experiment.generational",
    "mpil2l.history": "mpil2l.model.history",
    "mpil2l.isolation": "mpil2l.evaluation.process",
    "mpil2l.logs": "mpil2l.core.console",
    "mpil2l.optimizee": "mpil2l.optimizees.base",
    "mpil2l.protocol": "mpil2l.runtime.protocol",
    "mpil2l.runs": "mpil2l.core.runs",
    "mpil2l.scheduler": "mpil2l.runtime.scheduler",
    "mpil2l.smac3_runner": "mpil2l.smac.smac3",
    "mpil2l.smac_target": "mpil2l.smac.target",
    "mpil2l.spmd": "mpil2l.runtime.spmd",
    "mpil2l.trajectory": "mpil2l.model.trajectory",
    "mpil2l.worker": "mpil2l.runtime.worker",
}


class RenamingUnpickler(pickle.Unpickler):
    """An unpickler that finds a class under its old module path where that module is gone
    (or, for a path that is now a package, no longer holds the class)."""

    def find_class(self, module, name):
        renamed = RENAMED_MODULES.get(module)
        if renamed is not None and not hasattr(_imported(module), name):
            module = renamed
        return super().find_class(module, name)


def _imported(module):
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def loads(data):
    """`pickle.loads`, reading the module paths of earlier releases too."""
    return RenamingUnpickler(io.BytesIO(data)).load()


def load(file):
    """`pickle.load`, reading the module paths of earlier releases too."""
    return RenamingUnpickler(file).load()

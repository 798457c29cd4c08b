"""Runs L2L scripts unchanged: ``import mpil2l.compat`` before the script's ``l2l`` imports
(or launch it with ``python -m mpil2l.l2l script.py``) and every ``l2l`` module it imports
resolves to mpil2l.

The ``l2l`` modules are built on first import from the mpil2l modules in `L2L_MODULES`: each
gets the public names of its mpil2l counterparts, so ``from l2l.optimizers.evolution import
GeneticAlgorithmOptimizer`` gives mpil2l's class. An ``l2l`` module mpil2l does not provide
raises ImportError naming it. The real L2L package, if installed, is shadowed while this
module is imported.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Mapping
from warnings import warn

# l2l module -> the mpil2l modules whose public names it holds ("" for a bare package).
L2L_MODULES = {
    "l2l": ("mpil2l.model.conversion", "mpil2l.compat"),
    "l2l.utils": (),
    "l2l.utils.experiment": ("mpil2l.experiment",),
    "l2l.utils.trajectory": ("mpil2l.model.trajectory",),
    "l2l.utils.individual": ("mpil2l.model.trajectory",),
    "l2l.utils.groups": ("mpil2l.model.trajectory",),
    "l2l.optimizees": (),
    "l2l.optimizees.optimizee": ("mpil2l.optimizees.base",),
    "l2l.optimizees.functions": ("mpil2l.optimizees.functions",),
    "l2l.optimizees.functions.benchmarked_functions": ("mpil2l.optimizees.functions",),
    "l2l.optimizees.functions.function_generator": ("mpil2l.optimizees.functions",),
    "l2l.optimizees.functions.optimizee": ("mpil2l.optimizees.functions",),
    "l2l.optimizees.functions.tools": ("mpil2l.optimizees.functions",),
    "l2l.optimizees.active_wait": ("mpil2l.optimizees.active_wait",),
    "l2l.optimizees.active_wait.optimizee_aw": ("mpil2l.optimizees.active_wait",),
    "l2l.optimizers": (),
    "l2l.optimizers.optimizer": ("mpil2l.optimizers.optimizer",),
    "l2l.optimizers.gridsearch": ("mpil2l.optimizers.gridsearch",),
    "l2l.optimizers.evolution": ("mpil2l.optimizers.genetic",),
    "l2l.optimizers.crossentropy": ("mpil2l.optimizers.crossentropy",),
    "l2l.optimizers.crossentropy.distribution": ("mpil2l.optimizers.distributions",),
    "l2l.optimizers.face": ("mpil2l.optimizers.face",),
    "l2l.optimizers.evolutionstrategies": ("mpil2l.optimizers.evolutionstrategies",),
    "l2l.optimizers.naturalevolutionstrategies": ("mpil2l.optimizers.naturalevolutionstrategies",),
    "l2l.optimizers.gradientdescent": ("mpil2l.optimizers.gradientdescent",),
    "l2l.optimizers.multigradientdescent": ("mpil2l.optimizers.multigradientdescent",),
    "l2l.optimizers.simulatedannealing": ("mpil2l.optimizers.simulatedannealing",),
    "l2l.optimizers.paralleltempering": ("mpil2l.optimizers.paralleltempering",),
    "l2l.optimizers.kalmanfilter": ("mpil2l.optimizers.kalmanfilter",),
}
# Every L2L optimizer package also has an ``optimizer`` module holding the same names.
for _name in [n for n in L2L_MODULES if n.startswith("l2l.optimizers.") and n.count(".") == 2]:
    if _name != "l2l.optimizers.optimizer":
        L2L_MODULES[_name + ".optimizer"] = L2L_MODULES[_name]


def _is_package(name):
    return any(other.startswith(name + ".") for other in L2L_MODULES)


class _L2LFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and builds the ``l2l`` modules of `L2L_MODULES`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "l2l" and not fullname.startswith("l2l."):
            return None
        if fullname not in L2L_MODULES:
            raise ImportError(
                f"mpil2l.compat has no counterpart of L2L's module {fullname!r}; known: "
                f"{sorted(L2L_MODULES)}",
                name=fullname,
            )
        return importlib.machinery.ModuleSpec(fullname, self, is_package=_is_package(fullname))

    def create_module(self, spec):
        return None  # a fresh module

    def exec_module(self, module):
        for source in L2L_MODULES[module.__name__]:
            public = vars(importlib.import_module(source))
            module.__dict__.update({k: v for k, v in public.items() if not k.startswith("_")})


_FINDER = _L2LFinder()


def install():
    """Makes ``l2l`` imports resolve to mpil2l (done on import of this module)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    for name in [n for n in sys.modules if n == "l2l" or n.startswith("l2l.")]:
        del sys.modules[name]  # an L2L imported earlier must not shadow us


class sdictm:  # noqa: N801 (L2L's name)
    """L2L's dot-access dictionary: ``d.a`` is ``d['a']``; nested dicts become `sdictm`
    too. A missing key reads as None, with a warning, as in L2L."""

    def __init__(self, obj):
        if not isinstance(obj, Mapping):
            raise TypeError(f"{type(self).__name__} is built from a dict, got {type(obj).__name__}")
        data = {}
        for key, value in obj.items():
            if isinstance(value, Mapping):
                value = sdictm(value)
            elif isinstance(value, list):
                value = [sdictm(v) if isinstance(v, Mapping) else v for v in value]
            data[key] = value
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in self._data:
            warn(f"Returning None value for {name}", stacklevel=2)
        return self._data.get(name)

    def __setattr__(self, name, value):
        self._data[name] = value

    __getitem__ = __getattr__
    __setitem__ = __setattr__

    def __iter__(self):
        return iter(self._data)

    def __repr__(self):
        return repr(self._data)

    def get(self, key, default_value=None):
        value = self._data.get(key)
        return default_value if value is None else value

    def keys(self):
        return self._data.keys()

    def update(self, **kwargs):
        self._data.update(kwargs)
        return self

    def todict(self):
        """A plain dict, nested values included."""

        def plain(value):
            if isinstance(value, sdictm):
                return value.todict()
            if isinstance(value, list):
                return [plain(v) for v in value]
            return value

        return {k: plain(v) for k, v in self._data.items()}

    def copy(self):
        return type(self)(self.todict())

    def frozen(self):
        return sdict(self.todict())


class sdict(sdictm):  # noqa: N801 (L2L's name)
    """The immutable `sdictm`."""

    def __setattr__(self, name, value):
        raise RuntimeError("Immutable dictionary")

    __setitem__ = __setattr__

    def update(self, **kwargs):
        raise RuntimeError("Immutable dictionary")


install()

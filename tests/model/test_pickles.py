"""What earlier releases pickled under module paths that have since moved still loads."""

import io
import pickle

import pytest

from mpil2l.evaluation.simulation import Task
from mpil2l.model import pickles
from mpil2l.model.trajectory import Trajectory


def as_saved_under(obj, old, new):
    """`obj` pickled as a release that kept the module `new` at the path `old` wrote it.
    (Protocol 2 names classes in text lines, ``c<module>\\n<name>\\n``.)"""
    data = pickle.dumps(obj, protocol=2)
    assert f"c{new}\n".encode() in data
    return data.replace(f"c{new}\n".encode(), f"c{old}\n".encode())


def test_a_trajectory_saved_under_the_old_module_path_loads():
    traj = Trajectory("old")
    traj.f_add_parameter("n_iteration", 3)
    data = as_saved_under(traj, "mpil2l.trajectory", "mpil2l.model.trajectory")
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(data)
    loaded = pickles.loads(data)
    assert isinstance(loaded, Trajectory) and loaded.par.n_iteration == 3
    assert isinstance(pickles.load(io.BytesIO(data)), Trajectory)


def test_a_class_that_moved_out_of_a_module_now_a_package_loads():
    # mpil2l.evaluation was a module holding Task; it is a package now
    data = as_saved_under(Task(0, 1, 0, {}), "mpil2l.evaluation", "mpil2l.evaluation.simulation")
    assert pickles.loads(data) == Task(0, 1, 0, {})


def test_current_pickles_load_unchanged():
    traj = Trajectory("new")
    assert pickles.loads(pickle.dumps(traj))._name == "new"


def test_every_renamed_module_exists():
    import importlib

    for new in pickles.RENAMED_MODULES.values():
        importlib.import_module(new)

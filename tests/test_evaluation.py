"""The fitness contract between simulate() and the optimizer."""

import numpy as np
import pytest

from mpil2l.errors import FitnessError
from mpil2l.evaluation import Simulation, Task, check_fitness
from mpil2l.trajectory import Trajectory


@pytest.mark.parametrize("fitness", [(1,), [1.5], np.array([2.0]), (np.float32(3.0),)])
def test_accepts_sequences_of_real_numbers(fitness):
    assert check_fitness(fitness, 1) == (float(np.asarray(fitness)[0]),)


@pytest.mark.parametrize(
    "fitness, message",
    [
        (1.0, "must return a tuple of fitness values, got float"),
        ("1", "must return a tuple of fitness values, got str"),
        ((1.0, "a"), "must return real numbers"),
        ((True,), "must return real numbers"),
        ((1.0, 2.0), r"returned 2 fitness value\(s\) \(1.0, 2.0\), but the optimizer has 1"),
        (np.ones((1, 1)), "must return a tuple"),
    ],
)
def test_rejects_anything_else_with_a_clear_message(fitness, message):
    with pytest.raises(FitnessError, match=message):
        check_fitness(fitness, 1)


def test_simulation_sets_the_current_individual():
    class Optimizee:
        def simulate(self, traj):
            return (traj.individual.x * 10 + traj.individual.ind_idx + traj.par.offset,)

    traj = Trajectory()
    traj.f_add_parameter("offset", 100)
    sim = Simulation(Optimizee(), traj, 1)
    assert sim(Task(0, 2, 0, {"individual.x": 0.5})) == (107.0,)

"""The fitness contract between simulate() and the optimizer."""

import numpy as np
import pytest

from mpil2l.core.errors import FitnessError
from mpil2l.evaluation.simulation import (
    Simulation,
    SimulationResult,
    Task,
    check_fitness,
    split_outputs,
)
from mpil2l.core.runs import RunValue, StatusType
from mpil2l.model.trajectory import Trajectory


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


def simulate_returning(result):
    class Optimizee:
        def simulate(self, traj):
            return result

    return Simulation(Optimizee(), Trajectory(), 1)(Task(0, 0, 0, {"individual.x": 0.5}))


@pytest.mark.parametrize(
    "result", [((1.0,), {"trace": [1.0, 2.0]}), SimulationResult((1.0,), {"trace": [1.0, 2.0]})]
)
def test_outputs_come_back_as_a_simulation_result(result):
    value = simulate_returning(result)
    assert type(value) is SimulationResult and value.fitness == (1.0,)
    np.testing.assert_array_equal(value.outputs["trace"], [1.0, 2.0])
    fitness, outputs = split_outputs(RunValue(value, 0.0, StatusType.SUCCESS, 0.0, 0.0, {}))
    assert fitness.cost == (1.0,) and list(outputs) == ["trace"]


def test_no_outputs_is_a_plain_fitness():
    assert simulate_returning(((2.0,), {})) == (2.0,)
    assert simulate_returning((2.0,)) == (2.0,)
    value = RunValue((2.0,), 0.0, StatusType.SUCCESS, 0.0, 0.0, {})
    assert split_outputs(value) == (value, None)


@pytest.mark.parametrize(
    "result, message",
    [
        ((1.0, {"trace": [1.0]}), "must return a tuple of fitness values, got float"),
        (((1.0, 2.0), {"trace": [1.0]}), r"returned 2 fitness value\(s\)"),
        (((1.0,), {"a/b": [1.0]}), "output names must be non-empty strings without '/'"),
        (((1.0,), {"": [1.0]}), "output names must be non-empty strings"),
        (((1.0,), {3: [1.0]}), "output names must be non-empty strings"),
        (((1.0,), {"label": "text"}), "output 'label' must be numeric"),
        (((1.0,), {"ragged": [[1.0], [1.0, 2.0]]}), "output 'ragged' is not an array"),
    ],
)
def test_bad_outputs_are_fitness_errors(result, message):
    with pytest.raises(FitnessError, match=message):
        simulate_returning(result)

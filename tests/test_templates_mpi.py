"""The optimizer and optimizee templates in examples/: they run on 1 and 3 ranks with the same
results, reach a good fitness, resume from a saved state, refuse bad settings, and their
docstring examples pass."""

import doctest
import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest

from mpil2l.model.trajectory import Trajectory
from mpirun import leftover_processes, run_mpi

EXAMPLES = Path(__file__).parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


optimizer_template = load("optimizer_template")
optimizee_template = load("optimizee_template")

# template -> (run name, generations, the best fitness it must reach)
TEMPLATES = {
    "optimizer_template": ("optimizer-template", 25, 0.5),
    "optimizee_template": ("optimizee-template", 20, 0.05),
}


def run_template(root, name, ranks):
    run_name, generations, _ = TEMPLATES[name]
    args = ("--root", root, "--generations", generations)
    proc = run_mpi(ranks, EXAMPLES / f"{name}.py", *args, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert not leftover_processes(proc)
    assert proc.stdout.count("mpil2l: generation") == generations
    with open(root / run_name / "trajectory.pickle", "rb") as f:
        traj = pickle.load(f)
    return traj.results.final_fitness, dict(traj.results.all_results.items())


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_runs_on_1_and_3_ranks_with_the_same_results(tmp_path, name):
    one = run_template(tmp_path / "one", name, 1)
    three = run_template(tmp_path / "three", name, 3)
    assert one == three
    final_fitness, results = three
    first_best = min(fitness[0] for _, fitness in results[0])
    assert final_fitness[0] < TEMPLATES[name][2] < first_best


@pytest.mark.parametrize(
    "module", [optimizer_template, optimizee_template], ids=lambda m: m.__name__
)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def sphere_run(parameters, generations):
    traj = Trajectory()
    optimizer = optimizer_template.AdaptiveRandomSearchOptimizer(
        traj,
        lambda: {"x": np.array([2.0, -1.0]), "y": 0.5},
        (-1.0,),
        parameters,
        lambda ind: {"x": np.clip(ind["x"], -3, 3), "y": float(np.clip(ind["y"], -3, 3))},
    )
    for g in range(generations):
        optimizer.post_process(
            traj, [(i.ind_idx, (float(np.sum(i.x**2) + i.y**2),)) for i in traj.individuals[g]]
        )
    return traj, optimizer


def test_optimizer_template_resumes_from_its_state():
    parameters = optimizer_template.AdaptiveRandomSearchParameters(
        pop_size=6, n_iteration=20, seed=4
    )
    full_traj, full = sphere_run(parameters, 20)
    half_traj, half = sphere_run(parameters, 10)
    state = pickle.loads(pickle.dumps(half.get_state()))
    traj, resumed = sphere_run(parameters, 0)
    resumed.set_state(state)
    for g in range(10, 20):
        inds = half_traj.individuals[g]
        resumed.post_process(
            half_traj, [(i.ind_idx, (float(np.sum(i.x**2) + i.y**2),)) for i in inds]
        )
    assert resumed.best_fitness == full.best_fitness
    np.testing.assert_array_equal(resumed.centre, full.centre)
    assert (
        full.best_fitness[0] < 0.1 and 20 not in full_traj.individuals
    )  # from 5.25; stops after n_iteration


@pytest.mark.parametrize(
    "fields, error, message",
    [
        (dict(pop_size=0), ValueError, "pop_size must be >= 1, got 0"),
        (dict(sigma=-1.0), ValueError, "sigma must be > 0, got -1"),
        (dict(shrink="x"), TypeError, "shrink must be a real number, got str 'x'"),
        (dict(seed=-2), ValueError, "seed must be >= 0, got -2"),
    ],
)
def test_optimizer_template_refuses_bad_parameters(fields, error, message):
    with pytest.raises(error, match=message):
        sphere_run(optimizer_template.AdaptiveRandomSearchParameters(**fields), 0)


def test_optimizee_template_refuses_bad_parameters_and_stays_in_bounds():
    P = optimizee_template.DampedOscillatorParameters
    with pytest.raises(ValueError, match="n_samples must be >= 2, got 1"):
        optimizee_template.DampedOscillatorOptimizee(Trajectory(), P(n_samples=1))
    with pytest.raises(ValueError, match="noise must be >= 0, got nan"):
        optimizee_template.DampedOscillatorOptimizee(Trajectory(), P(noise=float("nan")))
    optimizee = optimizee_template.DampedOscillatorOptimizee(Trajectory(), P())
    wild = {"frequency": 99.0, "damping": -3.0, "shape": np.array([-5.0, 10.0])}
    bounded = optimizee.bounding_func(wild)
    again = optimizee.bounding_func(bounded)
    assert (again["frequency"], again["damping"]) == (bounded["frequency"], bounded["damping"])
    np.testing.assert_array_equal(again["shape"], bounded["shape"])
    assert (bounded["frequency"], bounded["damping"]) == (5.0, 0.0)
    np.testing.assert_allclose(bounded["shape"], [0.1, np.pi])

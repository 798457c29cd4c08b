"""Optimizers driven by the serial generation loop: grid search and the genetic algorithm."""

import copy
import doctest
import importlib
import itertools
from collections import namedtuple

import numpy as np
import pytest
from serial_loop import evaluate_generation, run_serial

from mpil2l.optimizees import BenchmarkedFunctions, FunctionGeneratorOptimizee
from mpil2l.optimizees.base import Optimizee
from mpil2l.optimizers import (
    GeneticAlgorithmOptimizer,
    GeneticAlgorithmParameters,
    GridSearchOptimizer,
    GridSearchParameters,
    Optimizer,
)
from mpil2l.model.trajectory import Trajectory


class ShiftedSphere(Optimizee):
    """``|x - center|^2 + (v - v_center)^2``: a scalar and an array parameter."""

    def __init__(self, traj, center=(0.3, -0.7), v_center=0.2):
        super().__init__(traj)
        self.center = np.asarray(center)
        self.v_center = v_center

    def create_individual(self):
        return {"x": np.zeros(len(self.center)), "v": 0.0}

    def simulate(self, traj):
        x, v = traj.individual.x, traj.individual.v
        return (float(np.sum((x - self.center) ** 2) + (v - self.v_center) ** 2),)


def function_setup(name, seed, noise=False):
    (_, fg), _ = BenchmarkedFunctions().get_function_by_name(name, noise=noise)
    traj = Trajectory()
    optimizee = FunctionGeneratorOptimizee(traj, fg, seed=seed)
    return traj, optimizee


def run_ga(name="Rastrigin2d", seed=0, order_seed=None, noise=False, **params):
    traj, optimizee = function_setup(name, seed, noise)
    params = {"seed": seed, "pop_size": 30, "n_iteration": 30, **params}
    optimizer = GeneticAlgorithmOptimizer(
        traj,
        optimizee.create_individual,
        (-1.0,),
        GeneticAlgorithmParameters(**params),
        optimizee.bounding_func,
    )
    results = run_serial(traj, optimizer, optimizee, order_seed=order_seed)
    return traj, optimizer, results


def individuals_of(traj):
    """Every individual of every generation as comparable plain data."""
    return {
        g: [
            (ind.ind_idx, {k: np.asarray(v).tolist() for k, v in ind.params.items()})
            for ind in inds
        ]
        for g, inds in traj.individuals.items()
    }


def individuals_of_hof(optimizer):
    return [
        (e["individual"]["coords"].tolist(), e["fitness"], e["generation"])
        for e in optimizer.hall_of_fame
    ]


# -- grid search ----------------------------------------------------------------------------


def test_grid_search_covers_the_cartesian_grid():
    traj = Trajectory()
    optimizee = ShiftedSphere(traj)
    GridSearchOptimizer(
        traj,
        optimizee.create_individual,
        (-1.0,),
        GridSearchParameters(param_grid={"x": (-1.0, 1.0, 4), "v": (0.0, 1.0, 2)}),
    )
    assert traj.par.n_iteration == 1
    assert traj.par.grid_spec.x == (-1.0, 1.0, 4)
    inds = traj.individuals[0]
    assert len(inds) == 3 * 5**2 and [i.ind_idx for i in inds] == list(range(75))
    points = {(i.v, *i.x.tolist()) for i in inds}
    xs, vs = np.linspace(-1, 1, 5), np.linspace(0, 1, 3)
    assert points == {(v, a, b) for v, a, b in itertools.product(vs, xs, xs)}
    assert all(i.x.shape == (2,) for i in inds)


def test_grid_search_finds_the_optimum_within_grid_resolution():
    traj = Trajectory()
    optimizee = ShiftedSphere(traj, center=(0.3, -0.7), v_center=0.2)
    step = 0.25
    optimizer = GridSearchOptimizer(
        traj,
        optimizee.create_individual,
        (-1.0,),
        GridSearchParameters(param_grid={"x": (-1.0, 1.0, 8), "v": (-1.0, 1.0, 8)}),
    )
    results = run_serial(traj, optimizer, optimizee)
    assert list(results) == [0] and 1 not in traj.individuals  # one generation, then stop
    best = optimizer.best_individual
    assert np.all(np.abs(best["x"] - [0.3, -0.7]) <= step / 2)
    assert abs(best["v"] - 0.2) <= step / 2
    assert optimizer.best_fitness == min(results[0], key=lambda r: r[1])[1]
    assert traj.results.final_individual is best and traj.results.n_iteration == 1


def test_grid_search_hits_the_rastrigin_optimum_on_the_grid():
    traj, optimizee = function_setup("Rastrigin2d", seed=0)
    optimizer = GridSearchOptimizer(
        traj,
        optimizee.create_individual,
        (-1.0,),
        GridSearchParameters(param_grid={"coords": (-5.0, 5.0, 20)}),
    )
    run_serial(traj, optimizer, optimizee)
    assert len(traj.individuals[0]) == 21**2
    assert optimizer.best_fitness == pytest.approx((0.0,), abs=1e-12)
    np.testing.assert_allclose(optimizer.best_individual["coords"], [0.0, 0.0], atol=1e-12)


def test_grid_search_maximises_with_positive_weights():
    traj = Trajectory()
    optimizee = ShiftedSphere(traj)
    optimizer = GridSearchOptimizer(
        traj,
        optimizee.create_individual,
        (1.0,),
        GridSearchParameters(param_grid={"x": (-1, 1, 2), "v": (0, 1, 1)}),
    )
    run_serial(traj, optimizer, optimizee)
    assert (
        optimizer.best_individual["x"].tolist() == [-1.0, 1.0]
        and optimizer.best_individual["v"] == 1.0
    )


@pytest.mark.parametrize(
    "grid, error, message",
    [
        (
            {"x": (-1, 1, 2)},
            ValueError,
            r"param_grid keys \['x'\] must match the individual's keys \['v', 'x'\]",
        ),
        (
            {"x": (-1, 1, 2), "v": (0, 1)},
            ValueError,
            r"\['v'\] must be \(lower_bound, upper_bound, n_steps\)",
        ),
        (
            {"x": (1, -1, 2), "v": (0, 1, 1)},
            ValueError,
            r"\['x'\] needs lower_bound <= upper_bound, got \(1, -1, 2\)",
        ),
        (
            {"x": (-1, 1, -2), "v": (0, 1, 1)},
            ValueError,
            r"param_grid\['x'\] n_steps must be >= 0, got -2",
        ),
        (
            {"x": (-1, 1, 2.5), "v": (0, 1, 1)},
            TypeError,
            r"param_grid\['x'\] n_steps must be an integer, got float",
        ),
        (
            {"x": ("a", 1, 2), "v": (0, 1, 1)},
            TypeError,
            r"lower_bound must be a real number, got str",
        ),
        ([("x", (0, 1, 1))], TypeError, "param_grid must be a dict, got list"),
    ],
)
def test_grid_search_rejects_bad_grids(grid, error, message):
    traj = Trajectory()
    optimizee = ShiftedSphere(traj)
    with pytest.raises(error, match=message):
        GridSearchOptimizer(
            traj, optimizee.create_individual, (-1.0,), GridSearchParameters(param_grid=grid)
        )


# -- genetic algorithm ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name, threshold", [("Rastrigin2d", 0.05), ("Rosenbrock2d", 0.05)])
def test_ga_improves_within_30_generations_of_30(name, threshold, seed):
    traj, optimizer, results = run_ga(name, seed, pop_size=30, n_iteration=30)
    first_best = optimizer.statistics[0]["best_fitness"][0]
    assert optimizer.best_fitness[0] < threshold
    assert optimizer.best_fitness[0] < first_best / 10
    assert sum(len(r) for r in results.values()) <= 30 * 30


def test_ga_runs_n_iteration_generations_and_evaluates_only_changed_individuals():
    traj, optimizer, results = run_ga(pop_size=12, n_iteration=7)
    assert sorted(traj.individuals) == list(range(7)) and sorted(results) == list(range(7))
    assert traj.par.n_iteration == 7 and traj.par.pop_size == 12 and traj.par.tourn_size == 3
    assert len(traj.individuals[0]) == 12
    assert all(1 <= len(traj.individuals[g]) <= 12 for g in range(1, 7))
    assert [s["generation"] for s in optimizer.statistics] == list(range(7))
    assert traj.results.n_iteration == 7 and traj.results.final_fitness == optimizer.best_fitness


def test_ga_same_seed_gives_the_same_run_and_another_seed_does_not():
    traj_a, opt_a, res_a = run_ga(seed=5, n_iteration=10)
    traj_b, opt_b, res_b = run_ga(seed=5, n_iteration=10)
    traj_c, _, _ = run_ga(seed=6, n_iteration=10)
    assert individuals_of(traj_a) == individuals_of(traj_b)
    assert res_a == res_b and opt_a.statistics == opt_b.statistics
    assert individuals_of(traj_a) != individuals_of(traj_c)


@pytest.mark.parametrize("noise", [False, True])
def test_ga_does_not_depend_on_evaluation_order(noise):
    traj_a, opt_a, res_a = run_ga(seed=3, n_iteration=10, noise=noise)
    traj_b, opt_b, res_b = run_ga(seed=3, n_iteration=10, noise=noise, order_seed=99)
    assert individuals_of(traj_a) == individuals_of(traj_b)
    assert res_a == res_b and opt_a.statistics == opt_b.statistics
    assert individuals_of_hof(opt_a) == individuals_of_hof(opt_b)


def test_post_process_accepts_results_in_any_order():
    def next_generation(reverse):
        traj, optimizee = function_setup("Ackley2d", seed=2)
        optimizer = GeneticAlgorithmOptimizer(
            traj,
            optimizee.create_individual,
            (-1.0,),
            GeneticAlgorithmParameters(seed=2, pop_size=10),
        )
        results = evaluate_generation(traj, optimizee, 0)
        optimizer.post_process(traj, results[::-1] if reverse else results)
        return individuals_of(traj)[1]

    assert next_generation(reverse=True) == next_generation(reverse=False)


def test_ga_keeps_individuals_within_bounds():
    traj, optimizer, _ = run_ga(
        "Rosenbrock2d", seed=0, n_iteration=10, mut_par=5.0, ind_prob=1.0, mate_par=2.0
    )
    coords = np.array([ind.coords for inds in traj.individuals.values() for ind in inds])
    assert coords.min() >= -2.0 and coords.max() <= 2.0


def test_ga_without_bounding_func_may_leave_the_bounds():
    traj, optimizee = function_setup("Rosenbrock2d", seed=0)
    optimizer = GeneticAlgorithmOptimizer(
        traj,
        optimizee.create_individual,
        (-1.0,),
        GeneticAlgorithmParameters(seed=0, pop_size=20, n_iteration=5, mut_par=5.0, ind_prob=1.0),
    )
    run_serial(traj, optimizer, optimizee)
    coords = np.array([ind.coords for inds in traj.individuals.values() for ind in inds])
    assert np.abs(coords).max() > 2.0


def test_hall_of_fame_holds_the_best_distinct_individuals():
    traj, optimizer, results = run_ga(seed=1, n_iteration=15)
    hof = optimizer.hall_of_fame
    assert len(hof) == 20 and traj.hall_of_fame is hof
    weighted = [e["weighted_fitness"] for e in hof]
    assert weighted == sorted(weighted, reverse=True)
    assert len({tuple(e["individual"]["coords"]) for e in hof}) == 20
    assert hof[0]["fitness"] == optimizer.best_fitness
    distinct = {
        tuple(ind.coords): -fitness[0]
        for g, inds in traj.individuals.items()
        for ind, (_, fitness) in zip(inds, results[g])
    }
    assert weighted == sorted(distinct.values(), reverse=True)[:20]


def test_failed_individuals_never_become_best():
    traj, optimizee = function_setup("Rastrigin2d", seed=0)
    optimizer = GeneticAlgorithmOptimizer(
        traj,
        optimizee.create_individual,
        (-1.0, 0.0),
        GeneticAlgorithmParameters(seed=0, pop_size=6),
    )
    results = [(i, (float(i), 0.0)) for i in range(6)]
    results[0] = (0, (float("inf"), float("inf")))  # the runtime's worst fitness: -inf + nan
    optimizer.post_process(traj, results)
    assert optimizer.best_fitness == (1.0, 0.0)
    assert optimizer.statistics[0]["mean_weighted_fitness"] == pytest.approx(-3.0)


def test_state_round_trip_resumes_the_same_run():
    full_traj, full_opt, full_results = run_ga(seed=4, n_iteration=12)

    traj, optimizee = function_setup("Rastrigin2d", seed=4)
    params = GeneticAlgorithmParameters(seed=4, pop_size=30, n_iteration=12)
    optimizer = GeneticAlgorithmOptimizer(
        traj, optimizee.create_individual, (-1.0,), params, optimizee.bounding_func
    )
    for g in range(5):
        optimizer.post_process(traj, evaluate_generation(traj, optimizee, g))
    state = copy.deepcopy(optimizer.get_state())
    saved_traj = copy.deepcopy(traj)

    resumed = GeneticAlgorithmOptimizer(
        Trajectory(), optimizee.create_individual, (-1.0,), params, optimizee.bounding_func
    )
    resumed.set_state(state)
    for g in range(5, 12):
        resumed.post_process(saved_traj, evaluate_generation(saved_traj, optimizee, g))
    assert individuals_of(saved_traj) == individuals_of(full_traj)
    assert resumed.best_fitness == full_opt.best_fitness
    assert resumed.statistics == full_opt.statistics


def test_set_state_rejects_a_population_of_another_size():
    _, optimizer, _ = run_ga(seed=0, pop_size=10, n_iteration=2)
    traj, optimizee = function_setup("Rastrigin2d", seed=0)
    other = GeneticAlgorithmOptimizer(
        traj, optimizee.create_individual, (-1.0,), GeneticAlgorithmParameters(seed=0, pop_size=12)
    )
    with pytest.raises(ValueError, match=r"saved population has shape \(10, 2\)"):
        other.set_state(optimizer.get_state())
    with pytest.raises(ValueError, match="state lacks"):
        other.set_state({"generation": 0})


@pytest.mark.parametrize(
    "params, error, message",
    [
        (dict(pop_size=-3), ValueError, "pop_size must be >= 1, got -3"),
        (dict(pop_size=2.5), TypeError, "pop_size must be an integer, got float 2.5"),
        (dict(seed=-1), ValueError, "seed must be >= 0, got -1"),
        (dict(cx_prob=1.5), ValueError, r"cx_prob must be in \[0, 1\], got 1.5"),
        (dict(mut_prob=-0.1), ValueError, r"mut_prob must be in \[0, 1\], got -0.1"),
        (dict(ind_prob=float("nan")), ValueError, "ind_prob must be finite, got nan"),
        (dict(n_iteration=0), ValueError, "n_iteration must be >= 1, got 0"),
        (dict(tourn_size=0), ValueError, "tourn_size must be >= 1, got 0"),
        (dict(mate_par=-1), ValueError, r"mate_par must be in \[0, inf\], got -1"),
        (dict(mut_par="1"), TypeError, "mut_par must be a real number, got str"),
        (dict(cx_prob=0.0, mut_prob=0.0), ValueError, "no variation possible"),
        (dict(pop_size=1, mut_prob=0.0), ValueError, "no variation possible"),
    ],
)
def test_ga_rejects_bad_parameters(params, error, message):
    traj, optimizee = function_setup("Rastrigin2d", seed=0)
    with pytest.raises(error, match=message):
        GeneticAlgorithmOptimizer(
            traj, optimizee.create_individual, (-1.0,), GeneticAlgorithmParameters(**params)
        )


# -- the base class -------------------------------------------------------------------------


Params = namedtuple("Params", ["n_iteration"])


@pytest.mark.parametrize(
    "create, weights, bounding, error, message",
    [
        (
            None,
            (-1.0,),
            None,
            TypeError,
            "optimizee_create_individual must be callable, got NoneType",
        ),
        (
            dict,
            (),
            None,
            ValueError,
            r"optimizee_fitness_weights must hold at least one weight, got \(\)",
        ),
        (dict, -1.0, None, TypeError, "optimizee_fitness_weights must be a sequence of numbers"),
        (
            dict,
            ("a",),
            None,
            TypeError,
            r"optimizee_fitness_weights\[0\] must be a real number, got str",
        ),
        (dict, (float("inf"),), None, ValueError, r"optimizee_fitness_weights\[0\] must be finite"),
        (dict, (1.0,), 3, TypeError, "optimizee_bounding_func must be callable or None, got int"),
    ],
)
def test_optimizer_rejects_bad_arguments(create, weights, bounding, error, message):
    with pytest.raises(error, match=message):
        Optimizer(Trajectory(), create, weights, Params(1), bounding)


def test_weighted_fitness_and_results_checks():
    optimizer = Optimizer(Trajectory(), dict, (1.0, -2.0), Params(1))
    assert optimizer.weighted_fitness((3.0, 1.0)) == 1.0
    with pytest.raises(ValueError, match=r"has 1 value\(s\) but optimizee_fitness_weights"):
        optimizer.weighted_fitness((3.0,))
    optimizer.eval_pop = [{"x": 0.0}, {"x": 1.0}]
    with pytest.raises(ValueError, match=r"individuals 0..1 but the results hold ind_idx \[0\]"):
        optimizer._record_generation([(0, (1.0, 1.0))])
    with pytest.raises(ValueError, match=r"ind_idx \[0, 0, 1\]"):
        optimizer._record_generation([(0, (1.0, 1.0)), (0, (1.0, 1.0)), (1, (1.0, 1.0))])
    fitnesses, weighted = optimizer._record_generation([(1, (5.0, 1.0)), (0, (1.0, 0.0))])
    assert fitnesses == [(1.0, 0.0), (5.0, 1.0)] and weighted.tolist() == [1.0, 3.0]
    assert optimizer.best_individual == {"x": 1.0} and optimizer.best_fitness == (5.0, 1.0)
    assert optimizer.statistics == [
        {
            "generation": 0,
            "n_individuals": 2,
            "best_fitness": (5.0, 1.0),
            "best_weighted_fitness": 3.0,
            "mean_weighted_fitness": 2.0,
            "best_ind_idx": 1,
        }
    ]


def test_optimizer_base_contract():
    traj = Trajectory()
    optimizer = Optimizer(traj, dict, (1.0,), Params(1))
    with pytest.raises(NotImplementedError, match="post_process"):
        optimizer.post_process(traj, [])
    with pytest.raises(ValueError, match="generation 0 has no individuals"):
        optimizer._expand_trajectory(traj)
    optimizer.eval_pop = [{"x": 1.0}, {"y": 2.0}]
    with pytest.raises(ValueError, match=r"individual 1 of generation 0 has keys \['y'\]"):
        optimizer._expand_trajectory(traj)
    optimizer.eval_pop = [{"x": 1.0}, {"x": 2.0}]
    optimizer._expand_trajectory(traj)
    assert [i.x for i in traj.individuals[0]] == [1.0, 2.0]
    state = optimizer.get_state()
    assert state["generation"] == 0 and state["rng"] is None


@pytest.mark.parametrize(
    "module",
    ["mpil2l.optimizers.optimizer", "mpil2l.optimizers.gridsearch", "mpil2l.optimizers.genetic"],
)
def test_docstring_examples(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0

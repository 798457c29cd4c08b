"""The optimizer conformance table, and the script that runs it on MPI ranks.

Every entry of `CASES` is one optimizer (or one update rule of one) on a standard benchmark
function, with an evaluation budget and a tolerance on the best fitness it must reach above
the function's known minimum. tests/test_optimizer_conformance_mpi.py runs the whole table
once on 1 rank and once on 4, checks every case against its tolerance and budget on every
seed, and checks that both runs are identical, individual for individual.

Adding an optimizer means adding one entry here.

usage: optimizer_conformance.py ROOT OUT_JSON [CASE ...]     (every rank runs it)
"""

import hashlib
import json
import os
import sys
import time
from collections import namedtuple

import numpy as np

from mpil2l import Experiment
from mpil2l.optimizees import BenchmarkedFunctions, FunctionGeneratorOptimizee
from mpil2l.optimizers import (
    AdaMaxParameters,
    AdamParameters,
    ClassicGDParameters,
    CrossEntropyOptimizer,
    CrossEntropyParameters,
    EnsembleKalmanFilter,
    EnsembleKalmanFilterParameters,
    EvolutionStrategiesOptimizer,
    EvolutionStrategiesParameters,
    FACEOptimizer,
    FACEParameters,
    Gaussian,
    GeneticAlgorithmOptimizer,
    GeneticAlgorithmParameters,
    GradientDescentOptimizer,
    GridSearchOptimizer,
    GridSearchParameters,
    MultiAdamParameters,
    MultiGradientDescentOptimizer,
    NaturalEvolutionStrategiesOptimizer,
    NaturalEvolutionStrategiesParameters,
    NoisyGaussian,
    ParallelTemperingOptimizer,
    ParallelTemperingParameters,
    RMSPropParameters,
    SimulatedAnnealingOptimizer,
    SimulatedAnnealingParameters,
    StochasticGDParameters,
)
from mpil2l.optimizers.multigradientdescent import unpack_individual
from mpil2l.storage import read_attempts, read_generations

SEEDS = (0, 1, 2)

# How each seed's run is dispatched on more than one rank (on one rank every individual is
# evaluated in-process): the results must not depend on it.
RUNNER_PARAMS = {
    0: {"dispatch": "dynamic", "isolation": "none"},
    1: {"dispatch": "static", "isolation": "none"},
    2: {"dispatch": "dynamic", "isolation": "process"},
}

Case = namedtuple(
    "Case", ["optimizer", "parameters", "settings", "function", "budget", "tolerance"]
)
Case.__doc__ = """One conformance entry.

Args:
    optimizer: the optimizer class.
    parameters: its parameters namedtuple class; ``seed`` is set per run.
    settings: the other parameter fields (a callable returning a dict where a field holds
        a stateful object, such as a distribution).
    function: the `BenchmarkedFunctions` name to minimise.
    budget: the most evaluations a run may take.
    tolerance: the best fitness must be within this of the function's known minimum.
"""

CASES = {
    "GridSearch": Case(
        GridSearchOptimizer,
        GridSearchParameters,
        dict(param_grid={"coords": (-5.0, 5.0, 20)}),
        "Rastrigin2d",
        budget=441,
        tolerance=1e-9,
    ),
    "GeneticAlgorithm": Case(
        GeneticAlgorithmOptimizer,
        GeneticAlgorithmParameters,
        dict(
            pop_size=50,
            n_iteration=30,
            cx_prob=0.7,
            mut_prob=0.5,
            ind_prob=0.5,
            tourn_size=3,
            mate_par=0.5,
            mut_par=0.5,
        ),
        "Rastrigin2d",
        budget=1500,
        tolerance=0.05,
    ),
    "CrossEntropy": Case(
        CrossEntropyOptimizer,
        CrossEntropyParameters,
        lambda: dict(pop_size=50, rho=0.2, smoothing=0.2, n_iteration=20, distribution=Gaussian()),
        "Ackley2d",
        budget=1000,
        tolerance=1e-3,
    ),
    "CrossEntropy-NoisyGaussian": Case(
        CrossEntropyOptimizer,
        CrossEntropyParameters,
        lambda: dict(
            pop_size=80,
            rho=0.2,
            n_iteration=25,
            distribution=NoisyGaussian(noise_magnitude=0.5, noise_decay=0.8),
        ),
        "Rosenbrock2d",
        budget=2000,
        tolerance=0.05,
    ),
    "FACE": Case(
        FACEOptimizer,
        FACEParameters,
        lambda: dict(
            n_iteration=25,
            min_pop_size=20,
            max_pop_size=50,
            n_elite=10,
            smoothing=0.2,
            distribution=Gaussian(),
        ),
        "Ackley2d",
        budget=1250,
        tolerance=1e-3,
    ),
    "EvolutionStrategies": Case(
        EvolutionStrategiesOptimizer,
        EvolutionStrategiesParameters,
        dict(learning_rate=1.0, noise_std=0.6, pop_size=10, n_iteration=60),
        "Ackley2d",
        budget=1260,
        tolerance=0.05,
    ),
    "NaturalEvolutionStrategies": Case(
        NaturalEvolutionStrategiesOptimizer,
        NaturalEvolutionStrategiesParameters,
        dict(sigma=1.0, pop_size=10, n_iteration=40),
        "Ackley2d",
        budget=800,
        tolerance=0.01,
    ),
    # gradient descent is local: Permutation2d is smooth, with one basin over most of its box
    "GradientDescent-ClassicGD": Case(
        GradientDescentOptimizer,
        ClassicGDParameters,
        dict(learning_rate=0.1, exploration_step_size=1e-4, n_random_steps=2, n_iteration=40),
        "Permutation2d",
        budget=120,
        tolerance=0.01,
    ),
    "GradientDescent-StochasticGD": Case(
        GradientDescentOptimizer,
        StochasticGDParameters,
        dict(
            learning_rate=0.1,
            exploration_step_size=1e-4,
            n_random_steps=2,
            stochastic_deviation=0.5,
            stochastic_decay=0.9,
            n_iteration=40,
        ),
        "Permutation2d",
        budget=120,
        tolerance=0.01,
    ),
    "GradientDescent-Adam": Case(
        GradientDescentOptimizer,
        AdamParameters,
        dict(
            learning_rate=0.2,
            exploration_step_size=1e-4,
            n_random_steps=2,
            second_order_decay=0.99,
            n_iteration=40,
        ),
        "Permutation2d",
        budget=120,
        tolerance=0.01,
    ),
    "GradientDescent-AdaMax": Case(
        GradientDescentOptimizer,
        AdaMaxParameters,
        dict(learning_rate=0.5, exploration_step_size=1e-4, n_random_steps=2, n_iteration=40),
        "Permutation2d",
        budget=120,
        tolerance=0.01,
    ),
    "GradientDescent-RMSProp": Case(
        GradientDescentOptimizer,
        RMSPropParameters,
        dict(learning_rate=0.2, exploration_step_size=1e-4, n_random_steps=2, n_iteration=40),
        "Permutation2d",
        budget=120,
        tolerance=0.01,
    ),
    # three points per evaluation: 40 evaluations explore 120 points
    "MultiGradientDescent-Adam": Case(
        MultiGradientDescentOptimizer,
        MultiAdamParameters,
        dict(
            learning_rate=0.2,
            exploration_step_size=1e-4,
            n_random_steps=1,
            n_inner_params=3,
            second_order_decay=0.99,
            n_iteration=40,
        ),
        "Permutation2d",
        budget=40,
        tolerance=0.01,
    ),
    "SimulatedAnnealing": Case(
        SimulatedAnnealingOptimizer,
        SimulatedAnnealingParameters,
        dict(n_parallel_runs=40, noisy_step=1.0, temp_decay=0.9, n_iteration=30),
        "Rosenbrock2d",
        budget=1200,
        tolerance=0.05,
    ),
    "ParallelTempering": Case(
        ParallelTemperingOptimizer,
        ParallelTemperingParameters,
        dict(n_parallel_runs=20, noisy_step=1.0, n_iteration=50),
        "Ackley2d",
        budget=1000,
        tolerance=0.1,
    ),
    "EnsembleKalmanFilter": Case(
        EnsembleKalmanFilter,
        EnsembleKalmanFilterParameters,
        dict(pop_size=30, n_iteration=30, gamma=1e-6, sampling_generation=3),
        "Rosenbrock2d",
        budget=900,
        tolerance=1e-3,
    ),
}


class PackedFunctionOptimizee(FunctionGeneratorOptimizee):
    """A benchmark function for `MultiGradientDescentOptimizer`: one evaluation holds several
    points and returns their values one after the other."""

    def simulate(self, traj):
        return tuple(
            self.fg_instance(inner["coords"]) for inner in unpack_individual(traj.individual)
        )


def parameters_of(case, seed):
    settings = case.settings() if callable(case.settings) else case.settings
    if "seed" in case.parameters._fields:
        settings = {**settings, "seed": seed}
    return case.parameters(**settings)


def make_run(name, seed, traj):
    """The optimizee and optimizer of case `name` on `traj`, seeded with `seed`."""
    case = CASES[name]
    (_, function), _ = BenchmarkedFunctions().get_function_by_name(case.function)
    packed = case.optimizer is MultiGradientDescentOptimizer
    optimizee = (PackedFunctionOptimizee if packed else FunctionGeneratorOptimizee)(
        traj, function, seed=seed
    )
    optimizer = case.optimizer(
        traj,
        optimizee.create_individual,
        (-1.0,),
        parameters_of(case, seed),
        optimizee.bounding_func,
    )
    return optimizee, optimizer


def digest(traj):
    """A hash of every individual and every fitness of the run, bit for bit."""
    h = hashlib.sha256()
    results = dict(traj.results.all_results.items())
    for g in sorted(results):
        for ind in traj.individuals[g]:
            h.update(repr((g, ind.ind_idx, sorted(ind.params))).encode())
            for key in sorted(ind.params):
                h.update(np.asarray(ind.params[key], dtype=float).tobytes())
        for idx, fitness in results[g]:
            h.update(repr(idx).encode() + np.asarray(fitness, dtype=float).tobytes())
    return h.hexdigest()


def run_case(root, name, seed):
    """Runs one case through the Experiment API on every rank; rank 0 returns its record."""
    experiment = Experiment(root_dir_path=root)
    traj, _ = experiment.prepare_experiment(
        name=f"{name}-seed{seed}", overwrite=True, runner_params=RUNNER_PARAMS[seed]
    )
    optimizee, optimizer = make_run(name, seed, traj)
    start = time.perf_counter()
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    experiment.end_experiment(optimizer)
    if not experiment.is_root:
        return None
    results = dict(traj.results.all_results.items())
    log = os.path.join(root, f"{name}-seed{seed}", "results.h5")
    return {
        "case": name,
        "seed": seed,
        "best_fitness": float(optimizer.best_fitness[0]),
        "best_individual": {
            k: np.asarray(v, dtype=float).tolist() for k, v in optimizer.best_individual.items()
        },
        "generations": len(results),
        "evaluations": sum(len(r) for r in results.values()),
        "digest": digest(traj),
        "logged_attempts": len(read_attempts(log)["generation"]),
        "logged_generations": len(read_generations(log)["generation"]),
        "seconds": time.perf_counter() - start,
    }


def main(argv):
    root, out = argv[1], argv[2]
    names = argv[3:] or list(CASES)
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {sorted(CASES)}")
    records = [run_case(root, name, seed) for name in names for seed in SEEDS]
    if records[0] is not None:
        with open(out, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)

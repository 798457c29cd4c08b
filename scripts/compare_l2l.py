"""mpil2l's optimizers against L2L's: best fitness reached within the same evaluation budget.

For each optimizer and three benchmark functions (Rastrigin2d, Rosenbrock2d, Ackley2d), both
libraries run the same parameters, on the same seeds, from the same start points, in a serial
generation loop (an optimizer's own code only: no runner, no MPI, no files), until the next
generation would exceed the budget. A run's score is the lowest function value among the
individuals it evaluated; the table gives the median over the seeds and how many seeds came
within 0.01 of the optimum (0).

L2L (PyPI ``L2LforHPC``, import name ``l2l``) lives in a virtual environment of its own, never
in mpil2l's dependencies:

    make l2l-venv                                   # creates .venv-l2l with L2LforHPC
    .venv/bin/python scripts/compare_l2l.py         # the table (Markdown) on stdout
    .venv/bin/python scripts/compare_l2l.py --seeds 10 --budget 2000 --json out.json

Without .venv-l2l the L2L column says so and the mpil2l side still runs. The same file is
the driver on both sides: ``--side l2l`` runs it under L2L's interpreter, which imports
nothing from mpil2l.
"""

import argparse
import contextlib
import importlib
import io
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_L2L_PYTHON = os.path.join(HERE, os.pardir, ".venv-l2l", "bin", "python")

FUNCTIONS = ("Rastrigin2d", "Rosenbrock2d", "Ackley2d")
SOLVED = 0.01  # a run "solves" a function when its best value is within this of the optimum (0)

# Markers resolved on each side with that library's own classes.
START = ("start",)  # one point drawn like the optimizee's individuals (NES's initial mean)
GRID = ("grid", 30)  # the function's box, 30 steps per coordinate: 31^2 = 961 points


def per_coordinate(value):
    return ("full", value)  # the value for every coordinate (L2L's NES needs an array sigma)


def budget_generations(per_generation):
    # the generations the evaluation budget allows: the cooling schedules of simulated annealing
    # and parallel tempering run from T0 to their end temperature over n_iteration generations, so
    # n_iteration must be the run's real length, not a bound never reached
    return ("budget_generations", per_generation)


def distribution(name, **kwargs):
    return ("distribution", name, kwargs)


def schedule(*names):
    return ("schedules", names)


# name: (mpil2l class, L2L module, class, parameters class, settings).
# The settings give every field (L2L's namedtuples have no defaults) except seed; n_iteration
# only needs to be large enough (a run stops at the evaluation budget) except where a schedule
# depends on it.
OPTIMIZERS = {
    "GridSearch": (
        "gridsearch",
        "GridSearchOptimizer",
        "GridSearchParameters",
        dict(param_grid=GRID),
    ),
    "GeneticAlgorithm": (
        "evolution",
        "GeneticAlgorithmOptimizer",
        "GeneticAlgorithmParameters",
        dict(
            pop_size=50,
            cx_prob=0.7,
            mut_prob=0.5,
            n_iteration=1000,
            ind_prob=0.5,
            tourn_size=3,
            mate_par=0.5,
            mut_par=0.5,
        ),
    ),
    "CrossEntropy": (
        "crossentropy",
        "CrossEntropyOptimizer",
        "CrossEntropyParameters",
        dict(
            pop_size=50,
            rho=0.2,
            smoothing=0.2,
            temp_decay=0.0,
            n_iteration=1000,
            distribution=distribution("Gaussian"),
            stop_criterion=math.inf,
        ),
    ),
    "FACE": (
        "face",
        "FACEOptimizer",
        "FACEParameters",
        dict(
            min_pop_size=20,
            max_pop_size=50,
            n_elite=10,
            smoothing=0.2,
            temp_decay=0.0,
            n_iteration=1000,
            distribution=distribution("Gaussian"),
            stop_criterion=math.inf,
            n_expand=5,
        ),
    ),
    "EvolutionStrategies": (
        "evolutionstrategies",
        "EvolutionStrategiesOptimizer",
        "EvolutionStrategiesParameters",
        dict(
            learning_rate=1.0,
            noise_std=0.6,
            mirrored_sampling_enabled=True,
            fitness_shaping_enabled=True,
            pop_size=10,
            n_iteration=1000,
            stop_criterion=math.inf,
        ),
    ),
    "NaturalEvolutionStrategies": (
        "naturalevolutionstrategies",
        "NaturalEvolutionStrategiesOptimizer",
        "NaturalEvolutionStrategiesParameters",
        dict(
            learning_rate_mu=1.0,
            learning_rate_sigma=None,
            mu=START,
            sigma=per_coordinate(1.0),
            mirrored_sampling_enabled=True,
            fitness_shaping_enabled=True,
            pop_size=10,
            n_iteration=1000,
            stop_criterion=math.inf,
        ),
    ),
    "GradientDescent-ClassicGD": (
        "gradientdescent",
        "GradientDescentOptimizer",
        "ClassicGDParameters",
        dict(
            learning_rate=0.01,
            exploration_step_size=0.01,
            n_random_steps=5,
            n_iteration=1000,
            stop_criterion=math.inf,
        ),
    ),
    "GradientDescent-StochasticGD": (
        "gradientdescent",
        "GradientDescentOptimizer",
        "StochasticGDParameters",
        dict(
            learning_rate=0.01,
            stochastic_deviation=1.0,
            stochastic_decay=0.99,
            exploration_step_size=0.01,
            n_random_steps=5,
            n_iteration=1000,
            stop_criterion=math.inf,
        ),
    ),
    "GradientDescent-Adam": (
        "gradientdescent",
        "GradientDescentOptimizer",
        "AdamParameters",
        dict(
            learning_rate=0.1,
            exploration_step_size=0.01,
            n_random_steps=5,
            first_order_decay=0.8,
            second_order_decay=0.8,
            n_iteration=1000,
            stop_criterion=math.inf,
        ),
    ),
    "GradientDescent-RMSProp": (
        "gradientdescent",
        "GradientDescentOptimizer",
        "RMSPropParameters",
        dict(
            learning_rate=0.01,
            exploration_step_size=0.01,
            n_random_steps=5,
            momentum_decay=0.5,
            n_iteration=1000,
            stop_criterion=math.inf,
        ),
    ),
    "SimulatedAnnealing": (
        "simulatedannealing",
        "SimulatedAnnealingOptimizer",
        "SimulatedAnnealingParameters",
        dict(
            n_parallel_runs=20,
            noisy_step=0.3,
            temp_decay=0.99,
            n_iteration=budget_generations(20),
            stop_criterion=math.inf,
            cooling_schedule=("schedule", "QUADRATIC_ADDAPTIVE"),
        ),
    ),
    "ParallelTempering": (
        "paralleltempering",
        "ParallelTemperingOptimizer",
        "ParallelTemperingParameters",
        dict(
            n_parallel_runs=10,
            noisy_step=0.3,
            n_iteration=budget_generations(10),
            stop_criterion=math.inf,
            cooling_schedules=schedule(
                *(["EXPONENTIAL_ADDAPTIVE"] * 3 + ["LINEAR_ADDAPTIVE"] * 2) * 2
            ),
            temperature_bounds=[[0.8, 0], [0.7, 0], [0.6, 0], [1, 0.1], [0.9, 0.2]] * 2,
            decay_parameters=[0.99] * 10,
        ),
    ),
    "EnsembleKalmanFilter": (
        "kalmanfilter",
        "EnsembleKalmanFilter",
        "EnsembleKalmanFilterParameters",
        dict(
            gamma=1e-6,
            maxit=1,
            n_iteration=1000,
            pop_size=20,
            n_batches=1,
            online=False,
            path=None,
            stop_criterion=math.inf,
            sampling_generation=3,
            observations=None,
        ),
    ),
}


# L2L's constructors of these optimizers call optimizee_create_individual once, first, only to
# learn the individual's layout, and then draw their start points with further calls; mpil2l's
# draw the start points with their first calls. On the L2L side that first call is answered
# from a generator of its own, so that both sides start from the same points (see the
# records' "generation_0").
L2L_LAYOUT_CALL = {
    "GeneticAlgorithm",
    "CrossEntropy",
    "FACE",
    "GradientDescent-ClassicGD",
    "GradientDescent-StochasticGD",
    "GradientDescent-Adam",
    "GradientDescent-RMSProp",
    "SimulatedAnnealing",
    "ParallelTempering",
}


class Library:
    """Where one side finds its trajectory, benchmark functions and optimizer classes."""

    def __init__(self, side):
        self.side = side
        if side == "mpil2l":
            from mpil2l.model.trajectory import Trajectory
            from mpil2l.optimizees import BenchmarkedFunctions

            self.Trajectory, self.functions = Trajectory, BenchmarkedFunctions()
        else:
            from l2l.optimizees.functions.benchmarked_functions import BenchmarkedFunctions
            from l2l.utils.trajectory import Trajectory

            self.Trajectory, self.functions = Trajectory, BenchmarkedFunctions()

    def module(self, l2l_package):
        """The module holding one optimizer's classes; ImportError if this side has none."""
        if self.side == "mpil2l":
            return importlib.import_module("mpil2l.optimizers")
        if l2l_package in ("gradientdescent", "simulatedannealing", "paralleltempering"):
            return importlib.import_module(f"l2l.optimizers.{l2l_package}.optimizer")
        return importlib.import_module(f"l2l.optimizers.{l2l_package}")

    def distribution(self, name, kwargs):
        if self.side == "mpil2l":
            return getattr(importlib.import_module("mpil2l.optimizers"), name)(**kwargs)
        return getattr(importlib.import_module("l2l.optimizers.crossentropy.distribution"), name)(
            **kwargs
        )

    def schedules(self, module):
        return getattr(module, "AvailableCoolingSchedules")


def resolve(lib, module, value, bound, dims, start, budget):
    """Turns a settings marker into this side's object."""
    if not isinstance(value, tuple) or not value or not isinstance(value[0], str):
        return value
    kind = value[0]
    if kind == "start":
        return start()["coords"]
    if kind == "budget_generations":
        return max(1, budget // value[1])
    if kind == "full":
        return np.full(dims, float(value[1]))
    if kind == "grid":
        return {"coords": (bound[0], bound[1], value[1])}
    if kind == "distribution":
        return lib.distribution(value[1], value[2])
    if kind == "schedule":
        return lib.schedules(module)[value[1]]
    if kind == "schedules":
        return [lib.schedules(module)[name] for name in value[1]]
    return value


def run_one(lib, name, function, seed, budget):
    """One optimizer run on one function and seed, up to `budget` evaluations.

    Returns:
        ``{'best': lowest value evaluated, 'evaluations': n, 'generations': g,
        'n_iteration': the optimizer's, 'generation_0': the first generation's points}``.
    """
    package, optimizer_name, parameters_name, settings = OPTIMIZERS[name]
    module = lib.module(package)
    (_, fg), _ = lib.functions.get_function_by_name(function)
    bound, dims = fg.bound, fg.dims
    starts = np.random.RandomState(10_000 + seed)  # the same start points on both sides
    # L2L's genetic algorithm (DEAP) and parallel tempering draw from Python's and numpy's
    # global generators, which their parameters do not seed: seeded here, per run, so that
    # their rows are reproducible too (mpil2l's optimizers use only their own generators)
    random.seed(seed)
    np.random.seed(seed)
    layout_calls = [lib.side == "l2l" and name in L2L_LAYOUT_CALL]

    def create_individual():
        if layout_calls[0]:
            layout_calls[0] = False
            return {"coords": np.random.RandomState(seed).uniform(bound[0], bound[1], dims)}
        return {"coords": starts.uniform(bound[0], bound[1], dims)}

    def bounding_func(individual):
        return {"coords": np.clip(individual["coords"], bound[0], bound[1])}

    parameters_class = getattr(module, parameters_name)
    values = {
        key: resolve(lib, module, value, bound, dims, create_individual, budget)
        for key, value in settings.items()
    }
    if "seed" in parameters_class._fields:
        values["seed"] = seed
    if "temperature_bounds" in values:
        values["temperature_bounds"] = np.array(values["temperature_bounds"], dtype=float)
        values["decay_parameters"] = np.array(values["decay_parameters"], dtype=float)
    parameters = parameters_class(**values)
    traj = lib.Trajectory()
    optimizer = getattr(module, optimizer_name)(
        traj, create_individual, (-1.0,), parameters, bounding_func
    )

    generation_0 = [np.asarray(ind.coords, dtype=float).tolist() for ind in traj.individuals[0]]
    best, evaluations, g = math.inf, 0, 0
    n_iteration = traj.par["n_iteration"]
    while g in traj.individuals and g < n_iteration:
        individuals = traj.individuals[g]
        if evaluations + len(individuals) > budget:
            break
        results = []
        for ind in individuals:
            value = float(fg.cost_function(np.asarray(ind.coords, dtype=float)))
            best = min(best, value)
            results.append((ind.ind_idx, (value,)))
        evaluations += len(individuals)
        traj.results.f_add_result_to_group("all_results", g, results)
        traj.current_results = results
        optimizer.post_process(traj, results)
        g += 1
    return {
        "best": best,
        "evaluations": evaluations,
        "generations": g,
        "n_iteration": n_iteration,
        "generation_0": generation_0,
    }


def run_side(side, names, seeds, budget):
    """Every run of one library: ``{name: {function: [record per seed]}}``; a run that raises
    is recorded with its error."""
    lib = Library(side)
    table = {}
    for name in names:
        table[name] = {}
        for function in FUNCTIONS:
            records = []
            for seed in seeds:
                start = time.perf_counter()
                try:
                    with contextlib.redirect_stdout(io.StringIO()):  # L2L prints every generation
                        record = run_one(lib, name, function, seed, budget)
                except ImportError as exc:
                    record = {"error": f"not in this library ({exc})"}
                except Exception as exc:  # an optimizer that fails here is a finding, not a crash
                    record = {"error": f"{type(exc).__name__}: {exc}"}
                record["seconds"] = time.perf_counter() - start
                records.append(record)
            table[name][function] = records
    return table


def run_l2l(python, names, seeds, budget):
    """Runs the L2L side under L2L's interpreter; returns its table, or a reason string."""
    if not os.path.exists(python):
        return f"no L2L environment at {python} (make l2l-venv)"
    python = os.path.abspath(
        python
    )  # the child runs in a temporary folder (the Makefile passes a relative path)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "l2l.json")
        cmd = [
            python,
            os.path.abspath(__file__),
            "--side",
            "l2l",
            "--budget",
            str(budget),
            "--seeds",
            str(len(seeds)),
            "--out",
            out,
            *names,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
        if proc.returncode != 0:
            return f"the L2L side failed: {proc.stderr.strip().splitlines()[-1:]}"
        with open(out) as f:
            return json.load(f)


def summary(records):
    """'median (solved/seeds)' or the error of the first failed run."""
    errors = [r["error"] for r in records if "error" in r]
    if errors:
        return (
            errors[0].split(" (")[0]
            if errors[0].startswith("not in")
            else f"error: {errors[0][:60]}"
        )
    bests = [r["best"] for r in records]
    solved = sum(b <= SOLVED for b in bests)
    return f"{statistics.median(bests):.3g} ({solved}/{len(bests)})"


def markdown(ours, theirs, budget, seeds):
    lines = [
        "| optimizer | function | mpil2l | L2L |",
        "| --- | --- | ---: | ---: |",
    ]
    for name in ours:
        for function in FUNCTIONS:
            theirs_cell = theirs if isinstance(theirs, str) else summary(theirs[name][function])
            lines.append(
                f"| {name} | {function} | {summary(ours[name][function])} | {theirs_cell} |"
            )
    lines.append("")
    lines.append(
        f"Median over seeds 0-{len(seeds) - 1} of the lowest value found within {budget} "
        f"evaluations (optimum 0); in brackets, the seeds within {SOLVED} of it."
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="optimizers to compare (default: all)")
    parser.add_argument(
        "--budget", type=int, default=1000, help="evaluations per run (default 1000)"
    )
    # 20, not 5: on the multimodal functions a run either finds the global basin or not, and the
    # median of 5 such runs flips between libraries from one set of seeds to the next
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    parser.add_argument(
        "--l2l-python", default=DEFAULT_L2L_PYTHON, help="the interpreter of the L2L environment"
    )
    parser.add_argument("--json", help="also write every run's record to this file")
    parser.add_argument("--side", choices=("mpil2l", "l2l"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = args.names or list(OPTIMIZERS)
    unknown = sorted(set(names) - set(OPTIMIZERS))
    if unknown:
        parser.error(f"unknown optimizer(s) {unknown}; known: {', '.join(OPTIMIZERS)}")
    if args.budget < 1 or args.seeds < 1:
        parser.error("--budget and --seeds must be >= 1")
    seeds = list(range(args.seeds))

    if args.side:  # one library only, as a child process
        with open(args.out, "w") as f:
            json.dump(run_side(args.side, names, seeds, args.budget), f)
        return 0

    ours = run_side("mpil2l", names, seeds, args.budget)
    theirs = run_l2l(args.l2l_python, names, seeds, args.budget)
    print(markdown(ours, theirs, args.budget, seeds))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"budget": args.budget, "seeds": seeds, "mpil2l": ours, "l2l": theirs}, f, indent=1
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

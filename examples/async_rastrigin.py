"""A steady-state evolutionary algorithm on the noisy 2-d Rastrigin function, asynchronously:
each worker gets a new candidate the moment it returns a result.

Run on any number of ranks; run it again after a kill (or with a larger --budget) and it goes
on where it stopped:

    mpiexec -n 4 python examples/async_rastrigin.py [--root results] [--budget 1000] [--random]
"""

import argparse

from mpil2l import AsyncExperiment
from mpil2l.optimizees import BenchmarkedFunctions, FunctionGeneratorOptimizee
from mpil2l.optimizers import (
    AsyncRandomSearch,
    AsyncRandomSearchParameters,
    SteadyStateOptimizer,
    SteadyStateParameters,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="results", help="folder for the run folders")
    parser.add_argument("--budget", type=int, default=1000, help="evaluations")
    parser.add_argument("--random", action="store_true", help="asynchronous random search instead")
    args = parser.parse_args()

    experiment = AsyncExperiment(root_dir_path=args.root)
    name = "async-rastrigin-random" if args.random else "async-rastrigin"
    traj, _ = experiment.prepare_experiment(name=name, checkpoint=True)
    (_, function), _ = BenchmarkedFunctions().get_function_by_index(0, noise=True)
    optimizee = FunctionGeneratorOptimizee(traj, function, seed=100)
    if args.random:
        low, high = optimizee.bound
        optimizer = AsyncRandomSearch(
            optimizee.create_individual,
            (-1.0,),
            AsyncRandomSearchParameters(seed=0, lower=low, upper=high),
            optimizee.bounding_func,
        )
    else:
        optimizer = SteadyStateOptimizer(
            optimizee.create_individual,
            (-1.0,),
            SteadyStateParameters(seed=0, pop_size=32, mut_par=0.5),
            optimizee.bounding_func,
        )
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee, budget=args.budget)
    experiment.end_experiment(optimizer)


if __name__ == "__main__":
    main()

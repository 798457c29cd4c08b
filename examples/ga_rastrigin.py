"""A genetic algorithm on the noisy 2-d Rastrigin function, written as an L2L script.

Run on any number of ranks (rank 0 runs the GA, the others evaluate individuals):

    mpiexec -n 4 python examples/ga_rastrigin.py [--root results] [--generations 20]
"""

import argparse

from mpil2l import Experiment
from mpil2l.optimizees import BenchmarkedFunctions, FunctionGeneratorOptimizee
from mpil2l.optimizers import GeneticAlgorithmOptimizer, GeneticAlgorithmParameters


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="results", help="folder for the run folders")
    parser.add_argument("--generations", type=int, default=20)
    parser.add_argument("--dispatch", choices=("dynamic", "static"), default="dynamic")
    args = parser.parse_args()

    experiment = Experiment(root_dir_path=args.root)
    traj, _ = experiment.prepare_experiment(
        name="ga-rastrigin", overwrite=True, runner_params={"dispatch": args.dispatch}
    )
    (name, function), _ = BenchmarkedFunctions().get_function_by_index(0, noise=True)
    optimizee = FunctionGeneratorOptimizee(traj, function, seed=100)
    parameters = GeneticAlgorithmParameters(
        seed=0,
        pop_size=50,
        cx_prob=0.7,
        mut_prob=0.5,
        n_iteration=args.generations,
        ind_prob=0.2,
        tourn_size=3,
        mate_par=0.5,
        mut_par=0.5,
    )
    optimizer = GeneticAlgorithmOptimizer(
        traj,
        optimizee_create_individual=optimizee.create_individual,
        optimizee_fitness_weights=(-1.0,),
        parameters=parameters,
        optimizee_bounding_func=optimizee.bounding_func,
    )
    experiment.run_experiment(
        optimizer=optimizer, optimizee=optimizee, optimizer_parameters=parameters
    )
    experiment.end_experiment(optimizer)


if __name__ == "__main__":
    main()

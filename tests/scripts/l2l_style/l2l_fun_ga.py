"""GA on a benchmark function, written as an L2L user writes it (bin/ style, l2l imports)."""

import sys

from l2l.optimizees.functions.benchmarked_functions import BenchmarkedFunctions
from l2l.optimizees.functions.optimizee import FunctionGeneratorOptimizee
from l2l.optimizers.evolution import GeneticAlgorithmOptimizer, GeneticAlgorithmParameters
from l2l.utils.experiment import Experiment


def main():
    root = sys.argv[1]
    experiment = Experiment(root_dir_path=root)
    name = "L2L-FUN-GA"
    traj, _ = experiment.prepare_experiment(name=name, log_stdout=True, overwrite=True)

    bench_functs = BenchmarkedFunctions()
    (benchmark_name, benchmark_function), benchmark_parameters = bench_functs.get_function_by_index(
        0, noise=True
    )
    optimizee_seed = 100
    optimizee = FunctionGeneratorOptimizee(traj, benchmark_function, seed=optimizee_seed)

    parameters = GeneticAlgorithmParameters(
        seed=0,
        pop_size=50,
        cx_prob=0.7,
        mut_prob=0.5,
        n_iteration=10,
        ind_prob=0.02,
        tourn_size=15,
        mate_par=0.5,
        mut_par=1,
    )
    optimizer = GeneticAlgorithmOptimizer(
        traj,
        optimizee_create_individual=optimizee.create_individual,
        optimizee_fitness_weights=(-0.1,),
        parameters=parameters,
    )
    experiment.run_experiment(
        optimizer=optimizer, optimizee=optimizee, optimizer_parameters=parameters
    )
    experiment.end_experiment(optimizer)


if __name__ == "__main__":
    main()

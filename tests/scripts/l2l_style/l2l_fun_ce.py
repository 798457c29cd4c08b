"""Cross-entropy on a benchmark function, written as an L2L user writes it."""

import sys

import numpy as np

from l2l.optimizees.functions.benchmarked_functions import BenchmarkedFunctions
from l2l.optimizees.functions.optimizee import FunctionGeneratorOptimizee
from l2l.optimizers.crossentropy import CrossEntropyOptimizer, CrossEntropyParameters
from l2l.optimizers.crossentropy.distribution import NoisyGaussian
from l2l.utils.experiment import Experiment


def main():
    experiment = Experiment(root_dir_path=sys.argv[1])
    traj, _ = experiment.prepare_experiment(name="L2L-FUN-CE", overwrite=True)
    (_, benchmark_function), _ = BenchmarkedFunctions().get_function_by_index(4, noise=True)
    optimizee = FunctionGeneratorOptimizee(traj, benchmark_function, seed=100)
    parameters = CrossEntropyParameters(
        pop_size=50,
        rho=0.9,
        smoothing=0.0,
        temp_decay=0,
        n_iteration=15,
        distribution=NoisyGaussian(noise_magnitude=1.0, noise_decay=0.99),
        stop_criterion=np.inf,
        seed=103,
    )
    optimizer = CrossEntropyOptimizer(
        traj,
        optimizee_create_individual=optimizee.create_individual,
        optimizee_fitness_weights=(-0.1,),
        parameters=parameters,
        optimizee_bounding_func=optimizee.bounding_func,
    )
    experiment.run_experiment(
        optimizer=optimizer, optimizee=optimizee, optimizer_parameters=parameters
    )
    experiment.end_experiment(optimizer)


if __name__ == "__main__":
    main()

"""Gradient descent (RMSProp) on Rosenbrock, written as an L2L user writes it, with the
one added line an L2L user adds to port it."""

import sys

import mpil2l.compat  # noqa: F401  (the one line added to port the script)
from l2l import dict_to_list
from l2l.optimizees.functions.benchmarked_functions import BenchmarkedFunctions
from l2l.optimizees.functions.optimizee import FunctionGeneratorOptimizee
from l2l.optimizers.gradientdescent.optimizer import GradientDescentOptimizer, RMSPropParameters
from l2l.utils.experiment import Experiment


def main():
    root = sys.argv[1]
    experiment = Experiment(root_dir_path=root)
    traj, _ = experiment.prepare_experiment(name="L2L-FUN-GD", overwrite=True)
    (_, benchmark_function), _ = BenchmarkedFunctions().get_function_by_index(2, noise=False)
    optimizee = FunctionGeneratorOptimizee(traj, benchmark_function, seed=101)
    parameters = RMSPropParameters(
        learning_rate=0.01,
        exploration_step_size=0.01,
        n_random_steps=5,
        momentum_decay=0.5,
        n_iteration=20,
        stop_criterion=float("inf"),
        seed=99,
    )
    optimizer = GradientDescentOptimizer(
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
    if experiment.is_root:
        print("final", list(dict_to_list(optimizer.best_individual)))


if __name__ == "__main__":
    main()

"""A user's own optimizer subclassing L2L's Optimizer base class (eval_pop, g,
_expand_trajectory), as L2L's optimizer template has it."""

import sys
from collections import namedtuple

import numpy as np

from l2l.optimizees.functions.benchmarked_functions import BenchmarkedFunctions
from l2l.optimizees.functions.optimizee import FunctionGeneratorOptimizee
from l2l.optimizers.optimizer import Optimizer
from l2l.utils.experiment import Experiment

HillClimbParameters = namedtuple("HillClimbParameters", ["n_iteration", "pop_size", "step", "seed"])


class HillClimbOptimizer(Optimizer):
    def __init__(
        self,
        traj,
        optimizee_create_individual,
        optimizee_fitness_weights,
        parameters,
        optimizee_bounding_func=None,
    ):
        super().__init__(
            traj,
            optimizee_create_individual=optimizee_create_individual,
            optimizee_fitness_weights=optimizee_fitness_weights,
            parameters=parameters,
            optimizee_bounding_func=optimizee_bounding_func,
        )
        traj.f_add_parameter("n_iteration", parameters.n_iteration)
        self.rng = np.random.default_rng(parameters.seed)
        self.center = optimizee_create_individual()
        self.eval_pop = [self._neighbour() for _ in range(parameters.pop_size)]
        self.g = 0
        self._expand_trajectory(traj)

    def _neighbour(self):
        return {
            k: v + self.rng.normal(0, self.parameters.step, np.shape(v))
            for k, v in self.center.items()
        }

    def post_process(self, traj, fitnesses_results):
        weighted = [
            (sum(w * f for w, f in zip(self.optimizee_fitness_weights, fit)), idx)
            for idx, fit in fitnesses_results
        ]
        self.center = dict(self.eval_pop[max(weighted)[1]])
        self._record_generation(fitnesses_results)
        self.g += 1
        self.eval_pop = [self._neighbour() for _ in range(self.parameters.pop_size)]
        self._expand_trajectory(traj)

    def end(self, traj):
        super().end(traj)
        print("center", self.center)


def main():
    experiment = Experiment(root_dir_path=sys.argv[1])
    traj, _ = experiment.prepare_experiment(name="L2L-CUSTOM", overwrite=True)
    (_, fg), _ = BenchmarkedFunctions().get_function_by_index(4, noise=False)
    optimizee = FunctionGeneratorOptimizee(traj, fg, seed=1)
    parameters = HillClimbParameters(n_iteration=15, pop_size=12, step=0.3, seed=5)
    optimizer = HillClimbOptimizer(
        traj, optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
    )
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    experiment.end_experiment(optimizer)


if __name__ == "__main__":
    main()

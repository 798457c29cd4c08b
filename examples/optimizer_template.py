"""A template for writing an optimizer: adaptive random search, complete and runnable.

Copy this file, rename the two classes, and replace the algorithm in ``post_process``. What
every optimizer must do is marked "CONTRACT"; the rest is this algorithm. Run it on any
number of ranks (rank 0 runs the optimizer, the other ranks evaluate individuals):

    mpiexec -n 4 python examples/optimizer_template.py [--root results] [--generations 40]

An optimizer never sees MPI. The runtime evaluates ``traj.individuals[g]`` on the workers,
calls ``post_process(traj, [(ind_idx, fitness_tuple), ...])`` on rank 0 and stops when the
optimizer does not expand the trajectory with generation ``g + 1`` (or after
``n_iteration`` generations). To be reproducible whatever the number of ranks, draw every
random number from the optimizer's own generator, and read results by ``ind_idx`` (the base
class does).
"""

import argparse
import math
from collections import namedtuple

import numpy as np

from mpil2l import Experiment, dict_to_list, list_to_dict
from mpil2l.optimizees import BenchmarkedFunctions, FunctionGeneratorOptimizee
from mpil2l.optimizers import Optimizer
from mpil2l.optimizers.optimizer import check_int, check_positive, check_stop_criterion

# CONTRACT: the parameters are a namedtuple with documented fields and defaults;
# `python -m mpil2l optimizers` reads the "Args:" section below.
AdaptiveRandomSearchParameters = namedtuple(
    "AdaptiveRandomSearchParameters",
    ["pop_size", "sigma", "expand", "shrink", "n_iteration", "stop_criterion", "seed"],
    defaults=(10, 1.0, 1.5, 0.7, 50, math.inf, 42),
)
AdaptiveRandomSearchParameters.__doc__ = """Parameters of `AdaptiveRandomSearchOptimizer`.

Args:
    pop_size: points sampled around the centre per generation (>= 1). Default 10.
    sigma: initial standard deviation of the samples (> 0). Default 1.0.
    expand: factor applied to sigma after a generation that improved the centre (> 0).
        Default 1.5.
    shrink: factor applied to sigma after a generation that did not (> 0). Default 0.7.
    n_iteration: number of generations to evaluate (>= 1). Default 50.
    stop_criterion: stop once the best weighted fitness is >= this value (``inf``: never).
        Default inf.
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
"""


class AdaptiveRandomSearchOptimizer(Optimizer):
    """Adaptive random search: Gaussian samples around the best point so far, with a step
    size that grows after a success and shrinks after a failure.

    Pseudo-code::

        c <- bound(optimizee_create_individual()) (flattened); F_c <- -inf
        generation 0: pop_size points bound(c + N(0, sigma^2 I))
        for g in 0 .. n_iteration - 1:
            evaluate the generation; x*, F* <- its best point and weighted fitness
            if F* > F_c:  c, F_c <- x*, F*;  sigma <- sigma * expand
            else:         sigma <- sigma * shrink
            stop if g is the last generation or F_c >= stop_criterion
            next generation: pop_size points bound(c + N(0, sigma^2 I))

    Use it as a starting point for your own optimizer, or for a handful of continuous
    parameters when evaluations are cheap and a simple, robust local search is enough.

    Args:
        traj: the run's trajectory; gets every field of `parameters` as a parameter.
        optimizee_create_individual: returns a new individual dict.
        optimizee_fitness_weights: one weight per fitness value (negative to minimise).
        parameters: an `AdaptiveRandomSearchParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Raises:
        TypeError: `parameters` has the wrong type, or a field has the wrong type.
        ValueError: a field is out of range.

    Example:
        >>> from mpil2l import Trajectory
        >>> traj = Trajectory()
        >>> opt = AdaptiveRandomSearchOptimizer(
        ...     traj, lambda: {"x": np.array([3.0, -2.0])}, (-1.0,),
        ...     AdaptiveRandomSearchParameters(n_iteration=60, seed=1))
        >>> for g in range(60):
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        >>> bool(opt.best_fitness[0] < 1e-3)
        True
    """

    # CONTRACT: the base class refuses parameters of another type with a clear TypeError.
    parameters_type = AdaptiveRandomSearchParameters

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
            optimizee_create_individual,
            optimizee_fitness_weights,
            parameters,
            optimizee_bounding_func,
        )
        # Check every field where it is read: a bad value fails here, on every rank, before
        # any evaluation, with a message naming the field and the value.
        p = parameters
        self.pop_size = check_int("pop_size", p.pop_size, 1)
        self.sigma = check_positive("sigma", p.sigma)
        self.expand = check_positive("expand", p.expand)
        self.shrink = check_positive("shrink", p.shrink)
        check_int("n_iteration", p.n_iteration, 1)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.rng = np.random.default_rng(check_int("seed", p.seed, 0))

        # CONTRACT: record the settings in the trajectory; n_iteration is required.
        for field in parameters._fields:
            traj.f_add_parameter(field, getattr(parameters, field))

        # Work on flat vectors; dict_spec turns them back into individual dicts.
        centre, self.dict_spec = dict_to_list(
            self._bound(optimizee_create_individual()), get_dict_spec=True
        )
        self.centre = centre
        self.centre_fitness = -math.inf

        # CONTRACT: generation 0 is in the trajectory when the constructor returns.
        self._sample()
        self._expand_trajectory(traj)

    def _bound(self, individual):
        if self.optimizee_bounding_func is None:
            return individual
        return self.optimizee_bounding_func(individual)

    def _sample(self):
        points = self.centre + self.sigma * self.rng.standard_normal(
            (self.pop_size, self.centre.size)
        )
        self.eval_pop = [self._bound(list_to_dict(x, self.dict_spec)) for x in points]

    def post_process(self, traj, fitnesses_results):
        """Moves the centre to the generation's best point if it improves on it, adapts
        sigma, and expands the next generation unless the run stops.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every individual of
                generation ``self.g``, in any order.
        """
        # CONTRACT: _record_generation checks the results (one per individual), keeps the
        # statistics and the best individual, and returns the weighted fitness by ind_idx
        # (a failed individual has the worst fitness, -inf: it never wins).
        _, weighted = self._record_generation(fitnesses_results)
        best = int(np.argmax(weighted))
        if weighted[best] > self.centre_fitness:
            self.centre = dict_to_list(self.eval_pop[best])
            self.centre_fitness = float(weighted[best])
            self.sigma *= self.expand
        else:
            self.sigma *= self.shrink
        if self.centre_fitness >= self.stop_criterion or self.g >= traj.par.n_iteration - 1:
            return  # CONTRACT: not expanding the trajectory ends the run
        self._sample()
        self.g += 1
        self._expand_trajectory(traj)

    # Checkpointing: without these two methods the base class saves every attribute; written
    # out, the state is small and says what the algorithm needs to go on.
    def get_state(self):
        """The base state plus the centre, its fitness and sigma."""
        return dict(
            super().get_state(),
            centre=self.centre.copy(),
            centre_fitness=self.centre_fitness,
            sigma=self.sigma,
        )

    def set_state(self, state):
        """Restores a state returned by `get_state`."""
        super().set_state(state)
        self.centre = np.array(state["centre"], dtype=float)
        self.centre_fitness = float(state["centre_fitness"])
        self.sigma = float(state["sigma"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="results", help="folder for the run folders")
    parser.add_argument("--generations", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    experiment = Experiment(root_dir_path=args.root)
    traj, _ = experiment.prepare_experiment(name="optimizer-template", overwrite=True)
    (_, function), _ = BenchmarkedFunctions().get_function_by_name("Ackley2d")
    optimizee = FunctionGeneratorOptimizee(traj, function, seed=args.seed)
    parameters = AdaptiveRandomSearchParameters(n_iteration=args.generations, seed=args.seed)
    optimizer = AdaptiveRandomSearchOptimizer(
        traj, optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
    )
    experiment.run_experiment(
        optimizer=optimizer, optimizee=optimizee, optimizer_parameters=parameters
    )
    experiment.end_experiment(optimizer)


if __name__ == "__main__":
    main()

"""A template for writing an optimizee: fitting a damped oscillation to measurements,
complete and runnable.

Copy this file and replace the model in ``simulate``. What every optimizee must do is marked
"CONTRACT". Run it on any number of ranks (rank 0 runs the optimizer, the other ranks call
``simulate``):

    mpiexec -n 4 python examples/optimizee_template.py [--root results] [--generations 30]

Where each method runs:

- the constructor runs on every rank (every rank runs the script); keep it cheap and
  deterministic. The optimizee is then sent to each worker once (cloudpickle): what it holds
  must be picklable (no open files, locks or MPI communicators; open those in `simulate`).
- `create_individual` and `bounding_func` are called by the optimizer, on rank 0.
- `simulate` runs on a worker, by default in a child process of its own (a crash costs one
  attempt, not the job), with a trajectory that holds the run's parameters and
  ``traj.individual``. An exception in it marks the attempt CRASHED; the individual is
  retried on another worker.
"""

import argparse
import math
from collections import namedtuple

import numpy as np

from mpil2l import Experiment, Optimizee
from mpil2l.optimizers import CrossEntropyOptimizer, CrossEntropyParameters, NoisyGaussian

DampedOscillatorParameters = namedtuple(
    "DampedOscillatorParameters", ["n_samples", "noise", "seed"], defaults=(50, 0.05, 0)
)
DampedOscillatorParameters.__doc__ = """Parameters of `DampedOscillatorOptimizee`.

Args:
    n_samples: number of measurements, evenly spaced over [0, 10] (>= 2). Default 50.
    noise: standard deviation of the measurement noise (>= 0). Default 0.05.
    seed: seed of the measurements and of the first individuals (integer >= 0). Default 0.
"""

# The search box of each parameter: (low, high).
BOUNDS = {
    "frequency": (0.1, 5.0),
    "damping": (0.0, 2.0),
    "shape": ((0.1, -math.pi), (3.0, math.pi)),
}


class DampedOscillatorOptimizee(Optimizee):
    """Finds ``amplitude * exp(-damping t) * cos(frequency t + phase)`` closest to noisy
    measurements of a true oscillation (mean squared error, to be minimised: use fitness
    weights ``(-1.0,)``).

    An individual is ``{'frequency': float, 'damping': float, 'shape': array([amplitude,
    phase])}``: scalars and arrays can be mixed; vector-based optimizers flatten them in
    sorted key order (see `mpil2l.dict_to_list`).

    Args:
        traj: the run's trajectory.
        parameters: a `DampedOscillatorParameters`.

    Raises:
        ValueError: a parameter is out of range.

    Example:
        >>> from mpil2l import Individual, Trajectory
        >>> traj = Trajectory()
        >>> optimizee = DampedOscillatorOptimizee(traj, DampedOscillatorParameters(noise=0.0))
        >>> traj.individual = Individual(0, 0, {"individual." + k: v for k, v in TRUTH.items()})
        >>> optimizee.simulate(traj)
        (0.0,)
    """

    def __init__(self, traj, parameters):
        super().__init__(traj)
        if parameters.n_samples < 2:
            raise ValueError(f"n_samples must be >= 2, got {parameters.n_samples}")
        if not parameters.noise >= 0:
            raise ValueError(f"noise must be >= 0, got {parameters.noise}")
        self.parameters = parameters
        # Record the optimizee's settings with the run (they end up in the results log).
        for field in parameters._fields:
            traj.f_add_parameter(f"optimizee.{field}", getattr(parameters, field))
        data_rng = np.random.default_rng([parameters.seed, 1])
        self.times = np.linspace(0.0, 10.0, parameters.n_samples)
        self.measurements = model(
            self.times, **TRUTH
        ) + parameters.noise * data_rng.standard_normal(self.times.size)
        self.rng = np.random.default_rng([parameters.seed, 2])

    def create_individual(self):
        """CONTRACT: a new individual dict, drawn from the optimizee's own generator (so a
        run is reproducible), with the same keys and shapes every time."""
        (a_low, p_low), (a_high, p_high) = BOUNDS["shape"]
        return {
            "frequency": float(self.rng.uniform(*BOUNDS["frequency"])),
            "damping": float(self.rng.uniform(*BOUNDS["damping"])),
            "shape": np.array([self.rng.uniform(a_low, a_high), self.rng.uniform(p_low, p_high)]),
        }

    def bounding_func(self, individual):
        """CONTRACT: the individual brought back into the valid domain (same keys and
        shapes); here every parameter is clipped to its box."""
        low, high = np.array(BOUNDS["shape"][0]), np.array(BOUNDS["shape"][1])
        return {
            "frequency": float(np.clip(individual["frequency"], *BOUNDS["frequency"])),
            "damping": float(np.clip(individual["damping"], *BOUNDS["damping"])),
            "shape": np.clip(np.asarray(individual["shape"], dtype=float), low, high),
        }

    def simulate(self, traj):
        """CONTRACT: evaluates ``traj.individual`` and returns a tuple with one float per
        fitness weight.

        ``traj.individual.<key>`` holds the parameters (``generation`` and ``ind_idx`` say
        which individual it is); ``traj.par`` the run's parameters. Anything random in here
        should be seeded from ``(seed, generation, ind_idx)`` so that the result does not
        depend on which worker runs it, or when.
        """
        ind = traj.individual
        amplitude, phase = ind.shape
        prediction = model(self.times, ind.frequency, ind.damping, np.array([amplitude, phase]))
        return (float(np.mean((prediction - self.measurements) ** 2)),)


def model(t, frequency, damping, shape):
    """``amplitude * exp(-damping t) * cos(frequency t + phase)`` with ``shape = (amplitude,
    phase)``."""
    amplitude, phase = shape
    return amplitude * np.exp(-damping * t) * np.cos(frequency * t + phase)


TRUTH = {"frequency": 2.0, "damping": 0.3, "shape": np.array([1.5, 0.5])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="results", help="folder for the run folders")
    parser.add_argument("--generations", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    experiment = Experiment(root_dir_path=args.root)
    traj, _ = experiment.prepare_experiment(name="optimizee-template", overwrite=True)
    optimizee = DampedOscillatorOptimizee(traj, DampedOscillatorParameters(seed=args.seed))
    parameters = CrossEntropyParameters(
        pop_size=50,
        rho=0.2,
        smoothing=0.0,
        temp_decay=0.0,
        n_iteration=args.generations,
        distribution=NoisyGaussian(noise_magnitude=0.1, noise_decay=0.9),
        stop_criterion=math.inf,
        seed=args.seed,
    )
    optimizer = CrossEntropyOptimizer(
        traj, optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
    )
    experiment.run_experiment(
        optimizer=optimizer, optimizee=optimizee, optimizer_parameters=parameters
    )
    experiment.end_experiment(optimizer)


if __name__ == "__main__":
    main()

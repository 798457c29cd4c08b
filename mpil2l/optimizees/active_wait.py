"""An optimizee that only burns CPU: for measuring the runtime's overhead and load balance.

Names follow L2L's active-wait optimizee (``AWOptimizee``, ``AWOptimizeeParameters`` with the
field ``difficulty``); both those names and the longer ones below work.
"""

import math
from collections import namedtuple

import numpy as np

from .base import Optimizee

ActiveWaitOptimizeeParameters = namedtuple(
    "ActiveWaitOptimizeeParameters", ["difficulty", "max_difficulty"], defaults=(10000.0, None)
)
ActiveWaitOptimizeeParameters.__doc__ = """Parameters of `ActiveWaitOptimizee`.

Fields:
    difficulty: the initial individual's difficulty, a number >= 0 (L2L's field). An
        evaluation counts the primes below the individual's difficulty by trial division,
        on one core, in a time that grows a little faster than linearly with the
        difficulty. Default 10000.0, as in L2L's examples.
    max_difficulty: `bounding_func` and `simulate` cap an individual's difficulty at this
        value (a number >= difficulty), so an optimizer cannot make evaluations arbitrarily
        long; None (default) for no cap.
"""


def count_primes_below(n):
    """The number of primes ``p < n``, by trial division: deliberately slow, pure Python work.

    Example:
        >>> count_primes_below(10), count_primes_below(2), count_primes_below(0)
        (4, 0, 0)
    """
    count = 0
    for candidate in range(2, int(n)):
        for divisor in range(2, math.isqrt(candidate) + 1):
            if candidate % divisor == 0:
                break
        else:
            count += 1
    return count


def _check_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class ActiveWaitOptimizee(Optimizee):
    """Burns CPU for a time set by the individual, then returns a deterministic fitness.

    Individuals are ``{'difficulty': float}``. `simulate` clips the difficulty to
    ``[0, max_difficulty]``, counts the primes below it by trial division (pure Python, one
    core busy, no sleeping) and returns that count as the fitness ``(float(count),)``. The
    work and the fitness depend only on the individual, never on the worker or the order of
    evaluation. Unlike L2L's version, which always does the same amount of work and returns
    0, the time follows the individual, so optimizers that move ``difficulty`` produce uneven
    workloads: useful to test scheduling and load balance.

    Use it to measure a runtime's overhead per evaluation (compare wall time with the sum of
    the evaluation times) or to give workers something to do in examples. Fitness weights of
    either sign work; a positive weight pushes the difficulty up, so set `max_difficulty`.

    Args:
        traj: the run's trajectory.
        parameters: an `ActiveWaitOptimizeeParameters`.

    Raises:
        TypeError: `parameters` is not an `ActiveWaitOptimizeeParameters`, or a field is
            not a number.
        ValueError: a field is negative or not finite, or max_difficulty < difficulty.

    Example:
        >>> from mpil2l.model.trajectory import Individual, Trajectory
        >>> traj = Trajectory()
        >>> optimizee = ActiveWaitOptimizee(traj, ActiveWaitOptimizeeParameters(difficulty=100))
        >>> individual = optimizee.create_individual()
        >>> traj.individual = Individual(0, 0, {"individual.difficulty": individual["difficulty"]})
        >>> optimizee.simulate(traj)
        (25.0,)
    """

    def __init__(self, traj, parameters):
        super().__init__(traj)
        if not isinstance(parameters, ActiveWaitOptimizeeParameters):
            raise TypeError(
                "parameters must be an ActiveWaitOptimizeeParameters, got "
                f"{type(parameters).__name__}"
            )
        self.difficulty = _check_number("difficulty", parameters.difficulty)
        if parameters.max_difficulty is None:
            self.max_difficulty = math.inf
        else:
            self.max_difficulty = _check_number("max_difficulty", parameters.max_difficulty)
            if self.max_difficulty < self.difficulty:
                raise ValueError(
                    f"max_difficulty must be >= difficulty ({self.difficulty}), "
                    f"got {parameters.max_difficulty!r}"
                )
        self.parameters = parameters
        self.bound = (0.0, self.max_difficulty)

    def create_individual(self):
        """``{'difficulty': difficulty}`` (every individual starts at the same difficulty)."""
        return {"difficulty": self.difficulty}

    def _clip(self, difficulty):
        value = float(np.asarray(difficulty, dtype=float).reshape(-1)[0])
        value = min(max(value, 0.0), self.max_difficulty)
        if not math.isfinite(value):
            raise ValueError(f"the individual's difficulty must be finite, got {difficulty!r}")
        return value

    def bounding_func(self, individual):
        """Clips ``difficulty`` to ``[0, max_difficulty]``.

        Raises:
            ValueError: the difficulty is NaN, or infinite with no max_difficulty.
        """
        return {"difficulty": self._clip(individual["difficulty"])}

    def simulate(self, traj):
        """Counts the primes below the individual's (clipped) difficulty: ``(float(count),)``.

        Raises:
            ValueError: the individual's difficulty is NaN, or infinite with no max_difficulty.
        """
        return (float(count_primes_below(self._clip(traj.individual.difficulty))),)


# L2L's names.
AWOptimizee = ActiveWaitOptimizee
AWOptimizeeParameters = ActiveWaitOptimizeeParameters

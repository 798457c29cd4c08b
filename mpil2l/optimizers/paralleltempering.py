"""Parallel tempering: annealing chains, each with its own cooling schedule, that swap
temperatures."""

import logging
import math
from collections import namedtuple

import numpy as np

from ._shared import check_int, check_real, check_stop_criterion
from .optimizer import Optimizer
from .simulatedannealing import (
    AvailableCoolingSchedules,
    _AnnealingChains,
    check_cooling_schedule,
    check_decay_parameter,
    cooling_temperature,
)

logger = logging.getLogger("mpil2l.optimizers.paralleltempering")

DEFAULT_DECAY = 0.99

ParallelTemperingParameters = namedtuple(
    "ParallelTemperingParameters",
    [
        "n_parallel_runs",
        "noisy_step",
        "n_iteration",
        "stop_criterion",
        "seed",
        "cooling_schedules",
        "temperature_bounds",
        "decay_parameters",
    ],
    defaults=(5, 0.03, 100, math.inf, 42, None, None, None),
)
ParallelTemperingParameters.__doc__ = """Parameters of `ParallelTemperingOptimizer`.

Args:
    n_parallel_runs: number of chains, the individuals per generation (>= 2). Default 5.
    noisy_step: standard deviation of the Gaussian step at temperature 1 (> 0); a chain at
        temperature T steps ``noisy_step * T``. Default 0.03.
    n_iteration: number of generations to evaluate (>= 1); also the ``n`` of the additive
        schedules. Default 100.
    stop_criterion: stop once the best weighted fitness is >= this value (a real number;
        ``inf`` never stops early). Default inf.
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
    cooling_schedules: one `AvailableCoolingSchedules` member (or name) per chain, or None
        for DEFAULT everywhere. Default None.
    temperature_bounds: ``n_parallel_runs`` rows ``(start, end)`` with
        ``start > 0`` and ``0 <= end <= start`` (an array of shape ``(n_parallel_runs, 2)``),
        or None for the ladder ``start = 1, (n-1)/n, ..., 1/n`` and ``end = 0``. Default None.
    decay_parameters: one decay parameter ``a`` per chain (see `AvailableCoolingSchedules`
        for each schedule's range), or None for 0.99 everywhere. Default None.
"""


def swap_probability(fitness_i, fitness_j, temperature_i, temperature_j):
    """Probability of exchanging the temperatures of two chains (maximisation):
    ``min(1, exp((F_j - F_i) (1/T_i - 1/T_j)))``, so a better point always moves to the
    colder chain. Indeterminate cases (equal fitness at temperature 0, equal temperatures
    with infinite fitness) give 1.

    Example:
        >>> swap_probability(1.0, 2.0, 0.5, 1.0)   # the hotter chain holds the better point
        1.0
        >>> round(swap_probability(2.0, 1.0, 0.5, 1.0), 4)
        0.3679
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        exponent = (fitness_j - fitness_i) * (
            np.float64(1.0) / temperature_i - np.float64(1.0) / temperature_j
        )
        if np.isnan(exponent) or exponent >= 0:
            return 1.0
        return float(np.exp(exponent))


class ParallelTemperingOptimizer(_AnnealingChains, Optimizer):
    """Parallel tempering (replica exchange) over the flattened individual.

    It maximises ``sum(w_i * f_i)``. It runs `n_parallel_runs` simulated annealing chains
    (see `mpil2l.optimizers.simulatedannealing`), each with a *slot*: a cooling schedule,
    temperature bounds and a decay parameter. After every generation chains may exchange
    slots, so good points drift to cold chains that refine them while hot chains keep
    exploring; it acts like one annealing run with automatic reheating. Every random number
    comes from the optimizer's ``numpy.random.default_rng(seed)`` and results are taken by
    ``ind_idx``, so a run is reproducible whatever the order the workers finish in.
    Pseudo-code::

        x_i <- optimizee_create_individual(), bounded; F_i <- -inf; chain i holds slot i
        candidates c_i <- x_i                                  # generation 0
        for g in 0 .. n_iteration - 1:
            evaluate the candidates: F(c_i)
            T_s <- cooling_temperature(schedule_s, k=g + 1, n=n_iteration,
                                       start_s, end_s, decay_s) for each slot s
            for each chain i at temperature T = T_(slot of i), with u ~ U(0, 1):
                if F(c_i) >= F_i or u < exp((F(c_i) - F_i) / T): x_i, F_i <- c_i, F(c_i)
            stop if g is the last generation or the best weighted fitness >= stop_criterion
            for each chain i: draw another chain j and u ~ U(0, 1);
                exchange the slots of i and j if u < min(1, exp((F_j - F_i)(1/T_i - 1/T_j)))
            c_i <- bound(x_i + N(0, I) * noisy_step * T_(slot of i)) for each chain i

    Use it instead of simulated annealing on multimodal problems where a single cooling
    schedule freezes in a local optimum. Differences from L2L: the swap test is the
    standard replica-exchange criterion (L2L takes ``exp(-|...|)`` with a constant 5, which
    never favours moving the better point to the colder chain), proposals use the
    temperature a chain holds after the swaps, the schedules follow their documented
    formulas (see `AvailableCoolingSchedules`), and generation 0 evaluates the created
    individuals themselves.

    Args:
        traj: the run's trajectory; gets the parameters' fields as parameters (the lists
            normalised: enum members, a float array of bounds, a float array of decays).
        optimizee_create_individual: returns a new individual dict (of floats and float
            arrays), one per chain.
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `ParallelTemperingParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        temperatures: the current temperature of each slot.
        run_slot: the slot each chain holds (a permutation of ``0 .. n_parallel_runs - 1``).
        current: the chains' current points, one flattened row per chain.
        current_fitness: their weighted fitness (``-inf`` before the first acceptance).

    Raises:
        TypeError: `parameters` is not a `ParallelTemperingParameters` or a field has the
            wrong type.
        ValueError: a field is out of range or a per-chain list does not have
            ``n_parallel_runs`` entries.

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> S = AvailableCoolingSchedules
        >>> traj = Trajectory()
        >>> rng = np.random.default_rng(0)
        >>> opt = ParallelTemperingOptimizer(
        ...     traj, lambda: {"x": rng.uniform(-2, 2, 2)}, (-1.0,),
        ...     ParallelTemperingParameters(
        ...         n_parallel_runs=4, noisy_step=1.0, n_iteration=50, seed=1,
        ...         cooling_schedules=[S.EXPONENTIAL, S.LINEAR_ADDAPTIVE, S.DEFAULT, S.LOGARITHMIC],
        ...         temperature_bounds=[[1.0, 0.0], [0.75, 0.0], [0.5, 0.0], [0.25, 0.0]],
        ...         decay_parameters=[0.9, 0.0, 0.95, 1.0]))
        >>> for g in range(50):
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        >>> len(traj.individuals), opt.best_fitness[0] < 0.05
        (50, True)
    """

    parameters_type = ParallelTemperingParameters

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
        p = parameters
        self.n_parallel_runs = n = check_int("n_parallel_runs", p.n_parallel_runs, 2)
        self.noisy_step = check_real("noisy_step", p.noisy_step, 0.0)
        if self.noisy_step == 0.0:
            raise ValueError("noisy_step must be > 0, got 0")
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.seed = check_int("seed", p.seed, 0)
        self.cooling_schedules = self._check_schedules(p.cooling_schedules, n)
        self.temperature_bounds = self._check_bounds(p.temperature_bounds, n)
        self.decay_parameters = self._check_decays(p.decay_parameters, self.cooling_schedules)
        normalised = {
            "cooling_schedules": list(self.cooling_schedules),
            "temperature_bounds": self.temperature_bounds.copy(),
            "decay_parameters": self.decay_parameters.copy(),
        }
        for name, value in p._asdict().items():
            traj.f_add_parameter(name, normalised.get(name, value))

        self.rng = np.random.default_rng(self.seed)
        self.run_slot = np.arange(n)
        self.temperatures = self.temperature_bounds[:, 0].copy()
        self._init_chains(n)
        self._expand_trajectory(traj)

    @staticmethod
    def _check_schedules(schedules, n):
        if schedules is None:
            return (AvailableCoolingSchedules.DEFAULT,) * n
        if isinstance(schedules, (str, bytes)) or not hasattr(schedules, "__len__"):
            raise TypeError(
                f"cooling_schedules must be a list of {n} cooling schedules, got "
                f"{type(schedules).__name__}"
            )
        if len(schedules) != n:
            raise ValueError(
                f"cooling_schedules must have n_parallel_runs = {n} entries, got {len(schedules)}"
            )
        return tuple(
            check_cooling_schedule(f"cooling_schedules[{i}]", s) for i, s in enumerate(schedules)
        )

    @staticmethod
    def _check_bounds(bounds, n):
        if bounds is None:
            return np.column_stack([np.arange(n, 0, -1) / n, np.zeros(n)])
        try:
            array = np.asarray(bounds, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"temperature_bounds must be an array of shape ({n}, 2) of real numbers, got "
                f"{bounds!r}"
            ) from None
        if array.shape != (n, 2):
            raise ValueError(
                f"temperature_bounds must have shape (n_parallel_runs, 2) = ({n}, 2), got "
                f"{array.shape}"
            )
        for i, (start, end) in enumerate(array):
            if not (np.isfinite(start) and np.isfinite(end) and start > 0 and 0 <= end <= start):
                raise ValueError(
                    f"temperature_bounds[{i}] must be (start, end) with start > 0 and 0 <= end <= "
                    f"start, got ({start:g}, {end:g})"
                )
        return array.copy()

    @staticmethod
    def _check_decays(decays, schedules):
        n = len(schedules)
        if decays is None:
            return np.full(n, DEFAULT_DECAY)
        if isinstance(decays, (str, bytes)) or not hasattr(decays, "__len__"):
            raise TypeError(
                f"decay_parameters must be a list of {n} real numbers, got {type(decays).__name__}"
            )
        if len(decays) != n:
            raise ValueError(
                f"decay_parameters must have n_parallel_runs = {n} entries, got {len(decays)}"
            )
        return np.array(
            [
                check_decay_parameter(f"decay_parameters[{i}]", d, s)
                for i, (d, s) in enumerate(zip(decays, schedules))
            ]
        )

    def post_process(self, traj, fitnesses_results):
        """Takes the candidates' fitness, accepts or rejects them, exchanges temperatures
        and, unless the run ends, expands the next candidates.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every chain, in any
                order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        _, weighted = self._record_generation(fitnesses_results)
        k = self.g + 1
        self.temperatures = np.array(
            [
                cooling_temperature(schedule, k, self.n_iteration, start, end, decay)
                for schedule, (start, end), decay in zip(
                    self.cooling_schedules, self.temperature_bounds, self.decay_parameters
                )
            ]
        )
        accepted = self._accept(weighted, self.temperatures[self.run_slot])
        if self.g >= self.n_iteration - 1 or self.best_weighted_fitness >= self.stop_criterion:
            return
        n = self.n_parallel_runs
        swaps = 0
        for i in range(n):
            j = int(self.rng.integers(n - 1))
            j += j >= i
            u = self.rng.random()
            p = swap_probability(
                self.current_fitness[i],
                self.current_fitness[j],
                self.temperatures[self.run_slot[i]],
                self.temperatures[self.run_slot[j]],
            )
            if u < p:
                self.run_slot[i], self.run_slot[j] = self.run_slot[j], self.run_slot[i]
                swaps += 1
        logger.debug(
            "generation %d: temperatures %s, %d of %d candidates accepted, %d swap(s)",
            self.g,
            np.round(self.temperatures, 6).tolist(),
            int(accepted.sum()),
            n,
            swaps,
        )
        self._propose(self.temperatures[self.run_slot])
        self.g += 1
        self._expand_trajectory(traj)

    def get_state(self):
        """The base state plus the chains, the candidates, the slot temperatures and which
        chain holds which slot."""
        state = super().get_state()
        state.update(
            self._chain_state(),
            temperatures=self.temperatures.copy(),
            run_slot=self.run_slot.copy(),
        )
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key or its chains do not match ``n_parallel_runs``
                and the individual's size.
        """
        missing = {"temperatures", "run_slot"} - set(state)
        if missing:
            raise ValueError(f"parallel tempering state lacks {sorted(missing)}")
        chains = self._check_chain_state(state, "parallel tempering")
        run_slot = np.asarray(state["run_slot"], dtype=int)
        if sorted(run_slot.tolist()) != list(range(self.n_parallel_runs)):
            raise ValueError(
                f"the saved run_slot {run_slot.tolist()} is not a permutation of "
                f"0..{self.n_parallel_runs - 1}"
            )
        super().set_state(state)
        self.current, self.current_fitness, self.candidates = chains
        self.temperatures = np.asarray(state["temperatures"], dtype=float).copy()
        self.run_slot = run_slot.copy()

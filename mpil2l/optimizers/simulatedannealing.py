"""Simulated annealing: parallel independent Metropolis chains under a cooling schedule.

The cooling schedules (`AvailableCoolingSchedules`, `cooling_temperature`,
`check_decay_parameter`) and the chain step helpers are shared with
`mpil2l.optimizers.paralleltempering`.
"""

import enum
import logging
import math
from collections import namedtuple

import numpy as np

from ..model.conversion import dict_to_list, list_to_dict
from ._shared import check_int, check_real, check_stop_criterion
from .optimizer import Optimizer

logger = logging.getLogger("mpil2l.optimizers.simulatedannealing")

# Steepness of EXPONENTIAL_ADDAPTIVE: the sigmoid is 99 % of the way from the end temperature
# to the start temperature at k = 0 and 1 % of the way at k = n, whatever the temperatures.
_SIGMOID_RATIO = 99.0


class AvailableCoolingSchedules(enum.Enum):
    """The cooling schedules of simulated annealing and parallel tempering (L2L's names and
    values, misspellings included, so L2L scripts port unchanged).

    ``T_k`` is the temperature after generation ``k - 1`` was evaluated, ``T_0`` the start
    temperature, ``T_n`` the end temperature, ``n`` the number of generations
    (``n_iteration``) and ``a`` the decay parameter.

    Multiplicative (Kirkpatrick, Gelatt and Vecchi 1983): need ``a``, ignore ``T_n``.

    * DEFAULT: ``T_k = T_{k-1} a`` (``0 < a <= 1``), that is ``T_0 a^k``.
    * LOGARITHMIC: ``T_k = T_0 / (1 + a log(1 + k))`` (``a > 0``).
    * EXPONENTIAL: ``T_k = T_0 a^k`` (``0 < a <= 1``).
    * LINEAR_MULTIPLICATIVE: ``T_k = T_0 / (1 + a k)`` (``a > 0``).
    * QUADRATIC_MULTIPLICATIVE: ``T_k = T_0 / (1 + a k^2)`` (``a > 0``).

    Additive (B. T. Luke 2005): go from ``T_0`` to ``T_n`` in ``n`` steps, ignore ``a``.

    * LINEAR_ADDAPTIVE: ``T_k = T_n + (T_0 - T_n) (n - k) / n``.
    * QUADRATIC_ADDAPTIVE: ``T_k = T_n + (T_0 - T_n) ((n - k) / n)^2``.
    * EXPONENTIAL_ADDAPTIVE: ``T_k = T_n + (T_0 - T_n) / (1 + exp(c (k - n / 2)))``: slow
      start, steep middle, slow end. Luke's steepness ``c = 2 ln(T_0 - T_n) / n`` only cools
      when ``T_0 - T_n > 1``; mpil2l uses ``c = 2 ln(99) / n`` (the same curve at
      ``T_0 - T_n = 99``), which cools on any temperature scale.
    * TRIGONOMETRIC_ADDAPTIVE: ``T_k = T_n + (T_0 - T_n) (1 + cos(k pi / n)) / 2``.
    """

    DEFAULT = 1
    LOGARITHMIC = 2
    EXPONENTIAL = 3
    LINEAR_MULTIPLICATIVE = 4
    QUADRATIC_MULTIPLICATIVE = 5
    LINEAR_ADDAPTIVE = 6
    QUADRATIC_ADDAPTIVE = 7
    EXPONENTIAL_ADDAPTIVE = 8
    TRIGONOMETRIC_ADDAPTIVE = 9


_GEOMETRIC = (AvailableCoolingSchedules.DEFAULT, AvailableCoolingSchedules.EXPONENTIAL)
_MULTIPLICATIVE = _GEOMETRIC + (
    AvailableCoolingSchedules.LOGARITHMIC,
    AvailableCoolingSchedules.LINEAR_MULTIPLICATIVE,
    AvailableCoolingSchedules.QUADRATIC_MULTIPLICATIVE,
)


def check_cooling_schedule(name, value):
    """Returns the `AvailableCoolingSchedules` member `value` names.

    Args:
        name: the field's name, for error messages.
        value: a member of `AvailableCoolingSchedules`, of an enum with the same member
            names (L2L's), or a member name such as ``"EXPONENTIAL"`` (any case).

    Raises:
        TypeError: `value` is neither an enum member nor a string.
        ValueError: `value` names no cooling schedule.
    """
    if isinstance(value, enum.Enum):
        key = value.name
    elif isinstance(value, str):
        key = value.upper()
    else:
        raise TypeError(
            f"{name} must be an AvailableCoolingSchedules member or its name, got "
            f"{type(value).__name__} {value!r}"
        )
    try:
        return AvailableCoolingSchedules[key]
    except KeyError:
        raise ValueError(
            f"{name} must be one of {[s.name for s in AvailableCoolingSchedules]}, got {value!r}"
        ) from None


def check_decay_parameter(name, value, schedule):
    """Returns the decay parameter `value` as a float if `schedule` accepts it.

    DEFAULT and EXPONENTIAL need ``0 < value <= 1``, the other multiplicative schedules
    ``value > 0``; the additive schedules ignore it (any finite real is accepted).

    Raises:
        TypeError: `value` is not a real number.
        ValueError: `value` is not finite or out of the schedule's range.
    """
    value = check_real(name, value)
    if schedule in _GEOMETRIC and not 0.0 < value <= 1.0:
        raise ValueError(
            f"{name} must be in (0, 1] for cooling schedule {schedule.name}, got {value:g}"
        )
    if schedule in _MULTIPLICATIVE and value <= 0.0:
        raise ValueError(f"{name} must be > 0 for cooling schedule {schedule.name}, got {value:g}")
    return value


def cooling_temperature(schedule, k, n_steps, start=1.0, end=0.0, decay=0.99):
    """The temperature of `schedule` at step `k` (see `AvailableCoolingSchedules`).

    Args:
        schedule: an `AvailableCoolingSchedules` member.
        k: the step (>= 0); additive schedules treat ``k > n_steps`` as ``n_steps``.
        n_steps: the number of steps ``n`` of additive schedules (>= 1).
        start: the start temperature ``T_0``.
        end: the end temperature ``T_n`` (additive schedules).
        decay: the decay parameter ``a`` (multiplicative schedules).

    Returns:
        The temperature, a float >= 0.

    Example:
        >>> S = AvailableCoolingSchedules
        >>> round(cooling_temperature(S.EXPONENTIAL, 2, 10, decay=0.5), 6)
        0.25
        >>> [round(cooling_temperature(S.LINEAR_ADDAPTIVE, k, 4, start=1.0, end=0.2), 6)
        ...  for k in (0, 2, 4)]
        [1.0, 0.6, 0.2]
    """
    S = AvailableCoolingSchedules
    if schedule in _GEOMETRIC:
        return float(start * decay**k)
    if schedule == S.LOGARITHMIC:
        return float(start / (1.0 + decay * math.log1p(k)))
    if schedule == S.LINEAR_MULTIPLICATIVE:
        return float(start / (1.0 + decay * k))
    if schedule == S.QUADRATIC_MULTIPLICATIVE:
        return float(start / (1.0 + decay * k * k))
    n = float(max(n_steps, 1))
    remaining = (n - min(k, n)) / n
    span = start - end
    if schedule == S.LINEAR_ADDAPTIVE:
        return float(end + span * remaining)
    if schedule == S.QUADRATIC_ADDAPTIVE:
        return float(end + span * remaining**2)
    if schedule == S.EXPONENTIAL_ADDAPTIVE:
        steepness = 2.0 * math.log(_SIGMOID_RATIO) / n
        return float(end + span / (1.0 + math.exp(steepness * (min(k, n) - n / 2.0))))
    if schedule == S.TRIGONOMETRIC_ADDAPTIVE:
        return float(end + span * (1.0 + math.cos(math.pi * min(k, n) / n)) / 2.0)
    raise ValueError(f"unknown cooling schedule {schedule!r}")


def metropolis_accept(candidate, current, temperature, uniform):
    """Metropolis acceptance for maximisation, vectorised over chains.

    A candidate is accepted if its weighted fitness is >= the current one, or else with
    probability ``exp((candidate - current) / temperature)`` (0 at temperature 0). A
    ``-inf`` candidate is only accepted over a ``-inf`` current point.

    Args:
        candidate, current, temperature, uniform: arrays (or scalars) of the same shape;
            `uniform` holds draws from U(0, 1).

    Returns:
        A boolean array, True where the candidate is accepted.
    """
    candidate, current = np.asarray(candidate, dtype=float), np.asarray(current, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        probability = np.exp((candidate - current) / np.asarray(temperature, dtype=float))
    probability = np.nan_to_num(probability, nan=0.0)
    return (candidate >= current) | (np.asarray(uniform) < probability)


class _AnnealingChains:
    """Shared machinery of SA and PT: the flattened chain states, their fitness, and the
    Gaussian proposal. Not public API."""

    def _init_chains(self, n_chains):
        vectors, specs = zip(
            *(
                dict_to_list(self.optimizee_create_individual(), get_dict_spec=True)
                for _ in range(n_chains)
            )
        )
        if any(spec != specs[0] for spec in specs):
            raise ValueError(
                "optimizee_create_individual returned individuals of different keys or shapes"
            )
        self.dict_spec = specs[0]
        # The first candidates are the created individuals, accepted unconditionally.
        self.current = np.array([self._bound(v) for v in vectors])
        self.current_fitness = np.full(n_chains, -np.inf)
        self.candidates = self.current.copy()
        self.eval_pop = [list_to_dict(x, self.dict_spec) for x in self.candidates]

    def _accept(self, weighted, temperatures):
        accepted = metropolis_accept(
            weighted, self.current_fitness, temperatures, self.rng.random(weighted.size)
        )
        self.current[accepted] = self.candidates[accepted]
        self.current_fitness[accepted] = weighted[accepted]
        return accepted

    def _propose(self, step_sizes):
        noise = self.rng.standard_normal(self.current.shape)
        proposals = (
            self.current + noise * (self.noisy_step * np.asarray(step_sizes, dtype=float))[:, None]
        )
        self.candidates = np.array([self._bound(x) for x in proposals])
        self.eval_pop = [list_to_dict(x, self.dict_spec) for x in self.candidates]

    def _bound(self, vector):
        if self.optimizee_bounding_func is None:
            return np.asarray(vector, dtype=float)
        bounded = dict_to_list(self.optimizee_bounding_func(list_to_dict(vector, self.dict_spec)))
        if bounded.shape != np.shape(vector):
            raise ValueError(
                f"optimizee_bounding_func changed the individual's size from {np.size(vector)} to "
                f"{bounded.size}"
            )
        return bounded

    def _chain_state(self):
        return {
            "current": self.current.copy(),
            "current_fitness": self.current_fitness.copy(),
            "candidates": self.candidates.copy(),
        }

    def _check_chain_state(self, state, label):
        """The chain arrays of `state`, checked against this optimizer's shape."""
        missing = {"current", "current_fitness", "candidates"} - set(state)
        if missing:
            raise ValueError(f"{label} state lacks {sorted(missing)}")
        current = np.asarray(state["current"], dtype=float)
        if current.shape != self.current.shape:
            raise ValueError(
                f"the saved chains have shape {current.shape}, this optimizer expects "
                f"{self.current.shape} (number of chains, individual size)"
            )
        return (
            current.copy(),
            np.asarray(state["current_fitness"], dtype=float).copy(),
            np.asarray(state["candidates"], dtype=float).copy(),
        )


SimulatedAnnealingParameters = namedtuple(
    "SimulatedAnnealingParameters",
    [
        "n_parallel_runs",
        "noisy_step",
        "temp_decay",
        "n_iteration",
        "stop_criterion",
        "seed",
        "cooling_schedule",
    ],
    defaults=(50, 0.03, 0.99, 100, math.inf, 42, AvailableCoolingSchedules.DEFAULT),
)
SimulatedAnnealingParameters.__doc__ = """Parameters of `SimulatedAnnealingOptimizer`.

Args:
    n_parallel_runs: number of independent annealing chains, the individuals per generation
        (>= 1). Default 50.
    noisy_step: standard deviation of the Gaussian step at temperature 1 (> 0); the step at
        temperature T is ``noisy_step * T``. Default 0.03.
    temp_decay: the cooling schedule's decay parameter ``a`` (see
        `AvailableCoolingSchedules`): in (0, 1] for DEFAULT and EXPONENTIAL, > 0 for the other
        multiplicative schedules, ignored by the additive ones. Default 0.99.
    n_iteration: number of generations to evaluate (>= 1); also the ``n`` of the additive
        schedules. Default 100.
    stop_criterion: stop once the best weighted fitness is >= this value (a real number;
        ``inf`` never stops early). Default inf.
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
    cooling_schedule: an `AvailableCoolingSchedules` member (or its name). The temperature
        starts at 1 and additive schedules end at 0. Default DEFAULT.
"""


class SimulatedAnnealingOptimizer(_AnnealingChains, Optimizer):
    """Simulated annealing over the flattened individual, with `n_parallel_runs` independent
    chains evaluated together.

    It maximises ``sum(w_i * f_i)``. Each chain is a Metropolis random walk whose step size
    and tolerance for worse points shrink as the temperature falls. Every random number comes
    from the optimizer's ``numpy.random.default_rng(seed)`` and results are taken by
    ``ind_idx``, so a run is reproducible whatever the order the workers finish in.
    Pseudo-code::

        x_i <- optimizee_create_individual(), bounded, for each chain i; F_i <- -inf
        candidates c_i <- x_i                                  # generation 0
        for g in 0 .. n_iteration - 1:
            evaluate the candidates: F(c_i)
            stop if g is the last generation or the best weighted fitness >= stop_criterion
            T <- cooling_temperature(cooling_schedule, k=g + 1, n=n_iteration,
                                     start=1, end=0, decay=temp_decay)
            for each chain i, with u ~ U(0, 1):
                if F(c_i) >= F_i or u < exp((F(c_i) - F_i) / T): x_i, F_i <- c_i, F(c_i)
            c_i <- bound(x_i + N(0, I) * noisy_step * T) for each chain i

    Use it for cheap, low-dimensional, possibly multimodal problems where a population of
    random walks is enough and no gradient is available; scale ``noisy_step`` to the
    parameters and the temperature (through the schedule) to the differences in weighted
    fitness that should still be accepted. Differences from L2L: the multiplicative schedules
    use ``temp_decay`` as their ``a`` (L2L's SA fixed it to 0.85 or 1), the additive
    schedules follow their documented formulas, and generation 0 evaluates the created
    individuals themselves.

    Args:
        traj: the run's trajectory; gets the parameters' fields as parameters.
        optimizee_create_individual: returns a new individual dict (of floats and float
            arrays), one per chain.
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `SimulatedAnnealingParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        temperature: the temperature of the latest acceptance step (1 before any).
        current: the chains' current points, one flattened row per chain.
        current_fitness: their weighted fitness (``-inf`` before the first acceptance).

    Raises:
        TypeError: `parameters` is not a `SimulatedAnnealingParameters` or a field has the
            wrong type.
        ValueError: a field is out of range, e.g. "n_parallel_runs must be >= 1, got 0".

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> rng = np.random.default_rng(0)
        >>> opt = SimulatedAnnealingOptimizer(
        ...     traj, lambda: {"x": rng.uniform(-2, 2, 2)}, (-1.0,),
        ...     SimulatedAnnealingParameters(
        ...         n_parallel_runs=5, noisy_step=0.5, n_iteration=40, seed=1))
        >>> for g in range(40):
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        >>> len(traj.individuals), opt.best_fitness[0] < 0.05
        (40, True)
    """

    parameters_type = SimulatedAnnealingParameters

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
        self.n_parallel_runs = check_int("n_parallel_runs", p.n_parallel_runs, 1)
        self.noisy_step = check_real("noisy_step", p.noisy_step, 0.0)
        if self.noisy_step == 0.0:
            raise ValueError("noisy_step must be > 0, got 0")
        self.cooling_schedule = check_cooling_schedule("cooling_schedule", p.cooling_schedule)
        self.temp_decay = check_decay_parameter("temp_decay", p.temp_decay, self.cooling_schedule)
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.seed = check_int("seed", p.seed, 0)
        for name, value in p._asdict().items():
            traj.f_add_parameter(
                name, self.cooling_schedule if name == "cooling_schedule" else value
            )

        self.rng = np.random.default_rng(self.seed)
        self.temperature = 1.0
        self._init_chains(self.n_parallel_runs)
        self._expand_trajectory(traj)

    def post_process(self, traj, fitnesses_results):
        """Takes the candidates' fitness, accepts or rejects them and, unless the run ends,
        expands the next candidates.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every chain, in any
                order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        _, weighted = self._record_generation(fitnesses_results)
        self.temperature = cooling_temperature(
            self.cooling_schedule,
            self.g + 1,
            self.n_iteration,
            start=1.0,
            end=0.0,
            decay=self.temp_decay,
        )
        accepted = self._accept(weighted, self.temperature)
        logger.debug(
            "generation %d: temperature %g, %d of %d candidates accepted",
            self.g,
            self.temperature,
            int(accepted.sum()),
            accepted.size,
        )
        if self.g >= self.n_iteration - 1 or self.best_weighted_fitness >= self.stop_criterion:
            return
        self._propose(np.full(self.n_parallel_runs, self.temperature))
        self.g += 1
        self._expand_trajectory(traj)

    def get_state(self):
        """The base state plus the chains, their fitness, the candidates and the temperature."""
        state = super().get_state()
        state.update(self._chain_state(), temperature=self.temperature)
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key or its chains do not match ``n_parallel_runs``
                and the individual's size.
        """
        if "temperature" not in state:
            raise ValueError("simulated annealing state lacks ['temperature']")
        chains = self._check_chain_state(state, "simulated annealing")
        super().set_state(state)
        self.current, self.current_fitness, self.candidates = chains
        self.temperature = float(state["temperature"])

"""Gradient descent on a finite-difference gradient: classic, stochastic, Adam, AdaMax and
RMSProp steps.

The gradient machinery (`FiniteDifferenceGradientOptimizer`) and the update rules
(`UpdateRule` and its subclasses, one per parameters type) are shared with
`mpil2l.optimizers.multigradientdescent`.
"""

import logging
import math
from collections import namedtuple

import numpy as np

from ..model.conversion import dict_to_list, list_to_dict
from ._shared import check_int, check_positive, check_real, check_stop_criterion
from .optimizer import Optimizer

logger = logging.getLogger("mpil2l.optimizers.gradientdescent")

_COMMON_DOC = """    learning_rate: step size of the update (> 0). Default 0.01.
    exploration_step_size: standard deviation of the random steps around the current
        individual that the gradient is estimated from (> 0). Default 0.01.
    n_random_steps: number of random steps per generation (>= 1); a generation evaluates
        them and the current individual. Default 5.
    n_iteration: number of generations to evaluate (>= 1). Default 100.
    stop_criterion: stop once the weighted fitness of the current individual is >= this
        value (a real number; ``inf`` never stops early). Default inf.
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
"""

ClassicGDParameters = namedtuple(
    "ClassicGDParameters",
    [
        "learning_rate",
        "exploration_step_size",
        "n_random_steps",
        "n_iteration",
        "stop_criterion",
        "seed",
    ],
    defaults=(0.01, 0.01, 5, 100, math.inf, 42),
)
ClassicGDParameters.__doc__ = f"""Parameters of `GradientDescentOptimizer` for classic gradient
ascent on the weighted fitness: ``x <- x + learning_rate * gradient``.

Args:
{_COMMON_DOC}"""

StochasticGDParameters = namedtuple(
    "StochasticGDParameters",
    [
        "learning_rate",
        "stochastic_deviation",
        "stochastic_decay",
        "exploration_step_size",
        "n_random_steps",
        "n_iteration",
        "stop_criterion",
        "seed",
    ],
    defaults=(0.01, 1.0, 0.99, 0.01, 5, 100, math.inf, 42),
)
StochasticGDParameters.__doc__ = f"""Parameters of `GradientDescentOptimizer` for stochastic
gradient ascent: ``x <- x + learning_rate * (gradient + stochastic_decay^(g+1) * N(0,
stochastic_deviation^2))`` at generation ``g``.

Args:
{_COMMON_DOC}    stochastic_deviation: standard deviation of the random vector added to the
        gradient (>= 0). Default 1.0.
    stochastic_decay: per-generation decay of that random vector, in [0, 1] (0 disables
        it). Default 0.99.
"""

AdamParameters = namedtuple(
    "AdamParameters",
    [
        "learning_rate",
        "exploration_step_size",
        "n_random_steps",
        "first_order_decay",
        "second_order_decay",
        "n_iteration",
        "stop_criterion",
        "seed",
    ],
    defaults=(0.01, 0.01, 5, 0.9, 0.999, 100, math.inf, 42),
)
AdamParameters.__doc__ = f"""Parameters of `GradientDescentOptimizer` for Adam (Kingma & Ba
2015): bias-corrected moving averages of the gradient and of its square.

Args:
{_COMMON_DOC}    first_order_decay: decay beta1 of the first moment, in [0, 1). Default 0.9.
    second_order_decay: decay beta2 of the second moment, in [0, 1). Default 0.999.
"""

AdaMaxParameters = namedtuple(
    "AdaMaxParameters", AdamParameters._fields, defaults=AdamParameters._field_defaults.values()
)
AdaMaxParameters.__doc__ = f"""Parameters of `GradientDescentOptimizer` for AdaMax (Kingma & Ba
2015): Adam with the infinity norm in place of the second moment.

Args:
{_COMMON_DOC}    first_order_decay: decay beta1 of the first moment, in [0, 1). Default 0.9.
    second_order_decay: decay beta2 of the infinity norm, in [0, 1]. Default 0.999.
"""

RMSPropParameters = namedtuple(
    "RMSPropParameters",
    [
        "learning_rate",
        "exploration_step_size",
        "n_random_steps",
        "momentum_decay",
        "n_iteration",
        "stop_criterion",
        "seed",
    ],
    defaults=(0.01, 0.01, 5, 0.9, 100, math.inf, 42),
)
RMSPropParameters.__doc__ = f"""Parameters of `GradientDescentOptimizer` for RMSProp: the
step is divided by a moving root mean square of the gradient.

Args:
{_COMMON_DOC}    momentum_decay: decay of the moving mean of the squared gradient, in [0, 1).
        Default 0.9.
"""


# -- update rules ---------------------------------------------------------------------------


class UpdateRule:
    """How one gradient-ascent variant turns a gradient into a step.

    A rule reads its fields from the parameters namedtuple by name, so the same rule serves
    `GradientDescentOptimizer` and `MultiGradientDescentOptimizer`. It keeps its moving
    averages in ``self.moments`` (name -> array), which `get_state`/`set_state` save.

    Args:
        parameters: the optimizer's parameters namedtuple.
        size: the number of elements of the flattened individual.
    """

    # the names of the moment arrays the rule keeps
    moment_names = ()

    def __init__(self, parameters, size):
        self.learning_rate = float(parameters.learning_rate)
        self.moments = {name: np.zeros(size) for name in self.moment_names}

    def step(self, gradient, generation, rng):
        """The step to add to the current individual.

        Args:
            gradient: the estimated gradient of the weighted fitness.
            generation: the generation the gradient was estimated in (``g``; Adam corrects
                its bias with ``g + 1``).
            rng: the optimizer's random generator.
        """
        raise NotImplementedError

    def get_state(self):
        """The moments, copied."""
        return {name: value.copy() for name, value in self.moments.items()}

    def set_state(self, state):
        """Restores the moments `get_state` returned.

        Raises:
            ValueError: a moment is missing or has another shape.
        """
        missing = set(self.moments) - set(state)
        if missing:
            raise ValueError(
                f"the saved update rule state lacks {sorted(missing)} (saved by another rule?)"
            )
        saved = {name: np.asarray(state[name], dtype=float) for name in self.moments}
        for name, value in saved.items():
            if value.shape != self.moments[name].shape:
                raise ValueError(
                    f"the saved {name} has shape {value.shape}, this optimizer expects "
                    f"{self.moments[name].shape}"
                )
        self.moments = {name: value.copy() for name, value in saved.items()}


class ClassicGDRule(UpdateRule):
    """``step = learning_rate * gradient``."""

    def step(self, gradient, generation, rng):
        return self.learning_rate * gradient


class StochasticGDRule(UpdateRule):
    """The step of stochastic gradient descent: ``step = learning_rate * (gradient +
    stochastic_decay^(g+1) * N(0, stochastic_deviation^2))``."""

    def __init__(self, parameters, size):
        super().__init__(parameters, size)
        self.stochastic_deviation = check_real(
            "stochastic_deviation", parameters.stochastic_deviation, 0.0
        )
        self.stochastic_decay = check_real(
            "stochastic_decay", parameters.stochastic_decay, 0.0, 1.0
        )

    def step(self, gradient, generation, rng):
        noise = rng.normal(0.0, self.stochastic_deviation, gradient.size)
        return self.learning_rate * (gradient + noise * self.stochastic_decay ** (generation + 1))


class AdamRule(UpdateRule):
    """Adam: ``m <- b1 m + (1-b1) grad``, ``v <- b2 v + (1-b2) grad^2``,
    ``step = learning_rate * m_hat / (sqrt(v_hat) + 1e-8)`` with ``m_hat = m / (1 - b1^(g+1))``
    and ``v_hat = v / (1 - b2^(g+1))``."""

    moment_names = ("fo_moment", "so_moment")
    delta = 1e-8

    def __init__(self, parameters, size):
        super().__init__(parameters, size)
        self.first_order_decay = _check_decay("first_order_decay", parameters.first_order_decay)
        self.second_order_decay = _check_decay("second_order_decay", parameters.second_order_decay)

    def step(self, gradient, generation, rng):
        b1, b2, m = self.first_order_decay, self.second_order_decay, self.moments
        m["fo_moment"] = b1 * m["fo_moment"] + (1.0 - b1) * gradient
        m["so_moment"] = b2 * m["so_moment"] + (1.0 - b2) * gradient**2
        fo = m["fo_moment"] / (1.0 - b1 ** (generation + 1))
        so = m["so_moment"] / (1.0 - b2 ** (generation + 1))
        return self.learning_rate * fo / (np.sqrt(so) + self.delta)


class AdaMaxRule(UpdateRule):
    """AdaMax as L2L has it (no bias correction): ``m <- b1 m + (1-b1) grad``,
    ``u <- max(b2 u, |grad|)``, ``step = learning_rate * m / u`` (0 where ``u`` is 0)."""

    moment_names = ("fo_moment", "so_moment")

    def __init__(self, parameters, size):
        super().__init__(parameters, size)
        self.first_order_decay = _check_decay("first_order_decay", parameters.first_order_decay)
        self.second_order_decay = check_real(
            "second_order_decay", parameters.second_order_decay, 0.0, 1.0
        )

    def step(self, gradient, generation, rng):
        b1, b2, m = self.first_order_decay, self.second_order_decay, self.moments
        m["fo_moment"] = b1 * m["fo_moment"] + (1.0 - b1) * gradient
        m["so_moment"] = np.maximum(b2 * m["so_moment"], np.abs(gradient))
        ratio = np.divide(
            m["fo_moment"], m["so_moment"], out=np.zeros_like(gradient), where=m["so_moment"] > 0
        )
        return self.learning_rate * ratio


class RMSPropRule(UpdateRule):
    """RMSProp: ``v <- b v + (1-b) grad^2``, ``step = learning_rate * grad / sqrt(v + 1e-6)``."""

    moment_names = ("so_moment",)
    delta = 1e-6

    def __init__(self, parameters, size):
        super().__init__(parameters, size)
        self.momentum_decay = _check_decay("momentum_decay", parameters.momentum_decay)

    def step(self, gradient, generation, rng):
        b = self.momentum_decay
        self.moments["so_moment"] = b * self.moments["so_moment"] + (1.0 - b) * gradient**2
        return self.learning_rate * gradient / np.sqrt(self.moments["so_moment"] + self.delta)


def _check_decay(name, value):
    value = check_real(name, value, 0.0, 1.0)
    if value >= 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value:g}")
    return value


# -- the shared optimizer -------------------------------------------------------------------


class FiniteDifferenceGradientOptimizer(Optimizer):
    """What `GradientDescentOptimizer` and `MultiGradientDescentOptimizer` share: the random
    exploration around the current individual, the least-squares gradient, the update rule
    chosen by the parameters' type, stopping and checkpointing.

    A generation is a set of *points* (flattened individuals), the current individual last.
    Subclasses set ``update_rules`` (parameters type -> `UpdateRule` subclass) and
    ``parameters_type`` (the tuple of its keys), and define how points become the
    individuals to evaluate (`_population`), how the results become one weighted fitness
    per point (`_points_fitness`), how many points a generation has (`_n_points`) and which
    fitness the stop criterion looks at (`_stop_fitness`).

    Raises:
        TypeError: `parameters` is not one of ``parameters_type`` or a field has the wrong
            type.
        ValueError: a field is out of range.
    """

    parameters_type = ()
    update_rules = {}

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
        self.learning_rate = check_positive("learning_rate", p.learning_rate)
        self.exploration_step_size = check_positive(
            "exploration_step_size", p.exploration_step_size
        )
        self.n_random_steps = check_int("n_random_steps", p.n_random_steps, 1)
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.seed = check_int("seed", p.seed, 0)
        self._check_more_parameters(p)

        start, self.optimizee_individual_dict_spec = dict_to_list(
            optimizee_create_individual(), get_dict_spec=True
        )
        if start.size == 0:
            raise ValueError("the individual has no parameters to optimize")
        rule = next(self.update_rules[t] for t in type(p).__mro__ if t in self.update_rules)
        self.update_rule = rule(p, start.size)
        for name, value in p._asdict().items():
            traj.f_add_parameter(name, value)

        self.rng = np.random.default_rng(self.seed)
        self.current_individual = self._bound(start)
        self.current_fitness = -math.inf
        self._sample_generation()
        self._expand_trajectory(traj)

    # -- hooks ----------------------------------------------------------------------------

    def _check_more_parameters(self, parameters):
        """Validates the fields a subclass adds."""

    def _n_points(self):
        raise NotImplementedError

    def _population(self, points):
        """The individuals to evaluate for `points` (an array, one point per row)."""
        raise NotImplementedError

    def _points_fitness(self, fitnesses_results):
        """Records the generation's results; returns one weighted fitness per point."""
        raise NotImplementedError

    def _stop_fitness(self, weighted):
        """The weighted fitness compared with ``stop_criterion``: the current individual's."""
        return weighted[-1]

    # -- the algorithm --------------------------------------------------------------------

    def _sample_generation(self):
        steps = self.rng.normal(
            0.0, self.exploration_step_size, (self._n_points() - 1, self.current_individual.size)
        )
        explored = [self._bound(self.current_individual + step) for step in steps]
        self.points = np.array(explored + [self.current_individual])
        self.eval_pop = self._population(self.points)

    def _bound(self, point):
        if self.optimizee_bounding_func is None:
            return np.array(point, dtype=float)
        bounded = dict_to_list(
            self.optimizee_bounding_func(list_to_dict(point, self.optimizee_individual_dict_spec))
        )
        if bounded.shape != point.shape:
            raise ValueError(
                f"optimizee_bounding_func changed the individual's size from {point.size} to "
                f"{bounded.size}"
            )
        return bounded

    def estimate_gradient(self, weighted):
        """The least-squares gradient of the weighted fitness at the current individual.

        Solves ``(x_i - x) . gradient ~ f_i - f`` over the explored points ``x_i`` with a
        pseudo-inverse; points with a non-finite fitness are left out.

        Args:
            weighted: the weighted fitness of every point of ``self.points`` (the current
                individual last).

        Returns:
            The gradient, or None when the current individual or every explored point has
            no finite fitness.
        """
        centre = weighted[-1]
        if not np.isfinite(centre):
            return None
        dx = self.points[:-1] - self.current_individual
        df = weighted[:-1] - centre
        usable = np.isfinite(df)
        if not usable.any():
            return None
        return np.linalg.pinv(dx[usable]) @ df[usable]

    def post_process(self, traj, fitnesses_results):
        """Takes the fitness of the generation, steps the current individual along the
        estimated gradient and, unless the run is over, expands the next generation.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every individual of
                the current generation, in any order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        weighted = self._points_fitness(fitnesses_results)
        self.current_fitness = float(weighted[-1])
        if self.g >= self.n_iteration - 1 or self._stop_fitness(weighted) >= self.stop_criterion:
            return
        gradient = self.estimate_gradient(weighted)
        if gradient is None:
            logger.warning(
                "generation %d: no finite fitness for the current individual or around it; no step",
                self.g,
            )
        else:
            moments = self.update_rule.get_state()
            step = self.update_rule.step(gradient, self.g, self.rng)
            if np.all(np.isfinite(step)):
                self.current_individual = self._bound(self.current_individual + step)
            else:
                self.update_rule.set_state(moments)
                logger.warning(
                    "generation %d: the step is not finite (fitness too large?); no step", self.g
                )
        self.g += 1
        self._sample_generation()
        self._expand_trajectory(traj)

    def get_state(self):
        """The base state plus the current individual, its fitness, the generation's points
        and the update rule's moments."""
        state = super().get_state()
        state.update(
            current_individual=self.current_individual.copy(),
            current_fitness=self.current_fitness,
            points=self.points.copy(),
            update_rule=self.update_rule.get_state(),
        )
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key, or its arrays do not match this optimizer's
                individual size and generation size.
        """
        missing = {"current_individual", "current_fitness", "points", "update_rule"} - set(state)
        if missing:
            raise ValueError(f"gradient descent state lacks {sorted(missing)}")
        points = np.asarray(state["points"], dtype=float)
        if points.shape != self.points.shape:
            raise ValueError(
                f"the saved generation has shape {points.shape}, this optimizer expects "
                f"{self.points.shape} (points, individual size)"
            )
        self.update_rule.set_state(state["update_rule"])
        super().set_state(state)
        self.current_individual = np.asarray(state["current_individual"], dtype=float).copy()
        self.current_fitness = float(state["current_fitness"])
        self.points = points.copy()


class GradientDescentOptimizer(FiniteDifferenceGradientOptimizer):
    """Gradient ascent on the weighted fitness with a finite-difference gradient, over the
    flattened individual. The type of `parameters` picks the update rule: classic,
    stochastic, Adam, AdaMax or RMSProp.

    Pseudo-code::

        x <- bound(optimizee_create_individual()) (flattened)
        for g in 0 .. n_iteration - 1:
            x_i <- bound(x + N(0, exploration_step_size^2) per element), i = 1 .. n_random_steps
            evaluate x_1 .. x_n, then x (the last ind_idx); f_i, f their weighted fitness
            stop if g is the last generation or f >= stop_criterion
            gradient <- pinv([x_i - x]) @ [f_i - f]      (least squares over the x_i)
            x <- bound(x + step(gradient))               (the rule of the parameters type)

    "Bound" maps an individual through ``optimizee_bounding_func`` when one is given.
    Explored points with a non-finite fitness (failed evaluations) are left out of the
    least squares; if the current individual or every explored point failed, x stays where
    it is and a new exploration is drawn. Every random number comes from
    ``numpy.random.default_rng(seed)`` and results are taken by ``ind_idx``, so a run is
    reproducible whatever the order in which the workers finish.

    Use it to refine a good starting point on a smooth objective of a few to a few dozen
    parameters; it needs about ``dimension + 1`` evaluations per step for a full gradient
    (fewer give a projection of it) and, being local, stops in the nearest optimum.

    Args:
        traj: the run's trajectory; gets every field of `parameters` as a parameter.
        optimizee_create_individual: returns a new individual dict; called once for the
            starting point.
        optimizee_fitness_weights: one weight per fitness value.
        parameters: a `ClassicGDParameters`, `StochasticGDParameters`, `AdamParameters`,
            `AdaMaxParameters` or `RMSPropParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        current_individual: the flattened current individual ``x``.
        current_fitness: its weighted fitness in the last evaluated generation (``-inf``
            before).
        points: the flattened individuals of the generation being evaluated (``x`` last).
        update_rule: the `UpdateRule` in use (its ``moments`` hold Adam's/RMSProp's
            averages).

    Raises:
        TypeError: `parameters` is none of the five types, or a field has the wrong type.
        ValueError: a field is out of range (e.g. "n_random_steps must be >= 1, got 0").

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> traj = Trajectory()
        >>> opt = GradientDescentOptimizer(
        ...     traj, lambda: {"x": np.array([2.0, -1.0])}, (-1.0,),
        ...     AdamParameters(learning_rate=0.1, n_random_steps=3, n_iteration=100, seed=1))
        >>> for g in range(100):
        ...     inds = traj.individuals[g]
        ...     opt.post_process(traj, [(i.ind_idx, (float(np.sum(i.x ** 2)),)) for i in inds])
        >>> len(traj.individuals[0]), bool(np.linalg.norm(opt.current_individual) < 0.05)
        (4, True)
    """

    parameters_type = (
        ClassicGDParameters,
        StochasticGDParameters,
        AdamParameters,
        AdaMaxParameters,
        RMSPropParameters,
    )
    update_rules = {
        ClassicGDParameters: ClassicGDRule,
        StochasticGDParameters: StochasticGDRule,
        AdamParameters: AdamRule,
        AdaMaxParameters: AdaMaxRule,
        RMSPropParameters: RMSPropRule,
    }

    def _n_points(self):
        return self.n_random_steps + 1

    def _population(self, points):
        return [list_to_dict(x, self.optimizee_individual_dict_spec) for x in points]

    def _points_fitness(self, fitnesses_results):
        _, weighted = self._record_generation(fitnesses_results)
        return weighted

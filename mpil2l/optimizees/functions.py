"""Benchmark functions and the optimizee that minimises them.

A function is described by a parameter namedtuple (``RastriginParameters()``), turned into a
callable by `FunctionGenerator` (which sums one or more functions and may add Gaussian
noise), and optimised through `FunctionGeneratorOptimizee`. `BenchmarkedFunctions` names
L2L's standard benchmarks by index and name.
"""

from collections import namedtuple

import numpy as np

from ..optimizee import Optimizee

RastriginParameters = namedtuple("RastriginParameters", [])
RosenbrockParameters = namedtuple("RosenbrockParameters", [])
AckleyParameters = namedtuple("AckleyParameters", [])


class Function:
    """A test function of `dims` variables, to be minimised.

    Args:
        params: the function's parameter namedtuple.
        dims: number of variables (>= 1).

    Raises:
        ValueError: `dims` is not an integer >= 1.

    Attributes:
        dims: number of variables.
        bound: ``(lower, upper)``, the default search box for every coordinate.
        minimum: ``(x_star, f_star)``, the global minimiser and minimum.
    """

    def __init__(self, params, dims):
        # `params` is the function's parameter namedtuple; the functions so far have none.
        if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
            raise ValueError(f"dims must be an integer >= 1, got {dims!r}")
        self.dims = int(dims)

    @property
    def minimum(self):
        raise NotImplementedError

    def __call__(self, x):
        raise NotImplementedError


class Rastrigin(Function):
    """``10 d + sum(x_i^2 - 10 cos(2 pi x_i))``: many regularly spaced local minima; global
    minimum 0 at the origin.

    Example:
        >>> Rastrigin(RastriginParameters(), dims=2)([0.0, 0.0])
        0.0
    """

    bound = (-5.0, 5.0)

    @property
    def minimum(self):
        return np.zeros(self.dims), 0.0

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        return float(np.sum(x**2 + 10.0 - 10.0 * np.cos(2.0 * np.pi * x)))


class Rosenbrock(Function):
    """``sum(100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2)``: a curved valley; global minimum 0 at
    ``(1, ..., 1)``.

    Example:
        >>> Rosenbrock(RosenbrockParameters(), dims=3)([1.0, 1.0, 1.0])
        0.0
    """

    bound = (-2.0, 2.0)

    @property
    def minimum(self):
        return np.ones(self.dims), 0.0

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


class Ackley(Function):
    """``20 + e - 20 exp(-0.2 sqrt(mean(x^2))) - exp(mean(cos(2 pi x)))``: a deep hole at the
    origin in a bumpy plateau; global minimum 0 at the origin.

    Example:
        >>> abs(Ackley(AckleyParameters(), dims=2)([0.0, 0.0])) < 1e-12
        True
    """

    bound = (-2.0, 2.0)

    @property
    def minimum(self):
        return np.zeros(self.dims), 0.0

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        return float(
            20.0
            + np.e
            - 20.0 * np.exp(-0.2 * np.sqrt(np.mean(x**2)))
            - np.exp(np.mean(np.cos(2.0 * np.pi * x)))
        )


# Parameter namedtuple type -> function class. A new function needs a parameter namedtuple,
# a `Function` subclass, an entry here and, to be a benchmark, a row in BENCHMARKS.
FUNCTION_CLASSES = {
    RastriginParameters: Rastrigin,
    RosenbrockParameters: Rosenbrock,
    AckleyParameters: Ackley,
}


class FunctionGenerator:
    """The sum of one or more test functions, optionally with additive Gaussian noise.

    Args:
        fg_params: a list of function parameter namedtuples (e.g. ``[RastriginParameters()]``).
        dims: number of variables.
        bound: ``(lower, upper)`` search box, or None for the widest box of the functions.
        noise: add ``N(mu, sigma)`` noise in `cost_function`.
        mu: mean of the noise.
        sigma: standard deviation of the noise (>= 0).

    Raises:
        TypeError: an entry of `fg_params` is not a known parameter namedtuple.
        ValueError: `fg_params` is empty, `dims` < 1, `sigma` < 0 or ``bound`` is not
            ``(lower, upper)`` with ``lower < upper``.

    Example:
        >>> fg = FunctionGenerator([RastriginParameters(), AckleyParameters()], dims=2)
        >>> fg.bound, abs(fg([0.0, 0.0])) < 1e-12
        ((-5.0, 5.0), True)
    """

    def __init__(self, fg_params, dims=2, bound=None, noise=False, mu=0.0, sigma=0.01):
        if not fg_params:
            raise ValueError("fg_params must hold at least one function's parameters, got []")
        self.functions = []
        for params in fg_params:
            function_class = FUNCTION_CLASSES.get(type(params))
            if function_class is None:
                raise TypeError(
                    f"unknown function parameters {type(params).__name__}; known: "
                    f"{sorted(t.__name__ for t in FUNCTION_CLASSES)}"
                )
            self.functions.append(function_class(params, dims))
        self.function_parameters = list(fg_params)
        self.dims = int(dims)
        if bound is None:
            bound = (
                min(f.bound[0] for f in self.functions),
                max(f.bound[1] for f in self.functions),
            )
        try:
            lower, upper = (float(b) for b in bound)
        except (TypeError, ValueError):
            raise ValueError(f"bound must be (lower, upper), got {bound!r}") from None
        if not lower < upper:
            raise ValueError(f"bound must have lower < upper, got {bound!r}")
        self.bound = (lower, upper)
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self.noise = bool(noise)
        self.mu = float(mu)
        self.sigma = float(sigma)

    def __call__(self, x):
        """The noise-free value at `x` (an array of `dims` floats)."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.dims,):
            raise ValueError(f"x must have shape ({self.dims},), got {x.shape}")
        return float(sum(f(x) for f in self.functions))

    def cost_function(self, x, rng=None):
        """The value at `x`, plus noise drawn from `rng` when the generator is noisy.

        Raises:
            ValueError: the generator is noisy and `rng` is None.
        """
        value = self(x)
        if self.noise:
            if rng is None:
                raise ValueError("a noisy function needs an rng (numpy.random.Generator) for the noise")
            value += float(rng.normal(self.mu, self.sigma))
        return value

    def get_params(self):
        """A description of the generator: ``dims``, the noise (if any) and the functions."""
        params = {"dims": self.dims}
        if self.noise:
            params.update(mu=self.mu, sigma=self.sigma)
        params["functions"] = [{type(p).__name__: dict(p._asdict())} for p in self.function_parameters]
        return params


# L2L's benchmark table, by index: (name, function parameters, dims).
BENCHMARKS = (
    ("Rastrigin2d", (RastriginParameters(),), 2),
    ("Rastrigin10d", (RastriginParameters(),), 10),
    ("Rosenbrock2d", (RosenbrockParameters(),), 2),
    ("Rosenbrock10d", (RosenbrockParameters(),), 10),
    ("Ackley2d", (AckleyParameters(),), 2),
    ("Ackley10d", (AckleyParameters(),), 10),
)


class BenchmarkedFunctions:
    """L2L's standard benchmark functions, by index or name.

    Both getters return ``((name, function_generator), parameters)`` as L2L does, with
    `parameters` a dict: ``benchmark_id`` followed by `FunctionGenerator.get_params`.

    Example:
        >>> (name, fg), params = BenchmarkedFunctions().get_function_by_index(2)
        >>> name, fg.dims, fg.bound, params["benchmark_id"]
        ('Rosenbrock2d', 2, (-2.0, 2.0), 2)
    """

    def __init__(self):
        self.function_names = [name for name, _, _ in BENCHMARKS]

    def get_function_by_index(self, idx, noise=False, mu=0.0, sigma=0.01):
        """The benchmark at position `idx` of the table.

        Args:
            idx: the benchmark's index.
            noise: add ``N(mu, sigma)`` noise to every evaluation.
            mu: mean of the noise.
            sigma: standard deviation of the noise.

        Returns:
            ``((name, FunctionGenerator), parameters_dict)``.

        Raises:
            ValueError: `idx` is not a valid index.
        """
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or not 0 <= idx < len(BENCHMARKS):
            raise ValueError(f"idx must be an integer in [0, {len(BENCHMARKS) - 1}], got {idx!r}")
        name, fg_params, dims = BENCHMARKS[idx]
        fg = FunctionGenerator(list(fg_params), dims=dims, noise=noise, mu=mu, sigma=sigma)
        return (name, fg), {"benchmark_id": int(idx), **fg.get_params()}

    def get_function_by_name(self, name, noise=False, mu=0.0, sigma=0.01):
        """The benchmark called `name` (e.g. ``'Ackley10d'``); see `get_function_by_index`.

        Raises:
            ValueError: no benchmark has that name.
        """
        try:
            idx = self.function_names.index(name)
        except ValueError:
            raise ValueError(f"no benchmark function named {name!r}; known: {self.function_names}") from None
        return self.get_function_by_index(idx, noise=noise, mu=mu, sigma=sigma)


class FunctionGeneratorOptimizee(Optimizee):
    """Minimises a `FunctionGenerator`: individuals are ``{'coords': array of dims floats}``.

    Use fitness weights ``(-1.0,)``: optimizers maximise. With a noisy generator, the noise
    of an evaluation is drawn from a generator seeded by ``(seed, generation, ind_idx)``, so
    an individual's fitness does not depend on which worker evaluates it, or when.

    Args:
        traj: the run's trajectory.
        fg_instance: the `FunctionGenerator` to minimise.
        seed: integer >= 0 seeding `create_individual` and the noise.

    Raises:
        ValueError: `seed` is not an integer >= 0.

    Example:
        >>> from mpil2l.trajectory import Individual, Trajectory
        >>> (_, fg), _ = BenchmarkedFunctions().get_function_by_name("Rastrigin2d")
        >>> traj = Trajectory()
        >>> optimizee = FunctionGeneratorOptimizee(traj, fg, seed=1)
        >>> traj.individual = Individual(0, 0, {"individual.coords": np.zeros(2)})
        >>> optimizee.simulate(traj)
        (0.0,)
    """

    def __init__(self, traj, fg_instance, seed):
        super().__init__(traj)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        self.fg_instance = fg_instance
        self.seed = int(seed)
        self.dims = fg_instance.dims
        self.bound = fg_instance.bound
        self.rng = np.random.default_rng(self.seed)

    def create_individual(self):
        """A point drawn uniformly in the bounds, from the optimizee's own generator."""
        return {"coords": self.rng.uniform(self.bound[0], self.bound[1], self.dims)}

    def bounding_func(self, individual):
        """Clips ``coords`` to the bounds."""
        return {"coords": np.clip(individual["coords"], self.bound[0], self.bound[1])}

    def simulate(self, traj):
        """The function's value at ``traj.individual.coords``, as ``(value,)``."""
        individual = traj.individual
        rng = None
        if self.fg_instance.noise:
            rng = np.random.default_rng([self.seed, int(individual.generation), int(individual.ind_idx)])
        return (self.fg_instance.cost_function(individual.coords, rng),)

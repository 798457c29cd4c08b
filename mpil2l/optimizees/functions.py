"""Benchmark functions and the optimizee that minimises them.

A function is described by a parameter namedtuple (``RastriginParameters()``,
``GaussianParameters(sigma=..., mean=...)``), turned into a callable by `FunctionGenerator`
(which sums one or more functions and may add Gaussian noise), and optimised through
`FunctionGeneratorOptimizee`. `BenchmarkedFunctions` names L2L's 15 standard benchmarks by
index and name. The parameter namedtuples, their field names, the default search boxes and
the function values are those of L2L, so L2L scripts port by changing their imports.

Every function is to be minimised. Its ``minimum`` is ``(x_star, f_star)`` where the global
minimum is known, else None:

============  ==================  ==================================================
function      search box          global minimum
============  ==================  ==================================================
Rastrigin     [-5, 5]             0 at the origin
Rosenbrock    [-2, 2]             0 at (1, ..., 1)
Ackley        [-2, 2]             0 at the origin
Chasm         [-2, 2] (2-d only)  0 at the origin
Gaussian      [-5, 5]             ``-1 / sqrt((2 pi)^d det(sigma))`` at ``mean``
Shekel        [0, 10]             default 2-d table: -5.76016091600 at (2.99624, 4.99590)
Langermann    [0, 10]             default 2-d table: -4.15580929185 at (2.79340, 1.59723)
Michalewicz   [0, pi]             computed per coordinate; m=10, 2-d: -1.80130341010
                                  at (2.20291, pi/2)
Permutation   [-d, d]             0 at (1, 2, ..., d)
Easom         [-10, 10]           -1 at (pi, ..., pi) for an even number of dimensions
============  ==================  ==================================================
"""

from collections import namedtuple

import numpy as np

from .base import Optimizee

# -- parameter namedtuples (L2L's names and fields) -------------------------------------------

RastriginParameters = namedtuple("RastriginParameters", [])
RastriginParameters.__doc__ = "Rastrigin has no parameters."

RosenbrockParameters = namedtuple("RosenbrockParameters", [])
RosenbrockParameters.__doc__ = "Rosenbrock has no parameters."

AckleyParameters = namedtuple("AckleyParameters", [])
AckleyParameters.__doc__ = "Ackley has no parameters."

ChasmParameters = namedtuple("ChasmParameters", [])
ChasmParameters.__doc__ = "Chasm has no parameters (and exists in 2 dimensions only)."

EasomParameters = namedtuple("EasomParameters", [])
EasomParameters.__doc__ = "Easom has no parameters."

GaussianParameters = namedtuple(
    "GaussianParameters", ["sigma", "mean"], defaults=("default", "default")
)
GaussianParameters.__doc__ = """Parameters of `Gaussian`, a negated multivariate normal density.

Fields:
    sigma: the covariance matrix, ``dims x dims``, symmetric positive definite (a positive
        scalar in 1 dimension). Default ``'default'``: the identity.
    mean: the peak's coordinates, ``dims`` floats (a scalar in 1 dimension). Default
        ``'default'``: the origin.
"""

ShekelParameters = namedtuple("ShekelParameters", ["A", "c"], defaults=("default", "default"))
ShekelParameters.__doc__ = """Parameters of `Shekel` (foxholes).

Fields:
    A: ``m x dims`` matrix, the centres of the m holes. Default ``'default'``: L2L's
        2-d table of 7 holes (needs dims=2).
    c: m positive floats, the inverse depths of the holes (smaller is deeper). Default
        ``'default'``: the table's ``[0.1, 0.2, 0.5, 0.2, 0.3, 0.1, 0.1]``. A and c are both
        ``'default'`` or both given.
"""

LangermannParameters = namedtuple(
    "LangermannParameters", ["A", "c"], defaults=("default", "default")
)
LangermannParameters.__doc__ = """Parameters of `Langermann`.

Fields:
    A: ``m x dims`` matrix, the centres of the m sub-functions. Default ``'default'``: the
        standard 2-d table of 5 centres (needs dims=2).
    c: m floats, the sub-functions' intensities. Default ``'default'``: ``[1, 2, 5, 2, 3]``.
        A and c are both ``'default'`` or both given.
"""

MichalewiczParameters = namedtuple("MichalewiczParameters", ["m"], defaults=(10,))
MichalewiczParameters.__doc__ = """Parameters of `Michalewicz`.

Fields:
    m: steepness of the valleys, > 0; larger is harder. Default 10 (L2L's ``'default'``,
        also accepted).
"""

PermutationParameters = namedtuple("PermutationParameters", ["beta"], defaults=(0.005,))
PermutationParameters.__doc__ = """Parameters of `Permutation`.

Fields:
    beta: >= 0, the gap between the global minimum and the local minima near its
        permutations; smaller is harder, 0 makes every permutation a global minimum.
        Default 0.005 (L2L's Permutation2d benchmark).
"""


def _is_number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def _is_default(value):
    """True for L2L's ``'default'`` marker (or None), which selects a standard table."""
    return value is None or (isinstance(value, str) and value == "default")


# -- functions ---------------------------------------------------------------------------------


class Function:
    """A test function of `dims` variables, to be minimised.

    Subclasses set `bound` and implement ``__call__`` (and `minimum` where it is known).

    Args:
        params: the function's parameter namedtuple.
        dims: number of variables (>= 1).

    Raises:
        ValueError: `dims` is not an integer >= 1.

    Attributes:
        dims: number of variables.
        bound: ``(lower, upper)``, the default search box for every coordinate.
        minimum: ``(x_star, f_star)``, the global minimiser and minimum, or None where unknown.
    """

    bound = (-5.0, 5.0)

    def __init__(self, params, dims):
        if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
            raise ValueError(f"dims must be an integer >= 1, got {dims!r}")
        self.dims = int(dims)
        self.params = params

    @property
    def minimum(self):
        return None

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(x)")


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


class Chasm(Function):
    """``1000 |x_1| / (1000 |x_1| + 1) + 0.01 |x_2|``: a flat plateau split by a narrow, steep
    chasm along ``x_1 = 0``; global minimum 0 at the origin. Two dimensions only.

    Raises:
        ValueError: `dims` is not 2.

    Example:
        >>> Chasm(ChasmParameters(), dims=2)([0.0, 1.0])
        0.01
    """

    bound = (-2.0, 2.0)

    def __init__(self, params, dims):
        super().__init__(params, dims)
        if self.dims != 2:
            raise ValueError(f"Chasm exists in 2 dimensions only, got dims={dims!r}")

    @property
    def minimum(self):
        return np.zeros(2), 0.0

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        steep = 1e3 * abs(x[0])
        return float(steep / (steep + 1.0) + 1e-2 * abs(x[1]))


class Gaussian(Function):
    """``-N(x; mean, sigma)``: the negated multivariate normal density, one smooth well;
    global minimum ``-1 / sqrt((2 pi)^d det(sigma))`` at ``mean``. Sums of Gaussians
    (L2L's 3Gaussians2d) give several wells of different depths.

    Raises:
        ValueError: `sigma` or `mean` has the wrong shape, or `sigma` is not symmetric
            positive definite.

    Example:
        >>> g = Gaussian(GaussianParameters(sigma=[[1.0, 0.0], [0.0, 1.0]], mean=[1.0, 2.0]), 2)
        >>> round(g([1.0, 2.0]) * 2 * np.pi, 12)
        -1.0
    """

    bound = (-5.0, 5.0)

    def __init__(self, params, dims):
        super().__init__(params, dims)
        d = self.dims
        sigma = np.eye(d) if _is_default(params.sigma) else np.array(params.sigma, dtype=float)
        mean = np.zeros(d) if _is_default(params.mean) else np.array(params.mean, dtype=float)
        if d == 1:
            sigma, mean = sigma.reshape(-1, 1), mean.reshape(-1)
        if sigma.shape != (d, d):
            raise ValueError(f"GaussianParameters.sigma must be {d} x {d}, got shape {sigma.shape}")
        if mean.shape != (d,):
            raise ValueError(
                f"GaussianParameters.mean must hold {d} values, got shape {mean.shape}"
            )
        if not np.allclose(sigma, sigma.T):
            raise ValueError(f"GaussianParameters.sigma must be symmetric, got {sigma.tolist()}")
        try:
            np.linalg.cholesky(sigma)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"GaussianParameters.sigma must be positive definite, got {sigma.tolist()}"
            ) from None
        self.sigma = sigma
        self.mean = mean
        self._precision = np.linalg.inv(sigma)
        self._peak = 1.0 / np.sqrt((2.0 * np.pi) ** d * np.linalg.det(sigma))

    @property
    def minimum(self):
        return self.mean.copy(), float(-self._peak)

    def __call__(self, x):
        diff = np.asarray(x, dtype=float).reshape(-1) - self.mean
        return float(-self._peak * np.exp(-0.5 * diff @ self._precision @ diff))


def _table(params, name, default_a, default_c, dims, positive_c):
    """The ``(A, c)`` of a Shekel or Langermann function, checked against `dims`."""
    if _is_default(params.A) and _is_default(params.c):
        if dims != 2:
            raise ValueError(
                f"the default {name}Parameters are 2-dimensional; give A and c for dims={dims}"
            )
        return np.array(default_a, dtype=float), np.array(default_c, dtype=float)
    if _is_default(params.A) or _is_default(params.c):
        raise ValueError(f"{name}Parameters.A and .c must both be 'default' or both be given")
    a = np.array(params.A, dtype=float)
    c = np.array(params.c, dtype=float).reshape(-1)
    if a.ndim != 2 or a.shape[1] != dims:
        raise ValueError(f"{name}Parameters.A must be m x {dims}, got shape {a.shape}")
    if a.shape[0] != c.size:
        raise ValueError(f"{name}Parameters.A has {a.shape[0]} rows but c has {c.size} values")
    if positive_c and not np.all(c > 0):
        raise ValueError(f"{name}Parameters.c must be > 0, got {c.tolist()}")
    return a, c


class _TableFunction(Function):
    """A function defined by a table of points ``A`` and weights ``c`` (Shekel, Langermann):
    ``"default"`` selects the class's 2-d table, whose minimum is known; other tables have
    none (None). Subclasses set ``_DEFAULT_A``, ``_DEFAULT_C``, ``_DEFAULT_MINIMUM`` and
    ``_POSITIVE_C`` (whether every c_i must be > 0)."""

    def __init__(self, params, dims):
        super().__init__(params, dims)
        self.is_default = _is_default(params.A) and _is_default(params.c)
        self.A, self.c = _table(
            params,
            type(self).__name__,
            self._DEFAULT_A,
            self._DEFAULT_C,
            self.dims,
            self._POSITIVE_C,
        )

    @property
    def minimum(self):
        if not self.is_default:
            return None
        x_star, f_star = self._DEFAULT_MINIMUM
        return np.array(x_star), f_star


class Shekel(_TableFunction):
    """Shekel's foxholes: ``-sum_i 1 / sum_j ((x_j - A_ij)^2 + c_i)``, one hole per row of A,
    deeper for smaller c_i.

    As in L2L, c_i is added once per coordinate (the textbook function adds it once), so a
    hole's depth is ``1 / (dims * c_i)``. The default 2-d table has its global minimum
    -5.76016091600 at (2.99624, 4.99590); the minimum of other tables is not known (None).

    Raises:
        ValueError: A and c do not match each other or `dims`, or a c_i is not > 0.

    Example:
        >>> round(Shekel(ShekelParameters(), 2).minimum[1], 6)
        -5.760161
    """

    bound = (0.0, 10.0)
    _POSITIVE_C = True
    _DEFAULT_A = [[3, 5], [5, 2], [2, 1], [3, 3], [2, 7], [1, 4], [7, 9]]
    _DEFAULT_C = [0.1, 0.2, 0.5, 0.2, 0.3, 0.1, 0.1]
    _DEFAULT_MINIMUM = ([2.9962377400636, 4.9958957448205], -5.760160916001224)

    def __call__(self, x):
        x = np.asarray(x, dtype=float).reshape(-1)
        depth = np.sum((x - self.A) ** 2, axis=1) + self.dims * self.c
        return float(-np.sum(1.0 / depth))


class Langermann(_TableFunction):
    """``sum_i c_i exp(-s_i / pi) cos(pi s_i)`` with ``s_i = |x - A_i|^2``: many unevenly spread
    local minima. The default 2-d table has its global minimum -4.15580929185 at
    (2.79340, 1.59723) (the -5.1621 often quoted is wrong); the minimum of other tables is not
    known (None).

    Raises:
        ValueError: A and c do not match each other or `dims`.

    Example:
        >>> round(Langermann(LangermannParameters(), 2).minimum[1], 6)
        -4.155809
    """

    bound = (0.0, 10.0)
    _POSITIVE_C = False
    _DEFAULT_A = [[3, 5], [5, 2], [2, 1], [1, 4], [7, 9]]
    _DEFAULT_C = [1, 2, 5, 2, 3]
    _DEFAULT_MINIMUM = ([2.7934022085853, 1.5972325019035], -4.155809291847787)

    def __call__(self, x):
        x = np.asarray(x, dtype=float).reshape(-1)
        s = np.sum((x - self.A) ** 2, axis=1)
        return float(np.sum(self.c * np.exp(-s / np.pi) * np.cos(np.pi * s)))


class Michalewicz(Function):
    """``-sum_i sin(x_i) sin(i x_i^2 / pi)^(2 m)``: steep narrow valleys, d! local minima.

    The function is a sum of one-variable terms, so `minimum` minimises each term on a fine
    grid refined by golden-section search (computed on first use, exact to about 1e-10). For
    m=10: 2-d -1.80130341010 at (2.20291, pi/2); 5-d -4.687658; 10-d -9.66015.

    Raises:
        ValueError: m is not a number > 0.

    Example:
        >>> round(Michalewicz(MichalewiczParameters(), 2).minimum[1], 8)
        -1.80130341
    """

    bound = (0.0, float(np.pi))

    def __init__(self, params, dims):
        super().__init__(params, dims)
        m = 10 if _is_default(params.m) else params.m
        if not _is_number(m) or not m > 0:
            raise ValueError(f"MichalewiczParameters.m must be a number > 0, got {params.m!r}")
        self.m = float(m)
        self._index = np.arange(1, self.dims + 1, dtype=float)
        self._minimum = None

    def _terms(self, t, index):
        return -np.sin(t) * np.sin(index * t**2 / np.pi) ** (2.0 * self.m)

    @property
    def minimum(self):
        if self._minimum is None:
            # Term i oscillates i times faster than term 1: a grid of 2000 i points resolves its
            # narrowest valley, then golden-section search in the two cells around the best point.
            ratio = (np.sqrt(5.0) - 1.0) / 2.0
            x_star = np.empty(self.dims)
            for k, index in enumerate(self._index):
                grid = np.linspace(0.0, np.pi, 2000 * int(index) + 1)
                best = grid[np.argmin(self._terms(grid, index))]
                lo, hi = max(best - grid[1], 0.0), min(best + grid[1], np.pi)
                for _ in range(80):
                    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
                    if self._terms(a, index) < self._terms(b, index):
                        hi = b
                    else:
                        lo = a
                x_star[k] = (lo + hi) / 2.0
            self._minimum = (x_star, self(x_star))
        x_star, f_star = self._minimum
        return x_star.copy(), f_star

    def __call__(self, x):
        x = np.asarray(x, dtype=float).reshape(-1)
        return float(np.sum(self._terms(x, self._index)))


class Permutation(Function):
    """``sum_k (sum_i (i^k + beta) ((x_i / i)^k - 1))^2`` for ``i, k = 1..d``: global minimum
    0 at ``(1, 2, ..., d)``, with local minima near its permutations that get as deep as the
    global one when beta approaches 0. Search box ``[-d, d]``.

    Raises:
        ValueError: beta is not a number >= 0.

    Example:
        >>> Permutation(PermutationParameters(beta=0.5), 3)([1.0, 2.0, 3.0])
        0.0
    """

    def __init__(self, params, dims):
        super().__init__(params, dims)
        beta = params.beta
        if not _is_number(beta) or not beta >= 0:
            raise ValueError(f"PermutationParameters.beta must be a number >= 0, got {beta!r}")
        self.beta = float(beta)
        self.bound = (-float(self.dims), float(self.dims))
        self._i = np.arange(1, self.dims + 1, dtype=float)

    @property
    def minimum(self):
        return self._i.copy(), 0.0

    def __call__(self, x):
        x = np.asarray(x, dtype=float).reshape(-1)
        k = self._i[:, None]  # rows: k, columns: i
        inner = np.sum((self._i**k + self.beta) * ((x / self._i) ** k - 1.0), axis=1)
        return float(np.sum(inner**2))


class Easom(Function):
    """``-prod(cos x_i) exp(-sum((x_i - pi)^2))``: flat almost everywhere, with a small hole;
    global minimum -1 at ``(pi, ..., pi)`` for an even number of dimensions (for an odd
    number the product of cosines is -1 there, and the minimum is not known: None).

    Example:
        >>> Easom(EasomParameters(), 2)([np.pi, np.pi])
        -1.0
    """

    bound = (-10.0, 10.0)

    @property
    def minimum(self):
        if self.dims % 2:
            return None
        return np.full(self.dims, np.pi), -1.0

    def __call__(self, x):
        x = np.asarray(x, dtype=float).reshape(-1)
        return float(-np.prod(np.cos(x)) * np.exp(-np.sum((x - np.pi) ** 2)))


# Parameter namedtuple type -> function class. A new function needs a parameter namedtuple,
# a `Function` subclass, an entry here and, to be a benchmark, a row in BENCHMARKS.
FUNCTION_CLASSES = {
    RastriginParameters: Rastrigin,
    RosenbrockParameters: Rosenbrock,
    AckleyParameters: Ackley,
    ChasmParameters: Chasm,
    GaussianParameters: Gaussian,
    ShekelParameters: Shekel,
    LangermannParameters: Langermann,
    MichalewiczParameters: Michalewicz,
    PermutationParameters: Permutation,
    EasomParameters: Easom,
}


class FunctionGenerator:
    """The sum of one or more test functions, optionally with additive Gaussian noise.

    Args:
        fg_params: a list of function parameter namedtuples (e.g. ``[RastriginParameters()]``);
            the generator's value is the sum of these functions.
        dims: number of variables.
        bound: ``(lower, upper)`` search box, or None for the widest box of the functions.
        noise: add ``N(mu, sigma)`` noise in `cost_function`.
        mu: mean of the noise.
        sigma: standard deviation of the noise (>= 0).

    Raises:
        TypeError: an entry of `fg_params` is not a known parameter namedtuple.
        ValueError: `fg_params` is empty, `dims` < 1, `sigma` < 0, ``bound`` is not
            ``(lower, upper)`` with ``lower < upper``, or a function rejects its parameters.

    Attributes:
        functions: the `Function` objects summed (L2L's name ``gen_functions`` also works).
        minimum: ``(x_star, f_star)`` where known: for one function, its minimum; for several
            whose minimisers coincide, that point and the sum of their minima; else None.

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

    @property
    def gen_functions(self):
        """L2L's name for `functions`."""
        return self.functions

    @property
    def minimum(self):
        minima = [f.minimum for f in self.functions]
        if any(m is None for m in minima):
            return None
        x_star = minima[0][0]
        if not all(np.allclose(x, x_star, rtol=0.0, atol=1e-12) for x, _ in minima):
            return None
        return x_star, float(sum(f for _, f in minima))

    def __call__(self, x):
        """The noise-free value at `x` (an array of `dims` floats)."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.dims,):
            raise ValueError(f"x must have shape ({self.dims},), got {x.shape}")
        return float(sum(f(x) for f in self.functions))

    def cost_function(self, x, rng=None, random_state=None):
        """The value at `x`, plus noise when the generator is noisy.

        Args:
            x: an array of `dims` floats.
            rng: the ``numpy.random.Generator`` (or ``RandomState``) the noise is drawn from.
            random_state: L2L's name for `rng`.

        Raises:
            ValueError: the generator is noisy and no rng is given.
        """
        value = self(x)
        if self.noise:
            rng = rng if rng is not None else random_state
            if rng is None:
                raise ValueError(
                    "a noisy function needs an rng (numpy.random.Generator) for the noise"
                )
            value += float(rng.normal(self.mu, self.sigma))
        return value

    def get_params(self):
        """A description of the generator: ``dims``, the noise (if any) and the functions."""
        params = {"dims": self.dims}
        if self.noise:
            params.update(mu=self.mu, sigma=self.sigma)
        params["functions"] = [
            {type(p).__name__: dict(p._asdict())} for p in self.function_parameters
        ]
        return params


def function_grid(fg, step=0.05, rng=None):
    """The values of a 2-d function on a regular grid over its bounds, e.g. to plot it.

    Args:
        fg: a 2-d `FunctionGenerator`.
        step: grid spacing (> 0); the grid is ``numpy.arange(lower, upper, step)`` per axis.
        rng: the noise generator, needed when `fg` is noisy (see `FunctionGenerator.cost_function`).

    Returns:
        ``(X, Y, Z)``, three 2-d arrays as from ``numpy.meshgrid``, ready for matplotlib's
        ``plot_surface(X, Y, Z)`` or ``contourf``.

    Raises:
        ValueError: `fg` is not 2-dimensional or `step` is not > 0.

    Example:
        >>> fg = FunctionGenerator([RastriginParameters()], dims=2, bound=(-1, 1))
        >>> X, Y, Z = function_grid(fg, step=0.5)
        >>> Z.shape, float(Z.min())
        ((4, 4), 0.0)
    """
    if fg.dims != 2:
        raise ValueError(f"function_grid needs a 2-dimensional function, got dims={fg.dims}")
    if not step > 0:
        raise ValueError(f"step must be > 0, got {step!r}")
    axis = np.arange(fg.bound[0], fg.bound[1], step)
    X, Y = np.meshgrid(axis, axis)
    Z = np.array([fg.cost_function(np.array([x, y]), rng) for x, y in zip(X.ravel(), Y.ravel())])
    return X, Y, Z.reshape(X.shape)


# L2L's benchmark table, by index: (name, function parameters, dims), the parameters spelled as
# L2L spells them so `get_params` describes a benchmark as L2L does.
_GAUSS2D = GaussianParameters(sigma=[[1.5, 0.1], [0.1, 0.3]], mean=[-1.0, -1.0])
BENCHMARKS = (
    ("Rastrigin2d", (RastriginParameters(),), 2),
    ("Rastrigin10d", (RastriginParameters(),), 10),
    ("Rosenbrock2d", (RosenbrockParameters(),), 2),
    ("Rosenbrock10d", (RosenbrockParameters(),), 10),
    ("Ackley2d", (AckleyParameters(),), 2),
    ("Ackley10d", (AckleyParameters(),), 10),
    ("Chasm", (ChasmParameters(),), 2),
    ("Gauss2d", (_GAUSS2D,), 2),
    ("Shekel2d", (ShekelParameters(A="default", c="default"),), 2),
    ("Langermann2d", (LangermannParameters(A="default", c="default"),), 2),
    ("Michalewicz2d", (MichalewiczParameters(m="default"),), 2),
    ("Permutation2d", (PermutationParameters(beta=0.005),), 2),
    ("Easom2d", (EasomParameters(),), 2),
    ("Easom10d", (EasomParameters(),), 10),
    (
        "3Gaussians2d",
        (
            _GAUSS2D,
            GaussianParameters(sigma=[[0.25, 0.3], [0.3, 1.0]], mean=[1.0, 1.0]),
            GaussianParameters(sigma=[[0.5, 0.25], [0.25, 1.3]], mean=[2.0, -2.0]),
        ),
        2,
    ),
)


class BenchmarkedFunctions:
    """L2L's 15 standard benchmark functions, by index or name.

    ==  =============  =====  ===========  ===============================================
    #   name           dims   bound        global minimum
    ==  =============  =====  ===========  ===============================================
    0   Rastrigin2d    2      [-5, 5]      0 at (0, 0)
    1   Rastrigin10d   10     [-5, 5]      0 at the origin
    2   Rosenbrock2d   2      [-2, 2]      0 at (1, 1)
    3   Rosenbrock10d  10     [-2, 2]      0 at (1, ..., 1)
    4   Ackley2d       2      [-2, 2]      0 at (0, 0)
    5   Ackley10d      10     [-2, 2]      0 at the origin
    6   Chasm          2      [-2, 2]      0 at (0, 0)
    7   Gauss2d        2      [-5, 5]      -0.239934 at (-1, -1)
    8   Shekel2d       2      [0, 10]      -5.760161 at (2.99624, 4.99590)
    9   Langermann2d   2      [0, 10]      -4.155809 at (2.79340, 1.59723)
    10  Michalewicz2d  2      [0, pi]      -1.801303 at (2.20291, 1.57080)
    11  Permutation2d  2      [-2, 2]      0 at (1, 2)
    12  Easom2d        2      [-10, 10]    -1 at (pi, pi)
    13  Easom10d       10     [-10, 10]    -1 at (pi, ..., pi)
    14  3Gaussians2d   2      [-5, 5]      -0.398475 at (0.99906, 0.99510) (numerical;
                                           ``fg.minimum`` is None for this sum)
    ==  =============  =====  ===========  ===============================================

    Both getters return ``((name, function_generator), parameters)`` as L2L does, with
    `parameters` a dict: ``benchmark_id`` followed by `FunctionGenerator.get_params`.

    Attributes:
        function_names: the names, by index.
        function_name_index_map: name -> index (L2L's name for this map).

    Example:
        >>> (name, fg), params = BenchmarkedFunctions().get_function_by_index(2)
        >>> name, fg.dims, fg.bound, params["benchmark_id"]
        ('Rosenbrock2d', 2, (-2.0, 2.0), 2)
    """

    def __init__(self):
        self.function_names = [name for name, _, _ in BENCHMARKS]
        self.function_name_index_map = {name: idx for idx, name in enumerate(self.function_names)}

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
        if (
            isinstance(idx, bool)
            or not isinstance(idx, (int, np.integer))
            or not 0 <= idx < len(BENCHMARKS)
        ):
            raise ValueError(f"idx must be an integer in [0, {len(BENCHMARKS) - 1}], got {idx!r}")
        name, fg_params, dims = BENCHMARKS[idx]
        fg = FunctionGenerator(list(fg_params), dims=dims, noise=noise, mu=mu, sigma=sigma)
        return (name, fg), self.get_params(fg, idx)

    def get_function_by_name(self, name, noise=False, mu=0.0, sigma=0.01):
        """The benchmark called `name` (e.g. ``'Ackley10d'``); see `get_function_by_index`.

        Raises:
            ValueError: no benchmark has that name.
        """
        try:
            idx = self.function_name_index_map[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"no benchmark function named {name!r}; known: {self.function_names}"
            ) from None
        return self.get_function_by_index(idx, noise=noise, mu=mu, sigma=sigma)

    def get_params(self, fg_object, idx):
        """``{'benchmark_id': idx, **fg_object.get_params()}``."""
        return {"benchmark_id": int(idx), **fg_object.get_params()}


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
        >>> from mpil2l.model.trajectory import Individual, Trajectory
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
            rng = np.random.default_rng(
                [self.seed, int(individual.generation), int(individual.ind_idx)]
            )
        return (self.fg_instance.cost_function(individual.coords, rng),)

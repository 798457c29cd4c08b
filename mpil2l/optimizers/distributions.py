"""Sampling distributions for the cross-entropy optimizers (`CrossEntropyOptimizer`,
`FACEOptimizer`).

A distribution is fitted to the elite individuals of a generation (rows of a 2-d array, one
column per element of the flattened individual) and sampled to make the next one. Fitting can
be *smoothed*: with ``smooth_update = s`` every fitted quantity becomes
``s * old + (1 - s) * new``.

* `Gaussian`: one multivariate normal, maximum-likelihood mean and covariance.
* `NoisyGaussian`: a `Gaussian` whose sampling covariance gets extra diagonal variance,
  ``|N(0, noise_magnitude * coordinate_scale)|`` redrawn at every fit, the magnitude decaying
  by ``noise_decay`` per fit; it keeps the search from collapsing too early.
* `BayesianGaussianMixture`, `NoisyBayesianGaussianMixture`: the same with a mixture of
  normals fitted by scikit-learn's variational ``BayesianGaussianMixture`` (which drives
  the weights of unneeded components towards zero), for multi-modal problems. They need the
  optional extra: ``pip install mpil2l[sklearn]``.

Objects built by the user are *templates*: an optimizer works on a fresh `clone`, so one
object can serve several optimizers or runs. Every random number comes from the
``numpy.random.Generator`` the optimizer hands over with `Distribution.init_random_state`
(scikit-learn's initialisation gets a seed drawn from it), so a run is reproducible from the
optimizer's seed, and `Distribution.get_state` / `Distribution.set_state` carry the fitted
parameters through a checkpoint.
"""

import logging
import warnings

import numpy as np

from ._shared import check_int, check_real

logger = logging.getLogger("mpil2l.optimizers.distributions")

SKLEARN_HINT = "pip install mpil2l[sklearn]"


def _import_sklearn_mixture():
    try:
        import sklearn.mixture
    except ImportError as exc:
        raise ImportError(
            f"the Bayesian Gaussian mixture distributions need scikit-learn: {SKLEARN_HINT} "
            "(or pip install scikit-learn)"
        ) from exc
    return sklearn.mixture


def _check_data(data, dimension):
    """`data` as a finite float array of shape (n >= 1, d), d matching `dimension` if set."""
    data = np.asarray(data, dtype=float)
    if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] < 1:
        raise ValueError(
            "data_list must be a 2-d array with one individual per row (at least one), got shape "
            f"{data.shape}"
        )
    if not np.all(np.isfinite(data)):
        raise ValueError("data_list must hold finite numbers only")
    if dimension is not None and data.shape[1] != dimension:
        raise ValueError(
            f"data_list has {data.shape[1]} columns but the distribution was fitted to {dimension}"
        )
    return data


def _check_scale(coordinate_scale):
    if coordinate_scale is None:
        return None
    scale = np.asarray(coordinate_scale, dtype=float)
    if scale.ndim > 1 or not np.all(np.isfinite(scale)) or np.any(scale < 0):
        raise ValueError(
            "coordinate_scale must be None, a number or a 1-d array of finite numbers >= 0, "
            f"got {coordinate_scale!r}"
        )
    return scale


def _scale_for(scale, dimension):
    """The per-coordinate noise scale for `dimension` coordinates."""
    if scale is None:
        return np.ones(dimension)
    if scale.ndim == 1 and scale.size != dimension:
        raise ValueError(
            f"coordinate_scale has {scale.size} entries but the individuals have {dimension} "
            "elements"
        )
    return np.broadcast_to(scale, (dimension,)).astype(float)


def sample_normal(rng, mean, cov, n):
    """`n` rows drawn from ``N(mean, cov)`` with `rng`.

    `cov` may be singular: it is symmetrised and its negative eigenvalues (round-off) are
    treated as zero, so a collapsed covariance yields copies of the mean rather than an error.
    """
    mean = np.asarray(mean, dtype=float)
    cov = np.asarray(cov, dtype=float)
    eigenvalues, eigenvectors = np.linalg.eigh(0.5 * (cov + cov.T))
    root = eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
    z = rng.standard_normal((int(n), mean.size))
    return mean + z @ root.T


def _array_or_none(value):
    return None if value is None else np.array(value, dtype=float)


class Distribution:
    """Base class of the distributions: fit to rows of data, sample rows.

    Subclasses implement `fit`, `sample`, `get_params`, `get_state` and `set_state`, and keep
    the constructor arguments in ``self._init_args`` for `clone`.

    Attributes:
        random_state: the ``numpy.random.Generator`` every random number is drawn from, set
            by `init_random_state` (None before).
    """

    def __init__(self):
        self.random_state = None
        self._init_args = {}

    def clone(self):
        """A new, unfitted distribution with the same constructor arguments and no
        generator."""
        return type(self)(**self._init_args)

    def init_random_state(self, random_state):
        """Sets the generator used to fit and sample; optimizers call it on their clone.

        Raises:
            TypeError: `random_state` is not a ``numpy.random.Generator``.
        """
        if not isinstance(random_state, np.random.Generator):
            raise TypeError(
                "random_state must be a numpy.random.Generator (np.random.default_rng(seed)), "
                f"got {type(random_state).__name__}"
            )
        self.random_state = random_state

    def _require_rng(self):
        if self.random_state is None:
            raise RuntimeError(
                f"{type(self).__name__} has no generator: call init_random_state(rng) first"
            )

    def fit(self, data_list, smooth_update=0.0):
        """Fits the distribution to the rows of `data_list`.

        Args:
            data_list: array-like of shape (n, d), one individual per row.
            smooth_update: weight in ``[0, 1)`` of the previous parameters; the first fit
                ignores it.

        Returns:
            A dict describing the new parametrization (numpy arrays).
        """
        raise NotImplementedError

    def sample(self, n_individuals):
        """Draws `n_individuals` rows (an array of shape (n_individuals, d))."""
        raise NotImplementedError

    def get_params(self):
        """The settings of the distribution: ``distribution_name`` and the constructor
        arguments."""
        return {"distribution_name": type(self).__name__}

    def get_state(self):
        """The fitted parameters, as plain picklable values (no generator)."""
        raise NotImplementedError

    def set_state(self, state):
        """Restores a state returned by `get_state` of the same class."""
        raise NotImplementedError

    def _check_state(self, state, keys):
        if not isinstance(state, dict) or state.get("distribution_name") != type(self).__name__:
            name = (
                state.get("distribution_name") if isinstance(state, dict) else type(state).__name__
            )
            raise ValueError(f"cannot restore a {name} state into a {type(self).__name__}")
        missing = set(keys) - set(state)
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks {sorted(missing)}")

    @staticmethod
    def _check_smoothing(smooth_update):
        return check_real("smooth_update", smooth_update, 0.0, 1.0)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._init_args.items())
        return f"{type(self).__name__}({args})"


class Gaussian(Distribution):
    """A multivariate normal distribution.

    `fit` takes the sample mean and the sample covariance (``ddof=1``; zero for a single
    row), smoothed with the previous ones. With as many or fewer fitted rows than
    dimensions the covariance is singular and the search can collapse onto a subspace; use
    `NoisyGaussian` or smoothing against that.

    Example:
        >>> dist = Gaussian()
        >>> dist.init_random_state(np.random.default_rng(0))
        >>> params = dist.fit([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
        >>> params["mean"].tolist(), dist.sample(3).shape
        ([1.0, 1.0], (3, 2))
    """

    def __init__(self):
        super().__init__()
        self.mean = None
        self.cov = None

    @property
    def dimension(self):
        """Number of coordinates, None before the first fit."""
        return None if self.mean is None else self.mean.size

    def fit(self, data_list, smooth_update=0.0):
        """Fits mean and covariance; see `Distribution.fit`.

        Returns:
            ``{'mean': ..., 'covariance_matrix': ...}``.

        Raises:
            ValueError: `data_list` is not a non-empty 2-d array of finite numbers of the
                fitted width, or `smooth_update` is outside ``[0, 1]``.
        """
        self._require_rng()
        smooth_update = self._check_smoothing(smooth_update)
        self._fit_gaussian(_check_data(data_list, self.dimension), smooth_update)
        return {"mean": self.mean.copy(), "covariance_matrix": self.cov.copy()}

    def _fit_gaussian(self, data, smooth_update):
        mean = data.mean(axis=0)
        if data.shape[0] > 1:
            cov = np.atleast_2d(np.cov(data, rowvar=False))
        else:
            cov = np.zeros((data.shape[1], data.shape[1]))
        if self.mean is None:
            self.mean, self.cov = mean, cov
        else:
            self.mean = smooth_update * self.mean + (1.0 - smooth_update) * mean
            self.cov = smooth_update * self.cov + (1.0 - smooth_update) * cov
        logger.debug("Gaussian mean %s, covariance %s", self.mean, self.cov.tolist())

    def _sampling_cov(self):
        return self.cov

    def sample(self, n_individuals):
        """Draws `n_individuals` rows from the fitted normal.

        Raises:
            RuntimeError: no generator, or not fitted yet.
        """
        self._require_rng()
        n_individuals = check_int("n_individuals", n_individuals, 0)
        if self.mean is None:
            raise RuntimeError(f"{type(self).__name__} must be fitted before sampling")
        return sample_normal(self.random_state, self.mean, self._sampling_cov(), n_individuals)

    def get_state(self):
        return {
            "distribution_name": type(self).__name__,
            "mean": _array_or_none(self.mean),
            "cov": _array_or_none(self.cov),
        }

    def set_state(self, state):
        """Restores the fitted mean and covariance.

        Raises:
            ValueError: `state` comes from another class or lacks a key.
        """
        self._check_state(state, ("mean", "cov"))
        self.mean = _array_or_none(state["mean"])
        self.cov = _array_or_none(state["cov"])


class NoisyGaussian(Gaussian):
    """A `Gaussian` sampled with extra diagonal variance that decays over the fits.

    After each fit, ``noise_value = |N(0, current_noise_magnitude * coordinate_scale)|`` is
    drawn (one value per coordinate) and sampling uses ``cov + diag(noise_value)``; then
    ``current_noise_magnitude *= noise_decay``. The smoothed covariance itself stays free of
    noise. Use it when a plain `Gaussian` converges prematurely (few elite rows, many
    dimensions).

    Args:
        noise_magnitude: initial magnitude of the added variance (>= 0). Default 1.0.
        coordinate_scale: None, a number or one number >= 0 per coordinate, multiplying the
            magnitude per coordinate (use it when coordinates have different ranges).
            Default None (1 for every coordinate).
        noise_decay: factor in ``[0, 1]`` applied to the magnitude after each fit.
            Default 0.95.

    Raises:
        TypeError, ValueError: an argument has the wrong type or range.

    Example:
        >>> dist = NoisyGaussian(noise_magnitude=0.5, noise_decay=0.9)
        >>> dist.init_random_state(np.random.default_rng(0))
        >>> params = dist.fit([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
        >>> sorted(params), round(dist.current_noise_magnitude, 2)
        (['covariance_matrix', 'mean', 'noise_value'], 0.45)
    """

    def __init__(self, noise_magnitude=1.0, coordinate_scale=None, noise_decay=0.95):
        super().__init__()
        self.noise_magnitude = check_real("noise_magnitude", noise_magnitude, 0.0)
        self.coordinate_scale = _check_scale(coordinate_scale)
        self.noise_decay = check_real("noise_decay", noise_decay, 0.0, 1.0)
        self._init_args = {
            "noise_magnitude": noise_magnitude,
            "coordinate_scale": coordinate_scale,
            "noise_decay": noise_decay,
        }
        self.current_noise_magnitude = self.noise_magnitude
        self.noise_value = None
        self.noisy_cov = None

    def get_params(self):
        return {
            "distribution_name": type(self).__name__,
            "noise_magnitude": self.noise_magnitude,
            "coordinate_scale": self.coordinate_scale,
            "noise_decay": self.noise_decay,
        }

    def fit(self, data_list, smooth_update=0.0):
        """Fits like `Gaussian.fit`, then redraws the noise and decays its magnitude.

        Returns:
            ``{'mean', 'covariance_matrix' (with the noise), 'noise_value'}``.

        Raises:
            ValueError: as `Gaussian.fit`, or `coordinate_scale` does not match the width.
        """
        self._require_rng()
        smooth_update = self._check_smoothing(smooth_update)
        data = _check_data(data_list, self.dimension)
        scale = _scale_for(self.coordinate_scale, data.shape[1])
        self._fit_gaussian(data, smooth_update)
        self.noise_value = np.abs(
            self.random_state.normal(0.0, self.current_noise_magnitude * scale)
        )
        self.noisy_cov = self.cov + np.diag(self.noise_value)
        self.current_noise_magnitude *= self.noise_decay
        return {
            "mean": self.mean.copy(),
            "covariance_matrix": self.noisy_cov.copy(),
            "noise_value": self.noise_value.copy(),
        }

    def _sampling_cov(self):
        return self.noisy_cov

    def get_state(self):
        state = super().get_state()
        state.update(
            current_noise_magnitude=self.current_noise_magnitude,
            noise_value=_array_or_none(self.noise_value),
            noisy_cov=_array_or_none(self.noisy_cov),
        )
        return state

    def set_state(self, state):
        """Restores the fitted parameters and the noise.

        Raises:
            ValueError: `state` comes from another class or lacks a key.
        """
        self._check_state(
            state, ("mean", "cov", "current_noise_magnitude", "noise_value", "noisy_cov")
        )
        super().set_state(state)
        self.current_noise_magnitude = float(state["current_noise_magnitude"])
        self.noise_value = _array_or_none(state["noise_value"])
        self.noisy_cov = _array_or_none(state["noisy_cov"])


def _full_covariances(model, n_components, dimension):
    """The fitted covariances of a scikit-learn mixture as (k, d, d) matrices."""
    cov = np.asarray(model.covariances_, dtype=float)
    kind = model.covariance_type
    if kind == "full":
        return cov.copy()
    if kind == "tied":
        return np.repeat(cov[None, :, :], n_components, axis=0)
    if kind == "diag":
        return np.stack([np.diag(c) for c in cov])
    # spherical: one variance per component
    return cov[:, None, None] * np.eye(dimension)[None, :, :]


def _match_components(old_means, new_means):
    """``order`` such that ``new_means[order[i]]`` is paired with ``old_means[i]``: greedily,
    the closest remaining pair first (component labels are arbitrary between two fits)."""
    k = len(old_means)
    distances = np.sum((old_means[:, None, :] - new_means[None, :, :]) ** 2, axis=-1)
    order = np.full(k, -1)
    used_new = np.zeros(k, dtype=bool)
    for flat in np.argsort(distances, axis=None, kind="stable"):
        i, j = divmod(int(flat), k)
        if order[i] < 0 and not used_new[j]:
            order[i] = j
            used_new[j] = True
    return order


class BayesianGaussianMixture(Distribution):
    """A mixture of `n_components` normals fitted by scikit-learn's variational
    ``sklearn.mixture.BayesianGaussianMixture``.

    The variational fit tends to give near-zero weight to components the data does not need,
    so `n_components` is an upper bound on the number of modes. Each `fit` builds a new
    scikit-learn model, seeded with a number drawn from the optimizer's generator. With
    smoothing, the new components are first paired with the old ones (closest means first),
    then weights, means and covariances are blended. Sampling draws the component counts
    from a multinomial of the weights and each component's rows from its normal, all from
    the optimizer's generator. Use it for multi-modal fitness landscapes; it costs a
    scikit-learn fit per generation and needs ``pip install mpil2l[sklearn]``.

    Args:
        n_components: number of mixture components (>= 1). Default 2.
        **kwargs: passed to ``sklearn.mixture.BayesianGaussianMixture`` (e.g.
            ``covariance_type``, ``weight_concentration_prior``, ``max_iter``);
            ``weight_concentration_prior_type`` defaults to ``'dirichlet_distribution'``.
            ``random_state`` is refused: it comes from the optimizer's seed.

    Raises:
        ImportError: scikit-learn is not installed.
        TypeError: an unknown keyword argument for scikit-learn, or a bad `n_components`.
        ValueError: `n_components` < 1 or a ``random_state`` keyword.

    Example:
        >>> dist = BayesianGaussianMixture(n_components=2)  # doctest: +SKIP
    """

    def __init__(self, n_components=2, **kwargs):
        super().__init__()
        self._mixture_module = None
        self.n_components = check_int("n_components", n_components, 1)
        if "random_state" in kwargs:
            raise ValueError("random_state is drawn from the optimizer's seed; do not pass it")
        self.sklearn_kwargs = dict(kwargs)
        self.sklearn_kwargs.setdefault("weight_concentration_prior_type", "dirichlet_distribution")
        self._make_model(0)  # fails early on an unknown keyword, or without scikit-learn
        self._init_args = {"n_components": n_components, **kwargs}
        self.weights = None
        self.means = None
        self.covariances = None

    def _make_model(self, seed):
        mixture = _import_sklearn_mixture()
        try:
            return mixture.BayesianGaussianMixture(
                n_components=self.n_components, random_state=seed, **self.sklearn_kwargs
            )
        except TypeError as exc:
            raise TypeError(
                f"bad keyword argument for sklearn.mixture.BayesianGaussianMixture: {exc}"
            ) from None

    @property
    def dimension(self):
        """Number of coordinates, None before the first fit."""
        return None if self.means is None else self.means.shape[1]

    def get_params(self):
        return {
            "distribution_name": type(self).__name__,
            "n_components": self.n_components,
            **{k: v for k, v in self._init_args.items() if k != "n_components"},
        }

    def fit(self, data_list, smooth_update=0.0):
        """Fits the mixture; see `Distribution.fit`.

        With fewer rows than components after the first fit, the previous mixture is kept
        (a warning is logged).

        Returns:
            ``{'weights': (k,), 'means': (k, d), 'covariances': (k, d, d)}`` (plus
            ``noise_value`` for the noisy variant).

        Raises:
            ValueError: bad data, or fewer rows than components at the first fit.
        """
        self._require_rng()
        smooth_update = self._check_smoothing(smooth_update)
        data = _check_data(data_list, self.dimension)
        self._check_noise_scale(data.shape[1])
        seed = int(self.random_state.integers(2**31 - 1))
        if data.shape[0] < self.n_components:
            if self.means is None:
                raise ValueError(
                    f"{type(self).__name__} with n_components={self.n_components} needs at least "
                    f"{self.n_components} individuals to fit, got {data.shape[0]}"
                )
            logger.warning(
                "%d individual(s) to fit %d components: keeping the previous mixture",
                data.shape[0],
                self.n_components,
            )
        else:
            model = self._make_model(seed)
            with warnings.catch_warnings():
                # A short variational fit that has not converged is still a useful update.
                warnings.simplefilter("ignore")
                model.fit(data)
            weights = np.asarray(model.weights_, dtype=float)
            means = np.asarray(model.means_, dtype=float)
            covariances = _full_covariances(model, self.n_components, data.shape[1])
            if self.means is None:
                self.weights, self.means, self.covariances = weights, means, covariances
            else:
                order = _match_components(self.means, means)
                s = smooth_update
                self.weights = s * self.weights + (1.0 - s) * weights[order]
                self.weights /= self.weights.sum()
                self.means = s * self.means + (1.0 - s) * means[order]
                self.covariances = s * self.covariances + (1.0 - s) * covariances[order]
        self._after_fit()
        logger.debug("mixture weights %s, means %s", self.weights, self.means.tolist())
        return self._params()

    def _check_noise_scale(self, dimension):
        pass

    def _after_fit(self):
        pass

    def _params(self):
        return {
            "weights": self.weights.copy(),
            "means": self.means.copy(),
            "covariances": self.covariances.copy(),
        }

    def _sampling_covariances(self):
        return self.covariances

    def sample(self, n_individuals):
        """Draws `n_individuals` rows from the fitted mixture, in random order.

        Raises:
            RuntimeError: no generator, or not fitted yet.
        """
        self._require_rng()
        n_individuals = check_int("n_individuals", n_individuals, 0)
        if self.means is None:
            raise RuntimeError(f"{type(self).__name__} must be fitted before sampling")
        rng = self.random_state
        counts = rng.multinomial(n_individuals, self.weights / self.weights.sum())
        covariances = self._sampling_covariances()
        rows = [
            sample_normal(rng, self.means[k], covariances[k], counts[k])
            for k in range(self.n_components)
        ]
        samples = np.concatenate(rows, axis=0)
        return samples[rng.permutation(n_individuals)]

    def get_state(self):
        return {
            "distribution_name": type(self).__name__,
            "weights": _array_or_none(self.weights),
            "means": _array_or_none(self.means),
            "covariances": _array_or_none(self.covariances),
        }

    def set_state(self, state):
        """Restores the fitted mixture.

        Raises:
            ValueError: `state` comes from another class, lacks a key or has another number
                of components.
        """
        self._check_state(state, ("weights", "means", "covariances"))
        means = _array_or_none(state["means"])
        if means is not None and means.shape[0] != self.n_components:
            raise ValueError(
                f"the saved mixture has {means.shape[0]} components, this one {self.n_components}"
            )
        self.weights = _array_or_none(state["weights"])
        self.means = means
        self.covariances = _array_or_none(state["covariances"])


class NoisyBayesianGaussianMixture(BayesianGaussianMixture):
    """A `BayesianGaussianMixture` sampled with extra diagonal variance that decays over the
    fits, as `NoisyGaussian` does for one normal.

    After each fit, every component ``k`` gets its own
    ``noise_value[k] = |N(0, current_noise_magnitude * coordinate_scale)|`` added to the
    diagonal of its sampling covariance; then ``current_noise_magnitude *= noise_decay``.

    Args:
        n_components: number of mixture components (>= 1). Default 2.
        noise_magnitude: initial magnitude of the added variance (>= 0). Default 1.0.
        coordinate_scale: None, a number or one number >= 0 per coordinate. Default None.
        noise_decay: factor in ``[0, 1]`` applied to the magnitude after each fit.
            Default 0.95.
        **kwargs: passed to ``sklearn.mixture.BayesianGaussianMixture``.

    Raises:
        ImportError: scikit-learn is not installed.
        TypeError, ValueError: an argument has the wrong type or range.
    """

    def __init__(
        self, n_components=2, noise_magnitude=1.0, coordinate_scale=None, noise_decay=0.95, **kwargs
    ):
        super().__init__(n_components, **kwargs)
        self.noise_magnitude = check_real("noise_magnitude", noise_magnitude, 0.0)
        self.coordinate_scale = _check_scale(coordinate_scale)
        self.noise_decay = check_real("noise_decay", noise_decay, 0.0, 1.0)
        self._init_args = {
            "n_components": n_components,
            "noise_magnitude": noise_magnitude,
            "coordinate_scale": coordinate_scale,
            "noise_decay": noise_decay,
            **kwargs,
        }
        self.current_noise_magnitude = self.noise_magnitude
        self.noise_value = None
        self.noisy_covariances = None

    def _check_noise_scale(self, dimension):
        _scale_for(self.coordinate_scale, dimension)

    def _after_fit(self):
        scale = _scale_for(self.coordinate_scale, self.means.shape[1])
        self.noise_value = np.abs(
            self.random_state.normal(
                0.0, self.current_noise_magnitude * scale, size=self.means.shape
            )
        )
        self.noisy_covariances = self.covariances + np.stack([np.diag(v) for v in self.noise_value])
        self.current_noise_magnitude *= self.noise_decay

    def _params(self):
        params = super()._params()
        params["covariances"] = self.noisy_covariances.copy()
        params["noise_value"] = self.noise_value.copy()
        return params

    def _sampling_covariances(self):
        return self.noisy_covariances

    def get_state(self):
        state = super().get_state()
        state.update(
            current_noise_magnitude=self.current_noise_magnitude,
            noise_value=_array_or_none(self.noise_value),
            noisy_covariances=_array_or_none(self.noisy_covariances),
        )
        return state

    def set_state(self, state):
        """Restores the fitted mixture and the noise.

        Raises:
            ValueError: as `BayesianGaussianMixture.set_state`.
        """
        self._check_state(
            state,
            (
                "weights",
                "means",
                "covariances",
                "current_noise_magnitude",
                "noise_value",
                "noisy_covariances",
            ),
        )
        super().set_state(state)
        self.current_noise_magnitude = float(state["current_noise_magnitude"])
        self.noise_value = _array_or_none(state["noise_value"])
        self.noisy_covariances = _array_or_none(state["noisy_covariances"])

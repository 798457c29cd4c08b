"""The ensemble Kalman filter (ensemble Kalman inversion) as an optimizer.

L2L's EnKF was written for one neural-network optimizee: `simulate` returned a dict with the
network's outputs, the optimizer loaded MNIST labels as targets, and the individuals carried
the training data. Here the optimizee is an ordinary one: each individual is one ensemble
member (its flattened parameters) and `simulate` returns a fitness tuple; the weights tell
the filter which values to fit (see `EnsembleKalmanFilter`).
"""

import logging
import math
from collections import namedtuple

import numpy as np

from ..model.conversion import dict_to_list, list_to_dict
from ._shared import check_int, check_real, check_stop_criterion
from .optimizer import Optimizer

logger = logging.getLogger("mpil2l.optimizers.kalmanfilter")

EnsembleKalmanFilterParameters = namedtuple(
    "EnsembleKalmanFilterParameters",
    [
        "gamma",
        "maxit",
        "n_iteration",
        "pop_size",
        "n_batches",
        "online",
        "seed",
        "path",
        "stop_criterion",
        "sampling_generation",
        "observations",
    ],
    defaults=(1e-4, 1, 100, 20, 1, False, 42, None, math.inf, 0, None),
)
EnsembleKalmanFilterParameters.__doc__ = """Parameters of `EnsembleKalmanFilter`.

Args:
    gamma: observation noise level (>= 0): the filter's noise covariance is ``gamma * I``
        and the observations are perturbed with ``N(0, gamma I)`` noise at every update.
        Small values take bold steps; keep it well below the variance of the outputs
        across the ensemble near the optimum, or the ensemble stops moving there.
        Default 1e-4.
    maxit: Kalman updates per generation with the same model outputs (>= 1); 1 is the
        classic filter step. Default 1.
    n_iteration: number of generations to evaluate (>= 1). Default 100.
    pop_size: ensemble size, the individuals per generation (>= 2). Default 20.
    n_batches: the outputs are split into this many consecutive mini-batches, assimilated
        one after the other (>= 1; more batches than outputs means one output per batch);
        1 assimilates all outputs at once. Default 1.
    online: if True, every update assimilates a single output drawn at random instead of
        the mini-batches. Default False.
    seed: seed of the optimizer's random generator (integer >= 0). Default 42.
    path: ignored. L2L stored network connection files there; accepted so that L2L
        scripts construct the parameters unchanged. Default None.
    stop_criterion: stop once the best weighted fitness is >= this value (a real number;
        ``inf`` never stops early). Default inf.
    sampling_generation: every this many generations the worse half of the ensemble (by
        weighted fitness) is redrawn around the best member, against ensemble collapse;
        0 never. Default 0.
    observations: the targets the filter fits (see `EnsembleKalmanFilter`): one real number
        per fitness value if no weight is 0, else one per value with weight 0; None for all
        zeros. An mpil2l addition (L2L read MNIST labels). Default None.
"""


class EnsembleKalmanFilter(Optimizer):
    """Ensemble Kalman inversion (Iglesias, Law and Stuart 2013): an ensemble of parameter
    vectors moved, without gradients, so that model outputs ``G(u)`` match observations
    ``y``. For a model linear in the parameters it converges to the least-squares solution.

    **The optimizee contract.** Each individual is one ensemble member: the filter works on
    the flattened individual (`mpil2l.model.conversion.dict_to_list`), so every entry must be a
    float or float array. `simulate` returns a fitness tuple, one value per weight, as for
    any optimizer; the weights say how the filter uses it:

    * **Fitness mode** (no weight is 0): the filter drives each fitness value ``f_i``
      towards its target ``t_i`` (``observations``, default 0), minimising
      ``sum_i |w_i| |f_i(u) - t_i|``: it is given ``G_i = sign(f_i - t_i) sqrt(|w_i| |f_i - t_i|)``
      and ``y = 0``. With targets the objectives cannot pass (a loss >= 0 with target 0 and
      weight < 0, an accuracy <= 1 with target 1 and weight > 0) this is maximising the
      weighted fitness. A sum of squared errors returned as ``(sse,)`` with weight ``-1``
      is a least-squares fit. The filter solves ``G(u) = y``: it needs targets the values
      can reach, or nearly; with conflicting objectives whose targets cannot all be met
      (the minimum of the weighted distance far from 0) it wanders instead of settling.
    * **Output mode** (some weights are 0): the values with weight 0 are the model's outputs
      ``G(u)`` (predictions at the data points, or residuals), fitted to ``observations``
      (default 0, i.e. residuals); the values with a nonzero weight are the fitness,
      recorded, compared with ``stop_criterion`` and used to pick the best individual, but
      not fitted. E.g. return ``(sse, r_1, ..., r_D)`` with weights ``(-1, 0, ..., 0)``.
      This is the filter's native form and converges much faster than fitness mode.

    A member whose fitted values are not finite (a failed ``simulate``) takes no part in
    the update and is redrawn around a random valid member. Every random number comes from
    the optimizer's ``numpy.random.default_rng(seed)`` and results are taken by
    ``ind_idx``, so a run is reproducible whatever the order the workers finish in.
    Pseudo-code::

        U <- pop_size individuals from optimizee_create_individual(), bounded  # generation 0
        for g in 0 .. n_iteration - 1:
            evaluate U; G_j, y <- the fitted values of member j and their targets
            stop if g is the last generation or the best weighted fitness >= stop_criterion
            V <- the members with finite G (the others are redrawn afterwards)
            Z <- [V, G] (each member with its outputs)
            repeat maxit times:
                for each batch b (one random output if online, else n_batches slices):
                    C_zg <- cov(Z, G_b);  C_gg <- cov(G_b, G_b)     # G_b: columns b of G in Z
                    for each z_j in Z, with e_j ~ N(0, gamma I):   # perturbed observations
                        z_j <- z_j + C_zg (C_gg + gamma I)^-1 (y_b + e_j - G_b,j)
            V <- the parameter part of Z
            every sampling_generation generations: the worse half <- best + N(0, diag var(V))
            U <- bound(V and the redrawn members)

    Use it for fitting a model's parameters to data (calibration, regression, training a
    network's weights) when outputs per data point are available and gradients are not;
    its ensemble collapses onto a subspace, so it is a local method, not a global search.
    The perturbed observations bound the precision at about ``sqrt(gamma)`` in output
    units. A bounding function that clips can flatten the ensemble onto a face of the box,
    where it cannot move off that face again; prefer wide bounds or a parameterisation
    without them.

    Unlike L2L, the constructor takes no ``optimizee_prepare`` and calls
    ``optimizee_create_individual()`` without arguments, the optimizer loads no data set,
    ``path`` is ignored, and the predicted outputs are updated along with the members
    between mini-batches (L2L reused the stale outputs, so later batches undid earlier
    ones).

    Args:
        traj: the run's trajectory; gets the parameters' fields as parameters.
        optimizee_create_individual: returns a new individual dict, one per member.
        optimizee_fitness_weights: one weight per fitness value (see the two modes).
        parameters: an `EnsembleKalmanFilterParameters`.
        optimizee_bounding_func: maps an individual dict into the valid domain, or None.

    Attributes:
        ensemble: the members being evaluated, one flattened row each.
        output_indices: the positions in the fitness tuple of the fitted values.
        targets: their targets (``observations``, or zeros).

    Raises:
        TypeError: `parameters` is not an `EnsembleKalmanFilterParameters` or a field has the
            wrong type.
        ValueError: a field is out of range or ``observations`` has the wrong length.

    Example:
        >>> from mpil2l.model.trajectory import Trajectory
        >>> A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
        >>> data = A @ np.array([0.5, -1.0])              # a line through the data points
        >>> traj = Trajectory()
        >>> rng = np.random.default_rng(0)
        >>> opt = EnsembleKalmanFilter(
        ...     traj, lambda: {"theta": rng.normal(0, 1, 2)}, (-1.0, 0.0, 0.0, 0.0, 0.0),
        ...     EnsembleKalmanFilterParameters(gamma=1e-8, n_iteration=5, pop_size=10,
        ...                                    observations=data))
        >>> for g in range(5):
        ...     preds = [A @ i.theta for i in traj.individuals[g]]
        ...     opt.post_process(traj, [(i, (float(np.sum((p - data) ** 2)), *p))
        ...                             for i, p in enumerate(preds)])
        >>> np.round(opt.best_individual["theta"], 3).tolist()
        [0.5, -1.0]
    """

    parameters_type = EnsembleKalmanFilterParameters

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
        self.gamma = check_real("gamma", p.gamma, 0.0)
        self.maxit = check_int("maxit", p.maxit, 1)
        self.n_iteration = check_int("n_iteration", p.n_iteration, 1)
        self.pop_size = check_int("pop_size", p.pop_size, 2)
        self.n_batches = check_int("n_batches", p.n_batches, 1)
        if not isinstance(p.online, (bool, np.bool_)):
            raise TypeError(f"online must be a bool, got {type(p.online).__name__} {p.online!r}")
        self.online = bool(p.online)
        self.seed = check_int("seed", p.seed, 0)
        self.stop_criterion = check_stop_criterion(p.stop_criterion)
        self.sampling_generation = check_int("sampling_generation", p.sampling_generation, 0)

        weights = np.array(self.optimizee_fitness_weights)
        self.output_mode = bool(np.any(weights == 0.0))
        self.output_indices = (
            np.flatnonzero(weights == 0.0) if self.output_mode else np.arange(weights.size)
        )
        self.targets = self._check_observations(p.observations, self.output_indices.size)
        for name, value in p._asdict().items():
            traj.f_add_parameter(name, self.targets.copy() if name == "observations" else value)

        self.rng = np.random.default_rng(self.seed)
        vectors, specs = zip(
            *(
                dict_to_list(optimizee_create_individual(), get_dict_spec=True)
                for _ in range(self.pop_size)
            )
        )
        if any(spec != specs[0] for spec in specs):
            raise ValueError(
                "optimizee_create_individual returned individuals of different keys or shapes"
            )
        self.dict_spec = specs[0]
        self.ensemble = np.array([self._bound(v) for v in vectors])
        self.eval_pop = [list_to_dict(u, self.dict_spec) for u in self.ensemble]
        self._expand_trajectory(traj)

    def _check_observations(self, observations, n_outputs):
        what = "values with weight 0" if self.output_mode else "fitness values"
        if observations is None:
            return np.zeros(n_outputs)
        try:
            targets = np.asarray(observations, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(
                f"observations must be a sequence of real numbers, got {observations!r}"
            ) from None
        targets = np.atleast_1d(targets)
        if targets.ndim != 1 or targets.size != n_outputs:
            raise ValueError(
                f"observations must hold one target per {what} ({n_outputs}), got shape "
                f"{np.shape(observations)}"
            )
        if not np.all(np.isfinite(targets)):
            raise ValueError(f"observations must be finite, got {targets.tolist()}")
        return targets

    def _outputs(self, fitnesses):
        """The values the filter fits, one row per member, and their observation vector."""
        values = np.array(fitnesses, dtype=float)[:, self.output_indices]
        if self.output_mode:
            return values, self.targets
        scale = np.abs(np.array(self.optimizee_fitness_weights))
        with np.errstate(invalid="ignore"):
            distance = values - self.targets
            outputs = np.sign(distance) * np.sqrt(scale * np.abs(distance))
        return outputs, np.zeros(self.targets.size)

    def post_process(self, traj, fitnesses_results):
        """Takes the members' fitness, updates the ensemble and, unless the run ends,
        expands it as the next generation.

        Args:
            traj: the run's trajectory.
            fitnesses_results: ``[(ind_idx, fitness_tuple), ...]`` for every member, in any
                order.

        Raises:
            ValueError: the results do not match the current generation.
        """
        fitnesses, weighted = self._record_generation(fitnesses_results)
        if self.g >= self.n_iteration - 1 or self.best_weighted_fitness >= self.stop_criterion:
            return
        outputs, observations = self._outputs(fitnesses)
        valid = np.all(np.isfinite(outputs), axis=1)
        ensemble = self.ensemble.copy()
        if valid.sum() >= 2:
            ensemble[valid] = self._update(ensemble[valid], outputs[valid], observations)
        else:
            logger.warning(
                "generation %d: only %d member(s) with finite outputs; the ensemble is not updated",
                self.g,
                int(valid.sum()),
            )
        self._redraw(ensemble, valid, weighted)
        self.ensemble = np.array([self._bound(u) for u in ensemble])
        self.eval_pop = [list_to_dict(u, self.dict_spec) for u in self.ensemble]
        self.g += 1
        self._expand_trajectory(traj)

    def _update(self, members, outputs, observations):
        # The outputs travel with the members (an augmented state), so that an update with one
        # batch also corrects the predicted outputs of the batches after it: without new
        # evaluations, sequential batches then add up to the joint update.
        n_params = members.shape[1]
        n_outputs = observations.size
        state = np.hstack([members, outputs])
        for _ in range(self.maxit):
            if self.online:
                batches = [np.array([self.rng.integers(n_outputs)])]
            else:
                batches = np.array_split(np.arange(n_outputs), min(self.n_batches, n_outputs))
            for batch in batches:
                g = state[:, n_params + batch]
                deviations = state - state.mean(axis=0)
                dg = deviations[:, n_params + batch]
                c_zg = deviations.T @ dg / len(state)
                c_gg = dg.T @ dg / len(state)
                # gain^T = (C_gg + gamma I)^-1 C_zg^T; lstsq copes with a singular C_gg at gamma 0
                gain_t = np.linalg.lstsq(
                    c_gg + self.gamma * np.eye(batch.size), c_zg.T, rcond=None
                )[0]
                # perturbed observations (Iglesias et al. 2013) keep the ensemble spread right
                perturbed = observations[batch] + math.sqrt(self.gamma) * self.rng.standard_normal(
                    g.shape
                )
                state = state + (perturbed - g) @ gain_t
        return state[:, :n_params]

    def _redraw(self, ensemble, valid, weighted):
        """Replaces the failed members and, on sampling generations, the worse half."""
        reference = ensemble[valid] if valid.sum() >= 2 else ensemble
        spread = reference.std(axis=0)
        for j in np.flatnonzero(~valid):
            donor = ensemble[valid][self.rng.integers(valid.sum())] if valid.any() else ensemble[j]
            ensemble[j] = donor + self.rng.standard_normal(spread.size) * spread
        if self.sampling_generation and (self.g + 1) % self.sampling_generation == 0:
            order = np.argsort(-weighted, kind="stable")
            best = ensemble[order[0]].copy()
            spread = ensemble.std(axis=0)
            for j in order[len(order) - len(order) // 2 :]:
                ensemble[j] = best + self.rng.standard_normal(spread.size) * spread

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

    def get_state(self):
        """The base state plus the ensemble."""
        state = super().get_state()
        state["ensemble"] = self.ensemble.copy()
        return state

    def set_state(self, state):
        """Restores a state returned by `get_state`.

        Raises:
            ValueError: the state lacks a key or its ensemble does not match ``pop_size``
                and the individual's size.
        """
        if "ensemble" not in state:
            raise ValueError("ensemble Kalman filter state lacks ['ensemble']")
        ensemble = np.asarray(state["ensemble"], dtype=float)
        if ensemble.shape != self.ensemble.shape:
            raise ValueError(
                f"the saved ensemble has shape {ensemble.shape}, this optimizer expects "
                f"{self.ensemble.shape} (pop_size, individual size)"
            )
        super().set_state(state)
        self.ensemble = ensemble.copy()

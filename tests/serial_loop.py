"""The runtime's generation loop, run serially in-process: for tests without MPI."""

import numpy as np

from mpil2l.model.trajectory import Individual


def evaluate_generation(traj, optimizee, generation, order_seed=None):
    """Evaluates ``traj.individuals[generation]`` the way the workers do, on a
    parameters-only copy of the trajectory.

    Args:
        order_seed: if given, evaluate the individuals in an order shuffled with this seed
            (as workers finishing in any order would).

    Returns:
        ``[(ind_idx, fitness_tuple), ...]`` sorted by ind_idx.
    """
    individuals = list(traj.individuals[generation])
    if order_seed is not None:
        np.random.default_rng(order_seed).shuffle(individuals)
    worker_traj = traj.parameters_only()
    results = []
    for ind in individuals:
        worker_traj.individual = Individual(generation, ind.ind_idx, dict(ind.params))
        results.append((ind.ind_idx, tuple(optimizee.simulate(worker_traj))))
    return sorted(results, key=lambda r: r[0])


def run_serial(traj, optimizer, optimizee, order_seed=None):
    """Runs the optimization to its end, as the runtime does, and calls ``optimizer.end``.

    Returns:
        ``{generation: results}`` for every evaluated generation.
    """
    n_iteration = traj.par.get("n_iteration")
    all_results = {}
    g = 0
    while g in traj.individuals and (n_iteration is None or g < n_iteration):
        seed = None if order_seed is None else (order_seed, g)
        results = evaluate_generation(traj, optimizee, g, seed)
        all_results[g] = results
        traj.current_results = results
        optimizer.post_process(traj, results)
        g += 1
    optimizer.end(traj)
    return all_results

"""What checkpointing every generation costs rank 0.

Reproduce (from the repository root)::

    .venv/bin/python scripts/bench_checkpoint.py [--generations 200 --pop 32] [--big]

Runs the genetic algorithm through ``Experiment`` on one rank (in-process, isolation='none',
so that only rank 0's own work is timed) on an optimizee that returns at once, and times
the two things resuming adds to rank 0's loop: ``_save_checkpoint`` (the optimizer's state
and the trajectory pickled and written to the results log's spare slot) and the results
log's flushes. Prints the run's wall time, the time spent in each (total, per generation,
and the last generation's, since the pickled trajectory grows with the history), and the
checkpoint's size at the end. ``--big`` adds a run of 10 generations of 5,000 individuals.
"""

import argparse
import os
import tempfile
import time

import mpil2l.experiment.checkpoint
from mpil2l import Experiment, Optimizee
from mpil2l.optimizers import GeneticAlgorithmOptimizer, GeneticAlgorithmParameters
from mpil2l.storage import read_checkpoint


class Constant(Optimizee):
    def create_individual(self):
        return {"x": 0.5, "y": -0.5}

    def simulate(self, traj):
        return (traj.individual.x**2 + traj.individual.y**2,)


def timed(obj, name, records):
    real = getattr(obj, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            records.append(time.perf_counter() - t0)

    setattr(obj, name, wrapper)


def bench(root, generations, pop):
    experiment = Experiment(root)
    traj, _ = experiment.prepare_experiment(
        name=f"bench-{pop}x{generations}",
        overwrite=True,
        timeout=False,
        runner_params={"isolation": "none"},
    )
    checkpoints, flushes, saved = [], [], []
    timed(experiment, "_save_checkpoint", checkpoints)
    timed(mpil2l.experiment.checkpoint, "capture", saved)
    timed(experiment, "_flush_log", flushes)
    optimizee = Constant(traj)
    params = GeneticAlgorithmParameters(
        seed=1, pop_size=pop, n_iteration=generations, mut_prob=1.0, ind_prob=1.0
    )
    optimizer = GeneticAlgorithmOptimizer(traj, optimizee.create_individual, (-1.0,), params)
    t0 = time.perf_counter()
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    wall = time.perf_counter() - t0
    experiment.end_experiment(optimizer)
    size = len(read_checkpoint(os.path.join(experiment.paths.output_dir_path, "results.h5")))
    return wall, checkpoints, flushes, size, len(saved)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--pop", type=int, default=32)
    parser.add_argument(
        "--big", action="store_true", help="also 10 generations of 5,000 individuals"
    )
    args = parser.parse_args()
    configs = [(args.generations, args.pop)] + ([(10, 5000)] if args.big else [])
    with tempfile.TemporaryDirectory() as root:
        print(
            "| run | wall s | checkpoint calls: total s (% of wall) | ms per generation (last) | "
            "checkpoints saved | flushes: total s | checkpoint size |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for generations, pop in configs:
            wall, checkpoints, flushes, size, n_saved = bench(root, generations, pop)
            total = sum(checkpoints)
            print(
                f"| {pop} x {generations} | {wall:.3f} | {total:.3f} ({100 * total / wall:.1f} %) "
                f"| {1000 * total / len(checkpoints):.2f} ({1000 * checkpoints[-1]:.2f}) | "
                f"{n_saved} | {sum(flushes):.3f} | {size / 1024:.0f} KiB |"
            )


if __name__ == "__main__":
    main()

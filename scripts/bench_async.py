"""Asynchronous optimizers against the generational loop at the same evaluation count.

Run (from the repository root; NP - 1 workers)::

    .venv/bin/mpiexec -n 4 .venv/bin/python scripts/bench_async.py            # about 1 minute
    .venv/bin/mpiexec -n 4 .venv/bin/python scripts/bench_async.py --quick    # about 15 s

Every method optimizes the same optimizee: Rastrigin in `DIMS` dimensions, each evaluation
sleeping a lognormal time (median 10 ms, sigma 1; ``--quick``: median 2 ms), drawn from a
generator seeded by ``(seed, generation, ind_idx)`` so that it does not depend on the worker
or the order. The methods, in one MPI job, alternating in each of ``--repeats`` rounds:

- ``GA (Experiment)``: `GeneticAlgorithmOptimizer` on `Experiment`, ``POP`` individuals for
  ``GENS`` generations; it evaluates only new or changed individuals, so its evaluation
  count E is read from its results log;
- ``steady-state (AsyncExperiment)``: `SteadyStateOptimizer`, pop_size ``POP``, budget E;
- ``steady-state, ordered``: the same with ``ordered=True, max_pending=2 x workers``
  (results told in candidate order: reproducible on any rank count);
- ``random search (AsyncExperiment)``: `AsyncRandomSearch`, budget E.

For each: wall time of ``run_experiment`` (start-up of the evaluation processes and
shutdown included), its ratio to the GA's, worker utilisation = sum of the evaluations' run
times / (workers x wall time), the same over the evaluations' span only (first start to last
end: without start-up and shutdown), the time from the start of ``run_experiment`` to the
first evaluation's start and from the last evaluation's end to its return, and the best
fitness reached (lower is better). Each
number is the median over the rounds. The evaluation count E of the GA can differ between
rounds slightly (it evaluates only changed individuals); the asynchronous runs of a round
take that round's E.
"""

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_runtime import section_barrier  # noqa: E402

from mpil2l import AsyncExperiment, Experiment  # noqa: E402
from mpil2l.core.console import logger  # noqa: E402
from mpil2l.optimizers import (  # noqa: E402
    AsyncRandomSearch,
    AsyncRandomSearchParameters,
    GeneticAlgorithmOptimizer,
    GeneticAlgorithmParameters,
    SteadyStateOptimizer,
    SteadyStateParameters,
)
from mpil2l.storage import read_attempts  # noqa: E402

DIMS = 10
BOUND = 5.12
SIGMA = 1.0
FULL = {"median": 10e-3, "pop": 32, "gens": 20}  # about 640 evaluations
QUICK = {"median": 2e-3, "pop": 16, "gens": 10}
METHODS = (
    "GA (Experiment)",
    "steady-state (AsyncExperiment)",
    "steady-state, ordered, max_pending = 2 x workers",
    "random search (AsyncExperiment)",
)


class SleepyRastrigin:
    """Rastrigin on [-5.12, 5.12]^DIMS; each evaluation first sleeps a lognormal time."""

    def __init__(self, median, seed=0):
        self.median, self.seed = median, seed
        self.rng = np.random.default_rng(seed)

    def create_individual(self):
        return {"x": self.rng.uniform(-BOUND, BOUND, DIMS)}

    def bounding_func(self, individual):
        return {"x": np.clip(individual["x"], -BOUND, BOUND)}

    def simulate(self, traj):
        ind = traj.individual
        rng = np.random.default_rng([self.seed, int(ind.generation), int(ind.ind_idx)])
        time.sleep(rng.lognormal(np.log(self.median), SIGMA))
        x = np.asarray(ind.x)
        return (float(10 * x.size + np.sum(x**2 - 10 * np.cos(2 * np.pi * x))),)


def run_one(comm, root, method, setting, budget, isolation):
    """Collective: one run of `method`; returns (wall seconds, rows of its results log) on
    rank 0, None elsewhere."""
    name = f"bench-{METHODS.index(method)}"
    asynchronous = method != METHODS[0]
    experiment = (AsyncExperiment if asynchronous else Experiment)(root, comm)
    traj, _ = experiment.prepare_experiment(
        name=name, overwrite=True, timeout=False, runner_params={"isolation": isolation}
    )
    logger.setLevel(logging.WARNING)
    optimizee = SleepyRastrigin(setting["median"])
    create, bound = optimizee.create_individual, optimizee.bounding_func
    if method == METHODS[0]:
        parameters = GeneticAlgorithmParameters(
            seed=0, pop_size=setting["pop"], n_iteration=setting["gens"]
        )
        optimizer = GeneticAlgorithmOptimizer(traj, create, (-1.0,), parameters, bound)
        run = dict(optimizer=optimizer, optimizee=optimizee)
    elif method in METHODS[1:3]:
        optimizer = SteadyStateOptimizer(
            create, (-1.0,), SteadyStateParameters(seed=0, pop_size=setting["pop"]), bound
        )
        run = dict(optimizer=optimizer, optimizee=optimizee, budget=budget)
        if method == METHODS[2]:
            run.update(ordered=True, max_pending=2 * (comm.Get_size() - 1))
    else:
        optimizer = AsyncRandomSearch(
            create, (-1.0,), AsyncRandomSearchParameters(seed=0, lower=-BOUND, upper=BOUND), bound
        )
        run = dict(optimizer=optimizer, optimizee=optimizee, budget=budget)
    section_barrier(comm)
    t0, epoch0 = time.perf_counter(), time.time()
    experiment.run_experiment(**run)
    wall, epoch1 = time.perf_counter() - t0, time.time()
    experiment.end_experiment(optimizer)
    if comm.Get_rank() != 0:
        return None
    rows = read_attempts(os.path.join(root, name, "results.h5"))
    shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    return wall, rows, epoch0, epoch1


def measure(wall, rows, epoch0, epoch1, n_workers):
    busy = float(np.sum(rows["runtime"]))
    span = float(np.max(rows["end"]) - np.min(rows["start"]))
    return {
        "evaluations": int(rows["ind_idx"].size),
        "wall_s": wall,
        "utilisation": busy / (n_workers * wall),
        "utilisation_span": busy / (n_workers * span),
        "start_s": float(np.min(rows["start"])) - epoch0,
        "tail_s": epoch1 - float(np.max(rows["end"])),
        "best_fitness": float(np.nanmin(rows["fitness"][:, 0])),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="median 2 ms, 16 x 10 GA (about 15 s)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds; medians are reported (default 3)"
    )
    parser.add_argument("--isolation", default="process", choices=("process", "none"))
    parser.add_argument("--json", help="also write the raw numbers to this file")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rank, n_workers = comm.Get_rank(), comm.Get_size() - 1
    if n_workers < 1:
        sys.exit("bench_async: run it under mpiexec with at least 2 ranks")
    setting = QUICK if args.quick else FULL
    root = comm.bcast(tempfile.mkdtemp(prefix="bench-async-") if rank == 0 else None)
    results = {m: [] for m in METHODS}
    for r in range(args.repeats):
        order = METHODS if r % 2 == 0 else (METHODS[0],) + METHODS[:0:-1]
        budget = None
        for method in order:
            out = run_one(comm, root, method, setting, budget, args.isolation)
            if rank == 0:
                results[method].append(measure(*out, n_workers))
                if method == METHODS[0]:
                    budget = results[method][-1]["evaluations"]
            budget = comm.bcast(budget)
    if rank != 0:
        return
    shutil.rmtree(root, ignore_errors=True)
    median = {
        m: {k: float(np.median([x[k] for x in results[m]])) for k in results[m][0]} for m in METHODS
    }
    ga = median[METHODS[0]]
    print(
        f"\n{n_workers} workers, isolation={args.isolation}, Rastrigin {DIMS}-d, lognormal "
        f"evaluation times (median {setting['median'] * 1e3:g} ms, sigma {SIGMA:g}), GA "
        f"{setting['pop']} x {setting['gens']}, median of {args.repeats} round(s), "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| method | evaluations | wall s | wall / GA | utilisation (wall) | utilisation (span) | "
        "first start s | after last end s | best fitness |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in METHODS:
        x = median[m]
        print(
            f"| {m} | {x['evaluations']:.0f} | {x['wall_s']:.3f} | "
            f"{x['wall_s'] / ga['wall_s']:.2f} | {x['utilisation']:.3f} | "
            f"{x['utilisation_span']:.3f} | {x['start_s']:.3f} | {x['tail_s']:.3f} | "
            f"{x['best_fitness']:.3g} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"setting": setting, "workers": n_workers, "rounds": results, "median": median},
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()

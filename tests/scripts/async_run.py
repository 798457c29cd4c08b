"""An asynchronous run (AsyncExperiment) used by the asynchronous-optimization tests.

usage: async_run.py ROOT OUT_JSON [key=value ...]
  opt=random|steady     the optimizer (default steady)
  budget=60             evaluations
  function=sphere|rastrigin
  sleep=0.0             seconds each evaluation sleeps
  marks=PATH            append "run number attempt" per evaluation started to PATH
  run=1                 the run label written to marks
  fail=3:2,7:9          candidate 3 fails its first 2 attempts, 7 its first 9
  seed=0 pop_size=10    optimizer parameters (pop_size: steady-state only)
  max_pending=N checkpoint_interval=S ordered=True
  rp.KEY=VALUE          runner_params[KEY]
  anything else goes to prepare_experiment (checkpoint=True, ...)
"""

import json
import os
import sys
import time

import numpy as np
from mpi4py import MPI

from mpil2l import AsyncExperiment, Optimizee
from mpil2l.optimizers import (
    AsyncRandomSearch,
    AsyncRandomSearchParameters,
    SteadyStateOptimizer,
    SteadyStateParameters,
)
from toy_run import parse

DIMS = 2


class TestOptimizee(Optimizee):
    """Sphere or Rastrigin on [-5, 5]^2, with a sleep, failures and a record of every start."""

    def __init__(self, traj, function, sleep, marks, run, fail):
        self.function, self.sleep, self.marks, self.run, self.fail = (
            function,
            sleep,
            marks,
            run,
            fail,
        )
        self.rng = np.random.default_rng(100)

    def create_individual(self):
        return {"x": self.rng.uniform(-5.0, 5.0, DIMS)}

    def bounding_func(self, individual):
        return {"x": np.clip(individual["x"], -5.0, 5.0)}

    def simulate(self, traj):
        ind = traj.individual
        if self.marks:
            with open(self.marks, "a") as f:
                f.write(f"{self.run} {ind.ind_idx} {ind.attempt}\n")
        if self.sleep:
            time.sleep(self.sleep)
        if ind.attempt < self.fail.get(ind.ind_idx, 0):
            raise RuntimeError(f"candidate {ind.ind_idx} fails attempt {ind.attempt} on purpose")
        x = np.asarray(ind.x)
        if self.function == "rastrigin":
            return (float(10 * x.size + np.sum(x**2 - 10 * np.cos(2 * np.pi * x))),)
        return (float(np.sum(x**2)),)


def main():
    root, out, *pairs = sys.argv[1:]
    options = {k: parse(v) for k, v in (pair.split("=", 1) for pair in pairs)}
    opt = options.pop("opt", "steady")
    budget = options.pop("budget", 60)
    function = options.pop("function", "sphere")
    sleep = options.pop("sleep", 0.0)
    marks = options.pop("marks", None)
    run = options.pop("run", 1)
    fail = options.pop("fail", "")
    fail = dict(tuple(map(int, item.split(":"))) for item in str(fail).split(",") if item)
    seed = options.pop("seed", 0)
    pop_size = options.pop("pop_size", 10)
    run_args = {
        k: options.pop(k) for k in ("max_pending", "checkpoint_interval", "ordered") if k in options
    }
    runner_params = {k[3:]: options.pop(k) for k in list(options) if k.startswith("rp.")}

    experiment = AsyncExperiment(root)
    traj, _ = experiment.prepare_experiment(name="async", runner_params=runner_params, **options)
    optimizee = TestOptimizee(traj, function, sleep, marks, run, fail)
    if opt == "random":
        parameters = AsyncRandomSearchParameters(seed=seed, lower=-5.0, upper=5.0)
        optimizer = AsyncRandomSearch(
            optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
        )
    else:
        parameters = SteadyStateParameters(seed=seed, pop_size=pop_size)
        optimizer = SteadyStateOptimizer(
            optimizee.create_individual, (-1.0,), parameters, optimizee.bounding_func
        )
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee, budget=budget, **run_args)
    traj, paths = experiment.end_experiment(optimizer)
    if experiment.is_root:
        report = {
            "results": os.path.join(paths.output_dir_path, "results.h5"),
            "best_fitness": list(optimizer.best_fitness),
            "best_number": optimizer.best_number,
            "n_told": optimizer.n_told,
            "n_replayed": experiment.n_replayed,
        }
        with open(out, "w") as f:
            json.dump(report, f)
    print(f"rank {MPI.COMM_WORLD.Get_rank()} finished", flush=True)


if __name__ == "__main__":
    main()

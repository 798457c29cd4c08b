"""An experiment with a small random-search optimizer, used by the runtime tests.

usage: toy_run.py ROOT OUT_JSON [key=value ...]
  fault=NAME      inject a fault (see FAULTS)
  dispatch=MODE   runner_params['dispatch']
  rp.KEY=VALUE    runner_params[KEY]
  n=8 gens=3      individuals per generation, generations
  spill=N         mpil2l.experiment.checkpointing.SPILL_EVALUATIONS
  look_back=K     post_process also reads generation g-K (individuals and results) mid-run
  any other key=value goes to prepare_experiment (booleans and numbers parsed)
"""

import json
import os
import sys
import threading
import time

import numpy as np
from mpi4py import MPI

import mpil2l.experiment.checkpointing
from mpil2l import Experiment

FAULTS = (
    "raise",  # simulate raises for ind_idx 3
    "raise_all",  # simulate raises for every individual
    "type",  # simulate returns a float instead of a tuple
    "count",  # simulate returns two values for one weight
    "setup_all",  # the optimizer constructor raises on every rank
    "setup_root",  # the script raises on rank 0 only, before run_experiment
    "post_process",  # the optimizer raises in post_process of generation 1
    "unpicklable",  # the optimizee holds a lock and cannot be sent to the workers
    "slow_worker_abort",  # ind 0 sleeps 60 s while ind 1 fails with stop_run=True
)


def parse(value):
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(value, value)


class RandomSearch:
    """Draws a fresh generation around the best point so far; deterministic for a seed."""

    def __init__(self, traj, n, gens, fault, look_back=0):
        if fault == "setup_all":
            raise ValueError("optimizer set-up failed on purpose")
        self.optimizee_fitness_weights = (-1.0,)
        self.n, self.g, self.fault = n, 0, fault
        self.look_back, self.seen = look_back, []
        self.center = np.zeros(2)
        self.rng = np.random.default_rng(1234)
        traj.f_add_parameter("n_iteration", gens)
        self._expand(traj)

    def _expand(self, traj):
        points = self.center + self.rng.normal(0.0, 1.0, (self.n, 2))
        traj.f_expand(
            {"generation": [self.g], "ind_idx": list(range(self.n)), "individual.x": list(points)}
        )

    def post_process(self, traj, results):
        if self.fault == "post_process" and self.g == 1:
            raise RuntimeError("post_process failed on purpose")
        assert [idx for idx, _ in results] == list(range(self.n)), results
        best = min(results, key=lambda r: r[1][0])[0]
        self.center = traj.individuals[self.g][best].x
        old = self.g - self.look_back
        if self.look_back and old >= 0:
            packed = traj.individuals.is_packed(old)  # (before the reads below unpack it)
            points = [ind.x.tolist() for ind in traj.individuals[old]]
            fitness = [f[0] for _, f in traj.results.all_results[old]]
            self.seen.append([old, packed, points, fitness])
        self.g += 1
        self._expand(traj)

    def end(self, traj):
        pass


class Sphere:
    def __init__(self, fault):
        self.fault = fault
        if fault == "unpicklable":
            self.lock = threading.Lock()

    def simulate(self, traj):
        ind = traj.individual
        x = np.asarray(ind.x)
        value = float(np.sum((x - 1.0) ** 2))
        if self.fault == "raise" and ind.ind_idx == 3:
            raise ValueError(f"simulate failed on purpose for individual {ind.ind_idx}")
        if self.fault == "raise_all":
            raise ValueError("simulate always fails")
        if self.fault == "type":
            return value
        if self.fault == "count":
            return (value, value)
        if self.fault == "slow_worker_abort":
            if ind.ind_idx == 0:
                time.sleep(60)
            if ind.ind_idx == 1:
                time.sleep(0.2)
                raise ValueError("fatal failure")
        print(
            f"simulating generation {ind.generation} individual {ind.ind_idx} "
            f"on rank {os.environ['MPIL2L_WORKER_RANK']}"
        )
        return (value,)


def main():
    root, out, *pairs = sys.argv[1:]
    options = dict(pair.split("=", 1) for pair in pairs)
    fault = options.pop("fault", "")
    n = int(options.pop("n", 8))
    gens = int(options.pop("gens", 3))
    look_back = int(options.pop("look_back", 0))
    runner_params = {"dispatch": options.pop("dispatch", "dynamic")}
    if "max_workers" in options:
        runner_params["max_workers"] = int(options.pop("max_workers"))
    for key in [k for k in options if k.startswith("rp.")]:
        runner_params[key[3:]] = parse(options.pop(key))
    if (
        "spill" in options
    ):  # store finished generations in the results log once this many evaluations wait
        mpil2l.experiment.checkpointing.SPILL_EVALUATIONS = int(options.pop("spill"))
    kwargs = {"name": "toy", "overwrite": True, "runner_params": runner_params}
    kwargs.update({k: parse(v) for k, v in options.items()})
    if fault == "slow_worker_abort":
        kwargs["stop_run"] = True
    experiment = Experiment(root)
    traj, _ = experiment.prepare_experiment(**kwargs)
    optimizer = RandomSearch(traj, n, gens, fault, look_back)
    if fault == "setup_root" and MPI.COMM_WORLD.Get_rank() == 0:
        raise RuntimeError("rank 0 failed on purpose before run_experiment")
    experiment.run_experiment(optimizer=optimizer, optimizee=Sphere(fault))
    traj, paths = experiment.end_experiment(optimizer)
    if experiment.is_root:
        results = {g: [[i, list(f)] for i, f in r] for g, r in traj.results.all_results.items()}
        with open(out, "w") as f:
            json.dump(
                {"results": results, "output_dir": paths.output_dir_path, "seen": optimizer.seen}, f
            )
    print(f"rank {MPI.COMM_WORLD.Get_rank()} finished", flush=True)


if __name__ == "__main__":
    main()

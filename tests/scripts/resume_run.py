"""An experiment to interrupt and resume, used by tests/test_resume_mpi.py.

usage: resume_run.py ROOT NAME OPTIMIZER OUT_JSON [key=value ...]
  OPTIMIZER     ga, ce, gd or sa
  sleep=S       seconds each evaluation sleeps (default 0)
  markers=DIR   each evaluation creates a file DIR/<generation>-<ind_idx>-<attempt>-<pid>-<ns>
  checkpoint=X  True, or a path: resume (default: a new run, overwrite=True)
  pop=P         population size knob (default 6); gens=G generations (default 4)
  fail=1        individual 1 of every generation fails its first attempt (is retried)
OUT_JSON gets the final trajectory's results, individuals and best on rank 0.
"""

import json
import os
import sys
import time

import numpy as np

from mpil2l import Experiment, Optimizee
from mpil2l.optimizers import (
    AdamParameters,
    CrossEntropyOptimizer,
    CrossEntropyParameters,
    GeneticAlgorithmOptimizer,
    GeneticAlgorithmParameters,
    GradientDescentOptimizer,
    NoisyGaussian,
    SimulatedAnnealingOptimizer,
    SimulatedAnnealingParameters,
)
from toy_run import parse


class SlowBowl(Optimizee):
    """A shifted quadratic bowl that sleeps and leaves a marker file per evaluation."""

    def __init__(self, traj, sleep, markers, fail):
        super().__init__(traj)
        self.sleep, self.markers, self.fail = sleep, markers, fail
        self.rng = np.random.default_rng(3)

    def create_individual(self):
        return {"coords": self.rng.uniform(-3.0, 3.0, 2)}

    def bounding_func(self, individual):
        return {"coords": np.clip(individual["coords"], -4.0, 4.0)}

    def simulate(self, traj):
        ind = traj.individual
        if self.markers:
            name = f"{ind.generation}-{ind.ind_idx}-{ind.attempt}-{os.getpid()}-{time.time_ns()}"
            open(os.path.join(self.markers, name), "w").close()
        time.sleep(self.sleep)
        if self.fail and ind.ind_idx == 1 and ind.attempt == 0:
            raise RuntimeError("first attempt of individual 1 fails on purpose")
        x = np.asarray(ind.coords)
        return (float(np.sum((x - np.array([0.5, 0.25])) ** 2) + 0.1 * np.sin(5 * x[0])),)


def build(kind, traj, optimizee, pop, gens):
    if kind == "ga":
        params = GeneticAlgorithmParameters(seed=7, pop_size=pop, n_iteration=gens, mut_par=0.5)
        cls = GeneticAlgorithmOptimizer
    elif kind == "ce":
        params = CrossEntropyParameters(pop_size=pop, rho=0.5, n_iteration=gens, distribution=NoisyGaussian(), seed=7)
        cls = CrossEntropyOptimizer
    elif kind == "gd":
        params = AdamParameters(learning_rate=0.1, n_random_steps=pop, n_iteration=gens, seed=7)
        cls = GradientDescentOptimizer
    elif kind == "sa":
        params = SimulatedAnnealingParameters(n_parallel_runs=pop, noisy_step=0.5, temp_decay=0.9, n_iteration=gens, seed=7)
        cls = SimulatedAnnealingOptimizer
    else:
        raise SystemExit(f"unknown optimizer {kind!r}")
    return cls(traj, optimizee.create_individual, (-1.0,), params, optimizee.bounding_func)


def main():
    root, name, kind, out = sys.argv[1:5]
    opts = {k: parse(v) for k, v in (a.split("=", 1) for a in sys.argv[5:])}
    experiment = Experiment(root)
    checkpoint = opts.get("checkpoint")
    traj, _ = experiment.prepare_experiment(
        name=name,
        checkpoint=checkpoint,
        overwrite=checkpoint is None,
        timeout=False,
        runner_params={"max_retries": 2},
    )
    optimizee = SlowBowl(traj, opts.get("sleep", 0.0), opts.get("markers"), opts.get("fail", 0))
    optimizer = build(kind, traj, optimizee, opts.get("pop", 6), opts.get("gens", 4))
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    traj, _ = experiment.end_experiment(optimizer)
    if experiment.is_root:
        result = {
            "results": {str(g): [[i, list(f)] for i, f in r] for g, r in traj.results.all_results.items()},
            "individuals": {
                str(g): [[ind.ind_idx, np.asarray(ind.coords).tolist()] for ind in inds]
                for g, inds in traj.individuals.items()
            },
            "final_fitness": list(traj.results.final_fitness),
            "final_individual": np.asarray(traj.results.final_individual["coords"]).tolist(),
            "statistics": [{k: v for k, v in s.items()} for s in optimizer.statistics],
        }
        with open(out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()

"""An experiment to interrupt and resume, used by tests/test_resume_mpi.py.

usage: resume_run.py ROOT NAME OPTIMIZER OUT_JSON [key=value ...]
  OPTIMIZER     ga, ce, gd or sa
  sleep=S       seconds each evaluation sleeps (default 0)
  markers=DIR   each evaluation creates a file DIR/<generation>-<ind_idx>-<attempt>-<pid>-<ns>
  checkpoint=X  True, or a path: resume (default: a new run, overwrite=True)
  pop=P         population size knob (default 6); gens=G generations (default 4)
  fail=1        individual 1 of every generation fails its first attempt (is retried)
  log=BACKEND   runner_params['results_log'] (default 'auto')
  every=1       checkpoint after every generation (CHECKPOINT_COST_RATIO = 0): the
                trajectory packs each finished generation into the results log at once
OUT_JSON gets the final trajectory's content (`content`), best and statistics on rank 0,
and under "packed" how many generations were packed at each post_process and at the end.
"""

import json
import os
import sys
import time

import numpy as np

import mpil2l.experiment.checkpointing
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
        params = CrossEntropyParameters(
            pop_size=pop, rho=0.5, n_iteration=gens, distribution=NoisyGaussian(), seed=7
        )
        cls = CrossEntropyOptimizer
    elif kind == "gd":
        params = AdamParameters(learning_rate=0.1, n_random_steps=pop, n_iteration=gens, seed=7)
        cls = GradientDescentOptimizer
    elif kind == "sa":
        params = SimulatedAnnealingParameters(
            n_parallel_runs=pop, noisy_step=0.5, temp_decay=0.9, n_iteration=gens, seed=7
        )
        cls = SimulatedAnnealingOptimizer
    else:
        raise SystemExit(f"unknown optimizer {kind!r}")
    return counting(cls)(
        traj, optimizee.create_individual, (-1.0,), params, optimizee.bounding_func
    )


PACKED_THEN = []  # generations packed when post_process was called, call by call


def counting(cls):
    """`cls` recording in `PACKED_THEN` how many generations were packed at each post_process
    (a subclass: an attribute set on the instance would be checkpointed with it)."""

    class Counting(cls):
        def post_process(self, traj, fitnesses_results):
            PACKED_THEN.append(packed(traj))
            return super().post_process(traj, fitnesses_results)

    return Counting


def content(traj):
    """What a trajectory holds of every generation, as JSON-able lists: its individuals,
    results and attempt records (less the fields that vary between runs: rank, times,
    error text), attempts sorted (they arrive in any order)."""

    def attempt(a):
        return [
            a["generation"],
            a["ind_idx"],
            a["attempt"],
            str(a["status"]),
            a["fitness"] and list(a["fitness"]),
        ]

    return {
        "results": {
            str(g): [[i, list(f)] for i, f in r] for g, r in traj.results.all_results.items()
        },
        "individuals": {
            str(g): [[ind.generation, ind.ind_idx, np.asarray(ind.coords).tolist()] for ind in inds]
            for g, inds in traj.individuals.items()
        },
        "attempts": {
            str(g): sorted(attempt(a) for a in r) for g, r in traj.results.attempts.items()
        },
    }


def packed(traj):
    return sum(traj.individuals.is_packed(g) for g in traj.individuals)


def main():
    root, name, kind, out = sys.argv[1:5]
    opts = {k: parse(v) for k, v in (a.split("=", 1) for a in sys.argv[5:])}
    experiment = Experiment(root)
    checkpoint = opts.get("checkpoint")
    if opts.get("every"):
        mpil2l.experiment.checkpointing.CHECKPOINT_COST_RATIO = 0
    traj, _ = experiment.prepare_experiment(
        name=name,
        checkpoint=checkpoint,
        overwrite=checkpoint is None,
        timeout=False,
        runner_params={"max_retries": 2, "results_log": opts.get("log", "auto")},
    )
    optimizee = SlowBowl(traj, opts.get("sleep", 0.0), opts.get("markers"), opts.get("fail", 0))
    optimizer = build(kind, traj, optimizee, opts.get("pop", 6), opts.get("gens", 4))
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    traj, _ = experiment.end_experiment(optimizer)
    if experiment.is_root:
        result = {
            **content(traj),
            "packed": PACKED_THEN + [packed(traj)],
            "final_fitness": list(traj.results.final_fitness),
            "final_individual": np.asarray(traj.results.final_individual["coords"]).tolist(),
            "statistics": [{k: v for k, v in s.items()} for s in optimizer.statistics],
        }
        with open(out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    main()

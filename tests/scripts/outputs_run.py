"""An experiment whose simulate returns named outputs besides its fitness (results-log tests).

usage: outputs_run.py ROOT [key=value ...]
  log=auto|parallel|serial|none   runner_params['results_log']
  isolation=process|none          runner_params['isolation']
  dispatch=dynamic|static         runner_params['dispatch']
  n=12 gens=3                     individuals per generation, generations
  bad=ndim                        generation 1 returns a 2-d 'trace' (the run must end)
  mp=False                        prepare_experiment(multiprocessing=False): rank 0 evaluates

Individual i of generation g returns, as a function of its x only (so the test can check
every stored array against the stored parameters):
  trace  float64, shape (3 + i % 4,): x0 * arange(len) + x1
  spikes int32, shape (i % 3, 2): [[g, i], ...]       (i % 3 == 0: an empty array)
  score  float32 scalar: x0 + x1
and no outputs at all when i % 5 == 4. Individual 2 raises on its first attempt (retried).
Rank 0 prints "BACKEND <name>" and "ROWS <attempts>".
"""

import sys

import numpy as np
from mpi4py import MPI

from mpil2l import Experiment, SimulationResult


def options(argv):
    opts = {
        "log": "auto",
        "isolation": "process",
        "dispatch": "dynamic",
        "n": "12",
        "gens": "3",
        "bad": "",
        "mp": "True",
    }
    for item in argv:
        key, _, value = item.partition("=")
        opts[key] = value
    return opts


class Walk:
    def __init__(self, traj, n, gens):
        self.optimizee_fitness_weights = (-1.0,)
        self.n, self.g = n, 0
        self.rng = np.random.default_rng(7)
        traj.f_add_parameter("n_iteration", gens)
        self._expand(traj)

    def _expand(self, traj):
        points = self.rng.normal(0.0, 1.0, (self.n, 2))
        traj.f_expand(
            {"generation": [self.g], "ind_idx": list(range(self.n)), "individual.x": list(points)}
        )

    def post_process(self, traj, results):
        assert [idx for idx, _ in results] == list(range(self.n))
        self.g += 1
        self._expand(traj)

    def end(self, traj):
        pass


class Traced:
    def __init__(self, bad):
        self.bad = bad

    def simulate(self, traj):
        ind = traj.individual
        x = np.asarray(ind.x, dtype=float)
        i, g = ind.ind_idx, ind.generation
        if i == 2 and ind.attempt == 0:
            raise RuntimeError("first attempt of individual 2 fails on purpose")
        fitness = (float(x @ x),)
        if i % 5 == 4:
            return fitness
        trace = x[0] * np.arange(3 + i % 4) + x[1]
        if self.bad == "ndim" and g == 1:
            trace = trace[None, :]
        spikes = np.array([[g, i]] * (i % 3), dtype=np.int32).reshape(i % 3, 2)
        if i % 2:
            return SimulationResult(
                fitness, {"trace": trace, "spikes": spikes, "score": np.float32(x.sum())}
            )
        return fitness, {"trace": trace, "spikes": spikes, "score": np.float32(x.sum())}


def main():
    root, *rest = sys.argv[1:]
    opts = options(rest)
    experiment = Experiment(root)
    runner_params = {
        "results_log": opts["log"],
        "isolation": opts["isolation"],
        "dispatch": opts["dispatch"],
    }
    traj, _ = experiment.prepare_experiment(
        name="outputs",
        overwrite=True,
        runner_params=runner_params,
        multiprocessing=opts["mp"] == "True",
    )
    optimizer = Walk(traj, int(opts["n"]), int(opts["gens"]))
    experiment.run_experiment(optimizer=optimizer, optimizee=Traced(opts["bad"]))
    experiment.end_experiment(optimizer)
    if MPI.COMM_WORLD.Get_rank() == 0:
        print("BACKEND", experiment.log_backend, flush=True)


if __name__ == "__main__":
    main()

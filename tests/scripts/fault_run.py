"""An experiment on the fault-injection optimizee, used by the fault-tolerance tests.

usage: fault_run.py ROOT OUT_JSON FAULTS_JSON RUNNER_PARAMS_JSON [key=value ...]
  FAULTS_JSON         {"ind_idx" or "generation,ind_idx": fault or [fault per attempt]}
  RUNNER_PARAMS_JSON  runner_params for prepare_experiment
  key=value           n=8 gens=2 hang=3600, anything else goes to prepare_experiment
"""

import json
import sys

from mpi4py import MPI

from mpil2l import Experiment
from mpil2l.optimizees.faults import FaultInjectionOptimizee
from toy_run import RandomSearch, parse


def main():
    root, out, faults, runner_params, *pairs = sys.argv[1:]
    options = {k: parse(v) for k, v in (pair.split("=", 1) for pair in pairs)}
    n, gens, hang = options.pop("n", 8), options.pop("gens", 2), options.pop("hang", 3600.0)
    experiment = Experiment(root)
    traj, _ = experiment.prepare_experiment(
        name="faults", overwrite=True, runner_params=json.loads(runner_params), **options
    )
    faults = {
        tuple(map(int, k.split(","))) if "," in k else int(k): v
        for k, v in json.loads(faults).items()
    }
    optimizee = FaultInjectionOptimizee(traj, faults, hang_seconds=hang)
    optimizer = RandomSearch(traj, n, gens, "")
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    traj, _ = experiment.end_experiment(optimizer)
    if experiment.is_root:
        report = {
            "results": {
                g: [[i, list(f)] for i, f in r] for g, r in traj.results.all_results.items()
            },
            "attempts": {
                g: [
                    {k: a[k] for k in ("ind_idx", "attempt", "rank", "status", "fitness", "error")}
                    for a in r
                ]
                for g, r in traj.results.attempts.items()
            },
        }
        with open(out, "w") as f:
            json.dump(report, f)
    print(f"rank {MPI.COMM_WORLD.Get_rank()} finished", flush=True)


if __name__ == "__main__":
    main()

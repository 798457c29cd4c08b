"""An experiment on the command-line optimizee, used by its tests.

usage: command_run.py ROOT OUT_JSON MODE [key=value ...]
  MODE       TARGET_MODE of command_target.py ('' for plain)
  key=value  n=6 gens=2 launcher='env LAUNCHED=yes' result=stdout; anything else is a
             runner parameter
"""

import json
import os
import sys

from mpil2l import Experiment
from mpil2l.optimizees.command import CommandOptimizee
from toy_run import RandomSearch, parse

TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "command_target.py")


def main():
    root, out, mode, *pairs = sys.argv[1:]
    options = {k: parse(v) for k, v in (pair.split("=", 1) for pair in pairs)}
    n, gens = options.pop("n", 6), options.pop("gens", 2)
    launcher, result = options.pop("launcher", None), options.pop("result", "stdout")
    experiment = Experiment(root)
    traj, _ = experiment.prepare_experiment(name="command", overwrite=True, runner_params=options)
    optimizee = CommandOptimizee(
        traj,
        [sys.executable, TARGET],
        launcher=launcher,
        result=result,
        output_dir=os.path.join(root, "outputs"),
        env={"TARGET_MODE": mode},
    )
    optimizer = RandomSearch(traj, n, gens, "")
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    traj, _ = experiment.end_experiment(optimizer)
    if experiment.is_root:
        report = {
            "results": {
                g: [[i, list(f)] for i, f in r] for g, r in traj.results.all_results.items()
            },
            "points": {
                g: [list(ind.x) for ind in traj.individuals[g]]
                for g in traj.results.all_results.keys()
            },
            "attempts": {
                g: [{k: a[k] for k in ("ind_idx", "attempt", "rank", "status", "error")} for a in r]
                for g, r in traj.results.attempts.items()
            },
        }
        with open(out, "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main()

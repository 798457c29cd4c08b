"""SMAC3's hyper-parameter optimization with its trials on MPI workers (needs smac:
pip install 'mpil2l[smac]').

Rank 0 runs SMAC's Bayesian optimization; every other rank evaluates one trial at a time:

    mpiexec -n 4 python examples/smac3_hpo.py [--trials 40] [--output smac3_output]

The target, a noisy 2-d Branin function that takes a while, stands in for training a model.
"""

import argparse
import math
import time

from ConfigSpace import ConfigurationSpace
from smac import HyperparameterOptimizationFacade, Scenario

from mpil2l import SMAC3Runner


def branin(config, seed=0):
    """The Branin function (minimum 0.398), plus a little seeded noise and 50 ms of work."""
    x, y = config["x"], config["y"]
    time.sleep(0.05)
    value = (
        (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x)
        + 10
    )
    return value + 1e-3 * ((seed * 7919) % 101) / 101


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--output", default="smac3_output", help="SMAC's output folder")
    args = parser.parse_args()

    space = ConfigurationSpace({"x": (-5.0, 10.0), "y": (0.0, 15.0)}, seed=0)
    scenario = Scenario(
        space, deterministic=True, n_trials=args.trials, output_directory=args.output, seed=0
    )
    with SMAC3Runner(scenario, branin) as runner:  # every rank
        if runner is None:  # a worker: it has run trials until rank 0 left the block
            return
        print(f"SMAC3 on {runner.count_available_workers()} MPI workers")
        smac = HyperparameterOptimizationFacade(scenario, runner, overwrite=True, logging_level=30)
        incumbent = smac.optimize()
        cost = smac.runhistory.get_cost(incumbent)
        print(
            f"incumbent x={incumbent['x']:.3f} y={incumbent['y']:.3f} cost={cost:.4f} "
            f"after {smac.runhistory.finished} trials"
        )


if __name__ == "__main__":
    main()

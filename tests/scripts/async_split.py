"""Two asynchronous random searches at once, on the two halves of COMM_WORLD.

usage: async_split.py ROOT OUT_JSON
"""

import json
import sys

import numpy as np
from mpi4py import MPI

from mpil2l import AsyncExperiment
from mpil2l.optimizers import AsyncRandomSearch, AsyncRandomSearchParameters
from toy_run import Sphere

WORLD = MPI.COMM_WORLD


def main():
    root, out = sys.argv[1:]
    color = WORLD.Get_rank() % 2
    sub = WORLD.Split(color, WORLD.Get_rank())
    experiment = AsyncExperiment(root, comm=sub)
    experiment.prepare_experiment(name=f"half{color}", overwrite=True)
    optimizer = AsyncRandomSearch(
        lambda: {"x": np.zeros(2)},
        (-1.0,),
        AsyncRandomSearchParameters(seed=3, lower=-2.0, upper=2.0),
    )
    experiment.run_experiment(optimizer=optimizer, optimizee=Sphere(""), budget=40)
    experiment.end_experiment(optimizer)
    mine = (
        [sub.Get_size(), optimizer.best_number, list(optimizer.best_fitness)]
        if experiment.is_root
        else None
    )
    gathered = [r for r in WORLD.gather(mine, root=0) or [] if r is not None]
    sub.Free()
    if WORLD.Get_rank() == 0:
        with open(out, "w") as f:
            json.dump(gathered, f)


if __name__ == "__main__":
    main()

"""SMAC3 trial throughput: mpil2l's `SMAC3Runner` against SMAC3's own `DaskParallelRunner`,
side by side in one MPI job, with the same number of workers (needs smac).

Reproduce (from the repository root)::

    .venv/bin/mpiexec -n 4 .venv/bin/python scripts/bench_smac.py [--trials 1000] [--json out.json]

NP ranks give NP - 1 workers to both runners: mpil2l's are ranks 1..NP-1; Dask's are NP - 1
worker processes of a local cluster that rank 0 starts (``Client(n_workers=NP - 1,
processes=True, threads_per_worker=1)``, what SMAC's facades create for ``n_workers``),
while ranks 1..NP-1 sleep in a polled barrier. Both runners get the same trials (no-op
target, configurations sampled from a 2-d space) through SMAC's own loop pattern: submit a
trial (which waits while no worker is free, so at most one trial per worker is out), take
whatever results are in, and at the end wait for the rest. Each runner first runs one trial
per worker untimed, so that its workers are up. Throughput = trials / wall time; the ratio is
mpil2l / SMAC's Dask runner (higher is better; the floor is 10x). mpil2l runs with
isolation=process (the default: each worker evaluates in a child process of its own) and
isolation=none. For context, a last row gives Dask itself on the same cluster, without
SMAC's runner: ``client.submit`` of the no-op, one future per worker outstanding.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

FLOOR = 10.0


def noop(config):
    return 0.0


def drive(runner, trials):
    """SMAC's loop without the optimizer: trials/s and how many succeeded."""
    start = time.perf_counter()
    statuses = []
    for trial in trials:
        runner.submit_trial(trial)
        statuses += [value.status for _, value in runner.iter_results()]
    while runner.is_running():
        runner.wait()
        statuses += [value.status for _, value in runner.iter_results()]
    elapsed = time.perf_counter() - start
    return len(trials) / elapsed, statuses


def make_trials(space, n, workers):
    from smac.runhistory import TrialInfo

    configs = space.sample_configuration(n + workers)
    return [TrialInfo(config, seed=0) for config in configs[:workers]], [
        TrialInfo(c, seed=0) for c in configs[workers:]
    ]


def bench_dask(space, trials, warm, workers, output):
    from smac import Scenario
    from smac.runner import DaskParallelRunner, TargetFunctionRunner

    scenario = Scenario(space, n_workers=workers, output_directory=output, deterministic=True)
    runner = DaskParallelRunner(TargetFunctionRunner(scenario, noop, required_arguments=[]))
    try:
        drive(runner, warm)
        smac_result = drive(runner, trials)
        return smac_result, drive_dask_futures(runner._client, len(trials), workers)
    finally:
        runner.close(force=True)


def drive_dask_futures(client, n, workers):
    """Dask itself, without SMAC's runner: ``client.submit`` of the no-op, one per worker."""
    from dask.distributed import wait

    start = time.perf_counter()
    pending, submitted, done = set(), 0, 0
    while done < n:
        while len(pending) < workers and submitted < n:
            pending.add(client.submit(noop, {}, pure=False))
            submitted += 1
        finished, pending = wait(pending, return_when="FIRST_COMPLETED")
        done += len(finished)
    return n / (time.perf_counter() - start), []


def bench_mpil2l(comm, space, trials, warm, isolation, output):
    from smac import Scenario

    from mpil2l import SMAC3Runner

    scenario = Scenario(space, output_directory=output, deterministic=True)
    with SMAC3Runner(scenario, noop, comm=comm, isolation=isolation) as runner:
        if runner is None:
            return None
        drive(runner, warm)
        return drive(runner, trials)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trials", type=int, default=1000, help="timed trials per runner (default 1000)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to this JSON file")
    args = parser.parse_args()

    # Imported here, not at the top: Dask's worker processes import this module, and must not
    # start MPI with rank 0's launcher environment.
    from ConfigSpace import ConfigurationSpace
    from mpi4py import MPI

    from mpil2l.runtime.spmd import wait_for

    comm = MPI.COMM_WORLD
    rank, workers = comm.Get_rank(), comm.Get_size() - 1
    if workers < 1:
        sys.exit("bench_smac: run it on at least 2 ranks (mpiexec -n 4 ...)")
    space = ConfigurationSpace({"x": (-5.0, 5.0), "y": (0.0, 10.0)}, seed=0)
    output = comm.bcast(tempfile.mkdtemp(prefix="mpil2l-bench-smac-") if rank == 0 else None)
    results = {}
    try:
        warm, trials = make_trials(space, args.trials, workers) if rank == 0 else (None, None)
        if rank == 0:
            results["dask"], results["dask-futures"] = bench_dask(
                space, trials, warm, workers, os.path.join(output, "dask")
            )
        wait_for(comm.Ibarrier())  # the MPI workers sleep while Dask runs
        for isolation in ("process", "none"):
            outcome = bench_mpil2l(
                comm, space, trials, warm, isolation, os.path.join(output, isolation)
            )
            if rank == 0:
                results[f"mpil2l-{isolation}"] = outcome
    finally:
        if rank == 0:
            shutil.rmtree(output, ignore_errors=True)
    if rank != 0:
        return 0

    dask_rate = results["dask"][0]
    print(
        f"\nSMAC3 trial throughput, {args.trials} no-op trials, {workers} workers, "
        f"{os.cpu_count()} cores"
    )
    names = {
        "dask": "SMAC3 DaskParallelRunner",
        "dask-futures": "(context) dask client.submit, without SMAC",
        "mpil2l-process": "mpil2l SMAC3Runner, isolation=process",
        "mpil2l-none": "mpil2l SMAC3Runner, isolation=none",
    }
    print("| runner | trials/s | ratio to SMAC3 DaskParallelRunner |")
    print("|---|---:|---:|")
    for name, (rate, statuses) in results.items():
        failed = sum(1 for s in statuses if s.name != "SUCCESS")
        note = f" ({failed} not SUCCESS)" if failed else ""
        print(f"| {names[name]}{note} | {rate:,.0f} | {rate / dask_rate:.1f} |")
    ratio = results["mpil2l-process"][0] / dask_rate
    print(
        f"\nmpil2l (isolation=process) / DaskParallelRunner = {ratio:.1f}x (floor {FLOOR:g}x: "
        f"{'met' if ratio >= FLOOR else 'NOT met'})"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({name: rate for name, (rate, _) in results.items()}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

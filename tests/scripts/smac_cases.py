"""SMAC's v1 runner contract on MPI ranks, used by tests/test_smac_runner_mpi.py.

usage: smac_cases.py CASE OUT_JSON
"""

import json
import os
import sys
import time

from mpi4py import MPI

from mpil2l.core.errors import FirstRunCrashedException
from mpil2l.core.runs import RunInfo
from mpil2l.smac.runner import MPIRunner

HERE = os.path.dirname(os.path.abspath(__file__))


def quality_target(config, seed):
    x = config["x"]
    if x == 3:
        raise ValueError("no good at 3")
    if x == 4:
        return float("nan")
    if x == 5:
        return x * x, {"note": "five"}
    if x == 7:
        blob = bytearray(400 * 2**20)
        blob[::4096] = b"x" * len(blob[::4096])
    if x == 8:
        time.sleep(30)
    return float(x * x + seed)


def runtime_target(config, instance):
    if config["t"] < 0:
        raise RuntimeError("negative time")
    time.sleep(config["t"])
    return 0.0


def two_objectives(config, **kwargs):
    return {"list": [1.0, 2.0], "dict": {"size": 3.0, "error": 0.5}, "missing": {"error": 0.5}}[
        config["mode"]
    ]


def plain_target(config):
    return config["x"] + 0.25


def collect(runner, run_infos):
    for r in run_infos:
        runner.submit_run(r)
    finished = runner.get_finished_runs()
    while len(finished) < len(run_infos):
        runner.wait()
        finished += runner.get_finished_runs()
    return finished


def row(run_info, value):
    return {
        "config": run_info.config,
        "status": value.status.name,
        "cost": value.cost,
        "time": value.time,
        "info": {
            k: v for k, v in value.additional_info.items() if k in ("error", "note", "traceback")
        },
    }


def quality(out):
    with MPIRunner(
        quality_target,
        run_obj="quality",
        abort_on_first_run_crash=False,
        cost_for_crash=1e9,
        memory_limit_mb=150,
    ) as runner:
        if runner is None:
            return
        runs = [RunInfo({"x": x}, seed=1, cutoff=1.0 if x == 8 else None) for x in range(9)]
        finished = collect(runner, runs)
        report = {
            "workers": runner.num_workers(),
            "rows": sorted((row(*f) for f in finished), key=lambda r: r["config"]["x"]),
        }
        report["run"] = list(runner.run({"x": 2}, seed=0))[:3]
        json.dump(report, open(out, "w"), default=str)


def runtime(out):
    with MPIRunner(
        runtime_target, run_obj="runtime", par_factor=10, abort_on_first_run_crash=False
    ) as runner:
        if runner is None:
            return
        runs = [
            RunInfo({"t": 0.05}, instance="i1", cutoff=2.0),
            RunInfo({"t": 30}, instance="i2", cutoff=0.5),
            RunInfo({"t": 30}, instance="i3", cutoff=0.5, capped=True),
            RunInfo({"t": -1}, instance="i4", cutoff=0.5),
        ]
        finished = collect(runner, runs)
        report = {"rows": [row(*f) for f in sorted(finished, key=lambda f: f[0].instance)]}
        try:
            runner.submit_run(RunInfo({"t": 0.1}))
            report["no_cutoff"] = None
        except ValueError as exc:
            report["no_cutoff"] = str(exc)
        json.dump(report, open(out, "w"), default=str)


def first_crash(out):
    with MPIRunner(quality_target, run_obj="quality") as runner:
        if runner is None:
            return
        try:
            collect(runner, [RunInfo({"x": 3})])
            result = "no exception"
        except FirstRunCrashedException as exc:
            result = f"FirstRunCrashedException: {exc}"
        json.dump({"result": result}, open(out, "w"))


def retries(out):
    with MPIRunner(
        quality_target, run_obj="quality", abort_on_first_run_crash=False, max_retries=2
    ) as runner:
        if runner is None:
            return
        finished = collect(runner, [RunInfo({"x": 3}), RunInfo({"x": 1})])
        json.dump(
            {"rows": sorted((row(*f) for f in finished), key=lambda r: r["config"]["x"])},
            open(out, "w"),
        )


def aclib(out):
    command = [sys.executable, os.path.join(HERE, "aclib_target.py")]
    with MPIRunner(command, run_obj="quality", abort_on_first_run_crash=False) as runner:
        if runner is None:
            return
        runs = [
            RunInfo({"x": 2.0, "mode": "ok"}, instance="inst-a", cutoff=1.0, seed=7),
            RunInfo({"x": 1.0, "mode": "hang"}, instance="inst-b", cutoff=1.0, seed=7),
            RunInfo({"x": 1.0, "mode": "garbage"}, instance="inst-c", cutoff=1.0, seed=7),
        ]
        finished = collect(runner, runs)
        json.dump(
            {"rows": sorted((row(*f) for f in finished), key=lambda r: r["config"]["mode"])},
            open(out, "w"),
        )


def multi(out):
    with MPIRunner(
        two_objectives,
        multi_objectives=["error", "size"],
        run_obj="quality",
        cost_for_crash=[5.0, 6.0],
        abort_on_first_run_crash=False,
    ) as runner:
        if runner is None:
            return
        finished = collect(
            runner, [RunInfo({"mode": m}, seed=2) for m in ("list", "dict", "missing")]
        )
        json.dump(
            {"rows": sorted((row(*f) for f in finished), key=lambda r: r["config"]["mode"])},
            open(out, "w"),
        )


def aclib_runtime(out):
    command = [sys.executable, os.path.join(HERE, "aclib_target.py")]
    with MPIRunner(
        command, run_obj="runtime", par_factor=10, abort_on_first_run_crash=False
    ) as runner:
        if runner is None:
            return
        runs = [
            RunInfo({"x": 2.0, "mode": m}, instance=f"inst-{m}", cutoff=1.0, seed=7)
            for m in ("ok", "hang", "abort", "slow", "sat", "odd")
        ]
        finished = collect(runner, runs)
        json.dump(
            {"rows": sorted((row(*f) for f in finished), key=lambda r: r["config"]["mode"])},
            open(out, "w"),
        )


def split(out):
    """Two runners side by side, each on half of COMM_WORLD, like MPICommExecutor(comm)."""
    world = MPI.COMM_WORLD
    half = world.Split(world.Get_rank() % 2, world.Get_rank())
    rows = None
    with MPIRunner(plain_target, run_obj="quality", comm=half) as runner:
        if runner is not None:
            finished = collect(runner, [RunInfo({"x": float(x)}) for x in range(6)])
            rows = {
                "workers": runner.num_workers(),
                "rows": sorted(row(*f)["cost"] for f in finished),
            }
    everything = world.gather(rows)
    half.Free()
    if world.Get_rank() == 0:
        json.dump([r for r in everything if r is not None], open(out, "w"))


def plain(out):
    with MPIRunner(plain_target, run_obj="quality") as runner:
        if runner is None:
            return
        finished = collect(runner, [RunInfo({"x": 1.0}, instance="ignored", seed=3)])
        json.dump({"rows": [row(*f) for f in finished]}, open(out, "w"))


if __name__ == "__main__":
    case, out = sys.argv[1:]
    cases = {
        "quality": quality,
        "runtime": runtime,
        "first_crash": first_crash,
        "retries": retries,
        "aclib": aclib,
        "plain": plain,
        "multi": multi,
        "aclib_runtime": aclib_runtime,
        "split": split,
    }
    cases[case](out)

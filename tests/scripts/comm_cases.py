"""Experiments and the scheduler on other communicators, used by the runtime tests.

usage: comm_cases.py CASE ROOT OUT_JSON
  twice      two experiments one after the other on COMM_WORLD
  split      COMM_WORLD split in two halves, an experiment on each, with user messages on
             COMM_WORLD around them
  scheduler  the submit/collect contract used directly
  limits     the contract with runs that crash, exit, hang and run out of memory
  policies   the scheduling policies of the evaluation processes and of their workers
  threads    the thread-pool variables the evaluation processes see
"""

import json
import sys

from mpi4py import MPI

from mpil2l import Experiment, StatusType, on_workers
from toy_run import RandomSearch, Sphere

WORLD = MPI.COMM_WORLD


def experiment(root, name, comm):
    exp = Experiment(root, comm=comm)
    traj, _ = exp.prepare_experiment(name=name, overwrite=True)
    optimizer = RandomSearch(traj, 6, 2, "")
    exp.run_experiment(optimizer=optimizer, optimizee=Sphere(""))
    traj, _ = exp.end_experiment(optimizer)
    if exp.is_root:
        return {str(g): r for g, r in traj.results.all_results.items()}
    return None


def twice(root):
    return [experiment(root, "first", WORLD), experiment(root, "second", WORLD)]


def split(root):
    color = WORLD.Get_rank() % 2
    sub = WORLD.Split(color, WORLD.Get_rank())
    if WORLD.Get_rank() == 0:
        WORLD.send("before", dest=1, tag=0)
    elif WORLD.Get_rank() == 1:
        assert WORLD.recv(source=0, tag=0) == "before"
    result = experiment(root, f"half{color}", sub)
    gathered = WORLD.gather(result, root=0)
    if WORLD.Get_rank() == 1:
        WORLD.send("after", dest=0, tag=0)
    elif WORLD.Get_rank() == 0:
        assert WORLD.recv(source=1, tag=0) == "after"
    sub.Free()
    return gathered and [r for r in gathered if r is not None]


def failing_square(x):
    if x % 5 == 4:
        raise KeyError(f"no square for {x}")
    return x * x


def scheduler(root):
    with on_workers(failing_square) as s:
        if s is None:
            return None
        report = {"num_workers": s.num_workers(), "pending_before": s.pending_runs()}
        for x in range(20):
            s.submit_run(x)
        finished = s.get_finished_runs()  # with one rank, runs are done at submission
        while s.pending_runs():
            s.wait()
            finished += s.get_finished_runs()
        report["empty_after_collect"] = s.get_finished_runs() == []
        report["pending_after"] = s.pending_runs()
        report["runs"] = sorted(
            [x, value.status.name, value.cost, value.additional_info.get("error")]
            for x, value in finished
        )
        crashed = [v for _, v in finished if v.status == StatusType.CRASHED]
        report["tracebacks"] = all(
            "failing_square" in v.additional_info["traceback"] for v in crashed
        )
        report["exception_types"] = sorted(
            {type(v.additional_info["exception"]).__name__ for v in crashed}
        )
        s.wait()  # nothing pending: returns at once
        return report


def collect_all(s):
    """Every result of the runs submitted to Scheduler `s` (the loop `scheduler` spells out)."""
    finished = s.get_finished_runs()
    while s.pending_runs():
        s.wait()
        finished += s.get_finished_runs()
    return finished


def faulty(x):
    import ctypes
    import os
    import time

    if x == 1:
        ctypes.string_at(0)
    if x == 2:
        os._exit(7)
    if x == 3:
        time.sleep(100)
    if x == 4:
        bytearray(1 << 40)
    if x == 6:
        import threading

        return threading.Lock()  # cannot be pickled back to the worker
    return x + 0.5


def limits(root):
    from mpil2l import Limits

    with on_workers(faulty, limits=Limits(timeout=1.0, memory_limit_mb=100)) as s:
        if s is None:
            return None
        for x in range(7):
            s.submit_run(x)
        s.submit_run(3.0, timeout=0.5)  # sleeps like 3, with a time limit of its own
        finished = collect_all(s)
        return sorted(
            [x, v.status.name, v.cost, v.additional_info.get("error")] for x, v in finished
        )


def policies_once_crashed(marker_dir):
    """Ends the first evaluation process of each worker; later runs return the scheduling
    policies of their process and of its parent (the worker)."""
    import os

    marker = os.path.join(marker_dir, f"crashed-{os.getppid()}")
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)
    return [os.sched_getscheduler(0), os.sched_getscheduler(os.getppid())]


def policies(root):
    import os

    os.makedirs(root, exist_ok=True)
    runs = None
    with on_workers(policies_once_crashed) as s:
        if s is not None:
            for _ in range(12):
                s.submit_run(root)
            finished = collect_all(s)
            runs = sorted([v.status.name, v.cost] for _, v in finished)
    after = WORLD.gather(os.sched_getscheduler(0), root=0)  # every rank, once the run is over
    return runs and {"runs": runs, "after": after}


def thread_settings(_):
    import os

    from mpil2l.evaluation.resources import THREAD_VARIABLES

    return {name: os.environ.get(name) for name in THREAD_VARIABLES}


def threads(root):
    with on_workers(thread_settings) as s:
        if s is None:
            return None
        for i in range(6):
            s.submit_run(i)
        return [v.cost for _, v in collect_all(s)]


if __name__ == "__main__":
    case, root, out = sys.argv[1:]
    result = {
        "twice": twice,
        "split": split,
        "scheduler": scheduler,
        "limits": limits,
        "policies": policies,
        "threads": threads,
    }[case](root)
    if WORLD.Get_rank() == 0:
        with open(out, "w") as f:
            json.dump(result, f)

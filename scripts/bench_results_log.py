"""What the HDF5 results log costs a run, measured side by side in one MPI job.

Reproduce (from the repository root)::

    .venv/bin/python scripts/bench_results_log.py --np 4            # about 4 minutes
    .venv/bin/python scripts/bench_results_log.py --np 4 --quick    # about 40 s
    make test-parallel && LD_LIBRARY_PATH=$PWD/.venv-parallel/mpilib \\
        .venv-parallel/bin/python scripts/bench_results_log.py --np 4   # both backends

The script relaunches itself under ``mpiexec -n NP`` (the ``mpiexec`` next to
``sys.executable``, else ``PATH``'s); rank 0 prints a table.

1. Throughput with the log against without it: an ``Experiment`` of ``--generations``
   generations of ``--population`` individuals whose ``simulate`` sleeps 1 ms, with
   ``runner_params['results_log']`` = 'none' and each backend this h5py has ('serial', and
   'parallel' where h5py has MPI), in alternating order, ``--pairs`` times; the median wall
   time of ``run_experiment`` of each. Ratio = with / without (floor: at most 1.05). The
   same again with 3 times as many generations: the extra generations give the steady
   state per generation, and the difference of the intercepts what a run pays once for
   the log (opening and closing it; collective steps with the parallel backend).
   With the parallel backend each attempt also returns a 100-value output ('trace'),
   written by the workers, and the 'none' run returns it too (then it is dropped). The
   optimizer has the state interface, so the runs with a log also save checkpoints (when
   due: ``mpil2l.experiment.checkpointing.CHECKPOINT_COST_RATIO``), as runs of mpil2l's
   optimizers do.
   With the parallel backend, one more session flushes the log after every generation
   instead of when due (``FLUSH_COST_RATIO``): what that cadence would cost (info, not
   judged).
2. Memory: ``--evaluations`` no-op evaluations (1,000,000; ``--quick``: 100,000) in
   generations of 10,000, rank 0's resident memory (VmRSS, MiB) after a quarter, half and
   all of them, and its peak so far (VmHWM), (b) through the ``Scheduler`` with only the
   ``ResultsLog`` writing every attempt and flushing every generation: the log's own
   footprint (floor: under 300 MiB, flat with the history), then (a) through the
   ``Experiment`` with the results log, which also keeps L2L's trajectory in memory (every
   individual, result and attempt record of every generation).
"""

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time

from mpi_job import find_mpiexec, run_job  # scripts/mpi_job.py, beside this script

CHILD_ENV = "MPIL2L_BENCH_LOG_CHILD"
MEMORY_GENERATION = 10_000
FLOOR_SLOWDOWN = 1.05
FLOOR_MEMORY_MIB = 300
LONG_FACTOR = 3  # section 1 also runs this many times more generations: the steady state
EVERY_GENERATION = (
    "parallel-every-generation"  # section 1: the parallel log, flushed after every generation
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--np", type=int, default=4, help="MPI ranks (rank 0 + workers)")
    parser.add_argument("--quick", action="store_true", help="fewer evaluations and pairs")
    parser.add_argument("--population", type=int, default=96)
    parser.add_argument("--generations", type=int, default=30)
    parser.add_argument(
        "--pairs",
        type=int,
        default=None,
        help="alternating sessions per backend (default 5, quick 2)",
    )
    parser.add_argument(
        "--evaluations", type=int, default=None, help="no-op evaluations for section 2"
    )
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    if args.pairs is None:
        args.pairs = 2 if args.quick else 5
    if args.evaluations is None:
        args.evaluations = 100_000 if args.quick else 1_000_000
    if args.quick:
        args.generations = min(args.generations, 15)
    return args


def launch(args):
    command = [
        find_mpiexec(),
        "-n",
        str(args.np),
        sys.executable,
        os.path.abspath(__file__),
        *sys.argv[1:],
    ]
    print("launching:", " ".join(command), flush=True)
    return run_job(command, dict(os.environ, **{CHILD_ENV: "1"}), args.timeout, "bench_results_log")


# -- evaluated on the workers (module level: every rank unpickles it) -----------------------


class SleepOptimizee:
    """Sleeps 1 ms; returns a 100-value trace besides its fitness when asked to."""

    def __init__(self, outputs):
        self.outputs = outputs

    def simulate(self, traj):
        time.sleep(1e-3)
        if self.outputs:
            import numpy as np

            return (0.0,), {"trace": np.full(100, traj.individual.x)}
        return (0.0,)


class NoopOptimizee:
    def simulate(self, traj):
        return (0.0,)


def noop(_):
    return (0.0,)


class FixedOptimizer:
    """Every generation holds the same `population` individuals (``x`` = their index);
    records rank 0's memory after each generation. It has the state interface, so that a
    run with a results log also saves checkpoints, as runs of mpil2l's optimizers do."""

    optimizee_fitness_weights = (1.0,)

    def __init__(self, traj, population, generations):
        self.population, self.generations = population, generations
        self.rss = []
        traj.f_add_parameter("n_iteration", generations)
        self._expand(traj, 0)

    def _expand(self, traj, g):
        traj.f_expand(
            {
                "generation": [g],
                "ind_idx": list(range(self.population)),
                "individual.x": [float(i) for i in range(self.population)],
            }
        )

    def post_process(self, traj, results):
        self.rss.append(memory_mib()[0])
        g = max(traj.individuals) + 1
        if g < self.generations:
            self._expand(traj, g)

    def get_state(self):
        return {"population": self.population, "generations": self.generations}

    def set_state(self, state):
        self.population, self.generations = state["population"], state["generations"]

    def end(self, traj):
        pass


def memory_mib():
    """(VmRSS, VmHWM) of this process, MiB."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


# -- the MPI job ------------------------------------------------------------------------------


def run_experiment(comm, root, name, backend, optimizee, population, generations):
    """Collective; returns (wall seconds of run_experiment, optimizer) on rank 0."""
    import logging

    from mpil2l import Experiment
    from mpil2l.core.console import logger

    experiment = Experiment(root, comm)
    traj, _ = experiment.prepare_experiment(
        name=name, overwrite=True, timeout=False, runner_params={"results_log": backend}
    )
    logger.setLevel(logging.WARNING)
    optimizer = FixedOptimizer(traj, population, generations)
    comm.Barrier()
    t0 = time.perf_counter()
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    elapsed = time.perf_counter() - t0
    experiment.end_experiment(optimizer)
    if comm.Get_rank() == 0:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    return elapsed, optimizer


@contextlib.contextmanager
def flush_cadence(session):
    """The Experiment's flush cadence during a session: its own (flushes when due), or, for
    `EVERY_GENERATION`, a flush after every generation whatever it costs."""
    from mpil2l.experiment import recorder

    saved = recorder.FLUSH_COST_RATIO, recorder.MIN_FLUSH_INTERVAL
    if session == EVERY_GENERATION:
        recorder.FLUSH_COST_RATIO = recorder.MIN_FLUSH_INTERVAL = 0
    try:
        yield
    finally:
        recorder.FLUSH_COST_RATIO, recorder.MIN_FLUSH_INTERVAL = saved


def section_throughput(comm, root, args, sessions):
    """{(session, generations): [seconds]} for 'none' and each of `sessions` (a backend, or
    `EVERY_GENERATION`), with ``--generations`` and `LONG_FACTOR` times as many, alternating."""
    lengths = (args.generations, LONG_FACTOR * args.generations)
    times = {(b, g): [] for b in ["none", *sessions] for g in lengths}
    outputs = "parallel" in sessions
    for pair in range(args.pairs):
        order = ["none", *sessions] if pair % 2 == 0 else [*sessions, "none"]
        for generations in lengths:
            for session in order:
                backend = "parallel" if session == EVERY_GENERATION else session
                with flush_cadence(session):
                    elapsed, _ = run_experiment(
                        comm,
                        root,
                        "tp",
                        backend,
                        SleepOptimizee(outputs),
                        args.population,
                        generations,
                    )
                times[(session, generations)].append(elapsed)
    return times


def throughput_rows(times, sessions, args):
    """Table rows of section 1: per session, the ratio of whole runs and of the extra
    generations of the long runs (the steady state, without opening and closing the log),
    and what the log adds to a run once (opening, closing: the intercept)."""
    short, long = args.generations, LONG_FACTOR * args.generations
    t = {key: statistics.median(values) for key, values in times.items()}
    per_generation_none = (t[("none", long)] - t[("none", short)]) / (long - short)
    rows = []
    for session in sessions:
        extra = (
            " (+ 100-value output per attempt, written by the workers)"
            if session == "parallel"
            else ""
        )
        label = f"results_log='{session}'"
        if session == EVERY_GENERATION:
            label, extra = (
                "results_log='parallel' flushed after every generation (not when due)",
                "",
            )
        floor = "info" if session == EVERY_GENERATION else f"<= {FLOOR_SLOWDOWN}"
        ratio = t[(session, short)] / t[("none", short)]
        per_generation = (t[(session, long)] - t[(session, short)]) / (long - short)
        once = (t[(session, short)] - short * per_generation) - (
            t[("none", short)] - short * per_generation_none
        )
        n = args.population * short
        rows.append(
            f"| 1 throughput, {label}{extra}, runs of {short} generations (ind/s) | "
            f"{n / t[(session, short)]:,.0f} | {n / t[('none', short)]:,.0f} | {ratio:.3f} | "
            f"{floor} |"
        )
        rows.append(
            f"| 1 steady state, {label}: generation {short + 1} to {long} (ms per generation) | "
            f"{1e3 * per_generation:.1f} | {1e3 * per_generation_none:.1f} | "
            f"{per_generation / per_generation_none:.3f} | {floor} |"
        )
        rows.append(
            f"| 1 once per run, {label}: opening and closing the log (s) | {once:.3f} |  |  |  |"
        )
    return rows


def section_memory_experiment(comm, root, args, backend):
    generations = max(1, args.evaluations // MEMORY_GENERATION)
    _, optimizer = run_experiment(
        comm, root, "mem", backend, NoopOptimizee(), MEMORY_GENERATION, generations
    )
    return optimizer.rss, memory_mib()[1]


def section_memory_log_only(comm, root, args):
    """Rank 0 drives a Scheduler and writes every attempt to a ResultsLog (serial), flushing
    every generation; nothing else keeps the history."""
    from mpil2l.model.conversion import dict_to_list
    from mpil2l.evaluation.simulation import attempt_record
    from mpil2l.runtime.scheduler import on_workers
    from mpil2l.storage import ResultsLog

    generations = max(1, args.evaluations // MEMORY_GENERATION)
    with on_workers(noop, comm) as scheduler:
        if scheduler is None:
            return None
        _, spec = dict_to_list({"x": 0.0}, get_dict_spec=True)
        path = os.path.join(root, "log-only.h5")
        rss = []
        with ResultsLog.create(path, 1, spec, overwrite=True) as log:
            for g in range(generations):
                scheduler.submit_runs(list(range(MEMORY_GENERATION)))
                done = 0
                while done < MEMORY_GENERATION:
                    scheduler.wait()
                    finished = scheduler.get_finished_runs()
                    records = []
                    for i, value in finished:
                        record = attempt_record(_Task(g, i), value)
                        records.append(record)
                    log.append_attempts(records, [[float(i)] for i, _ in finished])
                    done += len(finished)
                log.flush()
                rss.append(memory_mib()[0])
        os.remove(path)
        return rss, memory_mib()[1]


class _Task:
    __slots__ = ("generation", "ind_idx", "attempt")

    def __init__(self, generation, ind_idx):
        self.generation, self.ind_idx, self.attempt = generation, ind_idx, 0


def main_mpi(args):
    from mpi4py import MPI

    from mpil2l.storage.parallel import mpi_enabled

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    root = tempfile.mkdtemp(prefix="bench-log-") if rank == 0 else None
    root = comm.bcast(root, root=0)
    backends = ["serial"] + (["parallel"] if mpi_enabled() and comm.Get_size() > 1 else [])
    sessions = backends + ([EVERY_GENERATION] if "parallel" in backends else [])
    times = section_throughput(comm, root, args, sessions)
    mem_log = section_memory_log_only(comm, root, args)  # first: 2a's peak would hide its own
    mem_experiment = section_memory_experiment(comm, root, args, backends[-1])
    if rank != 0:
        return
    shutil.rmtree(root, ignore_errors=True)
    n = args.population * args.generations
    print(
        f"\n{comm.Get_size()} ranks; 1 ms evaluations: {args.generations} generations x "
        f"{args.population}, {args.pairs} alternating sessions each (median wall time of "
        "run_experiment)\n"
    )
    print("| measurement | with log | without | ratio (with / without) | floor |")
    print("|---|---:|---:|---:|---:|")
    for row in throughput_rows(times, sessions, args):
        print(row)
    for label, (rss, peak) in (
        (f"2a Experiment with results_log='{backends[-1]}'", mem_experiment),
        ("2b Scheduler + ResultsLog only (the log's own footprint)", mem_log),
    ):
        k = len(rss)
        marks = " / ".join(f"{rss[max(0, (k * q) // 4 - 1)]:.0f}" for q in (1, 2, 4))
        print(
            f"| {label}: {args.evaluations:,} no-ops, rank 0 RSS MiB at 1/4, 1/2, all | {marks} | "
            f"peak {peak:.0f} | growth {rss[-1] - rss[max(0, k // 4 - 1)]:+.0f} MiB | < "
            f"{FLOOR_MEMORY_MIB} MiB, flat |"
        )
    print(
        "\nraw wall times (s):",
        {f"{b} x{g}": [round(t, 3) for t in ts] for (b, g), ts in times.items()},
    )


def main():
    args = parse_args()
    if os.environ.get(CHILD_ENV):
        main_mpi(args)
        return 0
    return launch(args)


if __name__ == "__main__":
    sys.exit(main())

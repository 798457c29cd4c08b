"""Runtime benchmark of mpil2l against plain mpi4py references, in one MPI job.

Reproduce (from the repository root)::

    .venv/bin/python scripts/bench_runtime.py --np 4 [--json bench.json]

The script relaunches itself under ``mpiexec -n NP`` (the ``mpiexec`` next to
``sys.executable``, else the one on ``PATH``) with a hard timeout, and the MPI job prints a
Markdown table on rank 0. Every measurement runs in that one job, on ``MPI.COMM_WORLD``, so
that mpil2l and the references share the same ranks, cores and MPI library; all ranks meet in
a (sleeping, polled) barrier between sections. Rank 0 schedules, ranks 1..NP-1 are workers.

Sections (``ratio`` is always ``mpil2l / reference``; each row says which way is better, and
every mpil2l row names the isolation it runs with: ``isolation=process``, the default, where
each worker evaluates in a child process of its own, or ``isolation=none``, in the worker rank
itself). Every Scheduler measurement starts with a warm-up of one run per worker, untimed, so
that the evaluation processes are up before the clock starts; their start-up is measured on
its own (5d). The Experiment rows time ``run_experiment`` whole, start-up included.

1. No-op throughput, individuals/s, for N = 50,000 runs of a function that does nothing:
   (a) ``Scheduler.submit_runs(runs)`` (dynamic) then ``wait``/``get_finished_runs`` until
   done, with isolation=process and isolation=none in alternating order (process, none;
   none, process; process, none: ``ISOLATION_PAIRS`` pairs), each the median of its runs;
   (b) the same with ``static=True`` (process); (c) the full ``Experiment`` generational
   loop, 10 generations of 5,000 individuals, ``simulate`` returning ``(0.0,)`` (process);
   (d) reference: ``mpi4py.futures.MPICommExecutor(...).map(noop, range(N), chunksize=1)``;
   (e) raw pickled ``comm.send``/``comm.recv`` ping-pong, rank 0 with one message
   outstanding per worker, round trips/s over about one second (every rank spins in MPICH's
   blocking receive, so with more ranks than cores this is slow and noisy).
2. Efficiency on 300 ``time.sleep(d)`` runs, d lognormal (median 10 ms, sigma 1) from
   ``numpy.random.default_rng(seed)``, seeds 0, 1, 2, the same durations for every runner:
   efficiency = max(sum(d) / n_workers, max(d)) / makespan, for the dynamic ``Scheduler``
   (warmed up with one run of the median duration per worker) and an ``Experiment`` of one
   generation (makespan = wall time of ``run_experiment``, start-up and shutdown included),
   each with isolation=process and isolation=none, and ``MPICommExecutor.map`` (chunksize
   1). For context, the table also gives the efficiency that zero-overhead greedy dispatch in
   submission order would reach (simulated): the best a dispatcher that does not know d can
   do; and, for the Scheduler, the efficiency against the bound of the runs' durations as
   each evaluation measured them (a sleep lasts longer than d: the OS wakes it late), which
   leaves only what mpil2l adds.
3. Overhead per generation: ``Experiment`` with 32 no-op individuals for 200 generations,
   wall time of ``run_experiment`` / 200 (start-up included), dynamic and static dispatch,
   isolation=process and isolation=none; in parentheses the steady state, (time of the last
   generation's end - time of the first's) / 199, which leaves the start-up out; reference:
   200 successive ``MPICommExecutor.map`` calls of 32 no-ops. The 2 ms floor is checked on
   the steady state: the start-up (an interpreter per worker, 5d, and its import of numpy) is
   paid once per run, whatever its length, and is printed as information.
4. (a) Rank 0's CPU time (``time.process_time``) as a fraction of wall time while the
   workers sleep through 60 runs of 50 ms, Scheduler (isolation=process) against a blocking
   ``comm.recv`` loop; (b) latency added to a run of ``sleep(d)``, d = 1, 5, 20 ms, submitted
   one at a time (``submit_run``, ``wait``, ``get_finished_runs``) on the Scheduler
   (isolation=process), 50 each: mean round trip - d, against a raw pickled send / blocking
   recv round trip to worker 1, which sleeps d and waits in a blocking recv (the other
   workers sleep, so that no more ranks spin than there are cores on a 2-core machine).
5. The cost of isolation, measured in the same Scheduler sessions as 1a (same ranks, same
   job, process and none alternating): cost per individual = (1/throughput(process) -
   1/throughput(none)) * n_workers, the extra time a worker spends per individual, in us,
   (a) from the no-op throughputs of 1a (where batching of up to 2 ms of work per message
   hides part of the cost: one message carries thousands of no-ops), and (b, c) from
   ``N_SLEEP_RUNS`` runs of ``sleep(1 ms)`` (about 1.1 ms each here), sent one run per
   batch, as the Scheduler does for runs longer than half its 2 ms batch target (it is first
   warmed up with ``sleep(1 ms)`` runs so that it knows their length); the range in
   parentheses is that of the per-pair costs. The floor check uses the larger of (a) and
   (c). (d) Start-up: wall time from the first submission to the first no-op back from every
   worker, process (a fresh interpreter per worker) against none.

mpil2l's progress logger is set to WARNING after ``prepare_experiment`` so that the 200+
per-generation INFO lines do not bury the table. With NP greater than the number of cores
the ranks are oversubscribed; the environment line says how many cores there are.
"""

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

from mpi_job import find_mpiexec, run_job  # scripts/mpi_job.py, beside this script

CHILD_ENV = "MPIL2L_BENCH_CHILD"
COMMAND_ENV = "MPIL2L_BENCH_COMMAND"
# Launchers set one of these in every rank; a child started by hand under mpiexec is a child too.
LAUNCHER_RANK_ENV = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK")

N_NOOP = 50_000
EXP_GENERATIONS, EXP_POPULATION = 10, 5_000
PING_PONG_SECONDS = 1.0  # blocking MPICH receives on oversubscribed cores can be very slow
LOGNORMAL_RUNS, LOGNORMAL_MEDIAN, LOGNORMAL_SIGMA = 300, 10e-3, 1.0
# Ten draws of the 300 durations: the question is one of a percent, and the draws differ by
# more (zero-overhead greedy dispatch: 0.982 on seeds 0-2, 0.991 on 0-9, 0.990 on 0-39).
SEEDS = tuple(range(10))
OVERHEAD_POPULATION, OVERHEAD_GENERATIONS = 32, 200
CPU_RUNS, CPU_RUN_SECONDS = 60, 0.05
LATENCY_DURATIONS, LATENCY_REPEATS = (1e-3, 5e-3, 20e-3), 50
ISOLATIONS = ("process", "none")  # mpil2l's default first
ISOLATION_PAIRS = 3  # alternating process/none Scheduler sessions for 1a and section 5
N_SLEEP_RUNS, SLEEP_RUN_SECONDS = 600, 1e-3
SLEEP_WARMUP_ROUNDS = 3  # rounds of one sleep(1 ms) per worker: the Scheduler learns the run time

FLOOR_THROUGHPUT_RATIO = 5.0  # mpil2l dynamic / mpi4py.futures unbatched
FLOOR_EFFICIENCY = 0.97
CEILING_MS_PER_GENERATION = 2.0
CEILING_CPU_FRACTION = 0.10  # our own bar for "does not occupy a core"
CEILING_ISOLATION_US = 100.0  # extra time per individual on a worker, isolation=process vs none

RAW_TAG = 77  # tag of the raw send/recv references


# -- launcher (no MPI) ----------------------------------------------------------------------


def launch_under_mpi(args, argv):
    """Runs this script under ``mpiexec -n NP`` and returns its exit status; ends the whole
    job if it outlives ``--timeout`` or this launcher is interrupted."""
    user_command = " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable), *sys.argv])
    command = [find_mpiexec(), "-n", str(args.np), sys.executable, os.path.abspath(__file__), *argv]
    env = dict(os.environ, **{CHILD_ENV: "1", COMMAND_ENV: user_command})
    print(f"launching: {' '.join(shlex.quote(c) for c in command)}", flush=True)
    return run_job(command, env, args.timeout, "bench_runtime")


# -- what the workers evaluate (module level, so that every rank can unpickle it) -------------


def noop(_=None):
    return None


def sleep_for(seconds):
    time.sleep(seconds)
    return seconds


def nap(seconds):
    """Nothing for 0, else sleep: one target for the no-op and the sleep(1 ms) phases of a
    Scheduler session (1a and section 5), so that both run in the same evaluation processes."""
    if seconds:
        time.sleep(seconds)
    return None


class NoopOptimizee:
    """L2L optimizee whose evaluation costs nothing."""

    def simulate(self, traj):
        return (0.0,)


class SleepOptimizee:
    """L2L optimizee that sleeps for the individual's ``d`` seconds."""

    def simulate(self, traj):
        time.sleep(traj.individual.d)
        return (0.0,)


class FixedPopulationOptimizer:
    """The smallest L2L optimizer: every generation holds the same individuals; ``x`` values
    (or the given ``durations``, as ``d``) are the parameters."""

    optimizee_fitness_weights = (1.0,)

    def __init__(self, traj, population, generations, durations=None):
        self.population = population
        self.generations = generations
        self.ends = []  # perf_counter() at the end of each generation (post_process)
        self.column = (
            {"individual.d": list(durations)}
            if durations is not None
            else {"individual.x": [float(i) for i in range(population)]}
        )
        traj.f_add_parameter("n_iteration", generations)
        self._expand(traj, 0)

    def _expand(self, traj, g):
        traj.f_expand({"generation": [g], "ind_idx": list(range(self.population)), **self.column})

    def post_process(self, traj, results):
        self.ends.append(time.perf_counter())
        g = max(traj.individuals) + 1
        if g < self.generations:
            self._expand(traj, g)

    def end(self, traj):
        pass


# -- MPI helpers ------------------------------------------------------------------------------


def section_barrier(comm):
    """Synchronises every rank without spinning a core (MPICH's Barrier busy-polls)."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(1e-3)


def raw_worker_loop(comm):
    """Reference worker: blocking recv of a float d, sleep d (if > 0), send it back; None stops."""
    while True:
        d = comm.recv(source=0, tag=RAW_TAG)
        if d is None:
            return
        if d > 0:
            time.sleep(d)
        comm.send(d, dest=0, tag=RAW_TAG)


def stop_raw_workers(comm):
    for w in range(1, comm.Get_size()):
        comm.send(None, dest=w, tag=RAW_TAG)


def park_until_stopped(comm):
    """An idle reference worker: waits for the stop message while sleeping, not spinning."""
    from mpi4py import MPI

    status = MPI.Status()
    while True:
        message = comm.improbe(0, RAW_TAG, status)
        if message is None:
            time.sleep(1e-3)
        elif message.recv() is None:
            return


def raw_reference(comm, on_root, active=None):
    """Runs `on_root(comm)` on rank 0 while the workers in `active` (default: all) run
    `raw_worker_loop` and the others park until the end."""
    rank = comm.Get_rank()
    if rank == 0:
        try:
            return on_root(comm)
        finally:
            stop_raw_workers(comm)
    if active is None or rank in active:
        raw_worker_loop(comm)
    else:
        park_until_stopped(comm)
    return None


def collect_all(scheduler):
    """Waits for every pending run; returns the finished (run_info, RunValue) pairs."""
    finished = []
    while scheduler.pending_runs():
        scheduler.wait()
        finished.extend(scheduler.get_finished_runs())
    finished.extend(scheduler.get_finished_runs())
    return finished


def warm_up(scheduler, run_info, rounds=1, fresh=True):
    """Untimed: `rounds` times one run per worker, so that the Scheduler knows the run time.
    On a `fresh` Scheduler the first round reaches every worker (its first dispatch hands
    each free worker one run; checked), which starts every evaluation process. Returns the
    wall time of the first round."""
    first = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        scheduler.submit_runs([run_info] * scheduler.num_workers())
        finished = collect_all(scheduler)
        check_success(finished, scheduler.num_workers(), "warm-up")
        if first is None:
            first = time.perf_counter() - t0
            ranks = {v.additional_info.get("rank") for _, v in finished}
            if fresh and len(ranks) != scheduler.num_workers():
                raise RuntimeError(
                    f"warm-up reached workers {sorted(ranks)}, not all {scheduler.num_workers()}"
                )
    return first


def check_success(finished, expected, what):
    from mpil2l.core.runs import StatusType

    bad = [v for _, v in finished if v.status != StatusType.SUCCESS]
    if bad or len(finished) != expected:
        raise RuntimeError(
            f"{what}: {len(finished)} of {expected} runs came back, {len(bad)} failed"
            + (f" (first: {bad[0].additional_info.get('error')})" if bad else "")
        )


def run_experiment_timed(comm, root_dir, name, optimizer_args, optimizee, dispatch, isolation):
    """Collective: prepares and runs one Experiment; returns run_experiment's wall time and
    the end time of each generation on rank 0 (None elsewhere)."""
    from mpil2l.core.console import logger
    from mpil2l.experiment.generational import Experiment

    experiment = Experiment(root_dir, comm)
    traj, _ = experiment.prepare_experiment(
        name=name,
        overwrite=True,
        timeout=False,
        runner_params={"dispatch": dispatch, "isolation": isolation},
    )
    logger.setLevel(logging.WARNING)
    optimizer = FixedPopulationOptimizer(traj, *optimizer_args)
    section_barrier(comm)
    t0 = time.perf_counter()
    experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
    elapsed = time.perf_counter() - t0
    if comm.Get_rank() == 0:
        population, generations = optimizer_args[0], optimizer_args[1]
        evaluated = experiment.traj.results.all_results
        n = sum(len(evaluated[g]) for g in evaluated.keys())
        if n != population * generations:
            raise RuntimeError(
                f"experiment {name}: {n} evaluations, expected {population * generations}"
            )
        shutil.rmtree(os.path.join(root_dir, name), ignore_errors=True)
        return elapsed, optimizer.ends
    return None


def futures_map_timed(comm, function, items, repeats=1):
    """Collective: wall time on rank 0 of `repeats` ``MPICommExecutor.map(function, items,
    chunksize=1)`` calls (executor start-up excluded)."""
    from mpi4py.futures import MPICommExecutor

    elapsed = None
    with MPICommExecutor(comm, root=0) as executor:
        if executor is not None:
            list(executor.map(noop, range(executor_warmup_size(comm))))  # workers up and connected
            t0 = time.perf_counter()
            for _ in range(repeats):
                results = list(executor.map(function, items, chunksize=1))
                if len(results) != len(items):
                    raise RuntimeError("mpi4py.futures lost results")
            elapsed = time.perf_counter() - t0
    return elapsed


def executor_warmup_size(comm):
    return 4 * (comm.Get_size() - 1)


# -- section 1: no-op throughput ------------------------------------------------------------


def timed_rate(scheduler, runs, what, static=False):
    """Individuals/s of `runs` submitted at once and collected."""
    t0 = time.perf_counter()
    scheduler.submit_runs(runs, static=static)
    finished = collect_all(scheduler)
    elapsed = time.perf_counter() - t0
    check_success(finished, len(runs), what)
    return len(runs) / elapsed


def bench_isolation_session(comm, isolation):
    """One Scheduler session (dynamic) with `isolation`: start-up (first no-op back from every
    worker), N no-ops, then, after a warm-up with them, N_SLEEP_RUNS runs of sleep(1 ms).
    Returns {"startup_s", "noop_rate", "sleep_rate"} on rank 0."""
    from mpil2l.runtime.scheduler import on_workers

    out = None
    with on_workers(nap, comm, isolation=isolation) as scheduler:
        if scheduler is not None:
            out = {"startup_s": warm_up(scheduler, 0)}
            out["noop_rate"] = timed_rate(
                scheduler, [0] * N_NOOP, f"no-op scheduler (isolation={isolation})"
            )
            warm_up(scheduler, SLEEP_RUN_SECONDS, SLEEP_WARMUP_ROUNDS, fresh=False)
            out["sleep_rate"] = timed_rate(
                scheduler,
                [SLEEP_RUN_SECONDS] * N_SLEEP_RUNS,
                f"sleep(1 ms) scheduler (isolation={isolation})",
            )
    return out


def bench_scheduler_noop(comm, static, isolation="process"):
    """Individuals/s of N no-op runs submitted at once on the Scheduler (after a warm-up)."""
    from mpil2l.runtime.scheduler import on_workers

    rate = None
    with on_workers(noop, comm, isolation=isolation) as scheduler:
        if scheduler is not None:
            warm_up(scheduler, 0)
            rate = timed_rate(
                scheduler, list(range(N_NOOP)), f"no-op scheduler (static={static})", static=static
            )
    return rate


def bench_experiment_noop(comm, root_dir, isolation="process"):
    timed = run_experiment_timed(
        comm,
        root_dir,
        "noop-throughput",
        (EXP_POPULATION, EXP_GENERATIONS),
        NoopOptimizee(),
        "dynamic",
        isolation,
    )
    return None if timed is None else EXP_POPULATION * EXP_GENERATIONS / timed[0]


def bench_futures_noop(comm):
    elapsed = futures_map_timed(comm, noop, range(N_NOOP))
    return None if elapsed is None else N_NOOP / elapsed


def bench_ping_pong(comm):
    """Round trips/s of pickled send/recv, one outstanding message per worker."""

    def on_root(comm):
        workers = range(1, comm.Get_size())
        payload = 0.0
        rounds = 0
        t0 = time.perf_counter()
        while rounds < 10 or time.perf_counter() - t0 < PING_PONG_SECONDS:
            for w in workers:
                comm.send(payload, dest=w, tag=RAW_TAG)
            for w in workers:
                comm.recv(source=w, tag=RAW_TAG)
            rounds += 1
        return rounds * len(workers) / (time.perf_counter() - t0)

    return raw_reference(comm, on_root)


# -- section 2: efficiency on lognormal durations -----------------------------------------


def lognormal_durations(seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [
        float(d) for d in rng.lognormal(np.log(LOGNORMAL_MEDIAN), LOGNORMAL_SIGMA, LOGNORMAL_RUNS)
    ]


def ideal_makespan(durations, n_workers):
    return max(sum(durations) / n_workers, max(durations))


def greedy_makespan(durations, n_workers):
    """Makespan of zero-overhead list scheduling in submission order: the best any dynamic
    dispatcher that does not know the durations can do with this order."""
    import heapq

    free_at = [0.0] * n_workers
    for d in durations:
        heapq.heappush(free_at, heapq.heappop(free_at) + d)
    return max(free_at)


def bench_scheduler_sleeps(comm, durations, isolation):
    """[makespan, the ideal bound of the runs' measured durations] on rank 0: each run's
    time as the evaluation measured it around the target (a sleep takes longer than asked
    for: the OS wakes it late), so the second bound leaves only what mpil2l adds."""
    from mpil2l.runtime.scheduler import on_workers

    result = None
    with on_workers(sleep_for, comm, isolation=isolation) as scheduler:
        if scheduler is not None:
            warm_up(scheduler, LOGNORMAL_MEDIAN)
            t0 = time.perf_counter()
            scheduler.submit_runs(list(durations))
            finished = collect_all(scheduler)
            makespan = time.perf_counter() - t0
            check_success(finished, len(durations), "lognormal scheduler")
            measured = [value.time for _, value in finished]
            result = [makespan, ideal_makespan(measured, scheduler.num_workers())]
    return result


def bench_experiment_sleeps(comm, root_dir, durations, isolation):
    timed = run_experiment_timed(
        comm,
        root_dir,
        "lognormal",
        (len(durations), 1, durations),
        SleepOptimizee(),
        "dynamic",
        isolation,
    )
    return None if timed is None else timed[0]


def bench_futures_sleeps(comm, durations):
    return futures_map_timed(comm, sleep_for, list(durations))


# -- section 3: overhead per generation ----------------------------------------------------


def bench_generation_overhead(comm, root_dir, dispatch, isolation):
    """[ms per generation over the whole run_experiment, ms per generation in the steady
    state (from the end of generation 0 to the end of the last)] on rank 0."""
    timed = run_experiment_timed(
        comm,
        root_dir,
        f"overhead-{dispatch}-{isolation}",
        (OVERHEAD_POPULATION, OVERHEAD_GENERATIONS),
        NoopOptimizee(),
        dispatch,
        isolation,
    )
    if timed is None:
        return None
    elapsed, ends = timed
    return [1e3 * elapsed / OVERHEAD_GENERATIONS, 1e3 * (ends[-1] - ends[0]) / (len(ends) - 1)]


def bench_futures_generation_overhead(comm):
    elapsed = futures_map_timed(
        comm, noop, list(range(OVERHEAD_POPULATION)), repeats=OVERHEAD_GENERATIONS
    )
    return None if elapsed is None else 1e3 * elapsed / OVERHEAD_GENERATIONS


# -- section 4: rank 0 CPU while waiting, added latency -------------------------------------


def bench_scheduler_cpu_fraction(comm):
    """Rank 0's CPU time / wall time while the Scheduler waits for 50 ms runs."""
    from mpil2l.runtime.scheduler import on_workers

    fraction = None
    with on_workers(sleep_for, comm, isolation="process") as scheduler:
        if scheduler is not None:
            warm_up(scheduler, CPU_RUN_SECONDS)
            w0, c0 = time.perf_counter(), time.process_time()
            scheduler.submit_runs([CPU_RUN_SECONDS] * CPU_RUNS)
            finished = collect_all(scheduler)
            fraction = (time.process_time() - c0) / (time.perf_counter() - w0)
            check_success(finished, CPU_RUNS, "cpu fraction")
    return fraction


def bench_blocking_recv_cpu_fraction(comm):
    """The same work handed out with blocking send/recv (a worker is refilled when it replies)."""
    from mpi4py import MPI

    def on_root(comm):
        workers = list(range(1, comm.Get_size()))
        status = MPI.Status()
        w0, c0 = time.perf_counter(), time.process_time()
        sent = 0
        for w in workers[:CPU_RUNS]:
            comm.send(CPU_RUN_SECONDS, dest=w, tag=RAW_TAG)
            sent += 1
        for _ in range(CPU_RUNS):
            comm.recv(source=MPI.ANY_SOURCE, tag=RAW_TAG, status=status)
            if sent < CPU_RUNS:
                comm.send(CPU_RUN_SECONDS, dest=status.Get_source(), tag=RAW_TAG)
                sent += 1
        return (time.process_time() - c0) / (time.perf_counter() - w0)

    return raw_reference(comm, on_root)


def bench_scheduler_latency(comm):
    """{d: mean(round trip) - d in seconds} for runs submitted one at a time."""
    from mpil2l.runtime.scheduler import on_workers

    added = None
    with on_workers(sleep_for, comm, isolation="process") as scheduler:
        if scheduler is not None:
            warm_up(scheduler, LATENCY_DURATIONS[0])
            added = {}
            for d in LATENCY_DURATIONS:
                trips = []
                for _ in range(LATENCY_REPEATS):
                    t0 = time.perf_counter()
                    scheduler.submit_run(d)
                    finished = []
                    while not finished:
                        scheduler.wait()
                        finished = scheduler.get_finished_runs()
                    trips.append(time.perf_counter() - t0)
                    check_success(finished, 1, "latency")
                added[d] = sum(trips) / len(trips) - d
    return added


def bench_raw_latency(comm):
    """{d: mean(round trip) - d} of send(d) / blocking recv with worker 1, which waits in a
    blocking recv too; the other workers sleep, so that at most two ranks spin."""

    def on_root(comm):
        added = {}
        for d in LATENCY_DURATIONS:
            trips = []
            for _ in range(LATENCY_REPEATS):
                t0 = time.perf_counter()
                comm.send(d, dest=1, tag=RAW_TAG)
                comm.recv(source=1, tag=RAW_TAG)
                trips.append(time.perf_counter() - t0)
            added[d] = sum(trips) / len(trips) - d
        return added

    return raw_reference(comm, on_root, active={1})


# -- driver ---------------------------------------------------------------------------------


def run_sections(comm, root_dir):
    """Runs every section on every rank; returns the numbers (filled on rank 0)."""
    r = {"n_workers": comm.Get_size() - 1}
    n_workers = r["n_workers"]

    def step(key, function, *args):
        section_barrier(comm)
        t0 = time.perf_counter()
        value = function(comm, *args)
        if comm.Get_rank() == 0:
            r[key] = value
            print(f"  [{time.perf_counter() - t0:6.2f} s] {key}", flush=True)
        section_barrier(comm)
        return value

    # 1 (and 5). no-op throughput; the process/none sessions alternate: p n, n p, p n, ...
    for i in range(ISOLATION_PAIRS):
        for isolation in ISOLATIONS if i % 2 == 0 else ISOLATIONS[::-1]:
            step(f"isolation_session_{isolation}_{i}", bench_isolation_session, isolation)
    step("noop_scheduler_static", bench_scheduler_noop, True)
    step("noop_experiment_dynamic", bench_experiment_noop, root_dir)
    step("noop_futures_unbatched", bench_futures_noop)
    step("ping_pong_round_trips", bench_ping_pong)

    # 2. efficiency on lognormal durations
    for seed in SEEDS:
        durations = lognormal_durations(seed)
        if comm.Get_rank() == 0:
            r[f"lognormal_bound_s_{seed}"] = ideal_makespan(durations, n_workers)
            r[f"lognormal_greedy_s_{seed}"] = greedy_makespan(durations, n_workers)
        for isolation in ISOLATIONS:
            timed = step(
                f"lognormal_scheduler_{isolation}_s_{seed}",
                bench_scheduler_sleeps,
                durations,
                isolation,
            )
            if comm.Get_rank() == 0:
                (
                    r[f"lognormal_scheduler_{isolation}_s_{seed}"],
                    r[f"lognormal_measured_bound_{isolation}_s_{seed}"],
                ) = timed
        for isolation in ISOLATIONS:
            step(
                f"lognormal_experiment_{isolation}_s_{seed}",
                bench_experiment_sleeps,
                root_dir,
                durations,
                isolation,
            )
        step(f"lognormal_futures_s_{seed}", bench_futures_sleeps, durations)

    # 3. overhead per generation
    for dispatch in ("dynamic", "static"):
        for isolation in ISOLATIONS:
            step(
                f"generation_ms_{dispatch}_{isolation}",
                bench_generation_overhead,
                root_dir,
                dispatch,
                isolation,
            )
    step("generation_ms_futures", bench_futures_generation_overhead)

    # 4. rank 0 CPU while waiting, added latency
    step("cpu_fraction_scheduler", bench_scheduler_cpu_fraction)
    step("cpu_fraction_blocking_recv", bench_blocking_recv_cpu_fraction)
    step("latency_scheduler", bench_scheduler_latency)
    step("latency_raw", bench_raw_latency)

    if comm.Get_rank() == 0:
        derive_isolation(r)
    return r


def derive_isolation(r):
    """Medians of the alternating process/none sessions (1a, 5) and the cost of isolation per
    individual, (1/rate(process) - 1/rate(none)) * n_workers, in us: from the medians, and per
    pair (session i of each)."""
    import statistics

    sessions = {
        isolation: [r[f"isolation_session_{isolation}_{i}"] for i in range(ISOLATION_PAIRS)]
        for isolation in ISOLATIONS
    }
    for isolation, runs in sessions.items():
        r[f"noop_scheduler_dynamic_{isolation}"] = statistics.median(s["noop_rate"] for s in runs)
        r[f"sleep_scheduler_dynamic_{isolation}"] = statistics.median(s["sleep_rate"] for s in runs)
        r[f"startup_s_{isolation}"] = statistics.median(s["startup_s"] for s in runs)

    def cost_us(process_rate, none_rate):
        return 1e6 * (1 / process_rate - 1 / none_rate) * r["n_workers"]

    for kind in ("noop", "sleep"):
        r[f"isolation_cost_us_{kind}"] = cost_us(
            r[f"{kind}_scheduler_dynamic_process"], r[f"{kind}_scheduler_dynamic_none"]
        )
        r[f"isolation_cost_us_{kind}_pairs"] = [
            cost_us(p[f"{kind}_rate"], n[f"{kind}_rate"])
            for p, n in zip(sessions["process"], sessions["none"])
        ]


def efficiencies(r, runner, bound="lognormal_bound_s_{}"):
    values = [r[bound.format(s)] / r[f"lognormal_{runner}_s_{s}"] for s in SEEDS]
    return sum(values) / len(values), min(values)


def build_rows(r):
    """(measurement, mpil2l, reference, ratio) rows, plus (check, passed) pairs."""

    def ratio(a, b):
        return a / b if a is not None and b else None

    rows, checks = [], []
    n_workers = r["n_workers"]
    median = f"median of {ISOLATION_PAIRS} alternating sessions"
    fut = r["noop_futures_unbatched"]
    for label, key in (
        (
            f"1a no-op, Scheduler dynamic, isolation=process ({median}; ind/s, higher better) vs "
            "futures unbatched",
            "noop_scheduler_dynamic_process",
        ),
        (
            f"1a no-op, Scheduler dynamic, isolation=none ({median}; ind/s) vs futures unbatched",
            "noop_scheduler_dynamic_none",
        ),
        (
            "1b no-op, Scheduler static, isolation=process (ind/s) vs futures unbatched",
            "noop_scheduler_static",
        ),
        (
            f"1c no-op, Experiment {EXP_GENERATIONS}x{EXP_POPULATION} dynamic, isolation=process, "
            "start-up included (ind/s) vs futures unbatched",
            "noop_experiment_dynamic",
        ),
    ):
        rows.append((label, f"{r[key]:,.0f}", f"{fut:,.0f}", ratio(r[key], fut)))
    rows.append(
        (
            "1e no-op, Scheduler dynamic, isolation=process (ind/s) vs raw pickled ping-pong "
            "(round trips/s)",
            f"{r['noop_scheduler_dynamic_process']:,.0f}",
            f"{r['ping_pong_round_trips']:,.0f}",
            ratio(r["noop_scheduler_dynamic_process"], r["ping_pong_round_trips"]),
        )
    )
    throughput_ratio = ratio(r["noop_scheduler_dynamic_process"], fut)
    checks.append(
        (
            f"1a (isolation=process) / 1d >= {FLOOR_THROUGHPUT_RATIO:g}x (got "
            f"{throughput_ratio:.1f}x)",
            throughput_ratio >= FLOOR_THROUGHPUT_RATIO,
        )
    )

    fut_mean, fut_min = efficiencies(r, "futures")
    for label, runner in (
        (
            "2 efficiency, lognormal 300 sleeps, Scheduler dynamic, isolation=process: mean (min), "
            "higher better",
            "scheduler_process",
        ),
        (
            "2 efficiency, lognormal 300 sleeps, Scheduler dynamic, isolation=none: mean (min)",
            "scheduler_none",
        ),
        (
            "2 efficiency, lognormal 300 sleeps, Experiment 1 generation, isolation=process, "
            "start-up included: mean (min)",
            "experiment_process",
        ),
        (
            "2 efficiency, lognormal 300 sleeps, Experiment 1 generation, isolation=none: mean "
            "(min)",
            "experiment_none",
        ),
    ):
        mean, low = efficiencies(r, runner)
        rows.append(
            (
                label,
                f"{mean:.3f} ({low:.3f})",
                f"{fut_mean:.3f} ({fut_min:.3f})",
                ratio(mean, fut_mean),
            )
        )
        if runner == "scheduler_process":
            checks.append(
                (
                    f"efficiency scheduler, isolation=process mean >= {FLOOR_EFFICIENCY} (got "
                    f"{mean:.4f})",
                    mean >= FLOOR_EFFICIENCY,
                )
            )
        elif runner == "experiment_process":
            checks.append(
                (
                    "efficiency experiment, isolation=process, once-per-run start-up of the "
                    f"evaluation processes included: {mean:.4f}",
                    None,
                )
            )

    for isolation in ISOLATIONS:
        mean, low = efficiencies(
            r, f"scheduler_{isolation}", f"lognormal_measured_bound_{isolation}_s_{{}}"
        )
        rows.append(
            (
                "2 efficiency against the runs' measured durations (same sessions), Scheduler "
                f"dynamic, isolation={isolation}: mean (min)",
                f"{mean:.3f} ({low:.3f})",
                "",
                None,
            )
        )
    greedy_mean, greedy_min = efficiencies(r, "greedy")
    rows.append(
        (
            "2 efficiency of zero-overhead greedy dispatch in submission order (simulated, for "
            "context)",
            f"{greedy_mean:.3f} ({greedy_min:.3f})",
            "",
            None,
        )
    )
    fut_gen = r["generation_ms_futures"]
    for dispatch in ("dynamic", "static"):
        for isolation in ISOLATIONS:
            ms, steady = r[f"generation_ms_{dispatch}_{isolation}"]
            rows.append(
                (
                    f"3 ms per generation, {OVERHEAD_POPULATION} no-ops x {OVERHEAD_GENERATIONS}, "
                    f"Experiment {dispatch}, isolation={isolation}: whole run (steady state) "
                    "(lower better) vs futures map per generation",
                    f"{ms:.3f} ({steady:.3f})",
                    f"{fut_gen:.3f}",
                    ratio(ms, fut_gen),
                )
            )
            if isolation == "process":
                checks.append(
                    (
                        f"ms/generation {dispatch}, isolation=process, steady state <= "
                        f"{CEILING_MS_PER_GENERATION:g} (got {steady:.3f})",
                        steady <= CEILING_MS_PER_GENERATION,
                    )
                )
                checks.append(
                    (
                        f"ms/generation {dispatch}, isolation=process, whole run with the "
                        f"once-per-run start-up: {ms:.3f}",
                        None,
                    )
                )

    cpu, cpu_ref = r["cpu_fraction_scheduler"], r["cpu_fraction_blocking_recv"]
    rows.append(
        (
            f"4a rank 0 CPU / wall while workers sleep ({CPU_RUNS} x {CPU_RUN_SECONDS * 1e3:g} "
            "ms), isolation=process, lower better, vs blocking recv",
            f"{100 * cpu:.1f} %",
            f"{100 * cpu_ref:.1f} %",
            ratio(cpu, cpu_ref),
        )
    )
    checks.append(
        (
            f"rank 0 CPU while waiting <= {100 * CEILING_CPU_FRACTION:g} % (got {100 * cpu:.1f} %)",
            cpu <= CEILING_CPU_FRACTION,
        )
    )
    for d in LATENCY_DURATIONS:
        ours, raw = r["latency_scheduler"][d], r["latency_raw"][d]
        rows.append(
            (
                f"4b added latency, one run of sleep({d * 1e3:g} ms) at a time, isolation=process "
                "(us, lower better) vs raw send/recv",
                f"{ours * 1e6:.0f}",
                f"{raw * 1e6:.0f}",
                ratio(ours, raw),
            )
        )

    def cost_cell(kind):
        pairs = r[f"isolation_cost_us_{kind}_pairs"]
        return f"{r[f'isolation_cost_us_{kind}']:.1f} ({min(pairs):.1f} to {max(pairs):.1f})"

    rows.append(
        (
            f"5a isolation cost per individual, no-ops (1a): (1/process - 1/none) x {n_workers} "
            "workers (us, lower better; range over the pairs)",
            cost_cell("noop"),
            "",
            None,
        )
    )
    p_sleep, n_sleep = r["sleep_scheduler_dynamic_process"], r["sleep_scheduler_dynamic_none"]
    rows.append(
        (
            f"5b sleep({SLEEP_RUN_SECONDS * 1e3:g} ms) x {N_SLEEP_RUNS}, Scheduler dynamic, "
            f"isolation=process ({median}; ind/s, higher better) vs isolation=none",
            f"{p_sleep:,.0f}",
            f"{n_sleep:,.0f}",
            ratio(p_sleep, n_sleep),
        )
    )
    rows.append(
        (
            f"5c isolation cost per individual, sleep({SLEEP_RUN_SECONDS * 1e3:g} ms) runs (5b): "
            f"(1/process - 1/none) x {n_workers} workers (us, lower better; range over the pairs)",
            cost_cell("sleep"),
            "",
            None,
        )
    )
    p_start, n_start = r["startup_s_process"], r["startup_s_none"]
    rows.append(
        (
            "5d start-up: first submission to the first no-op back from every worker, "
            "isolation=process (ms, median, lower better) vs isolation=none",
            f"{p_start * 1e3:.1f}",
            f"{n_start * 1e3:.1f}",
            ratio(p_start, n_start),
        )
    )
    worst = max(r["isolation_cost_us_noop"], r["isolation_cost_us_sleep"])
    checks.append(
        (
            f"isolation cost per individual <= {CEILING_ISOLATION_US:g} us, the larger of 5a "
            f"(no-ops) and 5c (sleep {SLEEP_RUN_SECONDS * 1e3:g} ms) (got {worst:.1f} us)",
            worst <= CEILING_ISOLATION_US,
        )
    )
    return rows, checks


def mpil2l_version():
    """The commit the measured mpil2l comes from, marked when mpil2l/ has local changes."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "mpil2l"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit or "unknown") + (" + local changes" if dirty else "")


def environment_line(comm):
    import mpi4py
    from mpi4py import MPI

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    library = " ".join(MPI.Get_library_version().split("\n")[0].split())
    return (
        f"ranks: {comm.Get_size()} (1 scheduler + {comm.Get_size() - 1} workers), cores: {cores}, "
        f"MPI: {library}, mpi4py {mpi4py.__version__}, Python {sys.version.split()[0]}, "
        f"mpil2l commit {mpil2l_version()}"
    )


def print_report(comm, r, elapsed):
    rows, checks = build_rows(r)
    lines = [
        "",
        f"command: {os.environ.get(COMMAND_ENV, ' '.join(sys.argv))}",
        f"environment: {environment_line(comm)}",
        f"total benchmark time: {elapsed:.1f} s",
        "",
        "| measurement | mpil2l | reference | ratio |",
        "|---|---:|---:|---:|",
    ]
    for label, ours, ref, ratio in rows:
        lines.append(f"| {label} | {ours} | {ref} | {'' if ratio is None else f'{ratio:.2f}'} |")
    lines += ["", "ratio = mpil2l / reference. Checks (info: judged against no floor):"]
    lines += [
        f"- [{'info' if ok is None else 'PASS' if ok else 'FAIL'}] {text}" for text, ok in checks
    ]
    print("\n".join(lines), flush=True)
    return rows, checks


def to_json(r):
    def convert(value):
        if isinstance(value, dict):
            return {
                (f"{k * 1e3:g}ms" if isinstance(k, float) else str(k)): convert(v)
                for k, v in value.items()
            }
        return value

    return {key: convert(value) for key, value in r.items()}


def child_main(args):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_size() < 2:
        sys.exit("bench_runtime: needs at least 2 ranks (1 scheduler + workers)")
    root_dir = comm.bcast(
        tempfile.mkdtemp(prefix="mpil2l-bench-") if comm.Get_rank() == 0 else None, root=0
    )
    t0 = time.perf_counter()
    try:
        r = run_sections(comm, root_dir)
    finally:
        if comm.Get_rank() == 0:
            shutil.rmtree(root_dir, ignore_errors=True)
    if comm.Get_rank() != 0:
        return 0
    rows, checks = print_report(comm, r, time.perf_counter() - t0)
    if args.json:
        document = {
            "command": os.environ.get(COMMAND_ENV, " ".join(sys.argv)),
            "environment": environment_line(comm),
            "results": to_json(r),
            "table": [
                {"measurement": label, "mpil2l": ours, "reference": ref, "ratio": ratio}
                for label, ours, ref, ratio in rows
            ],
            "checks": [{"check": text, "passed": ok} for text, ok in checks],
        }
        with open(args.json, "w") as f:
            json.dump(document, f, indent=2)
        print(f"\nwrote {args.json}", flush=True)
    return 1 if args.strict and not all(ok for _, ok in checks if ok is not None) else 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--np", type=int, default=4, help="MPI ranks: 1 scheduler + NP-1 workers (default 4)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to this JSON file")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="kill the MPI job after this many seconds"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a floor is not met")
    return parser.parse_args(argv)


def main():
    argv = sys.argv[1:]
    args = parse_args(argv)
    if args.json:
        args.json = os.path.abspath(args.json)
    in_mpi = os.environ.get(CHILD_ENV) == "1" or any(k in os.environ for k in LAUNCHER_RANK_ENV)
    if in_mpi:
        return child_main(args)
    if args.np < 2:
        sys.exit("bench_runtime: --np must be at least 2")
    return launch_under_mpi(args, argv)


if __name__ == "__main__":
    sys.exit(main())

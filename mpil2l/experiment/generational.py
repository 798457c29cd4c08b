"""L2L's `Experiment` on MPI ranks: the generational loop on rank 0, workers everywhere else.

Every rank runs the same script. `prepare_experiment` and `run_experiment` are collective:
rank 0 owns the trajectory and the optimizer and drives the run; the other ranks serve
evaluations inside `run_experiment` and return from it when the run ends.
"""

import itertools
import numbers
import os
import pickle
import shutil
import time
from typing import NamedTuple

import numpy as np
from mpi4py import MPI

from . import checkpoint as ckpt
from ..core.backoff import Backoff
from ..core.errors import EvaluationFailed, FitnessError, JobTerminated, RunAborted, reraise_remote
from ..model.conversion import dict_to_list
from ..evaluation.simulation import Simulation, Task, attempt_record, split_outputs
from ..model.history import HistoryRef
from ..storage.history_file import HistoryFile
from ..evaluation.process import Limits, check_isolation, prestart
from ..core.console import StdoutLog, configure_logger, logger
from ..core.runs import RunValue, StatusType
from ..runtime.scheduler import Scheduler
from ..storage import ResultsLog
from ..storage.reader import open_log
from ..storage.checkpoint_slots import HISTORY, load_checkpoint_slots
from ..storage.errors import ResultsLogError
from ..storage.repair import repair_truncated
from ..storage.writer_lock import check_not_in_use
from ..storage.parallel import ParallelResultsLog, choose_backend, laid_out_for_parallel
from ..runtime.spmd import (
    install_abort_hook,
    mark_on_every_rank,
    mark_reported,
    polled_barrier,
    print_error,
    terminate_on_signals,
    write_stderr,
)
from ..model.trajectory import Trajectory
from .settings import PREPARE_SETTINGS, RUNNER_SETTINGS, defaults
from ..runtime.worker import serve

# the keywords of prepare_experiment and the default runner_params, from the one table
PREPARE_KEYWORDS = tuple(defaults(PREPARE_SETTINGS))
DEFAULT_RUNNER_PARAMS = defaults(RUNNER_SETTINGS)
DISPATCH_MODES = ("dynamic", "static")
# L2L's file-based runner settings; they have no meaning when workers are MPI ranks.
L2L_RUNNER_KEYS = ("srun", "exec", "work_path", "paths_obj")
DEFAULT_TIME_LIMIT = 2 * 3600.0  # what L2L's timeout=True means
RESULTS_LOG_NAME = ckpt.RESULTS_LOG_NAME
# Within a generation, finished attempts are flushed to the results log once this long has
# passed since the last flush, and at least this many times the last flush's duration (with
# the parallel log, between generations too: its flush is a collective step). Flushes and
# checkpoints then cost rank 0 about 2 % of the run each.
MIN_FLUSH_INTERVAL = 0.05
FLUSH_COST_RATIO = 50
# A checkpoint is saved after a generation unless the last one was saved less than this many
# times its own saving time ago (so checkpoints cost rank 0 at most about 2 % of the run);
# a resumed run replays the generations in between from the log, evaluating none of them.
CHECKPOINT_COST_RATIO = 50
# The parallel results log starts with room for this many generations of attempts (growing
# it later is a collective step).
PARALLEL_RESERVE = 8
# Finished generations are stored into the results log's history (and rank 0 drops their
# objects, see `mpil2l.model.history`) once those not stored yet hold this many evaluations, and
# with every checkpoint: rank 0 keeps about this many beyond the newest generation, and runs
# of small generations do not pay a store (a collective step with the parallel log) each.
SPILL_EVALUATIONS = 10_000


class _Resume(NamedTuple):
    """What `prepare_experiment` found to resume from (rank 0)."""

    source: str  # named in messages
    data: bytes  # the pickled checkpoint, its whole trajectory included
    log_path: str  # the results log to go on writing, or None: a new one
    first_generation: int
    history: dict  # generation -> (offset, length) in that log's checkpoint history


class _Submissions:
    """Stands in for the scheduler while finished attempts read back from the results log
    are handled: records the retries that handling asks for."""

    def __init__(self):
        self.runs = []

    def submit_run(self, run_info, avoid=None):
        self.runs.append((run_info, avoid))


class RunPaths(NamedTuple):
    """Where a run writes: ``output_dir_path`` is ``<root_dir_path>/<name>``."""

    root_dir_path: str
    output_dir_path: str
    logs_path: str


class Experiment:
    """Prepares and runs one optimization, L2L style, on the ranks of `comm`.

    Args:
        root_dir_path: folder that holds the run folders; created if missing.
        comm: the MPI communicator to run on (default ``MPI.COMM_WORLD``). Rank 0 of `comm`
            runs the optimizer; every other rank is a worker.

    Example (``mpiexec -n 4 python script.py``)::

        experiment = Experiment("results")
        traj, _ = experiment.prepare_experiment(name="ga", overwrite=True)
        optimizee = FunctionGeneratorOptimizee(traj, function, seed=1)
        optimizer = GeneticAlgorithmOptimizer(traj, optimizee.create_individual, (-1.0,),
                                              parameters, optimizee.bounding_func)
        experiment.run_experiment(optimizer=optimizer, optimizee=optimizee)
        experiment.end_experiment(optimizer)
    """

    def __init__(self, root_dir_path, comm=None):
        self.comm = comm or MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.root_dir_path = os.path.abspath(root_dir_path)
        self.paths = None
        self.traj = None
        self.optimizer = None
        self.optimizee = None
        self.best = None  # (weighted fitness, generation, ind_idx, fitness, params)
        self.results_log = None  # rank 0's ResultsLog while the run goes on
        self._stdout_log = None
        self._resume = None  # rank 0: what to resume from (`_Resume`), if anything
        self._reusable = {}  # generation -> [(task, value)] finished before an interruption
        self._history = {}  # rank 0: generation -> (offset, length) in the log's checkpoint history
        self._history_file = None  # rank 0: the `HistoryFile` of the log that packs generations
        self._reset_run_state()
        install_abort_hook(self.comm)

    def _reset_run_state(self):
        """Rank 0's bookkeeping of one run, as it is before the run starts."""
        self._run_started = self._updating = self._restored = False
        self._checkpoint_failed = self._spill_failed = False
        self._first_attempt_seen = False
        self._unstored_evaluations = 0  # evaluations of this run's generations not yet in the log's history
        self._unlogged = None  # (optimizer, generation, results, seconds) not yet in the log
        self._unlogged_attempts = []  # (record, params, outputs) taken, not yet appended
        self._last_checkpoint = None  # (resume state without traj, pickled checkpoint)
        self._checkpointed = self._next_generation = None  # the generation each begins at
        self._checkpoint_end, self._checkpoint_seconds = -float("inf"), 0.0

    @property
    def is_root(self):
        """True on the rank that owns the trajectory and the optimizer."""
        return self.rank == 0

    def prepare_experiment(self, **kwargs):
        """Creates the run folder and the trajectory. Collective on `comm`.

        Args:
            name: run name and folder name under `root_dir_path` (default ``'L2L-run'``).
            trajectory_name: the trajectory's name (default ``'trajectory'``).
            checkpoint: resume an interrupted run (see "Checkpoint and resume" in the
                README). ``True``: go on with the run folder ``<root_dir_path>/<name>`` where
                it stopped (start it if it does not exist); a path to a results log or a run
                folder: go on from that run's last checkpoint (in place if it is this run's
                folder, else in a new run folder holding a copy of its log); a `Trajectory`
                saved by mpil2l (`load_trajectory`): go on from it in a new results log.
                Attempts that finished in the interrupted generation are taken from the log,
                not run again.
            log_stdout: also copy every rank's stdout and stderr into
                ``<run folder>/logs/rank-<r>.log`` (default False).
            runner_params: dict of how individuals are evaluated (defaults in
                `DEFAULT_RUNNER_PARAMS`): ``dispatch`` (``'dynamic'`` or ``'static'``),
                ``max_workers``, ``isolation`` (``'process'``: each worker evaluates in a
                child process that a crash cannot take down; ``'none'``: in the worker),
                ``timeout`` (seconds per attempt; the attempt is killed and TIMEOUT),
                ``memory_limit_mb`` (per attempt; MEMOUT beyond it), ``max_retries``
                (further attempts of a failed individual, on another worker where there is
                one; default 3), ``cost_for_crash`` (the fitness of an individual that failed
                every attempt; default the worst value each weight allows),
                ``allow_nonfinite`` (default False: NaN or inf fitness is CRASHED) and
                ``abort_on_first_run_crash`` (SMAC's: end the run if its first evaluation
                fails) and ``results_log`` (``'auto'``, ``'parallel'``, ``'serial'`` or
                ``'none'``: how ``results.h5`` is written, see `mpil2l.storage.parallel`).
            multiprocessing: evaluate on the worker ranks (default True); False evaluates on
                rank 0, one individual after the other.
            debug: log every dispatch detail (default False).
            stop_run: end the run when an individual has failed every attempt (default
                False: it gets ``cost_for_crash`` and the run goes on). A run in which a whole
                generation fails, or `simulate` returns the wrong type, always ends.
            timeout: run time limit: True for two hours (the default, as in L2L), a number
                of seconds, or False for none. Checked between generations.
            overwrite: replace an existing run folder of the same name (default False: it
                is an error, and nothing is touched).

        Returns:
            ``(traj, runner_params)``: the trajectory and every runner parameter in force.

        Raises:
            TypeError: an unknown keyword or runner parameter, or a checkpoint that is not a
                `Trajectory`, a path or True.
            ValueError: a bad value; `ResumeError` (a ValueError): nothing to resume from,
                or ``overwrite=True`` with a checkpoint in the run folder itself;
                `ResultsLogError`: the checkpoint's log is not a usable results log.
            LogInUseError: the checkpoint's log is open for writing by a live run.
            OSError: the run folder cannot be created or already exists.
        """
        try:
            return self._prepare(**kwargs)
        except Exception as exc:
            raise mark_on_every_rank(exc)  # every rank validated the same input

    def _prepare(self, **kwargs):
        unknown = sorted(set(kwargs) - set(PREPARE_KEYWORDS))
        if unknown:
            raise TypeError(
                f"prepare_experiment() got unknown keyword(s) {unknown}; known: {list(PREPARE_KEYWORDS)}"
            )
        name = kwargs.get("name", "L2L-run")
        if not isinstance(name, str) or not name or os.sep in name or name in (".", ".."):
            raise ValueError(f"name must be a non-empty folder name, got {name!r}")
        runner_params = self._runner_params(kwargs.get("runner_params"))
        self.log_backend = self._choose_log_backend(runner_params["results_log"])
        checkpoint = kwargs.get("checkpoint")
        if checkpoint is False:
            checkpoint = None
        if checkpoint is not None and not isinstance(checkpoint, (Trajectory, str, os.PathLike)) and checkpoint is not True:
            raise TypeError(
                f"checkpoint must be a Trajectory, a path to a results log or run folder, or True, got "
                f"{type(checkpoint).__name__}"
            )
        self.time_limit = _time_limit(kwargs.get("timeout", True))
        self.stop_run = bool(kwargs.get("stop_run", False))
        self.multiprocessing = bool(kwargs.get("multiprocessing", True))
        self.runner_params = runner_params
        log_stdout = bool(kwargs.get("log_stdout", False))

        output = os.path.join(self.root_dir_path, name)
        self.paths = RunPaths(self.root_dir_path, output, os.path.join(output, "logs"))
        overwrite = bool(kwargs.get("overwrite", False))
        error = None
        self._resume = None
        if self.is_root:
            try:
                self._resume = self._find_checkpoint(checkpoint, overwrite)
                if self._resume is not None and self._resume.log_path == self._own_log_path():
                    if log_stdout:
                        os.makedirs(self.paths.logs_path, exist_ok=True)
                else:
                    self._create_run_folder(overwrite, log_stdout)
                    if self._resume is not None and self._resume.log_path is not None:
                        shutil.copyfile(self._resume.log_path, self._own_log_path())
                        self._resume = self._resume._replace(log_path=self._own_log_path())
            except Exception as exc:  # every rank raises it
                error = exc
        error = self.comm.bcast(error, root=0)
        if error is not None:
            raise error
        if log_stdout:
            self._stdout_log = StdoutLog(os.path.join(self.paths.logs_path, f"rank-{self.rank}.log"))
        configure_logger(self.rank, bool(kwargs.get("debug", False)))

        if self._resume is not None:
            self.traj = self._load_resume_payload()["traj"]
        elif isinstance(checkpoint, Trajectory):
            self.traj = checkpoint
        else:
            self.traj = Trajectory(kwargs.get("trajectory_name", "trajectory"))
        self.traj.f_add_parameter_group("runner_params")
        for key, value in runner_params.items():
            self.traj.f_add_parameter_to_group("runner_params", key, value)
        if runner_params["isolation"] == "process" and self._evaluates_here():
            prestart(imports=("mpil2l.evaluation.simulation",))  # starts while the user builds the optimizer
        return self.traj, dict(runner_params)

    def _choose_log_backend(self, setting):
        """The results-log backend for ``runner_params['results_log']`` (see `choose_backend`)."""
        return choose_backend(setting, self.comm.Get_size())

    def _evaluates_here(self):
        """True on the ranks whose evaluation processes the run will use."""
        size, max_workers = self.comm.Get_size(), self.runner_params["max_workers"]
        if size == 1 or not self.multiprocessing:
            return self.is_root
        return not self.is_root and (max_workers is None or self.rank <= max_workers)

    def run_experiment(self, optimizer, optimizee, optimizer_parameters=None, optimizee_parameters=None):
        """Runs the optimization. Collective on `comm`: rank 0 evaluates generations on the
        workers until the optimizer stops expanding the trajectory or ``n_iteration``
        generations are done; the other ranks serve evaluations and return afterwards.

        Raises:
            RuntimeError: `prepare_experiment` was not called.
            TypeError: the optimizer or optimizee lacks its contract's methods.
            RunAborted: (on the workers) rank 0 aborted the run.
            Any exception raised by the optimizer on rank 0 or by `simulate` on a worker
            (re-raised on rank 0 with the remote traceback as its cause) ends the run on
            every rank.
        """
        if self.traj is None:
            raise RuntimeError("call prepare_experiment() before run_experiment()")
        if not callable(getattr(optimizee, "simulate", None)):
            raise TypeError(f"the optimizee {type(optimizee).__name__} has no simulate(traj) method")
        if not callable(getattr(optimizer, "post_process", None)):
            raise TypeError(
                f"the optimizer {type(optimizer).__name__} has no post_process(traj, results) method"
            )
        self.optimizer, self.optimizee = optimizer, optimizee
        if not self.is_root:
            self._serve()
            return
        logger.debug("optimizer parameters: %s", optimizer_parameters)
        logger.debug("optimizee parameters: %s", optimizee_parameters)
        weights = getattr(optimizer, "optimizee_fitness_weights", None)
        self._reset_run_state()
        # (resuming into a parallel log restores the checkpoint here already)
        log = self._open_parallel_log(weights, optimizer) if self.log_backend == "parallel" else None
        scheduler = self._start_scheduler(optimizee, weights)
        parallel = log is not None
        if parallel:  # opened collectively with the workers' _serve, before the scheduler
            self.results_log = log
            log.announce = scheduler.sync_workers
        try:
            with terminate_on_signals():
                if self._resume is not None and not self._restored:
                    self._restore(optimizer)
                if not parallel:
                    self._open_results_log(weights)
                self._run_started = True
                self._run_generations(scheduler, optimizer)
                if not parallel:  # (the parallel log: after its collective close, which flushes it)
                    if self.results_log is not None:
                        self.results_log.flush()
                    self._save_last_checkpoint(optimizer)
        except BaseException as exc:
            self._abort_run(scheduler, exc)
        scheduler.shutdown()
        if parallel:
            self._end_parallel_log()
            self._save_last_checkpoint(optimizer)  # serially: no collective step

    def _start_scheduler(self, optimizee, weights):
        """Rank 0: the workers' target (`Simulation`) and the `Scheduler` with the runner
        parameters in force, and the cost given to a failed individual; no results log yet."""
        rp = self.runner_params
        self._cost_for_crash = _cost_for_crash(rp["cost_for_crash"], weights)
        target = Simulation(
            optimizee,
            self.traj.parameters_only(),
            None if weights is None else len(weights),
            allow_nonfinite=rp["allow_nonfinite"],
        )
        self.results_log = None
        return Scheduler(
            target,
            self.comm,
            max_workers=rp["max_workers"],
            in_process=not self.multiprocessing,
            isolation=rp["isolation"],
            limits=Limits(rp["timeout"], rp["memory_limit_mb"]),
        )

    def _abort_run(self, scheduler, exc):
        """Rank 0, after `exc` ended the run: says why, keeps what the run finished (if it
        started), closes the log, stops every worker and re-raises."""
        if isinstance(exc, (JobTerminated, KeyboardInterrupt)):
            write_stderr(f"mpil2l: {exc or 'interrupted'}; stopping every rank\n")
        else:
            print_error(exc, "mpil2l: the run failed on rank 0; stopping every rank")
        if self._run_started:  # a run that could not start leaves every file as it was
            self._save_interrupted(exc)
        if not isinstance(self.results_log, ParallelResultsLog):
            self._close_results_log()
        scheduler.shutdown(abort_reason=f"run aborted by rank 0: {type(exc).__name__}: {exc}")
        self._end_parallel_log()  # collective: once the workers have left their serve loop
        raise mark_reported(exc)

    def end_experiment(self, optimizer):
        """Ends the run: calls ``optimizer.end(traj)`` and saves the trajectory to
        ``<run folder>/trajectory.pickle`` on rank 0.

        Returns:
            ``(traj, paths)``.
        """
        if self.is_root:
            optimizer.end(self.traj)
            if self.results_log is not None and getattr(optimizer, "best_individual", None) is not None:
                try:
                    self.results_log.write_best(
                        optimizer.best_individual, optimizer.best_fitness, optimizer.best_weighted_fitness
                    )
                except ValueError as exc:  # multi gradient descent: its best is one inner individual
                    logger.warning("the best individual is not stored in the results log: %s", exc)
            self._close_results_log()
            if self._last_checkpoint is not None:
                self.traj.resume_state = self._last_checkpoint[0]
            _save_atomically(self.traj, os.path.join(self.paths.output_dir_path, "trajectory.pickle"))
            if self.best is not None:
                _, g, idx, fitness, params = self.best
                logger.info("best individual: generation %d, ind_idx %d, fitness %s, %s", g, idx, fitness, params)
        if self._stdout_log is not None:
            self._stdout_log.close()
        return self.traj, self.paths

    @staticmethod
    def load_trajectory(traj_path):
        """Loads a trajectory saved by `end_experiment` (to pass as ``checkpoint``). It needs
        no results log: its finished generations are in it, compressed, and unpacked when
        read (see `mpil2l.model.history`)."""
        with open(traj_path, "rb") as f:
            traj = pickle.load(f)
        if not isinstance(traj, Trajectory):
            raise TypeError(f"{traj_path!r} does not hold a Trajectory")
        return traj

    # -- rank 0 ------------------------------------------------------------------------

    def _run_generations(self, scheduler, optimizer):
        traj = self.traj
        weights = getattr(optimizer, "optimizee_fitness_weights", None)
        n_iteration = traj.par.get("n_iteration")
        evaluated = traj.results.all_results
        if "attempts" not in traj.results:  # a checkpoint from before attempts were kept
            traj.results.f_add_result_group("attempts")
        pending = [g for g in traj.individuals if g not in evaluated]
        g = first = min(pending) if pending else None
        self._next_generation = first
        if first is not None and self._checkpointed != first and (self._resume is None or self._resume.log_path is None):
            self._save_checkpoint(optimizer, first, force=True)  # a resumed log already holds this one
        self._checkpointed = first
        started = time.monotonic()
        while g in traj.individuals and (n_iteration is None or g < n_iteration):
            if g > first and self.time_limit is not None and time.monotonic() - started > self.time_limit:
                logger.warning("time limit of %g s reached: stopping before generation %d", self.time_limit, g)
                break
            t0 = time.perf_counter()
            reused = self._reused_attempts(g, traj.individuals[g])
            results, attempts = self._evaluate_generation(scheduler, g, traj.individuals[g], reused)
            self._updating = True  # the trajectory and the optimizer disagree until post_process returns
            traj.results.f_add_result_to_group("all_results", g, results)
            self._unstored_evaluations += len(results)  # (what `_spill` waits for: a count, not a scan)
            traj.results.f_add_result_to_group("attempts", g, attempts)
            traj.current_results = results
            optimizer.post_process(traj, results)
            self._updating = False
            self._next_generation = g + 1
            seconds = time.perf_counter() - t0
            self._report(g, results, weights, seconds)
            self._unlogged = (optimizer, g, results, seconds)
            if isinstance(self.results_log, ParallelResultsLog):
                self._log_finished_generation()  # its flush is collective: before the workers get busy
            g += 1
        self._log_finished_generation()

    def _save_last_checkpoint(self, optimizer):
        """The checkpoint after the last generation run, unless the last one saved is that."""
        if self._next_generation is not None and self._checkpointed != self._next_generation:
            self._save_checkpoint(optimizer, self._next_generation, force=True)

    def _evaluate_generation(self, scheduler, g, individuals, reused=()):
        """Evaluates one generation, retrying failed individuals; returns the results in
        ``ind_idx`` order and the record of every attempt.

        `reused` holds ``(task, value)`` of attempts that finished before the run was
        interrupted (read back from the results log): they are handled as if they had just
        arrived, and only what they leave to do is evaluated."""
        tasks = [Task(g, ind.ind_idx, 0, ind.params) for ind in individuals]
        fitness, attempts, failed = {}, [], []
        replay = _Submissions()
        for task, value in reused:
            self._take_result(replay, task, value, fitness, attempts, failed, log=False)
        done = {(task.ind_idx, task.attempt) for task, _ in reused}
        fresh = [task for task in tasks if (task.ind_idx, 0) not in done]
        if self.comm.Get_size() == 1 or not self.multiprocessing:
            self._log_finished_generation()
            # rank 0 evaluates a run when it is submitted: one at a time, so that each
            # result reaches the log (and a kill loses one evaluation, not the generation)
            for task in fresh:
                scheduler.submit_run(task)
                for done_task, value in scheduler.get_finished_runs():
                    self._take_result(scheduler, done_task, value, fitness, attempts, failed)
                self._log_attempts()
                if self.results_log is not None and self._unflushed_since is not None and self._flush_due():
                    self._flush_log()
        else:
            if fresh:
                scheduler.submit_runs(fresh, static=self.runner_params["dispatch"] == "static")
            self._log_finished_generation()  # while the workers evaluate
        for task, avoid in replay.runs:
            if (task.ind_idx, task.attempt) not in done:
                scheduler.submit_run(task, avoid=avoid)
        while len(fitness) < len(tasks):
            for task, value in self._wait_for_results(scheduler):
                self._take_result(scheduler, task, value, fitness, attempts, failed)
            self._log_attempts()
        if failed and len(failed) == len(tasks):
            task, value = failed[0]
            _raise_failure(value, f"every individual of generation {g} failed; the first, {task.ind_idx},")
        return [(idx, fitness[idx]) for idx in sorted(fitness)], attempts

    def _take_result(self, scheduler, task, value, fitness, attempts, failed, log=True):
        """Records one finished attempt and decides what follows: its fitness, a retry, or
        the worst fitness."""
        value, outputs = split_outputs(value)
        attempts.append(attempt_record(task, value))
        if log and self.results_log is not None:
            self._unlogged_attempts.append((attempts[-1], task.params, outputs))
        first, self._first_attempt_seen = not self._first_attempt_seen, True
        if value.status == StatusType.SUCCESS:
            fitness[task.ind_idx] = value.cost
        elif not self._retry(scheduler, task, value, first):
            failed.append((task, value))
            fitness[task.ind_idx] = self._cost_for_crash

    def _log_attempts(self):
        """Appends the attempts taken since the last call to the results log (in one
        call: whole columns at a time)."""
        if not self._unlogged_attempts:
            return
        entries, self._unlogged_attempts = self._unlogged_attempts, []
        rows = self.results_log.append_attempts([record for record, _, _ in entries], [params for _, params, _ in entries])
        for row, (_, _, outputs) in zip(rows, entries):
            if outputs:
                self.results_log.append_outputs(row, outputs)
        # the parallel log is flushed between generations only: its flush is a collective
        # step, which needs every worker idle
        if self._unflushed_since is None and not isinstance(self.results_log, ParallelResultsLog):
            self._unflushed_since = time.monotonic()

    def _wait_for_results(self, scheduler):
        """The next finished attempts; while some are not yet in the file, flushes the
        results log once `_flush_due` says so, so that a killed run loses little work."""
        if self.results_log is None or self._unflushed_since is None:
            scheduler.wait()
            return scheduler.get_finished_runs()
        backoff = Backoff()
        while True:
            finished = scheduler.get_finished_runs()
            if finished or not scheduler.pending_runs():
                return finished
            if self._flush_due():
                self._flush_log()
                scheduler.wait()
                return scheduler.get_finished_runs()
            backoff.sleep()

    def _flush_due(self):
        interval = max(MIN_FLUSH_INTERVAL, FLUSH_COST_RATIO * self._flush_seconds)
        return time.monotonic() - self._last_flush >= interval

    def _flush_log(self):
        t0 = time.monotonic()
        self._log_attempts()
        self.results_log.flush()
        self._last_flush = time.monotonic()
        self._flush_seconds = self._last_flush - t0
        self._unflushed_since = None

    def _retry(self, scheduler, task, value, first):
        """Handles a failed attempt: resubmits it (True), accepts the failure (False), or
        raises when the run must end."""
        info = value.additional_info
        context = f"simulate() of generation {task.generation}, individual {task.ind_idx}"
        if task.attempt:
            context += f" (attempt {task.attempt + 1})"
        if isinstance(info.get("exception"), FitnessError) or value.status == StatusType.ABORT:
            _raise_failure(value, context)
        if first and self.runner_params["abort_on_first_run_crash"]:
            _raise_failure(value, f"the first evaluation of the run, {context}, failed (abort_on_first_run_crash);")
        what = f"{context} failed on rank {info.get('rank')}: {StatusType(value.status).name}: {info.get('error')}"
        if task.attempt < self.runner_params["max_retries"]:
            logger.warning("%s; retrying", what)
            scheduler.submit_run(task._replace(attempt=task.attempt + 1), avoid=info.get("rank"))
            return True
        if self.stop_run or self._cost_for_crash is None:
            _raise_failure(value, f"{context}, the last of {task.attempt + 1} attempt(s),")
        logger.warning("%s; no attempts left: it gets the fitness %s", what, self._cost_for_crash)
        return False

    def _open_results_log(self, weights):
        """Creates ``<run folder>/results.h5``: one row per evaluation attempt, written as
        results arrive and flushed every generation (see `mpil2l.storage`); or, resuming,
        opens the run's log and reads back the attempts finished after its checkpoint."""
        self._unflushed_since, self._last_flush, self._flush_seconds = None, time.monotonic(), 0.0
        self._reusable = {}
        self._history = {}
        if self._resume is not None and self._resume.log_path is not None:
            self._history = dict(self._resume.history)
            # the job that wrote the log is over (prepare_experiment found no live writer on
            # this host, and HDF5's lock is free); one on another host cannot be asked
            self.results_log = ResultsLog.open_for_resume(self._resume.log_path, keep_attempts=True, break_lock=True)
            self._reusable = _finished_attempts(self.results_log.attempts_since_checkpoint())
            n = sum(len(v) for v in self._reusable.values())
            logger.info("resuming %s at generation %d; %d finished attempt(s) of the interrupted generation are reused",
                        self._resume.source, self._resume.first_generation, n)
            return
        if self.log_backend == "none":
            return
        pending = [g for g in self.traj.individuals if g not in self.traj.results.all_results]
        if weights is None or not pending:
            return
        first = self.traj.individuals[min(pending)][0].as_dict()
        _, spec = dict_to_list(first, get_dict_spec=True)
        path = os.path.join(self.paths.output_dir_path, RESULTS_LOG_NAME)
        self.results_log = ResultsLog.create(
            path, len(weights), spec, overwrite=True, fitness_weights=weights, for_parallel=self.log_backend == "parallel"
        )
        self.results_log.write_parameters(self.traj)
        self.results_log.flush()

    def _open_parallel_log(self, weights, optimizer):
        """Rank 0: creates the log (serial HDF5), or, resuming, checks the checkpoint against
        `optimizer`, restores it and reopens the run's log; then every rank opens it with
        ``mpio`` (collective with `_serve` on the workers). Returns the `ParallelResultsLog`,
        or None when the run keeps no log, or resumes from a trajectory or from a log the
        serial backend created (it goes on with the serial backend)."""
        resume = self._resume
        try:
            in_log = resume is not None and resume.log_path is not None and laid_out_for_parallel(resume.log_path)
        except Exception as exc:  # unreadable now; the serial path reports it
            logger.debug("cannot tell how %s is laid out: %s", resume.log_path, exc)
            in_log = False
        if resume is not None and not in_log:
            logger.info("resuming with the serial results log (the checkpoint is not a log created for the parallel backend)")
            self._announce_log("open", None)
            return None
        try:
            if resume is not None:
                self._restore(optimizer)  # checked before anything in the log changes
                self._restored = True
            self._open_results_log(weights)
            if self.results_log is not None:
                pending = [g for g in self.traj.individuals if g not in self.traj.results.all_results]
                if pending:
                    self.results_log.reserve(PARALLEL_RESERVE * len(self.traj.individuals[min(pending)]))
                    if resume is None:  # the first checkpoint, serially: no collective step
                        self._save_checkpoint(optimizer, min(pending), force=True)
                self.results_log.detach()
            path = None if self.results_log is None else self.results_log.path
        except Exception as exc:
            self._announce_log("error", f"{type(exc).__name__}: {exc}")
            self._close_results_log()
            self.results_log = None
            what = "cannot resume" if isinstance(exc, ckpt.ResumeError) else "could not create the results log"
            print_error(exc, f"mpil2l: {what}; stopping every rank")
            raise mark_reported(exc)
        self._announce_log("open", path)
        self.results_log = None
        return None if path is None else ParallelResultsLog.open(self.comm, path)

    def _announce_log(self, what, value):
        """Rank 0 -> the workers in `_serve`: ``("open", path or None)`` or ``("error",
        text)``. The workers wait in a polled barrier, not in the broadcast (which spins),
        while rank 0 creates the file."""
        polled_barrier(self.comm)
        self.comm.bcast((what, value), root=0)

    def _serve(self):
        """A worker's part of `run_experiment`: serve evaluations, and with the parallel
        results log, open it with rank 0, write this rank's outputs and close it with rank 0."""
        log = None
        if self.log_backend == "parallel":
            polled_barrier(self.comm)  # (see _announce_log)
            what, value = self.comm.bcast(None, root=0)
            if what == "error":
                raise RunAborted(f"rank 0 could not create the results log: {value}")
            log = None if value is None else ParallelResultsLog.open(self.comm, value)
        try:
            serve(self.comm, hooks=log)
        except RunAborted:
            if log is not None:
                log.close()  # rank 0 closes it after stopping the workers
            raise
        if log is not None:
            log.close()

    def _end_parallel_log(self):
        """Rank 0, once the workers have left their serve loop: the collective close, then
        the serial finish (error texts), leaving a serial log open for `end_experiment`."""
        log = self.results_log
        if not isinstance(log, ParallelResultsLog) or log.closed:
            return
        log.announce = None
        log.close()
        self.results_log = log.finish_serially()

    def _log_finished_generation(self):
        """Writes the statistics of the generation `post_process` last saw, flushes the
        log and checkpoints when due. Deferred until the next generation is dispatched, so
        that rank 0 does this while the workers evaluate; nothing of the next generation
        reaches the log before (a checkpoint records where the log stands)."""
        if self._unlogged is None:
            return
        optimizer, g, results, seconds = self._unlogged
        self._unlogged = None
        self._log_generation(optimizer, g, results, seconds)
        self._save_checkpoint(optimizer, g + 1)

    def _log_generation(self, optimizer, g, results, seconds):
        if self.results_log is None:
            return
        statistics = getattr(optimizer, "statistics", None)
        if statistics and statistics[-1].get("generation") == g:
            stats = dict(statistics[-1], wall_seconds=seconds)
            best = stats.get("best_fitness")
            if best is not None and len(best) != self.results_log.n_objectives:
                # multi gradient descent: one inner individual's fitness, not an evaluation's
                stats["best_fitness"] = None
            self.results_log.append_generation(stats)
        if not isinstance(self.results_log, ParallelResultsLog) or self._flush_due():
            self._flush_log()  # the parallel log's flush is a collective step: when due

    def _close_results_log(self):
        if self.results_log is not None and not self.results_log.closed:
            self.results_log.close()

    def _save_interrupted(self, exc):
        """Keeps what the run finished: the trajectory of the last checkpoint (the live one
        may be half-way through `post_process`), with the optimizer's state and the reason
        it ended, goes where `end_experiment` would put it (pass it back as ``checkpoint``
        to go on)."""
        try:
            traj = self.traj
            if self.results_log is not None and not self.results_log.closed:
                try:  # the attempts taken before the failure (the failed one included)
                    self._log_attempts()
                except Exception as log_error:
                    logger.error("could not write the last attempts to the results log: %s", log_error)
            # (not into a parallel log: its checkpoint is collective, and the workers may
            # be busy or terminated)
            collective = isinstance(self.results_log, ParallelResultsLog)
            if not self._updating and self._checkpointed != self._next_generation and self.optimizer is not None and not collective:
                try:  # between generations the live state is whole: save it first
                    self._log_finished_generation()
                    self._save_checkpoint(self.optimizer, self._next_generation, force=True)
                except Exception as save_error:
                    logger.error("could not checkpoint the finished generations: %s", save_error)
            if self._last_checkpoint is not None and self.results_log is not None and not self.results_log.closed:
                payload = pickle.loads(self._last_checkpoint[1])
                if "generations" in payload:  # packed: read from the log as it is pickled
                    ckpt.attach(payload, self._history_source(self.results_log.path))
                traj = payload["traj"]
                traj.resume_state = self._last_checkpoint[0]
            traj.f_add_result("interrupted", f"{type(exc).__name__}: {exc}")
            path = os.path.join(self.paths.output_dir_path, "trajectory.pickle")
            _save_atomically(traj, path)
            logger.warning("the finished generations are saved in %s", path)
        except Exception as save_error:  # the run is ending anyway; say why nothing was saved
            logger.error("could not save the interrupted trajectory: %s", save_error)

    # -- checkpoint and resume (rank 0) ----------------------------------------------------

    def _own_log_path(self):
        return os.path.join(self.paths.output_dir_path, RESULTS_LOG_NAME)

    def _find_checkpoint(self, checkpoint, overwrite):
        """What ``checkpoint=`` names to resume from, checked without writing anything: a
        `_Resume`, or None for a new run."""
        if checkpoint is None:
            return None
        if isinstance(checkpoint, Trajectory):
            state = getattr(checkpoint, "resume_state", None)
            if not isinstance(state, dict) or state.get("format") != ckpt.FORMAT:
                raise ckpt.ResumeError(
                    "checkpoint: this trajectory holds no optimizer state (traj.resume_state): only "
                    "trajectories saved by mpil2l can be resumed; or pass the run folder or its results.h5"
                )
            saved = pickle.loads(pickle.dumps(checkpoint))
            saved.resume_state = None
            saved.results._data.pop("interrupted", None)
            data = pickle.dumps(dict(state, traj=saved), protocol=pickle.HIGHEST_PROTOCOL)
            return _Resume("the checkpoint trajectory", data, None, state["next_generation"], {})
        if checkpoint is True:
            if not os.path.lexists(self.paths.output_dir_path):
                logger.info("checkpoint=True: no run folder %s yet; starting the run", self.paths.output_dir_path)
                return None
            path = ckpt.results_log_path(self.paths.output_dir_path)
        else:
            path = ckpt.results_log_path(checkpoint)
        in_place = os.path.realpath(path) == os.path.realpath(self._own_log_path())
        if in_place and overwrite:
            raise ckpt.ResumeError(
                f"checkpoint={checkpoint!r} resumes the run folder {self.paths.output_dir_path!r}; "
                "overwrite=True would delete it: pass one or the other"
            )
        check_not_in_use(path)
        if os.path.isfile(path) and repair_truncated(path):  # killed while growing it in parallel
            check_not_in_use(path)
        with open_log(path) as file:
            group = file["checkpoint"]
            data, _ = load_checkpoint_slots(group, path)
            if data is None:
                raise ckpt.ResumeError(
                    f"checkpoint: {path!r} holds no checkpoint (the run ended before its first generation)"
                )
            payload = ckpt.load(data, repr(path))
            # the generations stay in the log (packed into the trajectory, read when used):
            # check now that it holds them
            history = {g: (offset, length) for g, offset, length in payload.get("generations", [])}
            size = group[HISTORY].shape[0] if HISTORY in group else 0
            if any(offset < 0 or offset + length > size for offset, length in history.values()):
                raise ResultsLogError(f"{path!r}: the checkpoint refers to history bytes the file does not hold; it is corrupt")
        log_path = self._own_log_path() if in_place else os.path.abspath(path)
        return _Resume(repr(path), data, log_path, payload["next_generation"], history)

    def _load_resume_payload(self):
        """The checkpoint to resume from, loaded; its evaluated generations are packed into
        its trajectory, read from the log when used."""
        payload = ckpt.load(self._resume.data, self._resume.source)
        if self._resume.log_path is not None:
            ckpt.attach(payload, self._history_source(self._resume.log_path))
        return payload

    def _history_source(self, path):
        """The `HistoryFile` of the results log at `path`, read through `self.results_log`
        while it is open."""
        if self._history_file is None or self._history_file.path != path:
            self._history_file = HistoryFile(path, lambda: self.results_log)
        return self._history_file

    def _pack_stored(self, first):
        """Packs the generations stored in the log's history from the `first`-th stored on:
        the trajectory drops their live objects and reads them from the log when used."""
        history = self.traj._generation_history()
        source = self._history_source(self.results_log.path)
        for g, (offset, length) in itertools.islice(self._history.items(), first, None):
            history.pack(g, HistoryRef(source, offset, length))

    def _spill(self):
        """Stores the evaluated generations not stored yet in the log's history (which the
        checkpoints refer to; also without checkpoints) and packs them, once they hold
        `SPILL_EVALUATIONS`: the trajectory drops their objects, so rank 0's memory does
        not grow with the history."""
        if self._spill_failed or self._unstored_evaluations < SPILL_EVALUATIONS:
            return
        first = len(self._history)
        try:
            ckpt.store_generations(self.traj, self._history, self.results_log.append_checkpoint_pieces)
        except Exception as exc:  # say, an individual that cannot be pickled
            logger.warning("cannot store the finished generations in the results log (%s: %s); they stay in memory",
                           type(exc).__name__, exc)
            self._spill_failed = True
        self._pack_stored(first)
        self._unstored_evaluations = 0

    def _restore(self, optimizer):
        """Puts the checkpoint's optimizer state, trajectory and runtime state in place, once
        the script has built its optimizer: checks first that they fit (nothing is written
        when they do not)."""
        source = self._resume.source
        payload = self._load_resume_payload()
        if not ckpt.can_checkpoint(optimizer):
            raise ckpt.ResumeError(
                f"cannot resume {type(optimizer).__name__} from {source}: it has no get_state()/set_state()"
            )
        ckpt.check_fits(payload, optimizer, self.traj, source)
        try:
            optimizer.set_state(payload["state"])
        except (ValueError, TypeError, KeyError) as exc:
            raise ckpt.ResumeError(f"cannot resume from {source}: the optimizer refused the saved state: {exc}") from None
        saved = payload["traj"]
        saved.resume_state = None
        saved.results._data.pop("interrupted", None)
        self.traj.restore(saved)
        self.traj.f_add_parameter_group("runner_params")
        for key, value in self.runner_params.items():
            self.traj.f_add_parameter_to_group("runner_params", key, value)
        experiment = payload["experiment"]
        self.best = experiment["best"]
        self._first_attempt_seen = experiment["first_attempt_seen"]
        # what end_experiment and an interruption save until this run checkpoints anew
        self._last_checkpoint = ({k: v for k, v in payload.items() if k != "traj"}, self._resume.data)

    def _save_checkpoint(self, optimizer, next_generation, force=False):
        """Stores the newly evaluated generations into the results log's history and packs
        them when they are many (`_spill`; a checkpoint stores them all), then saves the
        optimizer's state and the trajectory (atomically; see `mpil2l.experiment.checkpoint`), unless
        the last checkpoint is too recent for its cost (`CHECKPOINT_COST_RATIO`) and `force`
        is False."""
        if self.results_log is None:
            return
        self._spill()
        if not ckpt.can_checkpoint(optimizer) or self._checkpoint_failed:
            return
        now = time.monotonic()
        if not force and now - self._checkpoint_end < CHECKPOINT_COST_RATIO * self._checkpoint_seconds:
            return
        experiment = {"best": self.best, "first_attempt_seen": self._first_attempt_seen}
        first = len(self._history)
        try:
            state = ckpt.resume_state(optimizer, experiment, next_generation)
            data = ckpt.capture(state, self.traj, self._history, self.results_log.append_checkpoint_pieces)
        except Exception as exc:  # say, an attribute that cannot be pickled: run on, unsaved
            logger.warning(
                "cannot checkpoint %s (%s: %s); the run goes on without checkpoints",
                type(optimizer).__name__, type(exc).__name__, exc,
            )
            self._checkpoint_failed = True
            self._pack_stored(first)
            return
        self._pack_stored(first)
        self._unstored_evaluations = 0  # capture stored every evaluated generation
        self.results_log.save_checkpoint(data, generation=next_generation - 1)
        self._last_checkpoint = (state, data)
        self._checkpointed = next_generation
        self._checkpoint_end = time.monotonic()
        self._checkpoint_seconds = self._checkpoint_end - now
        self._last_flush = time.monotonic()
        self._unflushed_since = None

    def _reused_attempts(self, g, individuals):
        """The attempts of generation `g` read back from the results log, as ``(task,
        value)``, checked against the trajectory's individuals."""
        rows = self._reusable.pop(g, [])
        by_idx = {ind.ind_idx: ind for ind in individuals}
        reused = []
        for row, ind_idx, attempt, params, value in rows:
            ind = by_idx.get(ind_idx)
            if ind is None or not np.array_equal(
                np.asarray(dict_to_list(ind.as_dict()), dtype=float), params, equal_nan=True
            ):
                # the optimizer drew other individuals than before the interruption (it is not
                # deterministic): the logged attempts from here on belong to no generation
                logger.warning(
                    "generation %d, individual %d differs from the one in the results log: its attempts and "
                    "every later one are dropped from the log and evaluated again", g, ind_idx,
                )
                self.results_log.truncate_attempts(rows[0][0])
                self._reusable = {}
                return []
            reused.append((Task(g, ind_idx, attempt, ind.params), value))
        return reused

    def _report(self, g, results, weights, seconds):
        if not results:
            logger.info("generation %d: no individuals", g)
            return
        w = weights if weights is not None else (1.0,) * len(results[0][1])
        if len(w) == 1:  # (most runs: one objective, no sum per individual)
            w0 = w[0]
            best_idx, best_fitness = max(results, key=lambda r: w0 * r[1][0])
            best_score = w0 * best_fitness[0]
        else:
            scored = [(sum(wi * fi for wi, fi in zip(w, f)), idx, f) for idx, f in results]
            best_score, best_idx, best_fitness = max(scored, key=lambda s: s[0])
        if self.best is None or best_score > self.best[0]:
            params = self.traj.individuals[g][[i.ind_idx for i in self.traj.individuals[g]].index(best_idx)]
            self.best = (best_score, g, best_idx, best_fitness, params.as_dict())
        logger.info(
            "generation %d: %d individuals in %.3f s, best fitness %s (ind_idx %d)",
            g,
            len(results),
            seconds,
            _short(best_fitness),
            best_idx,
        )

    def _create_run_folder(self, overwrite, log_stdout):
        root, output = self.root_dir_path, self.paths.output_dir_path
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot create root_dir_path {root!r}: {exc.strerror}") from None
        if os.path.lexists(output):
            if not overwrite:
                raise FileExistsError(
                    f"run folder {output!r} already exists; pass overwrite=True to replace it "
                    "or choose another name"
                )
            shutil.rmtree(output)
        try:
            os.makedirs(self.paths.logs_path if log_stdout else output)
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot create run folder {output!r}: {exc.strerror}") from None

    @staticmethod
    def _runner_params(given):
        params = dict(DEFAULT_RUNNER_PARAMS)
        if given is None:
            return params
        if not isinstance(given, dict):
            raise TypeError(f"runner_params must be a dict, got {type(given).__name__}")
        l2l_only = sorted(set(given) & set(L2L_RUNNER_KEYS))
        if l2l_only:
            raise TypeError(
                f"runner_params {l2l_only} configure L2L's file-based runner; mpil2l evaluates on "
                "MPI ranks: launch the script with mpiexec or srun instead"
            )
        unknown = sorted(set(given) - set(DEFAULT_RUNNER_PARAMS))
        if unknown:
            raise TypeError(f"unknown runner_params {unknown}; known: {sorted(DEFAULT_RUNNER_PARAMS)}")
        params.update(given)
        if params["dispatch"] not in DISPATCH_MODES:
            raise ValueError(f"runner_params['dispatch'] must be one of {DISPATCH_MODES}, got {params['dispatch']!r}")
        max_workers = params["max_workers"]
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            raise ValueError(f"runner_params['max_workers'] must be an int >= 1, got {max_workers!r}")
        try:
            check_isolation(params["isolation"], Limits(params["timeout"], params["memory_limit_mb"]))
        except ValueError as exc:
            raise ValueError(f"runner_params: {exc}") from None
        retries = params["max_retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"runner_params['max_retries'] must be an int >= 0, got {retries!r}")
        cost = params["cost_for_crash"]
        values = cost if isinstance(cost, (tuple, list)) else (cost,)
        if cost is not None and not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            raise ValueError(f"runner_params['cost_for_crash'] must be None, a number or a tuple of numbers, got {cost!r}")
        for key in ("allow_nonfinite", "abort_on_first_run_crash"):
            if not isinstance(params[key], bool):
                raise ValueError(f"runner_params[{key!r}] must be True or False, got {params[key]!r}")
        return params


def _time_limit(timeout):
    if timeout is True:
        return DEFAULT_TIME_LIMIT
    if timeout is False or timeout is None:
        return None
    if isinstance(timeout, (int, float)) and timeout > 0:
        return float(timeout)
    raise ValueError(f"timeout must be True, False or a number of seconds > 0, got {timeout!r}")


def _cost_for_crash(cost, weights):
    """The fitness of an individual that failed every attempt: `cost` (a number for every
    objective, or a tuple), or by default the worst value each weight allows."""
    if cost is None:
        if weights is None:
            return None
        return tuple(float("-inf") if w > 0 else float("inf") for w in weights)
    values = cost if isinstance(cost, (tuple, list)) else (cost,) * (len(weights) if weights else 1)
    if weights is not None and len(values) != len(weights):
        raise ValueError(
            f"runner_params['cost_for_crash'] {tuple(values)} has {len(values)} value(s), the optimizer "
            f"has {len(weights)} fitness weight(s)"
        )
    return tuple(float(v) for v in values)


def _finished_attempts(rows):
    """Attempt rows read back from a results log, by generation: ``[(row, ind_idx,
    attempt, params, RunValue)]`` in the order they were written."""
    out = {}
    for i in range(len(rows["row"])):
        status = StatusType(int(rows["status"][i]))
        fitness = rows["fitness"][i]
        error = str(rows["error"][i])
        rank = int(rows["rank"][i])
        info = {"rank": None if rank < 0 else rank}
        if status != StatusType.SUCCESS:
            info.update(error=error.strip().splitlines()[-1] if error.strip() else status.name, traceback=error)
        cost = tuple(float(f) for f in fitness) if status == StatusType.SUCCESS else None
        value = RunValue(cost, float(rows["runtime"][i]), status, float(rows["start"][i]), float(rows["end"][i]), info)
        params = np.asarray(rows["params"][i], dtype=float)
        entry = (int(rows["row"][i]), int(rows["ind_idx"][i]), int(rows["attempt"][i]), params, value)
        out.setdefault(int(rows["generation"][i]), []).append(entry)
    return out


def _raise_failure(value, context):
    """Ends the run for a failed attempt: the worker's exception where there is one, else an
    `EvaluationFailed` naming what happened."""
    if value.additional_info.get("exception") is not None:
        reraise_remote(value, context)
    info = value.additional_info
    raise EvaluationFailed(
        f"{context} {StatusType(value.status).name} on rank {info.get('rank')} ({info.get('host')}): {info.get('error')}"
    )


def _short(fitness):
    return "(" + ", ".join(f"{f:.6g}" for f in fitness) + ")"


def _save_atomically(obj, path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f)
    os.replace(tmp, path)

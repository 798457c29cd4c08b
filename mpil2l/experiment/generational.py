"""L2L's `Experiment` on MPI ranks: the generational loop on rank 0, workers everywhere else.

Every rank runs the same script. `prepare_experiment` and `run_experiment` are collective:
rank 0 owns the trajectory and the optimizer and drives the run; the other ranks serve
evaluations inside `run_experiment` and return from it when the run ends.
"""

import os
import time

import numpy as np

from ..core.console import logger
from ..evaluation.simulation import Task
from ..model.conversion import dict_to_list
from ..model.trajectory import Trajectory
from ..runtime.spmd import mark_reported, print_error, terminate_on_signals
from ..storage import ResultsLog
from ..storage.parallel import choose_backend, laid_out_for_parallel
from .attempts import format_fitness, logged_attempts, raise_failure
from .checkpoint import ResumeError
from .checkpointing import GenerationCheckpoints, find_resume
from .driver import Driver
from .recorder import announce_log, serve_with_log
from .run_folder import RunPaths, create_run_folder, keep_run_folder, save_atomically
from .settings import PREPARE_SETTINGS, args_docstring

__all__ = ["Experiment", "RunPaths"]

# The parallel results log starts with room for this many generations of attempts (growing
# it later is a collective step).
PARALLEL_RESERVE = 8


class Experiment(Driver):
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
        super().__init__(root_dir_path, comm)
        self.best = None  # (weighted fitness, generation, ind_idx, fitness, params)
        self.checkpoints = GenerationCheckpoints(self.recorder)  # rank 0
        self._resume = None  # rank 0: what to resume from (`checkpointing.Resume`), if any
        self._reusable = {}  # generation -> [LoggedAttempt] finished before an interruption
        self._updating = False  # the trajectory and the optimizer disagree
        self._restored = False
        self._unlogged = None  # (optimizer, generation, results, seconds) not yet in the log
        self._next_generation = None  # the first generation not evaluated

    def prepare_experiment(self, **kwargs):
        return super().prepare_experiment(**kwargs)

    prepare_experiment.__doc__ = f"""Creates the run folder and the trajectory. Collective.

        Args:
{args_docstring(PREPARE_SETTINGS, indent=12)}

        ``runner_params`` are listed in `mpil2l.experiment.settings.RUNNER_SETTINGS` and in
        docs/reference/settings.md.

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

    # -- prepare_experiment's hooks --------------------------------------------------------

    def _check_checkpoint(self, checkpoint):
        if checkpoint is not None and checkpoint is not True:
            if not isinstance(checkpoint, (Trajectory, str, os.PathLike)):
                raise TypeError(
                    "checkpoint must be a Trajectory, a path to a results log or run folder, or "
                    f"True, got {type(checkpoint).__name__}"
                )

    def _choose_log_backend(self, settings):
        """The results-log backend for ``runner_params['results_log']`` (see `choose_backend`)."""
        return choose_backend(settings.runner_params["results_log"], self.comm.Get_size())

    def _prepare_run_folder(self, settings):
        """Rank 0: finds what to resume from, then keeps the run folder (resuming in place) or
        creates it (with a copy of the log resumed from, if any)."""
        self._resume = None
        resume = find_resume(settings.checkpoint, self.paths, settings.overwrite)
        own = self.paths.results_log
        if resume is not None and resume.log_path == own:
            keep_run_folder(self.paths, settings.log_stdout)
        else:
            copy = None if resume is None else resume.log_path
            create_run_folder(self.paths, settings.overwrite, settings.log_stdout, copy_log=copy)
            if copy is not None:
                resume = resume._replace(log_path=own)
        self._resume = resume

    def _new_trajectory(self, settings):
        if self._resume is not None:
            return self.checkpoints.load(self._resume)["traj"]
        if isinstance(settings.checkpoint, Trajectory):
            return settings.checkpoint
        return Trajectory(settings.trajectory_name)

    # -- the run -----------------------------------------------------------------------------

    def run_experiment(
        self, optimizer, optimizee, optimizer_parameters=None, optimizee_parameters=None
    ):
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
        self._check_prepared()
        self._check_contract(optimizee)
        if not callable(getattr(optimizer, "post_process", None)):
            raise TypeError(
                f"the optimizer {type(optimizer).__name__} has no post_process(traj, results) "
                "method"
            )
        self.optimizer, self.optimizee = optimizer, optimizee
        if not self.is_root:
            serve_with_log(self.comm, collective=self.log_backend == "parallel")
            return
        logger.debug("optimizer parameters: %s", optimizer_parameters)
        logger.debug("optimizee parameters: %s", optimizee_parameters)
        weights = getattr(optimizer, "optimizee_fitness_weights", None)
        self._start_run(weights)
        self.checkpoints.reset()
        self._updating = self._restored = False
        self._unlogged = self._next_generation = None
        # (resuming into a parallel log restores the checkpoint here already)
        log = self._open_parallel_log(optimizer) if self.log_backend == "parallel" else None
        scheduler = self._start_scheduler(optimizee, weights)
        if log is not None:  # opened with the workers' serve_with_log, before the scheduler
            self.recorder.attach(log)
            log.announce = scheduler.sync_workers
        try:
            with terminate_on_signals():
                if self._resume is not None and not self._restored:
                    self._restore(optimizer)
                if log is None:
                    self._open_results_log(weights)
                self._run_started = True
                self._run_generations(scheduler, optimizer)
                if log is None:  # (the parallel log: after its collective close, which flushes)
                    if self.recorder.log is not None:
                        self.recorder.log.flush()
                    self._save_last_checkpoint(optimizer)
        except BaseException as exc:
            self._abort_run(scheduler, exc)
        scheduler.shutdown()
        if log is not None:
            self._end_collective_log()
            self._save_last_checkpoint(optimizer)  # serially: no collective step

    def _run_generations(self, scheduler, optimizer):
        traj = self.traj
        n_iteration = traj.par.get("n_iteration")
        evaluated = traj.results.all_results
        if "attempts" not in traj.results:  # a checkpoint from before attempts were kept
            traj.results.f_add_result_group("attempts")
        pending = [g for g in traj.individuals if g not in evaluated]
        g = first = min(pending) if pending else None
        self._next_generation = first
        resumed_log = self._resume is not None and self._resume.log_path is not None
        if first is not None and self.checkpoints.checkpointed != first and not resumed_log:
            self._save_checkpoint(optimizer, first, force=True)  # (a resumed log holds this one)
        self.checkpoints.checkpointed = first
        started = time.monotonic()
        while g in traj.individuals and (n_iteration is None or g < n_iteration):
            if g > first and self.time_limit is not None:
                if time.monotonic() - started > self.time_limit:
                    logger.warning(
                        "time limit of %g s reached: stopping before generation %d",
                        self.time_limit,
                        g,
                    )
                    break
            t0 = time.perf_counter()
            reused = self._reused_attempts(g, traj.individuals[g])
            results, attempts = self._evaluate_generation(scheduler, g, traj.individuals[g], reused)
            self._updating = True  # until post_process returns
            traj.results.f_add_result_to_group("all_results", g, results)
            self.checkpoints.count(len(results))
            traj.results.f_add_result_to_group("attempts", g, attempts)
            traj.current_results = results
            optimizer.post_process(traj, results)
            self._updating = False
            self._next_generation = g + 1
            seconds = time.perf_counter() - t0
            self._report(g, results, optimizer, seconds)
            self._unlogged = (optimizer, g, results, seconds)
            if self.recorder.collective:
                self._log_finished_generation()  # a collective flush: before the workers get busy
            g += 1
        self._log_finished_generation()

    def _evaluate_generation(self, scheduler, g, individuals, reused=()):
        """Evaluates one generation, retrying failed individuals; returns the results in
        ``ind_idx`` order and the record of every attempt.

        `reused` holds ``(task, value)`` of attempts that finished before the run was
        interrupted (read back from the results log): they are handled as if they had just
        arrived, and only what they leave to do is evaluated."""
        tasks = [Task(g, ind.ind_idx, 0, ind.params) for ind in individuals]
        fitness, attempts, failed = {}, [], []
        retries = []  # what the reused attempts ask for

        def take(submit, task, value, log=True):
            record, settled = self._settle_attempt(task, value, submit, log)
            attempts.append(record)
            if settled is not None:
                fitness[task.ind_idx] = settled.fitness
                if settled.failed:
                    failed.append((task, value))

        for task, value in reused:
            take(lambda retry, avoid=None: retries.append((retry, avoid)), task, value, log=False)
        done = {(task.ind_idx, task.attempt) for task, _ in reused}
        fresh = [task for task in tasks if (task.ind_idx, 0) not in done]
        if self.comm.Get_size() == 1 or not self.multiprocessing:
            self._log_finished_generation()
            # rank 0 evaluates a run when it is submitted: one at a time, so that each
            # result reaches the log (and a kill loses one evaluation, not the generation)
            for task in fresh:
                scheduler.submit_run(task)
                for done_task, value in scheduler.get_finished_runs():
                    take(scheduler.submit_run, done_task, value)
                self.recorder.write_pending()
                self.recorder.flush_if_due()
        else:
            if fresh:
                scheduler.submit_runs(fresh, static=self.runner_params["dispatch"] == "static")
            self._log_finished_generation()  # while the workers evaluate
        for task, avoid in retries:
            if (task.ind_idx, task.attempt) not in done:
                scheduler.submit_run(task, avoid=avoid)
        while len(fitness) < len(tasks):
            for task, value in self.recorder.wait_for_results(scheduler):
                take(scheduler.submit_run, task, value)
            self.recorder.write_pending()
        if failed and len(failed) == len(tasks):
            task, value = failed[0]
            raise_failure(
                value, f"every individual of generation {g} failed; the first, {task.ind_idx},"
            )
        return [(idx, fitness[idx]) for idx in sorted(fitness)], attempts

    def _report(self, g, results, optimizer, seconds):
        if not results:
            logger.info("generation %d: no individuals", g)
            return
        weights = getattr(optimizer, "optimizee_fitness_weights", None)
        w = weights if weights is not None else (1.0,) * len(results[0][1])
        if len(w) == 1:  # (most runs: one objective, no sum per individual)
            w0 = w[0]
            best_idx, best_fitness = max(results, key=lambda r: w0 * r[1][0])
            best_score = w0 * best_fitness[0]
        else:
            scored = [(sum(wi * fi for wi, fi in zip(w, f)), idx, f) for idx, f in results]
            best_score, best_idx, best_fitness = max(scored, key=lambda s: s[0])
        if self.best is None or best_score > self.best[0]:
            individuals = self.traj.individuals[g]
            params = individuals[[i.ind_idx for i in individuals].index(best_idx)]
            self.best = (best_score, g, best_idx, best_fitness, params.as_dict())
        logger.info(
            "generation %d: %d individuals in %.3f s, best fitness %s (ind_idx %d)",
            g,
            len(results),
            seconds,
            format_fitness(best_fitness),
            best_idx,
        )

    # -- the results log (rank 0) ------------------------------------------------------------

    def _open_results_log(self, weights):
        """Creates ``<run folder>/results.h5`` (one row per evaluation attempt, see
        `mpil2l.storage`); or, resuming, opens the run's log and reads back the attempts
        finished after its checkpoint."""
        self._reusable = {}
        resume = self._resume
        if resume is not None and resume.log_path is not None:
            self.checkpoints.history = dict(resume.history)
            # the job that wrote the log is over (prepare_experiment found no live writer on
            # this host, and HDF5's lock is free); one on another host cannot be asked
            log = ResultsLog.open_for_resume(resume.log_path, keep_attempts=True, break_lock=True)
            self.recorder.attach(log)
            for attempt in logged_attempts(log.attempts_since_checkpoint()):
                self._reusable.setdefault(attempt.generation, []).append(attempt)
            logger.info(
                "resuming %s at generation %d; %d finished attempt(s) of the interrupted "
                "generation are reused",
                resume.source,
                resume.first_generation,
                sum(len(v) for v in self._reusable.values()),
            )
            return
        self.checkpoints.history = {}
        if self.log_backend == "none":
            return
        pending = [g for g in self.traj.individuals if g not in self.traj.results.all_results]
        if weights is None or not pending:
            return
        first = self.traj.individuals[min(pending)][0].as_dict()
        _, spec = dict_to_list(first, get_dict_spec=True)
        log = ResultsLog.create(
            self.paths.results_log,
            len(weights),
            spec,
            overwrite=True,
            fitness_weights=weights,
            for_parallel=self.log_backend == "parallel",
        )
        self.recorder.attach(log)
        log.write_parameters(self.traj)
        log.flush()

    def _open_parallel_log(self, optimizer):
        """Rank 0: creates the log (serial HDF5), or, resuming, checks the checkpoint against
        `optimizer`, restores it and reopens the run's log; then every rank opens it with
        ``mpio`` (collective with `serve_with_log` on the workers). Returns the
        `ParallelResultsLog`, or None when the run keeps no log, or resumes from a trajectory
        or from a log the serial backend created (it goes on with the serial backend)."""
        resume = self._resume
        try:
            in_log = (
                resume is not None
                and resume.log_path is not None
                and laid_out_for_parallel(resume.log_path)
            )
        except Exception as exc:  # unreadable now; the serial path reports it
            logger.debug("cannot tell how %s is laid out: %s", resume.log_path, exc)
            in_log = False
        if resume is not None and not in_log:
            logger.info(
                "resuming with the serial results log (the checkpoint is not a log created for "
                "the parallel backend)"
            )
            return announce_log(self.comm)
        weights = getattr(optimizer, "optimizee_fitness_weights", None)
        try:
            if resume is not None:
                self._restore(optimizer)  # checked before anything in the log changes
                self._restored = True
            self._open_results_log(weights)
            log = self.recorder.log
            if log is not None:
                pending = [
                    g for g in self.traj.individuals if g not in self.traj.results.all_results
                ]
                if pending:
                    log.reserve(PARALLEL_RESERVE * len(self.traj.individuals[min(pending)]))
                    if resume is None:  # the first checkpoint, serially: no collective step
                        self._save_checkpoint(optimizer, min(pending), force=True)
                log.detach()
            path = None if log is None else log.path
        except Exception as exc:
            announce_log(self.comm, error=f"{type(exc).__name__}: {exc}")
            self.recorder.close()
            self.recorder.attach(None)
            what = (
                "cannot resume"
                if isinstance(exc, ResumeError)
                else "could not create the results log"
            )
            print_error(exc, f"mpil2l: {what}; stopping every rank")
            raise mark_reported(exc)
        self.recorder.attach(None)
        return announce_log(self.comm, path)

    def _log_finished_generation(self):
        """Writes the statistics of the generation `post_process` last saw, flushes the
        log and checkpoints when due. Deferred until the next generation is dispatched, so
        that rank 0 does this while the workers evaluate; nothing of the next generation
        reaches the log before (a checkpoint records where the log stands)."""
        if self._unlogged is None:
            return
        optimizer, g, results, seconds = self._unlogged
        self._unlogged = None
        log = self.recorder.log
        if log is not None:
            statistics = getattr(optimizer, "statistics", None)
            if statistics and statistics[-1].get("generation") == g:
                stats = dict(statistics[-1], wall_seconds=seconds)
                best = stats.get("best_fitness")
                if best is not None and len(best) != log.n_objectives:
                    # multi gradient descent: one inner individual's fitness, not an evaluation's
                    stats["best_fitness"] = None
                log.append_generation(stats)
            self.recorder.flush_generation()
        self._save_checkpoint(optimizer, g + 1)

    def _write_best(self, optimizer):
        self.recorder.log.write_best(
            optimizer.best_individual, optimizer.best_fitness, optimizer.best_weighted_fitness
        )

    def _report_best(self, optimizer):
        if self.best is not None:
            _, g, idx, fitness, params = self.best
            logger.info(
                "best individual: generation %d, ind_idx %d, fitness %s, %s",
                g,
                idx,
                fitness,
                params,
            )

    # -- checkpoint and resume (rank 0) ------------------------------------------------------

    def _save_checkpoint(self, optimizer, next_generation, force=False):
        driver_state = {"best": self.best, "first_attempt_seen": self.policy.first_attempt_seen}
        self.checkpoints.save(optimizer, self.traj, next_generation, driver_state, force)

    def _save_last_checkpoint(self, optimizer):
        """The checkpoint after the last generation run, unless the last one saved is that."""
        nxt = self._next_generation
        if nxt is not None and self.checkpoints.checkpointed != nxt:
            self._save_checkpoint(optimizer, nxt, force=True)

    def _restore(self, optimizer):
        """Puts the checkpoint in place, once the script has built its optimizer."""
        saved = self.checkpoints.restore(self._resume, optimizer, self.traj)
        self._add_runner_params()
        self.best = saved["best"]
        self.policy.first_attempt_seen = saved["first_attempt_seen"]

    def _resume_state(self):
        return self.checkpoints.resume_state

    def _reused_attempts(self, g, individuals):
        """The attempts of generation `g` read back from the results log, as ``(task,
        value)``, checked against the trajectory's individuals."""
        logged = self._reusable.pop(g, [])
        by_idx = {ind.ind_idx: ind for ind in individuals}
        reused = []
        for attempt in logged:
            ind = by_idx.get(attempt.ind_idx)
            if ind is None or not np.array_equal(
                np.asarray(dict_to_list(ind.as_dict()), dtype=float), attempt.params, equal_nan=True
            ):
                # the optimizer drew other individuals than before the interruption (it is not
                # deterministic): the logged attempts from here on belong to no generation
                logger.warning(
                    "generation %d, individual %d differs from the one in the results log: its "
                    "attempts and every later one are dropped from the log and evaluated again",
                    g,
                    attempt.ind_idx,
                )
                self.recorder.log.truncate_attempts(logged[0].row)
                self._reusable = {}
                return []
            reused.append((Task(g, attempt.ind_idx, attempt.attempt, ind.params), attempt.value))
        return reused

    def _save_interrupted(self, exc):
        """Keeps what the run finished: the trajectory of the last checkpoint (the live one
        may be half-way through `post_process`), with the optimizer's state and the reason
        it ended, goes where `end_experiment` would put it (pass it back as ``checkpoint``
        to go on)."""
        try:
            self._write_pending_attempts()
            # (not into a parallel log: its checkpoint is collective, and the workers may
            # be busy or terminated)
            between_generations = not self._updating and self.optimizer is not None
            due = self.checkpoints.checkpointed != self._next_generation
            if between_generations and due and not self.recorder.collective:
                try:  # between generations the live state is whole: save it first
                    self._log_finished_generation()
                    self._save_checkpoint(self.optimizer, self._next_generation, force=True)
                except Exception as save_error:
                    logger.error("could not checkpoint the finished generations: %s", save_error)
            traj = self.checkpoints.saved_trajectory(self.traj)
            traj.f_add_result("interrupted", f"{type(exc).__name__}: {exc}")
            save_atomically(traj, self.paths.trajectory)
            logger.warning("the finished generations are saved in %s", self.paths.trajectory)
        except Exception as save_error:  # the run is ending anyway; say why nothing was saved
            logger.error("could not save the interrupted trajectory: %s", save_error)

"""Asynchronous optimization: an ask/tell optimizer fed one result at a time, no generations.

`AsyncExperiment` is built from the generational driver's parts (`Driver`): the workers, the
evaluation target (`mpil2l.evaluation.simulation.Simulation`, so every optimizee of the
generational loop works), the attempt policy and the recorder of the results log. What
changes is that each finished evaluation is told to the optimizer at once and the worker that
ran it gets a new candidate at once.

Resuming: the results log's rows are in the order the results arrived, and the loop (and
the optimizer) is deterministic given that order, so going through the rows again rebuilds
its state. A checkpoint (the optimizer's state, the evaluations in flight and the loop's
counters) is saved in the log's checkpoint slots every ``checkpoint_interval`` seconds; rows
are flushed as the generational loop flushes them. A resumed run restores the last
checkpoint, replays the rows written after it (checking that each matches what the
optimizer proposes) and re-submits what was in flight: an evaluation whose row reached the
file is never run again.
"""

import logging
import os
import time

import numpy as np

from ..core.console import logger
from ..evaluation.simulation import Task
from ..model.conversion import dict_to_list
from ..model.trajectory import Trajectory
from ..optimizers.asktell import AskTellOptimizer
from ..optimizers.optimizer import check_bool, check_int, check_positive
from ..runtime.spmd import mark_on_every_rank, terminate_on_signals
from ..runtime.worker import serve
from ..storage import ResultsLog
from ..storage.parallel import choose_backend
from ..storage.writer_lock import check_not_in_use
from .attempts import format_fitness, logged_value, raise_failure
from .checkpoint import ResumeError
from .checkpointing import (
    check_async_fits,
    log_to_resume,
    read_async_checkpoint,
    save_async_checkpoint,
)
from .driver import Driver
from .run_folder import create_run_folder, keep_run_folder

DEFAULT_CHECKPOINT_INTERVAL = 60.0  # seconds between checkpoints
GENERATION = 0  # the generation column of every attempt row: an asynchronous run has none


class AsyncExperiment(Driver):
    """Asynchronous optimization on the ranks of `comm`: rank 0 runs an ask/tell optimizer
    (`mpil2l.optimizers.AskTellOptimizer`), every other rank evaluates, and a worker gets
    a new candidate the moment it returns a result.

    Use it as `Experiment`: `prepare_experiment` takes the same keywords (``checkpoint``:
    ``True`` or the path of a run folder or its results log; the run goes on from that log),
    and `run_experiment` takes the evaluation budget. ``runner_params`` mean what they mean
    for the generational loop (a failed attempt is retried on another worker up to
    ``max_retries`` times, then the candidate gets ``cost_for_crash``), except ``dispatch``:
    only ``'dynamic'``, and ``results_log``: ``'auto'`` or ``'serial'`` (rank 0 writes the
    log) or ``'none'`` (no log, no resume); ``'parallel'`` is refused. ``timeout`` (the
    run's time limit) stops asking for candidates; the evaluations in flight finish.

    Results are told as they arrive, so an optimizer whose proposals depend on earlier
    results (`SteadyStateOptimizer`) gives a run that depends on the arrival order; with
    ``run_experiment(..., ordered=True, max_pending=m)`` they are told in candidate order
    and the run is the same on any number of ranks.

    Every attempt is a row of ``<run folder>/results.h5`` (same layout as the generational
    loop's; ``generation`` is 0 and ``ind_idx`` the candidate's sequence number), in the
    order the results arrived.

    Args:
        root_dir_path: folder that holds the run folders; created if missing.
        comm: the MPI communicator to run on (default ``MPI.COMM_WORLD``).

    Example (``mpiexec -n 4 python script.py``)::

        experiment = AsyncExperiment("results")
        traj, _ = experiment.prepare_experiment(name="async", checkpoint=True)
        optimizee = FunctionGeneratorOptimizee(traj, function, seed=1)
        optimizer = SteadyStateOptimizer(optimizee.create_individual, (-1.0,),
                                         SteadyStateParameters(seed=0), optimizee.bounding_func)
        experiment.run_experiment(optimizer=optimizer, optimizee=optimizee, budget=1000)
        experiment.end_experiment(optimizer)
    """

    def __init__(self, root_dir_path, comm=None):
        super().__init__(root_dir_path, comm)
        self._resume_log = None  # rank 0: the results log to go on from, if any
        self.budget = None
        self.n_replayed = 0  # rows replayed from the log when the run resumed
        self._in_flight = {}  # number -> the Task of its current attempt
        self._slots = 1  # candidates asked and not yet told, at most
        self._ordered = False  # tell results in candidate order (see run_experiment)
        self._arrived = {}  # number -> final fitness, arrived and not yet told (ordered)
        self._n_final = 0  # candidates with a final result
        self._n_failed = 0  # candidates that failed every attempt

    # -- prepare_experiment's hooks --------------------------------------------------------

    def _check_checkpoint(self, checkpoint):
        if checkpoint is not None and checkpoint is not True:
            if not isinstance(checkpoint, (str, os.PathLike)):
                raise TypeError(
                    "an asynchronous run goes on from its results log: checkpoint must be True "
                    f"or a path to a run folder or its results.h5, got {type(checkpoint).__name__}"
                )

    def _choose_log_backend(self, settings):
        """Rank 0 writes an asynchronous run's log ('auto' is 'serial'): the parallel
        backend's collective steps need every worker idle, which an asynchronous run never
        has. 'none' keeps no log, and so nothing to resume from."""
        setting = settings.runner_params["results_log"]
        if setting == "parallel":
            raise ValueError(
                "runner_params['results_log'] = 'parallel': an asynchronous run's results log is "
                "written by rank 0 alone (the parallel backend's collective steps need every "
                "worker idle, which an asynchronous run never has); use 'auto' (serial here), "
                "'serial' or 'none'"
            )
        backend = choose_backend(setting, 1)
        if backend == "none" and settings.checkpoint is not None:
            raise ValueError(
                f"checkpoint={settings.checkpoint!r} goes on from the run's results log, which "
                "runner_params['results_log'] = 'none' does not keep"
            )
        return backend

    def _prepare_run_folder(self, settings):
        """Creates the run folder, or keeps it (``checkpoint=True`` or its own path), or
        creates it with a copy of another run's log (``checkpoint=<path>``)."""
        own, paths = self.paths.results_log, self.paths
        self._resume_log = None
        found = None
        if settings.checkpoint is not None:
            # (a run folder without a log, killed before it had one, starts afresh)
            found = log_to_resume(
                settings.checkpoint, paths, settings.overwrite, log_required=False
            )
        if found is None:
            create_run_folder(paths, settings.overwrite, settings.log_stdout)
            return
        path, in_place = found
        if in_place:
            keep_run_folder(paths, settings.log_stdout)
            if os.path.exists(own):
                check_not_in_use(own)
                self._resume_log = own
            return
        check_not_in_use(path)
        create_run_folder(paths, settings.overwrite, settings.log_stdout, copy_log=path)
        self._resume_log = own

    def _new_trajectory(self, settings):
        return Trajectory(settings.trajectory_name)

    # -- the run -----------------------------------------------------------------------------

    def run_experiment(
        self,
        optimizer,
        optimizee,
        budget,
        max_pending=None,
        checkpoint_interval=DEFAULT_CHECKPOINT_INTERVAL,
        ordered=False,
    ):
        """Runs the optimization until `budget` candidates have a final result. Collective on
        `comm`: rank 0 drives the run, the other ranks evaluate and return afterwards.

        Args:
            optimizer: an `AskTellOptimizer`.
            optimizee: has ``simulate(traj)`` (and the ``create_individual`` and
                ``bounding_func`` the optimizer was built with).
            budget: number of candidates to evaluate (>= 1). Each gets one final result: its
                fitness, or ``cost_for_crash`` when every attempt failed. A resumed run may
                be given a larger budget than before.
            max_pending: candidates asked and not yet told at any time: the evaluations
                kept in flight (default: one per worker).
            checkpoint_interval: seconds between checkpoints (> 0). Rows written after the
                last checkpoint are replayed on resume, so this bounds replay work, not
                lost work.
            ordered: tell results to the optimizer in candidate order (a result that
                arrives early waits for the earlier ones) instead of as they arrive.
                Candidate ``k`` is then asked right after the result of ``k - max_pending``
                is told, so with a fixed `max_pending` the run is the same on any number of
                ranks and whatever the arrival order; the price is that workers idle while
                an evaluation `max_pending` candidates back is still running.

        Raises:
            RuntimeError: `prepare_experiment` was not called.
            TypeError, ValueError: a bad argument (on every rank).
            ResumeError: on resume, the log does not belong to this optimizer (a ValueError).
            Any exception of the optimizer, or of `simulate` where the runner parameters
            make it end the run, on rank 0 (every rank stops).
        """
        try:
            budget, max_pending, checkpoint_interval = self._check_run_arguments(
                optimizer, optimizee, budget, max_pending, checkpoint_interval, ordered
            )
        except Exception as exc:
            raise mark_on_every_rank(exc)  # every rank checked the same arguments
        self.optimizer, self.optimizee = optimizer, optimizee
        if not self.is_root:
            serve(self.comm)
            return
        weights = optimizer.optimizee_fitness_weights
        self._start_run(weights)  # (files change once the log is open)
        scheduler = self._start_scheduler(optimizee, weights)
        try:
            with terminate_on_signals():
                slots = max_pending or scheduler.num_workers()
                self._run_async(scheduler, optimizee, budget, slots, checkpoint_interval)
        except BaseException as exc:
            self._abort_run(scheduler, exc)
        scheduler.shutdown()

    def _check_run_arguments(
        self, optimizer, optimizee, budget, max_pending, checkpoint_interval, ordered
    ):
        self._check_prepared()
        if not isinstance(optimizer, AskTellOptimizer):
            raise TypeError(
                "the optimizer must be an AskTellOptimizer (ask/tell), got "
                f"{type(optimizer).__name__}; generational optimizers run with Experiment"
            )
        self._check_contract(optimizee)
        budget = check_int("budget", budget, 1)
        if max_pending is not None:
            max_pending = check_int("max_pending", max_pending, 1)
        checkpoint_interval = check_positive("checkpoint_interval", checkpoint_interval)
        self._ordered = check_bool("ordered", ordered)
        if self.runner_params["dispatch"] != "dynamic":
            raise ValueError(
                f"runner_params['dispatch'] = {self.runner_params['dispatch']!r}: an asynchronous "
                "run dispatches each candidate as a worker frees up ('dynamic' only)"
            )
        return budget, max_pending, checkpoint_interval

    def _submitter(self, scheduler):
        """``submit(task, avoid=None)``: into the evaluations in flight, and to `scheduler`
        (None while the log is being replayed)."""

        def submit(task, avoid=None):
            self._in_flight[task.ind_idx] = task
            if scheduler is not None:
                scheduler.submit_run(task, avoid=avoid)

        return submit

    def _run_async(self, scheduler, optimizee, budget, slots, checkpoint_interval):
        optimizer = self.optimizer
        submit = self._submitter(scheduler)
        ordered = self._ordered
        self._open_log(optimizee, budget, slots)
        self._run_started = True
        self.budget, self._slots, self._ordered = budget, slots, ordered
        if not ordered:  # resumed from an ordered run: what waited for earlier results goes in now
            for number in sorted(self._arrived):
                optimizer.tell([(number, self._arrived.pop(number))])
        for number in sorted(self._in_flight):  # what was in flight when the run stopped
            scheduler.submit_run(self._in_flight[number])
        started = time.monotonic()
        deadline = None if self.time_limit is None else started + self.time_limit
        self._refill(submit, deadline)
        last_checkpoint = started
        while self._in_flight:
            for task, value in self.recorder.wait_for_results(scheduler):  # flushes while idle
                self._on_attempt(submit, task, value, deadline)
            self.recorder.write_pending()
            if time.monotonic() - last_checkpoint >= checkpoint_interval:
                self._save_state()
                self._report_progress()
                last_checkpoint = time.monotonic()
        if deadline is not None and optimizer.n_asked < budget:
            logger.warning(
                "time limit of %g s reached after %d of %d evaluations",
                self.time_limit,
                optimizer.n_told,
                budget,
            )
        self._save_state()
        self._report_progress()

    def _refill(self, submit, deadline=None):
        """Asks for candidates until `_slots` are asked and not told, or the budget is used
        up."""
        optimizer = self.optimizer
        while (
            optimizer.n_asked - optimizer.n_told < self._slots and optimizer.n_asked < self.budget
        ):
            if deadline is not None and time.monotonic() > deadline:
                return
            (candidate,) = optimizer.ask(1)
            submit(Task(GENERATION, candidate.number, 0, candidate.params))

    def _on_attempt(self, submit, task, value, deadline=None, log=True):
        """One finished attempt, logged (unless replayed from the log): retried, or its
        candidate's final result told; then the freed slot is refilled."""
        _, settled = self._settle_attempt(task, value, submit, log)
        if settled is None:
            return  # retried
        self._n_failed += settled.failed
        del self._in_flight[task.ind_idx]
        self._n_final += 1
        if self._n_failed == self._n_final >= min(self._slots, self.budget):
            raise_failure(
                value,
                f"the first {self._n_final} evaluation(s) all failed; the last, evaluation "
                f"{task.ind_idx},",
            )
        self._arrived[task.ind_idx] = settled.fitness
        optimizer = self.optimizer
        while self._arrived:
            number = optimizer.pending[0] if self._ordered else task.ind_idx
            if number not in self._arrived:
                return
            optimizer.tell([(number, self._arrived.pop(number))])
            self._refill(submit, deadline)

    def _report_progress(self):
        optimizer = self.optimizer
        if optimizer.best_number is None:
            return
        logger.info(
            "%d of %d evaluations done, %d in flight, best fitness %s (evaluation %d)",
            optimizer.n_told,
            self.budget,
            len(self._in_flight),
            format_fitness(optimizer.best_fitness),
            optimizer.best_number,
        )

    def _write_best(self, optimizer):
        self.recorder.log.write_best(
            optimizer.best_individual,
            optimizer.best_fitness,
            optimizer.best_weighted_fitness,
            GENERATION,
            optimizer.best_number,
        )

    def _report_best(self, optimizer):
        if optimizer.best_individual is not None:
            logger.info(
                "best individual: evaluation %d, fitness %s, %s",
                optimizer.best_number,
                format_fitness(optimizer.best_fitness),
                optimizer.best_individual,
            )

    def _save_interrupted(self, exc):
        # What an asynchronous run finished is in its results log (flushed on the way out),
        # which checkpoint=True goes on from.
        if self.recorder.log is None:  # results_log='none'
            return
        self._write_pending_attempts()
        logger.warning(
            "the finished evaluations are in %s: checkpoint=True goes on from there",
            self.recorder.log.path,
        )

    # -- the log and the checkpoint ------------------------------------------------------

    def _open_log(self, optimizee, budget, slots):
        """Creates the results log, or on resume restores the checkpoint, replays the rows
        after it and reopens the log for appending."""
        if self.log_backend == "none":
            self.budget, self._slots = budget, slots
            return
        path = self.paths.results_log
        optimizer = self.optimizer
        if self._resume_log is not None:
            checkpoint, rows, start = read_async_checkpoint(path)
            if checkpoint is not None:
                self._restore_state(checkpoint, path)
                self._replay(rows, start, path)
                if budget < optimizer.n_asked:
                    raise ValueError(
                        f"budget must be >= {optimizer.n_asked}, the evaluations this run has "
                        f"started; got {budget}"
                    )
                # the job that wrote it is over: prepare_experiment found no live writer on this
                # host, and one on another host cannot be asked
                log = ResultsLog.open_for_resume(path, rollback=False, break_lock=True)
                self.recorder.attach(log)
                logger.info(
                    "resuming %s: %d evaluations done (%d replayed from the log), %d re-submitted",
                    path,
                    optimizer.n_told,
                    len(rows["ind_idx"]),
                    len(self._in_flight),
                )
                return
        weights = optimizer.optimizee_fitness_weights
        spec = optimizer.spec or dict_to_list(optimizee.create_individual(), get_dict_spec=True)[1]
        log = ResultsLog.create(path, len(weights), spec, overwrite=True, fitness_weights=weights)
        self.recorder.attach(log)
        log.write_parameters(self.traj)
        self.budget, self._slots = budget, slots
        self._save_state()

    def _save_state(self):
        if self.recorder.log is None:  # results_log='none'
            return
        self.recorder.write_pending()  # the checkpoint records where the log stands
        loop = {
            "budget": self.budget,
            "slots": self._slots,
            "ordered": self._ordered,
            "in_flight": dict(self._in_flight),
            "arrived": dict(self._arrived),
            "n_final": self._n_final,
            "n_failed": self._n_failed,
            "first_attempt_seen": self.policy.first_attempt_seen,
        }
        save_async_checkpoint(self.recorder.log, self.optimizer, loop)

    def _restore_state(self, checkpoint, path):
        optimizer = self.optimizer
        check_async_fits(checkpoint, optimizer, path)
        optimizer.set_state(checkpoint["state"])
        self._in_flight.clear()
        self._in_flight.update(checkpoint["in_flight"])
        self.budget, self._slots = checkpoint["budget"], checkpoint["slots"]
        self._ordered = checkpoint["ordered"]
        self._arrived = dict(checkpoint["arrived"])
        self._n_final, self._n_failed = checkpoint["n_final"], checkpoint["n_failed"]
        self.policy.first_attempt_seen = checkpoint["first_attempt_seen"]

    def _replay(self, rows, start, path):
        """Goes through the attempts logged after the checkpoint as the run did when they
        arrived, checking each against the evaluation the optimizer had in flight."""
        submit = self._submitter(None)
        self._refill(submit)
        level = logger.level
        logger.setLevel(logging.ERROR)  # the retries were logged when they happened
        try:
            for i, number in enumerate(rows["ind_idx"].tolist()):
                task = self._in_flight.get(number)
                attempt = int(rows["attempt"][i])
                if (
                    task is None
                    or task.attempt != attempt
                    or not np.array_equal(dict_to_list(_unprefixed(task.params)), rows["params"][i])
                ):
                    raise ResumeError(
                        f"{path!r}: attempt row {start + i} (evaluation {number}, attempt "
                        f"{attempt}) is not what this optimizer proposes there; was the run "
                        "started with another seed or other parameters?"
                    )
                self._on_attempt(submit, task, logged_value(rows, i), log=False)
        finally:
            logger.setLevel(level)
        self.n_replayed = len(rows["ind_idx"])


def _unprefixed(params):
    return {key.split(".", 1)[1]: value for key, value in params.items()}

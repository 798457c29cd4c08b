"""Asynchronous optimization: an ask/tell optimizer fed one result at a time, no generations.

`AsyncExperiment` is `Experiment` with another loop on rank 0. The workers, the evaluation
target (`mpil2l.evaluation.simulation.Simulation`, so every optimizee of the generational loop works),
the retry policy and the results log are the generational loop's; what changes is that
each finished evaluation is told to the optimizer at once and the worker that ran it gets a
new candidate at once.

Resuming: the results log's rows are in the order the results arrived, and the loop (and
the optimizer) is deterministic given that order, so going through the rows again rebuilds
its state. A checkpoint (the optimizer's state, the evaluations in flight and the loop's
counters) is saved in the log's checkpoint slots every ``checkpoint_interval`` seconds; rows
are flushed as the generational loop flushes them (while rank 0 waits, at most every
50 ms). A resumed run restores the last checkpoint, replays the rows written after it
(checking that each matches what the optimizer proposes) and re-submits what was in flight:
an evaluation whose row reached the file is never run again.
"""

import json
import logging
import os
import pickle
import shutil
import time

import numpy as np

from . import checkpoint as ckpt
from ..model.conversion import dict_to_list
from ..evaluation.simulation import Task
from .generational import RESULTS_LOG_NAME, Experiment, _raise_failure, _short
from ..core.console import logger
from ..optimizers.asktell import AskTellOptimizer
from ..optimizers.optimizer import check_bool, check_int, check_positive
from ..core.runs import RunValue, StatusType
from ..runtime.spmd import mark_on_every_rank, terminate_on_signals
from ..storage import ResultsLog
from ..storage.parallel import choose_backend
from ..storage.reader import open_log, read_attempts
from ..storage.checkpoint_slots import load_checkpoint_slots
from ..storage.writer_lock import check_not_in_use
from ..runtime.worker import serve

CHECKPOINT_KIND = "mpil2l-async"
CHECKPOINT_VERSION = 1
DEFAULT_CHECKPOINT_INTERVAL = 60.0  # seconds between checkpoints
GENERATION = 0  # the generation column of every attempt row: an asynchronous run has none


class _Submitter:
    """Where the loop's submissions go: into the evaluations in flight, and to the scheduler
    (None while the log is being replayed)."""

    def __init__(self, in_flight, scheduler):
        self.in_flight = in_flight
        self.scheduler = scheduler

    def submit_run(self, task, avoid=None):
        self.in_flight[task.ind_idx] = task
        if self.scheduler is not None:
            self.scheduler.submit_run(task, avoid=avoid)


class AsyncExperiment(Experiment):
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
        self._checkpoint_source = None  # prepare_experiment's checkpoint=
        self._resume_log = None  # rank 0: the results log to go on from, if any
        self.budget = None
        self.n_replayed = 0  # rows replayed from the log when the run resumed
        self._in_flight = {}  # number -> the Task of its current attempt
        self._slots = 1  # candidates asked and not yet told, at most
        self._ordered = False  # tell results in candidate order (see run_experiment)
        self._arrived = {}  # number -> final fitness, arrived and not yet told (ordered)
        self._n_final = 0  # candidates with a final result
        self._n_failed = 0  # candidates that failed every attempt
        self._optimizer = None

    def _prepare(self, **kwargs):
        checkpoint = kwargs.pop("checkpoint", None)
        if checkpoint is False:
            checkpoint = None
        if checkpoint is not None and checkpoint is not True and not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(
                "an asynchronous run goes on from its results log: checkpoint must be True or a path to a run "
                f"folder or its results.h5, got {type(checkpoint).__name__}"
            )
        self._checkpoint_source = checkpoint
        return super()._prepare(**kwargs)

    def _choose_log_backend(self, setting):
        """Rank 0 writes an asynchronous run's log ('auto' is 'serial'): the parallel
        backend's collective steps need every worker idle, which an asynchronous run never
        has. 'none' keeps no log, and so nothing to resume from."""
        if setting == "parallel":
            raise ValueError(
                "runner_params['results_log'] = 'parallel': an asynchronous run's results log is written by "
                "rank 0 alone (the parallel backend's collective steps need every worker idle, which an "
                "asynchronous run never has); use 'auto' (serial here), 'serial' or 'none'"
            )
        backend = choose_backend(setting, 1)
        if backend == "none" and self._checkpoint_source is not None:
            raise ValueError(
                f"checkpoint={self._checkpoint_source!r} goes on from the run's results log, which "
                "runner_params['results_log'] = 'none' does not keep"
            )
        return backend

    def _create_run_folder(self, overwrite, log_stdout):
        """Creates the run folder, or keeps it (``checkpoint=True`` or its own path), or
        creates it with a copy of another run's log (``checkpoint=<path>``)."""
        source, own = self._checkpoint_source, self._own_log_path()
        self._resume_log = None
        if source is True and not os.path.lexists(self.paths.output_dir_path):
            logger.info("checkpoint=True: no run folder %s yet; starting the run", self.paths.output_dir_path)
            source = None
        if source is None:
            return super()._create_run_folder(overwrite, log_stdout)
        path = own if source is True else ckpt.results_log_path(source)
        if source is True or os.path.realpath(path) == os.path.realpath(own):
            if overwrite:
                raise ckpt.ResumeError(
                    f"checkpoint={source!r} goes on in the run folder {self.paths.output_dir_path!r}; "
                    "overwrite=True would delete it: pass one or the other"
                )
            if log_stdout:
                os.makedirs(self.paths.logs_path, exist_ok=True)
            if os.path.exists(own):
                check_not_in_use(own)
                self._resume_log = own
            return
        check_not_in_use(path)
        super()._create_run_folder(overwrite, log_stdout)
        shutil.copyfile(path, own)
        self._resume_log = own

    def run_experiment(self, optimizer, optimizee, budget, max_pending=None,
                       checkpoint_interval=DEFAULT_CHECKPOINT_INTERVAL, ordered=False):
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
        if self.traj is None:
            raise RuntimeError("call prepare_experiment() before run_experiment()")
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
        self._optimizer = optimizer
        self._reset_run_state()  # (_run_started is set once the log is open: a run that fails before leaves files as they were)
        scheduler = self._start_scheduler(optimizee, optimizer.optimizee_fitness_weights)
        try:
            with terminate_on_signals():
                self._run_async(scheduler, optimizee, budget, max_pending or scheduler.num_workers(),
                                checkpoint_interval)
        except BaseException as exc:
            self._abort_run(scheduler, exc)
        scheduler.shutdown()

    def end_experiment(self, optimizer):
        """Ends the run: writes the best candidate to the results log, calls
        ``optimizer.end(traj)`` and saves the trajectory (see `Experiment.end_experiment`).

        Returns:
            ``(traj, paths)``.
        """
        log = self.results_log
        if self.is_root and optimizer.best_individual is not None:
            logger.info("best individual: evaluation %d, fitness %s, %s", optimizer.best_number,
                        _short(optimizer.best_fitness), optimizer.best_individual)
            if log is not None and not log.closed:
                log.write_best(optimizer.best_individual, optimizer.best_fitness, optimizer.best_weighted_fitness,
                               GENERATION, optimizer.best_number)
        if self.is_root:
            self._close_results_log()
        self.results_log = None
        return super().end_experiment(optimizer)

    # -- rank 0 --------------------------------------------------------------------------

    def _save_interrupted(self, exc):
        # What an asynchronous run finished is in its results log (flushed on the way out),
        # which checkpoint=True goes on from.
        if self.results_log is None:  # results_log='none'
            return
        if not self.results_log.closed:
            try:  # the attempts taken before the failure (the failed one included)
                self._log_attempts()
            except Exception as log_error:
                logger.error("could not write the last attempts to the results log: %s", log_error)
        logger.warning("the finished evaluations are in %s: checkpoint=True goes on from there", self.results_log.path)

    def _check_run_arguments(self, optimizer, optimizee, budget, max_pending, checkpoint_interval, ordered):
        if not isinstance(optimizer, AskTellOptimizer):
            raise TypeError(
                f"the optimizer must be an AskTellOptimizer (ask/tell), got {type(optimizer).__name__}; "
                "generational optimizers run with Experiment"
            )
        if not callable(getattr(optimizee, "simulate", None)):
            raise TypeError(f"the optimizee {type(optimizee).__name__} has no simulate(traj) method")
        budget = check_int("budget", budget, 1)
        if max_pending is not None:
            max_pending = check_int("max_pending", max_pending, 1)
        checkpoint_interval = check_positive("checkpoint_interval", checkpoint_interval)
        self._ordered = check_bool("ordered", ordered)
        if self.runner_params["dispatch"] != "dynamic":
            raise ValueError(
                f"runner_params['dispatch'] = {self.runner_params['dispatch']!r}: an asynchronous run "
                "dispatches each candidate as a worker frees up ('dynamic' only)"
            )
        return budget, max_pending, checkpoint_interval

    def _run_async(self, scheduler, optimizee, budget, slots, checkpoint_interval):
        optimizer = self._optimizer
        submitter = _Submitter(self._in_flight, scheduler)
        ordered = self._ordered
        self._open_log(optimizee, budget, slots)
        self._run_started = True
        self.budget, self._slots, self._ordered = budget, slots, ordered
        if not ordered:  # resumed from an ordered run: what waited for earlier results goes in now
            for number in sorted(self._arrived):
                self._optimizer.tell([(number, self._arrived.pop(number))])
        for number in sorted(self._in_flight):  # what was in flight when the run stopped
            scheduler.submit_run(self._in_flight[number])
        started = time.monotonic()
        deadline = None if self.time_limit is None else started + self.time_limit
        self._refill(submitter, deadline)
        last_checkpoint = started
        while self._in_flight:
            for task, value in self._wait_for_results(scheduler):  # flushes the log while idle
                self._on_attempt(submitter, task, value, deadline)
            self._log_attempts()
            if time.monotonic() - last_checkpoint >= checkpoint_interval:
                self._save_state()
                self._report_progress()
                last_checkpoint = time.monotonic()
        if deadline is not None and optimizer.n_asked < budget:
            logger.warning("time limit of %g s reached after %d of %d evaluations", self.time_limit,
                           optimizer.n_told, budget)
        self._save_state()
        self._report_progress()

    def _refill(self, submitter, deadline=None):
        """Asks for candidates until `_slots` are asked and not told, or the budget is used
        up."""
        optimizer = self._optimizer
        while optimizer.n_asked - optimizer.n_told < self._slots and optimizer.n_asked < self.budget:
            if deadline is not None and time.monotonic() > deadline:
                return
            (candidate,) = optimizer.ask(1)
            submitter.submit_run(Task(GENERATION, candidate.number, 0, candidate.params))

    def _on_attempt(self, submitter, task, value, deadline=None, log=True):
        """One finished attempt, logged (unless replayed from the log): retried, or its
        candidate's final result told; then the freed slot is refilled."""
        final, failed = {}, []
        self._take_result(submitter, task, value, final, [], failed, log=log)
        if not final:
            return  # retried
        fitness = final[task.ind_idx]
        self._n_failed += len(failed)
        del self._in_flight[task.ind_idx]
        self._n_final += 1
        if self._n_failed == self._n_final >= min(self._slots, self.budget):
            _raise_failure(value, f"the first {self._n_final} evaluation(s) all failed; the last, evaluation {task.ind_idx},")
        self._arrived[task.ind_idx] = fitness
        optimizer = self._optimizer
        while self._arrived:
            number = optimizer.pending[0] if self._ordered else task.ind_idx
            if number not in self._arrived:
                return
            optimizer.tell([(number, self._arrived.pop(number))])
            self._refill(submitter, deadline)

    def _report_progress(self):
        optimizer = self._optimizer
        if optimizer.best_number is None:
            return
        logger.info(
            "%d of %d evaluations done, %d in flight, best fitness %s (evaluation %d)",
            optimizer.n_told,
            self.budget,
            len(self._in_flight),
            _short(optimizer.best_fitness),
            optimizer.best_number,
        )

    # -- the log and the checkpoint ------------------------------------------------------

    def _open_log(self, optimizee, budget, slots):
        """Creates the results log, or on resume restores the checkpoint, replays the rows
        after it and reopens the log for appending."""
        if self.log_backend == "none":
            self.budget, self._slots = budget, slots
            return
        path = os.path.join(self.paths.output_dir_path, RESULTS_LOG_NAME)
        if self._resume_log is not None:
            checkpoint, rows, start = _read_for_resume(path)
            if checkpoint is not None:
                self._restore_state(checkpoint, path)
                self._replay(rows, start, path)
                if budget < self._optimizer.n_asked:
                    raise ValueError(
                        f"budget must be >= {self._optimizer.n_asked}, the evaluations this run has started; got {budget}"
                    )
                # the job that wrote it is over: prepare_experiment found no live writer on this
                # host, and one on another host cannot be asked
                self.results_log = ResultsLog.open_for_resume(path, rollback=False, break_lock=True)
                self._unflushed_since, self._last_flush, self._flush_seconds = None, time.monotonic(), 0.0
                logger.info(
                    "resuming %s: %d evaluations done (%d replayed from the log), %d re-submitted",
                    path, self._optimizer.n_told, len(rows["ind_idx"]), len(self._in_flight),
                )
                return
        optimizer = self._optimizer
        weights = optimizer.optimizee_fitness_weights
        spec = optimizer.spec or dict_to_list(optimizee.create_individual(), get_dict_spec=True)[1]
        self._unflushed_since, self._last_flush, self._flush_seconds = None, time.monotonic(), 0.0
        self.results_log = ResultsLog.create(path, len(weights), spec, overwrite=True, fitness_weights=weights)
        self.results_log.write_parameters(self.traj)
        self.budget, self._slots = budget, slots
        self._save_state()

    def _save_state(self):
        if self.results_log is None:  # results_log='none'
            return
        self._log_attempts()  # the checkpoint records where the log stands
        optimizer = self._optimizer
        state = {
            "kind": CHECKPOINT_KIND,
            "version": CHECKPOINT_VERSION,
            "optimizer": type(optimizer).__name__,
            "parameters": repr(optimizer.parameters),
            "state": optimizer.get_state(),
            "budget": self.budget,
            "slots": self._slots,
            "ordered": self._ordered,
            "in_flight": dict(self._in_flight),
            "arrived": dict(self._arrived),
            "n_final": self._n_final,
            "n_failed": self._n_failed,
            "first_attempt_seen": self._first_attempt_seen,
        }
        self.results_log.save_checkpoint(pickle.dumps(state, protocol=ckpt.PROTOCOL))

    def _restore_state(self, checkpoint, path):
        optimizer = self._optimizer
        if checkpoint.get("optimizer") != type(optimizer).__name__:
            raise ckpt.ResumeError(
                f"{path!r} holds a run of {checkpoint.get('optimizer')}, not of {type(optimizer).__name__}; "
                "resume it with the same optimizer, or start a new run"
            )
        if checkpoint["parameters"] != repr(optimizer.parameters):
            logger.warning("resuming with other optimizer parameters: %s (the run had %s)",
                           optimizer.parameters, checkpoint["parameters"])
        optimizer.set_state(checkpoint["state"])
        self._in_flight.clear()
        self._in_flight.update(checkpoint["in_flight"])
        self.budget, self._slots, self._ordered = checkpoint["budget"], checkpoint["slots"], checkpoint["ordered"]
        self._arrived = dict(checkpoint["arrived"])
        self._n_final, self._n_failed = checkpoint["n_final"], checkpoint["n_failed"]
        self._first_attempt_seen = checkpoint["first_attempt_seen"]

    def _replay(self, rows, start, path):
        """Goes through the attempts logged after the checkpoint as the run did when they
        arrived, checking each against the evaluation the optimizer had in flight."""
        submitter = _Submitter(self._in_flight, None)
        self._refill(submitter)
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
                    raise ckpt.ResumeError(
                        f"{path!r}: attempt row {start + i} (evaluation {number}, attempt {attempt}) is not what "
                        "this optimizer proposes there; was the run started with another seed or other parameters?"
                    )
                self._on_attempt(submitter, task, _logged_value(rows, i), log=False)
        finally:
            logger.setLevel(level)
        self.n_replayed = len(rows["ind_idx"])


def _read_for_resume(path):
    """The unpickled checkpoint of an asynchronous run's log (None if it has none yet), the
    attempt rows written after it, and the index of the first of them."""
    with open_log(path) as file:
        data, attrs = load_checkpoint_slots(file["checkpoint"], path)
    if data is None:
        return None, None, 0
    try:
        checkpoint = pickle.loads(data)
    except Exception as exc:
        raise ckpt.ResumeError(f"{path!r}: the checkpoint cannot be read: {exc}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") != CHECKPOINT_KIND:
        raise ckpt.ResumeError(f"{path!r} is not the log of an asynchronous run; resume it with Experiment")
    if checkpoint.get("version") != CHECKPOINT_VERSION:
        raise ckpt.ResumeError(f"{path!r}: checkpoint version {checkpoint.get('version')} is not {CHECKPOINT_VERSION}")
    counts = attrs.get("counts", b"{}")
    start = int(json.loads(counts.decode() if isinstance(counts, bytes) else counts).get("attempts", 0))
    return checkpoint, read_attempts(path, start=start), start


def _logged_value(rows, i):
    """The `RunValue` an attempt row records."""
    status = StatusType(int(rows["status"][i]))
    cost = tuple(rows["fitness"][i].tolist()) if status == StatusType.SUCCESS else None
    error = rows["error"][i]
    info = {"rank": int(rows["rank"][i]), "error": error, "traceback": error}
    return RunValue(cost, float(rows["runtime"][i]), status, float(rows["start"][i]), float(rows["end"][i]), info)


def _unprefixed(params):
    return {key.split(".", 1)[1]: value for key, value in params.items()}

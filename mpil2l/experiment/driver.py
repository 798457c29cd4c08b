"""What the generational and the asynchronous driver share: the collective preparation of a
run (settings, run folder, trajectory), the workers' scheduler and the attempt policy, the
recorder of the results log, how a run that fails ends on every rank, and its end."""

import os

from mpi4py import MPI

from ..core.console import StdoutLog, configure_logger, logger
from ..core.errors import JobTerminated
from ..evaluation.process import Limits, prestart
from ..evaluation.simulation import Simulation, attempt_record, split_outputs
from ..model import pickles
from ..model.trajectory import Trajectory
from ..runtime.scheduler import Scheduler
from ..runtime.spmd import (
    install_abort_hook,
    mark_on_every_rank,
    mark_reported,
    print_error,
    write_stderr,
)
from .attempts import AttemptPolicy
from .recorder import Recorder
from .run_folder import RunPaths, save_atomically
from .settings import validate_settings


class Driver:
    """The parts of a run common to `Experiment` and `AsyncExperiment`; not used alone.

    A driver fills in the hooks `_check_checkpoint`, `_choose_log_backend`,
    `_prepare_run_folder`, `_new_trajectory`, `_save_interrupted`, `_write_best` and
    `_report_best`.
    """

    def __init__(self, root_dir_path, comm=None):
        self.comm = comm or MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.root_dir_path = os.path.abspath(root_dir_path)
        self.settings = None  # `RunSettings`, once prepare_experiment has checked them
        self.log_backend = None
        self.paths = None
        self.traj = None
        self.optimizer = None
        self.optimizee = None
        self.recorder = Recorder()  # rank 0: the results log while the run goes on
        self.policy = None  # rank 0: the `AttemptPolicy` of the run
        self._run_started = False  # rank 0: files changed; an abort keeps what is done
        self._stdout_log = None
        install_abort_hook(self.comm)

    @property
    def is_root(self):
        """True on the rank that owns the trajectory and the optimizer."""
        return self.rank == 0

    @property
    def results_log(self):
        """Rank 0's results log while the run goes on (None: none, or on a worker)."""
        return self.recorder.log

    @property
    def runner_params(self):
        """The runner parameters in force (read-only)."""
        return self.settings.runner_params

    @property
    def time_limit(self):
        """The run's time limit in seconds, or None."""
        return self.settings.time_limit

    @property
    def stop_run(self):
        """True if a run ends when an individual has failed every attempt."""
        return self.settings.stop_run

    @property
    def multiprocessing(self):
        """False if rank 0 evaluates every individual itself."""
        return self.settings.multiprocessing

    def prepare_experiment(self, **kwargs):
        """Checks the settings, creates (or keeps, resuming) the run folder and returns
        ``(traj, runner_params)``. Collective on `comm`; see `Experiment.prepare_experiment`."""
        try:
            return self._prepare(kwargs)
        except Exception as exc:
            raise mark_on_every_rank(exc)  # every rank validated the same input

    def _prepare(self, kwargs):
        settings = validate_settings(kwargs)
        self._check_checkpoint(settings.checkpoint)
        self.settings = settings
        self.log_backend = self._choose_log_backend(settings)
        self.paths = RunPaths.of(self.root_dir_path, settings.name)
        error = None
        if self.is_root:
            try:
                self._prepare_run_folder(settings)
            except Exception as exc:  # every rank raises it
                error = exc
        error = self.comm.bcast(error, root=0)
        if error is not None:
            raise error
        if settings.log_stdout:
            self._stdout_log = StdoutLog(self.paths.rank_log(self.rank))
        configure_logger(self.rank, settings.debug)
        self.traj = self._new_trajectory(settings)
        self._add_runner_params()
        if settings.runner_params["isolation"] == "process" and self._evaluates_here():
            # starts while the user builds the optimizer
            prestart(imports=("mpil2l.evaluation.simulation",))
        return self.traj, dict(settings.runner_params)

    def _add_runner_params(self):
        self.traj.f_add_parameter_group("runner_params")
        for key, value in self.runner_params.items():
            self.traj.f_add_parameter_to_group("runner_params", key, value)

    def _evaluates_here(self):
        """True on the ranks whose evaluation processes the run will use."""
        size, max_workers = self.comm.Get_size(), self.runner_params["max_workers"]
        if size == 1 or not self.multiprocessing:
            return self.is_root
        return not self.is_root and (max_workers is None or self.rank <= max_workers)

    def _check_prepared(self):
        if self.traj is None:
            raise RuntimeError("call prepare_experiment() before run_experiment()")

    def _check_contract(self, optimizee):
        if not callable(getattr(optimizee, "simulate", None)):
            raise TypeError(
                f"the optimizee {type(optimizee).__name__} has no simulate(traj) method"
            )

    def _start_run(self, weights):
        """Rank 0, as a run starts: its attempt policy, and no log yet."""
        self._run_started = False
        self.policy = AttemptPolicy(self.runner_params, self.stop_run, weights)
        self.recorder.attach(None)

    def _start_scheduler(self, optimizee, weights):
        """Rank 0: the workers' target (`Simulation`) and the `Scheduler` with the runner
        parameters in force."""
        rp = self.runner_params
        target = Simulation(
            optimizee,
            self.traj.parameters_only(),
            None if weights is None else len(weights),
            allow_nonfinite=rp["allow_nonfinite"],
        )
        return Scheduler(
            target,
            self.comm,
            max_workers=rp["max_workers"],
            in_process=not self.multiprocessing,
            isolation=rp["isolation"],
            limits=Limits(rp["timeout"], rp["memory_limit_mb"]),
        )

    def _settle_attempt(self, task, value, submit, log=True):
        """One finished attempt: recorded (unless `log` is False: read back from the log) and
        settled by the policy. Returns its `attempt_record` and the policy's `Settled` (None:
        retried)."""
        value, outputs = split_outputs(value)
        record = attempt_record(task, value)
        if log:
            self.recorder.take(record, task.params, outputs)
        return record, self.policy.settle(task, value, submit)

    def _abort_run(self, scheduler, exc):
        """Rank 0, after `exc` ended the run: says why, keeps what the run finished (if it
        started), closes the log, stops every worker and re-raises."""
        if isinstance(exc, (JobTerminated, KeyboardInterrupt)):
            write_stderr(f"mpil2l: {exc or 'interrupted'}; stopping every rank\n")
        else:
            print_error(exc, "mpil2l: the run failed on rank 0; stopping every rank")
        if self._run_started:  # a run that could not start leaves every file as it was
            self._save_interrupted(exc)
        if not self.recorder.collective:
            self.recorder.close()
        scheduler.shutdown(abort_reason=f"run aborted by rank 0: {type(exc).__name__}: {exc}")
        self._end_collective_log()  # collective: once the workers have left their serve loop
        raise mark_reported(exc)

    def _write_pending_attempts(self):
        """On the way out of a failed run: the attempts taken before the failure (the failed
        one included) into the log."""
        if self.recorder.open:
            try:
                self.recorder.write_pending()
            except Exception as log_error:
                logger.error("could not write the last attempts to the results log: %s", log_error)

    def _end_collective_log(self):
        """Rank 0, once the workers have left their serve loop: the parallel log's collective
        close, then its serial finish, leaving a serial log open for `end_experiment`."""
        log = self.recorder.log
        if not self.recorder.collective or log.closed:
            return
        log.announce = None
        log.close()
        self.recorder.attach(log.finish_serially())

    def end_experiment(self, optimizer):
        """Ends the run: calls ``optimizer.end(traj)``, writes the best individual to the
        results log and saves the trajectory to ``<run folder>/trajectory.pickle`` on rank 0.

        Returns:
            ``(traj, paths)``.
        """
        if self.is_root:
            optimizer.end(self.traj)
            if self.recorder.open and getattr(optimizer, "best_individual", None) is not None:
                try:
                    self._write_best(optimizer)
                except ValueError as exc:  # multi gradient descent: one inner individual
                    logger.warning("the best individual is not stored in the results log: %s", exc)
            self.recorder.close()
            resume_state = self._resume_state()
            if resume_state is not None:
                self.traj.resume_state = resume_state
            save_atomically(self.traj, self.paths.trajectory)
            self._report_best(optimizer)
        if self._stdout_log is not None:
            self._stdout_log.close()
        return self.traj, self.paths

    def _resume_state(self):
        """What the saved trajectory's ``resume_state`` holds (None: leave it)."""
        return None

    @staticmethod
    def load_trajectory(traj_path):
        """Loads a trajectory saved by `end_experiment` (to pass as ``checkpoint``). It needs
        no results log: its finished generations are in it, compressed, and unpacked when
        read (see `mpil2l.model.history`)."""
        with open(traj_path, "rb") as f:
            traj = pickles.load(f)
        if not isinstance(traj, Trajectory):
            raise TypeError(f"{traj_path!r} does not hold a Trajectory")
        return traj

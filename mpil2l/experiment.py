"""L2L's `Experiment` on MPI ranks: the generational loop on rank 0, workers everywhere else.

Every rank runs the same script. `prepare_experiment` and `run_experiment` are collective:
rank 0 owns the trajectory and the optimizer and drives the run; the other ranks serve
evaluations inside `run_experiment` and return from it when the run ends.
"""

import os
import pickle
import shutil
import time
from typing import NamedTuple

from mpi4py import MPI

from .errors import FitnessError, reraise_remote
from .evaluation import Simulation, Task
from .logs import StdoutLog, configure_logger, logger
from .runs import StatusType
from .scheduler import Scheduler
from .spmd import install_abort_hook, mark_on_every_rank, mark_reported, print_error
from .trajectory import Trajectory
from .worker import serve

PREPARE_KEYWORDS = (
    "name",
    "trajectory_name",
    "checkpoint",
    "log_stdout",
    "runner_params",
    "multiprocessing",
    "debug",
    "stop_run",
    "timeout",
    "overwrite",
)
DEFAULT_RUNNER_PARAMS = {
    "dispatch": "dynamic",  # or "static"
    "max_workers": None,  # use at most this many worker ranks
}
DISPATCH_MODES = ("dynamic", "static")
# L2L's file-based runner settings; they have no meaning when workers are MPI ranks.
L2L_RUNNER_KEYS = ("srun", "exec", "work_path", "paths_obj")
DEFAULT_TIME_LIMIT = 2 * 3600.0  # what L2L's timeout=True means


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
        self._stdout_log = None
        install_abort_hook(self.comm)

    @property
    def is_root(self):
        """True on the rank that owns the trajectory and the optimizer."""
        return self.rank == 0

    def prepare_experiment(self, **kwargs):
        """Creates the run folder and the trajectory. Collective on `comm`.

        Args:
            name: run name and folder name under `root_dir_path` (default ``'L2L-run'``).
            trajectory_name: the trajectory's name (default ``'trajectory'``).
            checkpoint: a `Trajectory` from an earlier run (`load_trajectory`); the run goes
                on from its first generation without results.
            log_stdout: also copy every rank's stdout and stderr into
                ``<run folder>/logs/rank-<r>.log`` (default False).
            runner_params: dict; ``dispatch`` (``'dynamic'``, the default, or ``'static'``)
                and ``max_workers`` (use at most this many worker ranks).
            multiprocessing: evaluate on the worker ranks (default True); False evaluates on
                rank 0, one individual after the other.
            debug: log every dispatch detail (default False).
            stop_run: end the run at the first failed evaluation (default False: a failed
                individual gets the worst possible fitness and the run goes on; a run in
                which a whole generation fails, or `simulate` returns the wrong type, always
                ends).
            timeout: run time limit: True for two hours (the default, as in L2L), a number
                of seconds, or False for none. Checked between generations.
            overwrite: replace an existing run folder of the same name (default False: it
                is an error, and nothing is touched).

        Returns:
            ``(traj, runner_params)``: the trajectory and every runner parameter in force.

        Raises:
            TypeError: an unknown keyword or runner parameter, or a checkpoint that is not a
                `Trajectory`.
            ValueError: a bad value.
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
        checkpoint = kwargs.get("checkpoint")
        if checkpoint is not None and not isinstance(checkpoint, Trajectory):
            raise TypeError(f"checkpoint must be a Trajectory, got {type(checkpoint).__name__}")
        self.time_limit = _time_limit(kwargs.get("timeout", True))
        self.stop_run = bool(kwargs.get("stop_run", False))
        self.multiprocessing = bool(kwargs.get("multiprocessing", True))
        self.runner_params = runner_params
        log_stdout = bool(kwargs.get("log_stdout", False))

        output = os.path.join(self.root_dir_path, name)
        self.paths = RunPaths(self.root_dir_path, output, os.path.join(output, "logs"))
        error = None
        if self.is_root:
            try:
                self._create_run_folder(bool(kwargs.get("overwrite", False)), log_stdout)
            except OSError as exc:
                error = exc
        error = self.comm.bcast(error, root=0)
        if error is not None:
            raise error
        if log_stdout:
            self._stdout_log = StdoutLog(os.path.join(self.paths.logs_path, f"rank-{self.rank}.log"))
        configure_logger(self.rank, bool(kwargs.get("debug", False)))

        self.traj = checkpoint or Trajectory(kwargs.get("trajectory_name", "trajectory"))
        self.traj.f_add_parameter_group("runner_params")
        for key, value in runner_params.items():
            self.traj.f_add_parameter_to_group("runner_params", key, value)
        return self.traj, dict(runner_params)

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
            serve(self.comm)
            return
        logger.debug("optimizer parameters: %s", optimizer_parameters)
        logger.debug("optimizee parameters: %s", optimizee_parameters)
        weights = getattr(optimizer, "optimizee_fitness_weights", None)
        target = Simulation(optimizee, self.traj.parameters_only(), None if weights is None else len(weights))
        scheduler = Scheduler(
            target,
            self.comm,
            max_workers=self.runner_params["max_workers"],
            in_process=not self.multiprocessing,
        )
        try:
            self._run_generations(scheduler, optimizer, weights)
        except BaseException as exc:
            print_error(exc, "mpil2l: the run failed on rank 0; stopping every rank")
            scheduler.shutdown(abort_reason=f"run aborted by rank 0: {type(exc).__name__}: {exc}")
            raise mark_reported(exc)
        scheduler.shutdown()

    def end_experiment(self, optimizer):
        """Ends the run: calls ``optimizer.end(traj)`` and saves the trajectory to
        ``<run folder>/trajectory.pickle`` on rank 0.

        Returns:
            ``(traj, paths)``.
        """
        if self.is_root:
            optimizer.end(self.traj)
            _save_atomically(self.traj, os.path.join(self.paths.output_dir_path, "trajectory.pickle"))
            if self.best is not None:
                _, g, idx, fitness, params = self.best
                logger.info("best individual: generation %d, ind_idx %d, fitness %s, %s", g, idx, fitness, params)
        if self._stdout_log is not None:
            self._stdout_log.close()
        return self.traj, self.paths

    @staticmethod
    def load_trajectory(traj_path):
        """Loads a trajectory saved by `end_experiment` (to pass as ``checkpoint``)."""
        with open(traj_path, "rb") as f:
            traj = pickle.load(f)
        if not isinstance(traj, Trajectory):
            raise TypeError(f"{traj_path!r} does not hold a Trajectory")
        return traj

    # -- rank 0 ------------------------------------------------------------------------

    def _run_generations(self, scheduler, optimizer, weights):
        traj = self.traj
        n_iteration = traj.par.get("n_iteration")
        evaluated = traj.results.all_results
        pending = [g for g in traj.individuals if g not in evaluated]
        g = first = min(pending) if pending else None
        started = time.monotonic()
        while g in traj.individuals and (n_iteration is None or g < n_iteration):
            if g > first and self.time_limit is not None and time.monotonic() - started > self.time_limit:
                logger.warning("time limit of %g s reached: stopping before generation %d", self.time_limit, g)
                break
            t0 = time.perf_counter()
            results = self._evaluate_generation(scheduler, g, traj.individuals[g], weights)
            traj.results.f_add_result_to_group("all_results", g, results)
            traj.current_results = results
            optimizer.post_process(traj, results)
            self._report(g, results, weights, time.perf_counter() - t0)
            g += 1

    def _evaluate_generation(self, scheduler, g, individuals, weights):
        tasks = [Task(g, ind.ind_idx, 0, ind.params) for ind in individuals]
        scheduler.submit_runs(tasks, static=self.runner_params["dispatch"] == "static")
        fitness = {}
        failures = []
        while len(fitness) < len(tasks):
            scheduler.wait()
            for task, value in scheduler.get_finished_runs():
                if value.status == StatusType.SUCCESS:
                    fitness[task.ind_idx] = value.cost
                    continue
                context = f"simulate() of generation {g}, individual {task.ind_idx}"
                exc = value.additional_info.get("exception")
                if self.stop_run or weights is None or isinstance(exc, FitnessError):
                    reraise_remote(value, context)
                failures.append((task, value))
                logger.warning(
                    "%s failed on rank %s: %s; it gets the worst fitness",
                    context,
                    value.additional_info.get("rank"),
                    value.additional_info.get("error"),
                )
                fitness[task.ind_idx] = _worst_fitness(weights)
        if failures and len(failures) == len(tasks):
            task, value = failures[0]
            reraise_remote(value, f"every individual of generation {g} failed; the first, {task.ind_idx},")
        return [(idx, fitness[idx]) for idx in sorted(fitness)]

    def _report(self, g, results, weights, seconds):
        if not results:
            logger.info("generation %d: no individuals", g)
            return
        w = weights if weights is not None else (1.0,) * len(results[0][1])
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
        return params


def _time_limit(timeout):
    if timeout is True:
        return DEFAULT_TIME_LIMIT
    if timeout is False or timeout is None:
        return None
    if isinstance(timeout, (int, float)) and timeout > 0:
        return float(timeout)
    raise ValueError(f"timeout must be True, False or a number of seconds > 0, got {timeout!r}")


def _worst_fitness(weights):
    return tuple(float("-inf") if w > 0 else float("inf") for w in weights)


def _short(fitness):
    return "(" + ", ".join(f"{f:.6g}" for f in fitness) + ")"


def _save_atomically(obj, path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f)
    os.replace(tmp, path)

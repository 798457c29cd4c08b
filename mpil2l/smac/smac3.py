"""SMAC3's runner (`smac.runner.AbstractRunner`, smac 2.x) on mpil2l's MPI workers.

Pass a `SMAC3Runner` to a SMAC facade in place of the target function and SMAC's trials run
on the workers of the ``with`` block, one per worker at a time: `submit_trial` returns at
once while a worker is free and otherwise waits for a result, so SMAC's loop keeps every
worker busy. SMAC is an optional dependency (``pip install mpil2l[smac]``); this module
imports without it and the runner says what to install when it is used.

The target is a callable ``target(config, [seed=], [instance=], [budget=], [cutoff=])``, each
keyword passed only if its signature takes it, returning a cost, a list of costs or a dict
by objective name, optionally as ``(cost, additional_info)``; or an AClib command line (see
`mpil2l.smac.runner`). The outcome follows SMAC3's own runner: an exception, a missing or
non-finite cost, or costs that do not match ``scenario.objectives`` are CRASHED at
``scenario.crash_cost`` with the error and traceback in ``additional_info``; a run past
``scenario.trial_walltime_limit`` is killed (TIMEOUT), one past
``scenario.trial_memory_limit`` megabytes too (MEMORYOUT), both at the crash cost.
"""

from functools import partial

from ..core.runs import RunInfo, StatusType
from ..evaluation.process import Limits, check_isolation
from .runner import WorkersRunner
from .target import TargetCall, all_finite, objective_costs

try:
    from ConfigSpace import Configuration
    from smac.runhistory import StatusType as SMACStatus
    from smac.runhistory import TrialInfo, TrialValue
    from smac.runner import AbstractRunner

    _BASES, _MISSING = (AbstractRunner, WorkersRunner), None
except ImportError as exc:  # smac is an optional extra
    _BASES, _MISSING = (WorkersRunner,), exc

_ARGUMENTS = ("seed", "instance", "budget", "cutoff")


def _status_map():
    """mpil2l's (SMAC v1) statuses -> SMAC3's, which has no ABORT, CAPPED or MEMOUT."""
    return {
        StatusType.SUCCESS: SMACStatus.SUCCESS,
        StatusType.TIMEOUT: SMACStatus.TIMEOUT,
        StatusType.CAPPED: SMACStatus.TIMEOUT,
        StatusType.MEMOUT: SMACStatus.MEMORYOUT,
    }


class SMAC3Runner(*_BASES):
    """SMAC3's `AbstractRunner` with its trials run on MPI workers (see the module docstring).

    Collective on `comm` (any communicator), like `mpil2l.MPIRunner`: construct it on every
    rank and use it as ``with SMAC3Runner(scenario, target) as runner:``; rank 0 gets the
    runner and hands it to a facade, the other ranks run trials until rank 0 leaves the block
    and get None. Leave ``scenario.n_workers`` at 1: the MPI ranks are the workers (with more,
    SMAC would wrap the runner in its Dask runner).

    Args:
        scenario: SMAC's `Scenario` (objectives, crash cost, per-trial limits).
        target_function: a callable or an AClib command line (list of strings).
        comm: the communicator (default ``MPI.COMM_WORLD``).
        max_workers: use at most this many worker ranks.
        isolation: ``'process'`` (default; needed for the trial limits) or ``'none'``, see
            `mpil2l.evaluation.process`.

    Raises:
        ImportError: smac is not installed.
        ValueError: ``scenario.n_workers`` is not 1, a memory limit not in megabytes, or
            trial limits with ``isolation='none'``.

    Example (``mpiexec -n 4 python script.py``)::

        from ConfigSpace import ConfigurationSpace
        from smac import HyperparameterOptimizationFacade, Scenario

        def train(config, seed=0):
            return (config["x"] - 1) ** 2

        scenario = Scenario(ConfigurationSpace({"x": (-5.0, 5.0)}), n_trials=50)
        with SMAC3Runner(scenario, train) as runner:
            if runner is not None:
                smac = HyperparameterOptimizationFacade(scenario, runner)
                print(smac.optimize())
    """

    def __init__(self, scenario, target_function, comm=None, max_workers=None, isolation="process"):
        if _MISSING is not None:
            raise ImportError(
                f"SMAC3Runner needs SMAC3 (smac 2.x): pip install 'mpil2l[smac]' ({_MISSING})"
            )
        if scenario.n_workers != 1:
            raise ValueError(
                f"scenario.n_workers must be 1 with SMAC3Runner, got {scenario.n_workers}: the MPI "
                "ranks are the workers (SMAC would wrap the runner in its Dask runner)"
            )
        memory = scenario.trial_memory_limit
        if memory is not None and not isinstance(memory, (int, float)):
            raise ValueError(
                "scenario.trial_memory_limit must be a number of megabytes with SMAC3Runner, got "
                f"{memory!r}"
            )
        limits = Limits(scenario.trial_walltime_limit, memory)
        check_isolation(isolation, limits)  # here, on every rank, rather than on rank 0 alone
        if not (
            callable(target_function)
            or (isinstance(target_function, (list, tuple)) and target_function)
        ):
            raise TypeError(
                "target_function must be a callable or a command line (list of strings), got "
                f"{target_function!r}"
            )
        super().__init__(scenario)
        self._target_function = target_function
        self._supports_memory_limit = True
        self._status = _status_map()
        self._trials = {}  # id(run_info) -> (run_info, trial_info), submitted and not collected
        make_config = partial(Configuration, scenario.configspace)
        self._open(
            TargetCall(target_function, _ARGUMENTS, make_config),
            comm,
            max_workers,
            isolation,
            limits,
        )

    @property
    def meta(self):
        """What SMAC records about the runner (part of the run's identity)."""
        target = self._target_function
        if isinstance(target, (list, tuple)):
            return {"name": type(self).__name__, "target": " ".join(map(str, target))}
        return {
            "name": type(self).__name__,
            "target": getattr(target, "__qualname__", repr(target)),
        }

    # -- SMAC3's contract ----------------------------------------------------------------

    def submit_trial(self, trial_info, **dask_data_to_scatter):
        """Hands a trial to a worker; when none is free, first waits for a result (so the
        facade's loop asks for the next trial only when it can run)."""
        if dask_data_to_scatter:
            raise ValueError(
                "data_to_scatter is for SMAC's Dask runner; SMAC3Runner sends the target once to "
                "each worker"
            )
        while self.count_available_workers() <= 0:
            self.wait()
        cutoff = trial_info.additional_info.get("cutoff", self._scenario.trial_walltime_limit)
        run_info = RunInfo(
            dict(trial_info.config),
            trial_info.instance,
            seed=trial_info.seed,
            cutoff=cutoff,
            budget=trial_info.budget,
        )
        self._trials[id(run_info)] = (run_info, trial_info)
        self._scheduler.submit_run(run_info)  # the limits' timeout: trial_walltime_limit

    def iter_results(self):
        """Yields and forgets every finished ``(TrialInfo, TrialValue)``."""
        self._drain()
        while self._results_queue:
            yield self._results_queue.pop(0)

    def wait(self):
        """Blocks, without occupying a core, until a trial has finished (returns at once if
        one has and was not collected yet, or if none is running)."""
        self._drain()
        while not self._results_queue and self._trials:
            self._scheduler.wait()
            self._drain()

    def is_running(self):
        """True while a submitted trial has not finished."""
        return bool(self._trials)

    def count_available_workers(self):
        """Workers without a trial."""
        return self._scheduler.num_workers() - len(self._trials)

    def run(self, config, instance=None, budget=None, seed=None, additional_info=None):
        """Runs one trial on a worker: ``(status, cost, runtime, cpu_time, additional_info)``."""
        trial_info = TrialInfo(config, instance, seed, budget, dict(additional_info or {}))
        self.submit_trial(trial_info)
        _, value = self._wait_for(trial_info, self._results_queue)
        return value.status, value.cost, value.time, value.cpu_time, value.additional_info

    # -- internals -----------------------------------------------------------------------

    def _drain(self):
        for run_info, value in self._scheduler.get_finished_runs():
            _, trial_info = self._trials.pop(id(run_info))
            self._results_queue.append((trial_info, self._trial_value(value)))

    def _trial_value(self, value):
        """SMAC3's checks on a finished run, as its `TargetFunctionRunner` and `run_wrapper`
        make them."""
        info = dict(value.additional_info)
        info.pop("exception", None)  # SMAC writes additional_info to JSON
        cpu_time = 0.0
        if value.status == StatusType.SUCCESS:
            status, cost, runtime, cpu_time, user_info = value.cost
            info.update(user_info or {})
        else:
            status, cost, runtime = value.status, None, value.time
        status = self._status.get(status, SMACStatus.CRASHED)
        if status == SMACStatus.SUCCESS:
            try:
                if cost is None:
                    raise ValueError("the target returned no cost")
                cost = objective_costs(cost, self._objectives)
                if not all_finite(cost):
                    raise ValueError(f"the target returned the cost {cost}")
            except (TypeError, ValueError) as exc:
                status, info["error"] = SMACStatus.CRASHED, str(exc)
        if status != SMACStatus.SUCCESS:
            cost = self._crash_cost
        return TrialValue(
            cost=cost,
            time=runtime,
            cpu_time=cpu_time,
            status=status,
            starttime=value.starttime,
            endtime=value.endtime,
            additional_info=info,
        )

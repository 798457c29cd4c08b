"""SMAC's v1 runner (`smac.tae.base.BaseRunner`) on mpil2l's MPI workers.

`MPIRunner` keeps SMAC's constructor, its submit/collect methods and `run_wrapper`'s
semantics: exceptions and non-finite costs are CRASHED at ``cost_for_crash`` with the
traceback in ``additional_info``; the runtime objective needs a cutoff, kills a run at it
(the exact cutoff: SMAC v1 rounds it up to whole seconds), costs a successful run its
runtime and any other ``par_factor * cutoff`` (a TIMEOUT of a capped run is CAPPED); the
first run crashing raises `FirstRunCrashedException` when ``abort_on_first_run_crash``.
Beyond SMAC, ``max_retries`` re-runs crashed runs on another worker. The SPMD life cycle
(`WorkersRunner`, on the runtime's `mpil2l.runtime.scheduler.OnWorkers`) and the worker-side
call (`TargetCall`) are shared with SMAC3's runner (`mpil2l.smac.smac3`).

The target is a Python callable ``ta(config, [instance=], [seed=], [budget=])`` returning a
cost, ``(cost, additional_info)`` or, for several objectives, a dict or sequence of costs;
or a command line in AClib's style, called as ``ta... --instance I --cutoff C --seed S
--config -name value ...`` and read from its ``Result of this algorithm run: {json}`` line
(``status``, ``cost``, ``runtime``, ``additional_info``).
"""

import math

from ..core.errors import FirstRunCrashedException
from ..core.runs import RunInfo, RunValue, StatusType
from ..evaluation.process import Limits
from ..runtime.scheduler import OnWorkers
from .target import TargetCall, all_finite, as_list, objective_costs


class WorkersRunner:
    """What both SMAC runners share: their runs go to the scheduler of a runtime `OnWorkers`,
    and the runner follows its SPMD life cycle. Collective on `comm`: used as ``with runner:``
    on every rank, where rank 0 gets the runner and the other ranks serve runs until rank 0
    leaves the block (then get None), like mpi4py's `MPICommExecutor`."""

    def _open(self, target, comm, max_workers, isolation, limits):
        self._workers = OnWorkers(
            target, comm, max_workers=max_workers, isolation=isolation, limits=limits
        )
        self.comm = self._workers.comm
        self._scheduler = self._workers.scheduler

    def __enter__(self):
        return None if self._workers.__enter__() is None else self

    def __exit__(self, exc_type, exc, tb):
        return self._workers.__exit__(exc_type, exc, tb)

    def close(self, abort_reason=None):
        """Stops the workers (rank 0); safe to call twice."""
        self._workers.close(abort_reason)

    def _wait_for(self, run, results):
        """Waits until `run` has finished; returns its pair, taken out of `results` (the
        runner's queue of finished pairs, which `self.wait()` fills)."""
        waited = False
        while True:
            for i, pair in enumerate(results):
                if pair[0] is run:
                    return results.pop(i)
            if waited and not self._scheduler.pending_runs():
                raise RuntimeError(f"the run {run!r} is neither pending nor finished")
            self.wait()
            waited = True


class MPIRunner(WorkersRunner):
    """SMAC's v1 `BaseRunner` contract, its target run on MPI workers (see the module
    docstring).

    Collective on `comm` (any communicator): use it as ``with MPIRunner(ta, ...) as runner:``
    on every rank; rank 0 gets the runner, the other ranks serve runs until rank 0 leaves the
    block and get None.

    Args:
        ta: a callable ``ta(config, [instance=], [seed=], [budget=])`` or an AClib command
            line (list of strings).
        stats: SMAC's `Stats` (optional), kept as ``self.stats`` for SMAC's SMBO, which
            updates it; the runner does not.
        multi_objectives: names of the objectives.
        run_obj: ``'runtime'`` or ``'quality'``.
        par_factor: penalty factor of an unsuccessful run under the runtime objective.
        cost_for_crash: cost of a crashed run (a number for each objective, or a list).
        abort_on_first_run_crash: raise `FirstRunCrashedException` if the first run crashes.
        comm: the communicator (default ``MPI.COMM_WORLD``).
        max_retries: re-run a CRASHED run up to this many times (default 0, as SMAC).
        isolation: ``'process'`` (default) or ``'none'``, see `mpil2l.evaluation.process`.
        memory_limit_mb: memory per run (MEMOUT beyond it).
        max_workers: use at most this many worker ranks.

    Example (``mpiexec -n 4 python script.py``)::

        with MPIRunner(train_and_score, run_obj="quality") as runner:
            if runner is not None:
                runner.submit_run(RunInfo({"lr": 0.1}, instance="fold-1", seed=3))
                runner.wait()
                for run_info, run_value in runner.get_finished_runs():
                    print(run_value.status.name, run_value.cost)
    """

    def __init__(
        self,
        ta,
        stats=None,
        multi_objectives=("cost",),
        run_obj="runtime",
        par_factor=1,
        cost_for_crash=2147483647.0,
        abort_on_first_run_crash=True,
        comm=None,
        max_retries=0,
        isolation="process",
        memory_limit_mb=None,
        max_workers=None,
    ):
        if run_obj not in ("runtime", "quality"):
            raise ValueError(f"run_obj must be 'runtime' or 'quality', got {run_obj!r}")
        if not (callable(ta) or (isinstance(ta, (list, tuple)) and ta)):
            raise TypeError(
                f"ta must be a callable or a command line (list of strings), got {ta!r}"
            )
        self.ta = ta
        self.stats = stats
        self.multi_objectives = list(multi_objectives)
        self.run_obj = run_obj
        self.par_factor = par_factor
        self.cost_for_crash = cost_for_crash
        self.abort_on_first_run_crash = abort_on_first_run_crash
        self.max_retries = max_retries
        self.results = []
        self._first_seen = False
        self._attempts = {}  # id(run_info) of a retried run -> attempts so far
        self._open(TargetCall(ta), comm, max_workers, isolation, Limits(None, memory_limit_mb))

    # -- SMAC's contract -----------------------------------------------------------------

    def submit_run(self, run_info):
        """Hands `run_info` to a worker; the result comes from `get_finished_runs`.

        Raises:
            ValueError: the runtime objective and no ``run_info.cutoff``.
        """
        if self.run_obj == "runtime" and run_info.cutoff is None:
            raise ValueError("the runtime objective needs a cutoff: RunInfo.cutoff is None")
        self._submit(run_info)

    def get_finished_runs(self):
        """Returns and forgets every finished ``(RunInfo, RunValue)``.

        Raises:
            FirstRunCrashedException: the first run crashed and ``abort_on_first_run_crash``.
        """
        self._drain()
        finished, self.results = self.results, []
        return finished

    def wait(self):
        """Blocks until at least one run has finished (returns at once if none is pending)."""
        self._drain()
        while not self.results and self._scheduler.pending_runs():
            self._scheduler.wait()
            self._drain()

    def pending_runs(self):
        """True while a submitted run has not finished."""
        return self._scheduler.pending_runs()

    def num_workers(self):
        """How many workers run the target."""
        return self._scheduler.num_workers()

    def run_wrapper(self, run_info):
        """Runs one configuration to its end: ``(run_info, RunValue)``, as SMAC's."""
        self.submit_run(run_info)
        return self._wait_for(run_info, self.results)

    def run(
        self, config, instance=None, cutoff=None, seed=12345, budget=None, instance_specific="0"
    ):
        """Runs one configuration: ``(status, cost, runtime, additional_info)``."""
        run_info = RunInfo(config, instance, instance_specific, seed, cutoff, False, budget or 0.0)
        _, value = self.run_wrapper(run_info)
        return value.status, value.cost, value.time, value.additional_info

    # -- internals ------------------------------------------------------------------------

    def _drain(self):
        for run_info, value in self._scheduler.get_finished_runs():
            self._collect(run_info, value)

    def _submit(self, run_info, avoid=None):
        cutoff = run_info.cutoff
        self._scheduler.submit_run(run_info, avoid=avoid, timeout=cutoff if cutoff else None)

    def _collect(self, run_info, value):
        """SMAC v1's `run_wrapper` checks on one finished run, then into ``self.results``
        (or back to a worker, for a retry)."""
        first, self._first_seen = not self._first_seen, True
        info = dict(value.additional_info)
        info.pop("exception", None)
        if value.status == StatusType.SUCCESS:
            status, cost, runtime, _cpu_time, user_info = value.cost
            info.update(user_info or {})
        else:  # killed (TIMEOUT, MEMOUT) or raised (CRASHED): no cost of its own
            status, cost, runtime = value.status, None, value.time
        if self.run_obj == "quality" and cost is not None:
            try:
                cost = objective_costs(cost, self.multi_objectives)
                if not all_finite(cost):
                    raise ValueError(f"the target returned the cost {cost}")
            except (TypeError, ValueError) as exc:
                status, cost, info["error"] = StatusType.CRASHED, None, str(exc)
        elif self.run_obj == "quality" and status == StatusType.SUCCESS:
            status, info["error"] = StatusType.CRASHED, "the target returned no cost"
        if runtime is None or not math.isfinite(runtime):
            status, runtime, info["error"] = (
                StatusType.CRASHED,
                value.time,
                f"the target returned the runtime {runtime}",
            )
        if status == StatusType.CRASHED:
            attempts = self._attempts.pop(id(run_info), 0)
            if attempts < self.max_retries:
                self._attempts[id(run_info)] = attempts + 1
                self._submit(run_info, avoid=info.get("rank"))
                return
            if first and self.abort_on_first_run_crash:
                raise FirstRunCrashedException(
                    "the first run crashed (abort_on_first_run_crash): "
                    f"{info.get('error')}\n{info.get('traceback', '')}"
                )
        if self.run_obj == "runtime":
            limit = self.par_factor * run_info.cutoff
            if runtime > limit:
                runtime, status = limit, StatusType.TIMEOUT
            cost = float(runtime) if status == StatusType.SUCCESS else float(limit)
            if status == StatusType.TIMEOUT and run_info.capped:
                status = StatusType.CAPPED
        elif status == StatusType.CRASHED or cost is None:
            cost = self._crash_cost()
        self.results.append(
            (run_info, RunValue(cost, runtime, status, value.starttime, value.endtime, info))
        )

    def _crash_cost(self):
        n = len(self.multi_objectives)
        if n == 1:
            return self.cost_for_crash
        crash = as_list(self.cost_for_crash)
        return crash * n if len(crash) == 1 else crash

"""SMAC's v1 runner (`smac.tae.base.BaseRunner`) on mpil2l's MPI workers.

`MPIRunner` keeps SMAC's constructor, its submit/collect methods and `run_wrapper`'s
semantics: exceptions and non-finite costs are CRASHED at ``cost_for_crash`` with the
traceback in ``additional_info``; the runtime objective needs a cutoff, kills a run at it,
and charges ``par_factor * cutoff`` for a TIMEOUT (CAPPED when the run was capped); the
first run crashing raises `FirstRunCrashedException` when ``abort_on_first_run_crash``.
Beyond SMAC, ``max_retries`` re-runs crashed runs on another worker.

The target is a Python callable ``ta(config, [instance=], [seed=], [budget=])`` returning a
cost, ``(cost, additional_info)`` or, for several objectives, a dict or sequence of costs;
or a command line in AClib's style, called as ``ta... --instance I --cutoff C --seed S
--config -name value ...`` and read from its ``Result of this algorithm run: {json}`` line
(``status``, ``cost``, ``runtime``, ``additional_info``).
"""

import inspect
import json
import math
import subprocess
import time

from mpi4py import MPI

from .errors import FirstRunCrashedException
from .isolation import Limits
from .runs import RunInfo, RunValue, StatusType
from .scheduler import Scheduler
from .spmd import install_abort_hook
from .worker import serve

RESULT_PREFIX = "Result of this algorithm run:"
_OPTIONAL_ARGUMENTS = ("instance", "seed", "budget")


class TargetCall:
    """What a worker runs for one `RunInfo`: the target, timed, as SMAC's ``run`` tuple
    ``(status, cost, runtime, additional_info)``. Exceptions propagate (the worker reports
    them as CRASHED)."""

    def __init__(self, ta):
        self.ta = list(ta) if isinstance(ta, (list, tuple)) else ta
        self.accepts = ()
        if callable(self.ta):
            try:
                parameters = inspect.signature(self.ta).parameters
            except (TypeError, ValueError):
                parameters = {}
            takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
            self.accepts = tuple(a for a in _OPTIONAL_ARGUMENTS if takes_any or a in parameters)

    def __call__(self, run_info):
        if not callable(self.ta):
            return self._run_command(run_info)
        kwargs = {name: getattr(run_info, name) for name in self.accepts}
        start = time.time()
        result = self.ta(run_info.config, **kwargs)
        runtime = time.time() - start
        info = {}
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            result, info = result
        return StatusType.SUCCESS, result, runtime, info

    def _run_command(self, run_info):
        config = run_info.config
        values = config.get_dictionary() if hasattr(config, "get_dictionary") else dict(config)
        argv = [str(a) for a in self.ta]
        argv += ["--instance", str(run_info.instance), "--cutoff", str(run_info.cutoff), "--seed", str(run_info.seed)]
        argv += ["--config"] + [item for k, v in sorted(values.items()) for item in (f"-{k}", str(v))]
        start = time.time()
        proc = subprocess.run(argv, capture_output=True, text=True)
        runtime = time.time() - start
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith(RESULT_PREFIX):
                data = json.loads(line[len(RESULT_PREFIX):])
                status = StatusType[data.get("status", "SUCCESS").upper()]
                return status, data.get("cost"), data.get("runtime", runtime), data.get("additional_info", {})
        raise RuntimeError(
            f"{argv[0]} exited with code {proc.returncode} without a '{RESULT_PREFIX} {{json}}' line; "
            f"end of its stderr:\n{proc.stderr[-2000:]}"
        )


class MPIRunner:
    """SMAC's `BaseRunner` contract, its target run on MPI workers (see the module docstring).

    Collective on `comm`: use it as ``with MPIRunner(ta, ...) as runner:`` on every rank;
    rank 0 gets the runner, the other ranks serve runs until rank 0 leaves the block and get
    None.

    Args:
        ta: a callable or a command line (list of strings).
        stats: SMAC's `Stats` (optional): ``submitted_ta_runs`` and ``ta_time_used`` are kept
            up to date when it has them.
        multi_objectives: names of the objectives.
        run_obj: ``'runtime'`` or ``'quality'``.
        par_factor: penalty factor of a TIMEOUT under the runtime objective.
        cost_for_crash: cost of a crashed run (for each objective).
        abort_on_first_run_crash: raise `FirstRunCrashedException` if the first run crashes.
        comm: the communicator (default ``MPI.COMM_WORLD``).
        max_retries: re-run a CRASHED run up to this many times (default 0, as SMAC).
        isolation: ``'process'`` (default) or ``'none'``, see `mpil2l.isolation`.
        memory_limit_mb: memory per run (MEMOUT beyond it).
        max_workers: use at most this many worker ranks.
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
            raise TypeError(f"ta must be a callable or a command line (list of strings), got {ta!r}")
        self.ta = ta
        self.stats = stats
        self.multi_objectives = list(multi_objectives)
        self.run_obj = run_obj
        self.par_factor = par_factor
        self.cost_for_crash = cost_for_crash
        self.abort_on_first_run_crash = abort_on_first_run_crash
        self.max_retries = max_retries
        self.comm = comm or MPI.COMM_WORLD
        self.results = []
        self._first_seen = False
        self._attempts = {}  # id(run_info) of a retried run -> attempts so far
        self._scheduler = None
        install_abort_hook(self.comm)
        if self.comm.Get_rank() == 0:
            self._scheduler = Scheduler(
                TargetCall(ta), self.comm, max_workers=max_workers, isolation=isolation,
                limits=Limits(None, memory_limit_mb),
            )

    # -- SPMD ----------------------------------------------------------------------------

    def __enter__(self):
        if self._scheduler is None:
            serve(self.comm)
            return None
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(None if exc is None else f"{type(exc).__name__}: {exc}")
        return False

    def close(self, abort_reason=None):
        """Stops the workers (rank 0)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(abort_reason)

    # -- SMAC's contract -----------------------------------------------------------------

    def submit_run(self, run_info):
        """Hands `run_info` to a worker; the result comes from `get_finished_runs`."""
        if self.run_obj == "runtime" and run_info.cutoff is None:
            raise ValueError("the runtime objective needs a cutoff: RunInfo.cutoff is None")
        if self.stats is not None and hasattr(self.stats, "submitted_ta_runs"):
            self.stats.submitted_ta_runs += 1
        self._submit(run_info)

    def get_finished_runs(self):
        """Returns and forgets every finished ``(RunInfo, RunValue)``.

        Raises:
            FirstRunCrashedException: the first run crashed and ``abort_on_first_run_crash``.
        """
        for run_info, value in self._scheduler.get_finished_runs():
            self._collect(run_info, value)
        finished, self.results = self.results, []
        return finished

    def wait(self):
        """Blocks until at least one run has finished (returns at once if none is pending)."""
        while not self.results and self._scheduler.pending_runs():
            self._scheduler.wait()
            for run_info, value in self._scheduler.get_finished_runs():
                self._collect(run_info, value)

    def pending_runs(self):
        return self._scheduler.pending_runs()

    def num_workers(self):
        return self._scheduler.num_workers()

    def run_wrapper(self, run_info):
        """Runs one configuration to its end: ``(run_info, RunValue)``, as SMAC's."""
        self.submit_run(run_info)
        while True:
            for pair in self.get_finished_runs():
                if pair[0] is run_info:
                    return pair
                self.results.append(pair)
            self.wait()

    def run(self, config, instance=None, cutoff=None, seed=12345, budget=None, instance_specific="0"):
        """Runs one configuration: ``(status, cost, runtime, additional_info)``."""
        run_info = RunInfo(config, instance, instance_specific, seed, cutoff, False, budget or 0.0)
        _, value = self.run_wrapper(run_info)
        return value.status, value.cost, value.time, value.additional_info

    # -- internals ------------------------------------------------------------------------

    def _submit(self, run_info, avoid=None):
        cutoff = run_info.cutoff
        self._scheduler.submit_run(run_info, avoid=avoid, timeout=cutoff if cutoff else None)

    def _collect(self, run_info, value):
        first, self._first_seen = not self._first_seen, True
        info = dict(value.additional_info)
        if value.status == StatusType.SUCCESS:
            status, cost, runtime, user_info = value.cost
            info = {**info, **(user_info or {})}
        else:
            status, cost, runtime = value.status, None, value.time
        cost = self._cost(status, cost)
        if status == StatusType.SUCCESS and self.run_obj == "quality":
            if cost is None or not all(math.isfinite(c) for c in _as_list(cost)):
                status, info["error"] = StatusType.CRASHED, f"the target returned the cost {cost}"
        if status == StatusType.CRASHED:
            attempts = self._attempts.pop(id(run_info), 0)
            if attempts < self.max_retries:
                self._attempts[id(run_info)] = attempts + 1
                self._submit(run_info, avoid=info.get("rank"))
                return
            if first and self.abort_on_first_run_crash:
                raise FirstRunCrashedException(
                    f"the first run crashed (abort_on_first_run_crash): {info.get('error')}\n{info.get('traceback', '')}"
                )
        cost = self._charge(status, cost, runtime, run_info)
        if status == StatusType.SUCCESS and self.run_obj == "runtime" and runtime > run_info.cutoff:
            status = StatusType.TIMEOUT
        if status == StatusType.TIMEOUT and run_info.capped:
            status = StatusType.CAPPED
        if self.stats is not None and hasattr(self.stats, "ta_time_used"):
            self.stats.ta_time_used += float(runtime)
        info.pop("exception", None)
        self.results.append((run_info, RunValue(cost, runtime, status, value.starttime, value.endtime, info)))

    def _cost(self, status, cost):
        """The target's cost as a float, or a list in objective order for several."""
        if status != StatusType.SUCCESS or cost is None:
            return None
        if len(self.multi_objectives) == 1:
            if isinstance(cost, dict):
                cost = cost[self.multi_objectives[0]]
            return float(cost)
        if isinstance(cost, dict):
            return [float(cost[name]) for name in self.multi_objectives]
        return [float(c) for c in cost]

    def _charge(self, status, cost, runtime, run_info):
        """SMAC's cost of a run by status and objective."""
        n = len(self.multi_objectives)
        crash = self.cost_for_crash if n == 1 else _as_list(self.cost_for_crash) * (n if _is_scalar(self.cost_for_crash) else 1)
        if self.run_obj == "runtime":
            if status in (StatusType.TIMEOUT, StatusType.CAPPED) or (status == StatusType.SUCCESS and runtime > run_info.cutoff):
                return float(self.par_factor * run_info.cutoff)
            if status == StatusType.SUCCESS:
                return float(runtime)
            return crash
        return cost if status == StatusType.SUCCESS else crash


def _is_scalar(value):
    return not isinstance(value, (list, tuple))


def _as_list(value):
    return [value] if _is_scalar(value) else list(value)

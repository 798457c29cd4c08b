"""The worker side of SMAC's runners: one call of a SMAC target for a `RunInfo`.

Kept apart from the runners so that an evaluation process (`mpil2l.evaluation.process`) that
unpickles a `TargetCall` loads neither MPI nor SMAC.

The target is a Python callable ``ta(config, **kwargs)`` returning a cost, ``(cost,
additional_info)`` or, for several objectives, a dict or sequence of costs; or a command line
in AClib's style, called as ``ta... --instance I --cutoff C --seed S --config -name value
...`` and read from its ``Result of this algorithm run: {json}`` line (``status``, ``cost``,
``runtime``, ``additional_info``).
"""

import inspect
import json
import math
import resource
import subprocess
import time

from ..core.runs import StatusType

RESULT_PREFIX = "Result of this algorithm run:"
V1_ARGUMENTS = ("instance", "seed", "budget")


class TargetCall:
    """What a worker runs for one `RunInfo`: the target, timed, as
    ``(status, cost, runtime, cpu_time, additional_info)``. Exceptions propagate (the worker
    reports them as CRASHED).

    Args:
        ta: a callable ``ta(config, **kwargs)`` or an AClib command line (list of strings).
        arguments: the `RunInfo` fields passed to a callable as keywords, each only if its
            signature takes it (or takes ``**kwargs``).
        make_config: turns the ``RunInfo.config`` sent to the worker back into what the
            target gets (SMAC3's runner sends a configuration's values, a few hundred
            bytes, instead of the configuration with its whole space, about 10 kB, and
            rebuilds it here from the space, which travels once, with this call).
    """

    def __init__(self, ta, arguments=V1_ARGUMENTS, make_config=None):
        self.ta = list(ta) if isinstance(ta, (list, tuple)) else ta
        self.make_config = make_config
        self.accepts = ()
        if callable(self.ta):
            try:
                parameters = inspect.signature(self.ta).parameters
            except (TypeError, ValueError):
                parameters = {}
            takes_any = any(p.kind == p.VAR_KEYWORD for p in parameters.values())
            self.accepts = tuple(a for a in arguments if takes_any or a in parameters)

    def __call__(self, run_info):
        if self.make_config is not None:
            run_info = run_info._replace(config=self.make_config(values=run_info.config))
        if not callable(self.ta):
            return self._run_command(run_info)
        kwargs = {name: getattr(run_info, name) for name in self.accepts}
        start, cpu_start = time.time(), time.process_time()
        result = self.ta(run_info.config, **kwargs)
        runtime, cpu_time = time.time() - start, time.process_time() - cpu_start
        info = {}
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            result, info = result
        return StatusType.SUCCESS, result, runtime, cpu_time, info

    def _run_command(self, run_info):
        config = run_info.config
        values = dict(config.items()) if hasattr(config, "items") else dict(config)
        argv = [str(a) for a in self.ta]
        argv += [
            "--instance",
            str(run_info.instance),
            "--cutoff",
            str(run_info.cutoff),
            "--seed",
            str(run_info.seed),
        ]
        argv += ["--config"] + [
            item for k, v in sorted(values.items()) for item in (f"-{k}", str(v))
        ]
        start, cpu_start = time.time(), _children_cpu_time()
        proc = subprocess.run(argv, capture_output=True, text=True)
        command = " ".join(argv[: len(self.ta)])
        runtime, cpu_time = time.time() - start, _children_cpu_time() - cpu_start
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith(RESULT_PREFIX):
                data = json.loads(line[len(RESULT_PREFIX) :])
                name = str(data.get("status", "SUCCESS")).upper()
                name = "SUCCESS" if name in ("SAT", "UNSAT") else name  # AClib's solver answers
                if name not in StatusType.__members__:
                    raise ValueError(
                        f"{command} reported the unknown status {name!r} (known: SAT, UNSAT, "
                        f"{', '.join(StatusType.__members__)})"
                    )
                runtime = data.get("runtime", runtime)
                return (
                    StatusType[name],
                    data.get("cost"),
                    runtime,
                    cpu_time,
                    data.get("additional_info", {}),
                )
        raise RuntimeError(
            f"{command} exited with code {proc.returncode} without a '{RESULT_PREFIX} {{json}}' "
            f"line; end of its stderr:\n{proc.stderr[-2000:]}"
        )


def _children_cpu_time():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def objective_costs(cost, objectives):
    """The target's cost as a float (one objective) or a list in `objectives`' order.

    Raises:
        ValueError: a dict without one of the objectives, or a count that does not match.
    """
    if isinstance(cost, dict):
        missing = [name for name in objectives if name not in cost]
        if missing:
            raise ValueError(
                f"the target returned the costs {cost}, without the objective(s) {missing}"
            )
        cost = [cost[name] for name in objectives]
    if isinstance(cost, (list, tuple)) or getattr(cost, "ndim", 0) > 0:
        cost = [float(c) for c in cost]
        if len(objectives) == 1 and len(cost) == 1:
            return cost[0]
        if len(cost) != len(objectives):
            raise ValueError(
                f"the target returned {len(cost)} costs for the objectives {list(objectives)}"
            )
        return cost
    if len(objectives) != 1:
        raise ValueError(
            f"the target returned one cost, {cost}, for the objectives {list(objectives)}"
        )
    return float(cost)


def all_finite(cost):
    return all(math.isfinite(c) for c in as_list(cost))


def as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]

"""An optimizee that fails on purpose, in every way an evaluation fails on a supercomputer:
for testing a set-up (and mpil2l itself) before the real simulation does it at scale."""

import ctypes
import os
import signal
import time

import numpy as np

from ..core.runs import StatusType
from .base import Optimizee

# fault name -> the status an attempt that injects it ends with (with isolation='process';
# 'memory' needs runner_params['memory_limit_mb'], 'hang' needs runner_params['timeout']).
FAULTS = {
    "raise": StatusType.CRASHED,  # simulate raises RuntimeError
    "nan": StatusType.CRASHED,  # simulate returns NaN (SUCCESS if non-finite is allowed)
    "exit": StatusType.CRASHED,  # os._exit(3)
    "segfault": StatusType.CRASHED,  # SIGSEGV in C code
    "kill": StatusType.CRASHED,  # SIGKILL, as from the out-of-memory killer
    "memory": StatusType.MEMOUT,  # allocates far more than the memory limit
    "hang": StatusType.TIMEOUT,  # sleeps for hang_seconds
}


class FaultInjectionOptimizee(Optimizee):
    """A sphere, ``sum(x**2)`` over ``dims`` coordinates in [-5, 5], with faults injected per
    individual and per attempt.

    Args:
        traj: the run's trajectory.
        faults: ``{ind_idx or (generation, ind_idx): fault or [fault, ...]}``: a list gives
            the fault of attempt 0, 1, ... (None: that attempt succeeds); attempts beyond
            the list succeed; a single fault name applies to every attempt. Fault names are
            the keys of `FAULTS`. A ``(generation, ind_idx)`` key wins over a bare
            ``ind_idx``.
        dims: number of coordinates.
        seed: seed of `create_individual`'s random generator.
        hang_seconds: how long the 'hang' fault sleeps.
        memory_bytes: how much the 'memory' fault allocates (default 1 TiB: refused at once
            under any memory limit, and by the kernel without one).

    Example:
        ``FaultInjectionOptimizee(traj, {3: ["segfault", "raise"], (1, 5): "hang"})``: the
        individual 3 of every generation crashes twice, then succeeds; individual 5 of
        generation 1 hangs on every attempt.

    Raises:
        ValueError: an unknown fault name.
    """

    def __init__(
        self, traj, faults=None, dims=2, seed=0, hang_seconds=3600.0, memory_bytes=1 << 40
    ):
        super().__init__(traj)
        self.faults = {}
        for key, value in (faults or {}).items():
            plan = [value] if value is None or isinstance(value, str) else list(value)
            unknown = [f for f in plan if f is not None and f not in FAULTS]
            if unknown:
                raise ValueError(f"unknown fault(s) {unknown} for {key!r}; known: {sorted(FAULTS)}")
            self.faults[key] = (plan, isinstance(value, str))
        self.dims = dims
        self.rng = np.random.default_rng(seed)
        self.hang_seconds = hang_seconds
        self.memory_bytes = memory_bytes

    def fault_for(self, generation, ind_idx, attempt):
        """The fault injected into this attempt, or None."""
        entry = self.faults.get((generation, ind_idx), self.faults.get(ind_idx))
        if entry is None:
            return None
        plan, every_attempt = entry
        if every_attempt:
            return plan[0]
        return plan[attempt] if attempt < len(plan) else None

    def create_individual(self):
        return {"x": self.rng.uniform(-5.0, 5.0, self.dims)}

    def bounding_func(self, individual):
        return {"x": np.clip(individual["x"], -5.0, 5.0)}

    def simulate(self, traj):
        ind = traj.individual
        fault = self.fault_for(ind.generation, ind.ind_idx, getattr(ind, "attempt", 0))
        value = float(np.sum(np.asarray(ind.x, dtype=float) ** 2))
        if fault == "raise":
            raise RuntimeError(
                f"injected fault: generation {ind.generation}, individual {ind.ind_idx}"
            )
        if fault == "nan":
            return (float("nan"),)
        if fault == "exit":
            os._exit(3)
        if fault == "segfault":
            ctypes.string_at(0)
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if fault == "memory":
            bytearray(self.memory_bytes)
        if fault == "hang":
            time.sleep(self.hang_seconds)
        return (value,)

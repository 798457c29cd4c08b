"""What one run is and what it gave: SMAC's `RunInfo`, `RunValue` and `StatusType` (v1).

The scheduler accepts any picklable object as a run description; `RunInfo` is the one SMAC
uses. Whatever a worker evaluates comes back as a `RunValue`.
"""

from enum import IntEnum
from typing import Any, NamedTuple, Optional


class StatusType(IntEnum):
    """Outcome of a run, with SMAC v1's values."""

    SUCCESS = 1
    TIMEOUT = 2
    CRASHED = 3
    ABORT = 4
    MEMOUT = 5
    CAPPED = 6
    DONOTADVANCE = 7
    STOP = 8
    RUNNING = 9


class RunInfo(NamedTuple):
    """A configuration to run, with SMAC v1's fields."""

    config: Any
    instance: Optional[str] = None
    instance_specific: str = "0"
    seed: int = 0
    cutoff: Optional[float] = None
    capped: bool = False
    budget: float = 0.0
    source_id: int = 0


class RunValue(NamedTuple):
    """The result of a run, with SMAC v1's fields.

    ``cost`` is whatever the target returned (``None`` when it failed). For a failed run
    ``additional_info`` holds ``error`` (one line), ``traceback`` (the remote traceback as
    text), ``rank`` and ``host``, and ``exception`` (the exception object, when it could be
    pickled).
    """

    cost: Any
    time: float
    status: StatusType
    starttime: float
    endtime: float
    additional_info: dict

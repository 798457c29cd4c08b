"""Exceptions raised by mpil2l."""


class RemoteTraceback(Exception):
    """The traceback of an exception raised on another rank, attached as ``__cause__`` of the
    exception re-raised on rank 0."""

    def __str__(self):
        return "\n" + self.args[0]


class RunAborted(RuntimeError):
    """Raised on the worker ranks when rank 0 aborted the run; the message is rank 0's reason."""


class FitnessError(TypeError):
    """`simulate` returned something that is not a tuple of as many numbers as there are
    fitness weights."""


class NonFiniteFitness(ValueError):
    """`simulate` returned NaN or an infinity (a CRASHED run unless non-finite fitness is
    allowed)."""


def reraise_remote(run_value, context):
    """Raises the exception a worker reported in `run_value`, with the original type where it
    could be pickled, the remote traceback as its cause, and `context` (which run, where) in
    its message.
    """
    info = run_value.additional_info
    where = f"{context} on rank {info.get('rank')} ({info.get('host')})"
    exc = info.get("exception")
    if not isinstance(exc, BaseException):
        exc = RuntimeError(info.get("error", "unknown error"))
    if hasattr(exc, "add_note"):
        exc.add_note(f"raised by {where}")
    else:  # Python < 3.11
        exc = RuntimeError(f"{where}: {info.get('error')}")
    raise exc from RemoteTraceback(info.get("traceback", ""))


class JobTerminated(BaseException):
    """Raised in the main thread of every mpil2l rank that receives SIGTERM (the batch system's
    wall-time warning) or SIGINT while a run is in progress. A BaseException, like
    KeyboardInterrupt, so that ``except Exception`` in user code does not swallow it."""


class EvaluationFailed(RuntimeError):
    """An individual failed every attempt (or the first run of the job crashed) and the run
    was configured to stop on that (`stop_run`, `abort_on_first_run_crash`), or a worker was
    terminated."""


class FirstRunCrashedException(RuntimeError):
    """SMAC's: the first run crashed and ``abort_on_first_run_crash`` is set."""

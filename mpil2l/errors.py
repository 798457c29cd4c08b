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

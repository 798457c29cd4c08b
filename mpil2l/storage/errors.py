"""The errors of the results log, below every storage module that raises them."""


class ResultsLogError(ValueError):
    """A file is not a usable results log: not HDF5, truncated, corrupt, from another program
    or from a newer mpil2l."""


class LogInUseError(RuntimeError):
    """A results log is already open for writing by another process."""

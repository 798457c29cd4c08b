"""HDF5 attribute values as the results log writes and reads them: time stamps, text stored
fixed- or variable-length, and counters overwritten in place."""

import datetime

import h5py
import numpy as np


def timestamp():
    """The current time as the log's attributes record it: ISO 8601, UTC, in seconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def attribute_text(value):
    """An attribute's string, whether stored fixed-length (bytes) or variable-length."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def write_attribute(obj, name, value):
    """Overwrites the existing attribute `name` of `obj` in place, through h5py's low-level
    calls: cheaper than ``attrs.modify``, and every counter is rewritten at every flush."""
    attribute = h5py.h5a.open(obj.id, name.encode())
    try:
        attribute.write(np.asarray(value, dtype=attribute.dtype))
    finally:
        attribute.close()

"""The trajectory's parameters in a results log's /parameters group: one attribute each
(group parameters as 'group.name'), numbers and numeric arrays as they are, anything else as
a JSON string (so a string attribute is always JSON); values too large for an attribute are
datasets of the same name ('/' escaped as %2F)."""

import json

import numpy as np

from . import fields as F

LARGE_ATTRIBUTE = 16 << 10  # parameter values bigger than this (bytes) become datasets


def flatten_parameters(traj):
    """The trajectory's parameters as ``{name: value}``, groups as 'group.name'."""
    source = traj.par if hasattr(traj, "par") else traj
    flat = {}
    for name, value in source.items():
        if hasattr(value, "params") and hasattr(value, "f_add_parameter"):  # a ParameterGroup
            for key, item in value.items():
                flat[f"{name}.{key}"] = item
        else:
            flat[str(name)] = value
    return flat


def json_default(value):
    """What `json.dumps` writes for a value it cannot encode: numpy arrays and scalars as
    lists and numbers, anything else as its ``repr``."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def numeric_value(value):
    """`value` as a numpy number or array if it is numeric (bools are not), else None."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return np.asarray(value)[()]
    is_named_tuple = isinstance(value, tuple) and hasattr(value, "_fields")
    if isinstance(value, (list, tuple, np.ndarray)) and not is_named_tuple:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            return None
        if array.dtype.kind in "iuf" and array.size:
            return array
    return None


def write_parameter_group(group, traj):
    """Replaces the content of `group` with the parameters of `traj` (a `Trajectory` or a
    plain dict)."""
    for name in list(group.attrs):
        del group.attrs[name]
    for name in list(group):
        del group[name]
    for name, value in flatten_parameters(traj).items():
        numeric = numeric_value(value)
        if numeric is None:
            value = json.dumps(value, default=json_default)
            size = len(value.encode("utf-8"))
        else:
            value, size = numeric, numeric.nbytes
        if size > LARGE_ATTRIBUTE:
            dtype = F.STRING if isinstance(value, str) else None
            dataset_name = name.replace("%", "%25").replace("/", "%2F")
            group.create_dataset(dataset_name, data=value, dtype=dtype)
        else:
            group.attrs[name] = value


def read_parameter_group(group):
    """The parameters `write_parameter_group` stored in `group`: numbers and numeric arrays
    as numpy values, everything else decoded from JSON."""
    params = {}
    for name, value in group.attrs.items():
        params[name] = json.loads(value) if isinstance(value, str) else value
    for name, ds in group.items():
        name = name.replace("%2F", "/").replace("%25", "%")
        if ds.dtype.kind == "O":
            params[name] = json.loads(ds.asstr()[()])
        else:
            params[name] = ds[()]
    return params

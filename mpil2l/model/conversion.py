"""Flattening an individual (a dict of numbers and arrays) into one vector, and back.

Vector-based optimizers (the genetic algorithm, evolution strategies, gradient descent) work on
flat float vectors, while optimizees create and read individuals as dicts. These two functions
convert between the forms with L2L's semantics: keys are laid out in sorted order, and a
*dict spec* records how to cut the vector back into the dict.

A dict spec is a list with one tuple per key, in sorted key order::

    (key, DictEntryType.Scalar, 1)          # a number
    (key, DictEntryType.Sequence, length)   # a list, tuple or 1-d array
    (key, DictEntryType.Sequence, shape)    # an n-d array (shape is a tuple)
"""

from enum import Enum

import numpy as np


class DictEntryType(Enum):
    """How one entry of an individual dict is stored in the flat vector."""

    Sequence = 0
    Scalar = 1


def entry_size(length_or_shape):
    """The number of vector elements one dict-spec entry takes (its third field)."""
    if isinstance(length_or_shape, tuple):
        return int(np.prod(length_or_shape, dtype=int))
    return int(length_or_shape)


def dict_to_list(input_dict, get_dict_spec=False):
    """Flattens an individual dict into a 1-d numpy array, keys in sorted order.

    Args:
        input_dict: maps string keys to real numbers or array-likes of real numbers.
        get_dict_spec: also return the dict spec that `list_to_dict` needs.

    Returns:
        The flat array, or ``(array, dict_spec)`` when `get_dict_spec` is true.

    Raises:
        TypeError: `input_dict` is not a dict, or a value is neither a number nor an array of
            numbers.

    Example:
        >>> vec, spec = dict_to_list({"b": 3.0, "a": [1.0, 2.0]}, get_dict_spec=True)
        >>> vec.tolist(), [(k, t.name, n) for k, t, n in spec]
        ([1.0, 2.0, 3.0], [('a', 'Sequence', 2), ('b', 'Scalar', 1)])
    """
    if not isinstance(input_dict, dict):
        raise TypeError(f"input_dict must be a dict, got {type(input_dict).__name__}")
    values = []
    dict_spec = []
    for key in sorted(input_dict):
        value = input_dict[key]
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":  # bools, complex, strings and objects are refused
            raise TypeError(
                f"individual entry {key!r} must be a number or an array of numbers, "
                f"got {type(value).__name__} {value!r}"
            )
        values.append(array.astype(float).ravel())
        if array.ndim == 0:
            dict_spec.append((key, DictEntryType.Scalar, 1))
        else:
            length_or_shape = array.shape if array.ndim > 1 else array.size
            dict_spec.append((key, DictEntryType.Sequence, length_or_shape))
    flat = np.concatenate(values) if values else np.zeros(0)
    return (flat, dict_spec) if get_dict_spec else flat


def list_to_dict(input_list, dict_spec):
    """Cuts a flat vector back into an individual dict, following `dict_spec`.

    Scalars come back as floats and sequences as (copied) numpy arrays of their original
    shape, whatever container they were created in.

    Args:
        input_list: a 1-d array or list, laid out as `dict_to_list` made it.
        dict_spec: the spec `dict_to_list` returned.

    Returns:
        A new dict.

    Raises:
        ValueError: the vector length does not match the spec.

    Example:
        >>> vec, spec = dict_to_list({"a": [1.0, 2.0], "b": 3.0}, get_dict_spec=True)
        >>> d = list_to_dict(vec, spec)
        >>> d["a"].tolist(), d["b"]
        ([1.0, 2.0], 3.0)
    """
    flat = np.asarray(input_list, dtype=float).ravel()
    expected = sum(entry_size(n) for _, _, n in dict_spec)
    if flat.size != expected:
        raise ValueError(f"input_list has {flat.size} elements but dict_spec describes {expected}")
    result = {}
    cursor = 0
    for key, entry_type, length_or_shape in dict_spec:
        size = entry_size(length_or_shape)
        chunk = flat[cursor : cursor + size]
        if entry_type == DictEntryType.Scalar:
            result[key] = float(chunk[0])
        else:
            result[key] = chunk.reshape(length_or_shape).copy()
        cursor += size
    return result

"""dict_to_list / list_to_dict: flattening individuals in sorted-key order and back."""

import doctest

import numpy as np
import pytest

import mpil2l.model.conversion
from mpil2l.model.conversion import DictEntryType, dict_to_list, list_to_dict


def test_flattens_in_sorted_key_order():
    vec = dict_to_list({"z": 1.0, "a": np.array([2.0, 3.0]), "m": [4, 5]})
    assert vec.tolist() == [2.0, 3.0, 4.0, 5.0, 1.0]
    assert vec.dtype == float


def test_dict_spec_records_type_and_length():
    _, spec = dict_to_list({"b": 1.5, "a": np.zeros(3), "c": np.zeros((2, 2))}, get_dict_spec=True)
    assert spec == [
        ("a", DictEntryType.Sequence, 3),
        ("b", DictEntryType.Scalar, 1),
        ("c", DictEntryType.Sequence, (2, 2)),
    ]


@pytest.mark.parametrize(
    "individual",
    [
        {"x": 0.25},
        {"coords": np.array([1.0, -2.0, 3.5])},
        {"w": np.arange(6.0).reshape(2, 3), "b": np.float64(0.5), "lr": 3, "v": [1.0]},
    ],
)
def test_round_trip(individual):
    vec, spec = dict_to_list(individual, get_dict_spec=True)
    back = list_to_dict(vec, spec)
    assert back.keys() == individual.keys()
    for key, value in individual.items():
        np.testing.assert_array_equal(back[key], value)
        assert np.shape(back[key]) == np.shape(value)
    np.testing.assert_array_equal(dict_to_list(back), vec)


def test_list_to_dict_returns_copies_and_plain_floats():
    vec, spec = dict_to_list({"a": np.ones(2), "b": 2.0}, get_dict_spec=True)
    back = list_to_dict(vec, spec)
    back["a"][0] = 99.0
    assert vec[0] == 1.0
    assert type(back["b"]) is float


def test_list_to_dict_accepts_plain_lists():
    _, spec = dict_to_list({"a": np.ones(2), "b": 2.0}, get_dict_spec=True)
    back = list_to_dict([5.0, 6.0, 7.0], spec)
    assert back["a"].tolist() == [5.0, 6.0] and back["b"] == 7.0


def test_length_mismatch_is_a_value_error():
    _, spec = dict_to_list({"a": np.ones(2)}, get_dict_spec=True)
    with pytest.raises(ValueError, match="3 elements but dict_spec describes 2"):
        list_to_dict([1.0, 2.0, 3.0], spec)


@pytest.mark.parametrize("bad", [{"s": "text"}, {"flag": True}, {"c": 1j}, {"o": None}])
def test_non_numeric_entries_are_type_errors(bad):
    with pytest.raises(TypeError, match="must be a number or an array of numbers"):
        dict_to_list(bad)


def test_non_dict_is_a_type_error():
    with pytest.raises(TypeError, match="input_dict must be a dict, got list"):
        dict_to_list([1.0, 2.0])


def test_docstring_examples():
    assert doctest.testmod(mpil2l.model.conversion).failed == 0

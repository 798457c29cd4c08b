"""One documentation page per optimizer, from the docstrings: every exported optimizer has one,
says when to use it, and documents every parameter field with the default the code has;
``python -m mpil2l optimizers [NAME]`` prints them."""

import doctest
import enum
import math
import re
import subprocess
import sys

import pytest

import mpil2l.optimizers
from mpil2l.optimizers import catalog

CLASSES = catalog.optimizer_classes()
PARAMETERS = sorted(
    {(cls.__name__, p) for cls in CLASSES.values() for p in catalog.parameters_types(cls)},
    key=lambda item: item[1].__name__,
)


def test_every_exported_optimizer_is_in_the_catalog():
    bases = (mpil2l.optimizers.Optimizer, mpil2l.optimizers.AskTellOptimizer)
    exported = {
        name
        for name in mpil2l.optimizers.__all__
        if isinstance(getattr(mpil2l.optimizers, name), type)
        and issubclass(getattr(mpil2l.optimizers, name), bases)
    }
    assert set(CLASSES) == exported - {"Optimizer", "AskTellOptimizer"}
    assert len(CLASSES) >= 13 and {"AsyncRandomSearch", "SteadyStateOptimizer"} <= set(CLASSES)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_optimizer_has_a_page_with_algorithm_usage_and_parameters(name):
    cls = CLASSES[name]
    text = catalog.page(name)
    assert text.startswith(f"{name} ({cls.__module__})\n")
    description, _ = catalog.split_docstring(cls.__doc__)
    assert len(description) > 200 and description in text
    assert "Use it" in description  # when to use it
    types = catalog.parameters_types(cls)
    assert types, f"{name} declares no parameters_type"
    for parameters_type in types:
        assert f"\n{parameters_type.__name__}\n" in text
        for field in parameters_type._fields:
            assert re.search(rf"^  {field}( = | \(required\))", text, re.M), field
    assert "UNDOCUMENTED" not in text


def documented_default(doc):
    match = re.search(r"Default:? (``[^`]+``|[^\s:]+?)[.:]?(?:\s|$)", doc)
    return None if match is None else match.group(1).strip("`")


def same_default(value, text):
    if isinstance(value, enum.Enum):
        return text == value.name
    if value is None or isinstance(value, bool):
        return text == str(value)
    if isinstance(value, (int, float)):
        try:
            return float(text) == value or (math.isinf(value) and text == "inf")
        except ValueError:
            return False
    return text in (str(value), repr(value))


@pytest.mark.parametrize(
    "owner, parameters_type", PARAMETERS, ids=[p.__name__ for _, p in PARAMETERS]
)
def test_every_parameter_field_is_documented_with_the_codes_default(owner, parameters_type):
    docs = catalog.field_docs(parameters_type)
    assert set(docs) <= set(parameters_type._fields), "documents a field that does not exist"
    for field in parameters_type._fields:
        assert docs.get(field), f"{parameters_type.__name__}.{field} is not documented"
        if field in parameters_type._field_defaults:
            default = parameters_type._field_defaults[field]
            stated = documented_default(docs[field])
            assert stated is not None, (
                f"{parameters_type.__name__}.{field}: the documentation gives no default"
            )
            assert same_default(default, stated), (parameters_type.__name__, field, default, stated)


def test_find_accepts_the_class_name_with_or_without_the_suffix_in_any_case():
    assert catalog.find("CrossEntropyOptimizer") is mpil2l.optimizers.CrossEntropyOptimizer
    assert catalog.find("crossentropy") is mpil2l.optimizers.CrossEntropyOptimizer
    assert catalog.find("EnsembleKalmanFilter") is mpil2l.optimizers.EnsembleKalmanFilter
    with pytest.raises(
        KeyError, match="no optimizer called 'ga'; known: AsyncRandomSearch, CrossEntropyOptimizer"
    ):
        catalog.find("ga")


def test_split_docstring_keeps_text_after_a_section():
    doc = """Summary.

    More text.

    Args:
        a: first. Default 1.
        b (int): second,
            continued.

    Closing paragraph.

    Example:
        >>> 1
        1
    """
    text, sections = catalog.split_docstring(doc)
    assert text == "Summary.\n\nMore text.\n\nClosing paragraph."
    assert sections["Args"] == [
        "    a: first. Default 1.",
        "    b (int): second,",
        "        continued.",
    ]
    assert catalog.field_docs(type("P", (), {"__doc__": doc})) == {
        "a": "first. Default 1.",
        "b": "second, continued.",
    }
    assert sections["Example"] == ["    >>> 1", "    1"]


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "mpil2l", "optimizers", *args], capture_output=True, text=True
    )


def test_cli_lists_every_optimizer_and_prints_a_page():
    listing = run_cli()
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[0] for line in listing.stdout.splitlines()] == list(CLASSES)
    one = run_cli("geneticalgorithm")
    assert one.returncode == 0, one.stderr
    assert one.stdout == catalog.page("GeneticAlgorithmOptimizer")
    assert "  tourn_size = 3\n" in one.stdout


def test_cli_names_an_unknown_optimizer():
    proc = run_cli("NoSuchOptimizer")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(
        "python -m mpil2l optimizers: error: no optimizer called 'NoSuchOptimizer'; known:"
    )


def test_docstring_examples():
    assert doctest.testmod(catalog).failed == 0

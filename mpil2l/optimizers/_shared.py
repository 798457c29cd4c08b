"""What both optimizer families share: the checks of their parameters and constructor
arguments, and the weighted fitness they maximise.

The generational `mpil2l.optimizers.optimizer.Optimizer` and the ask/tell
`mpil2l.optimizers.asktell.AskTellOptimizer` take the same optimizee arguments and weigh a
fitness the same way; optimizers of either family check their parameters with the
``check_*`` functions (also importable from `mpil2l.optimizers.optimizer`).
"""

import math
import numbers

import numpy as np


def check_int(name, value, minimum):
    """Returns `value` if it is an integer >= `minimum`.

    Raises:
        TypeError: `value` is not an integer.
        ValueError: `value` is below `minimum`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(name, value, low=-math.inf, high=math.inf):
    """Returns `value` as a float if it is a finite real number in ``[low, high]``.

    Raises:
        TypeError: `value` is not a real number.
        ValueError: `value` is not finite or outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value:g}")
    return value


def check_positive(name, value):
    """Returns `value` as a float if it is a finite real number > 0.

    Raises:
        TypeError: `value` is not a real number.
        ValueError: `value` is not finite or not > 0.
    """
    value = check_real(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value:g}")
    return value


def check_bool(name, value):
    """Returns `value` as a bool if it is a bool (Python or numpy).

    Raises:
        TypeError: `value` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def check_stop_criterion(value, name="stop_criterion"):
    """Returns `value` as a float if it is a real number other than NaN (``inf``: never stop).

    Raises:
        TypeError: `value` is not a real number.
        ValueError: `value` is NaN.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number (inf for none), got {type(value).__name__} {value!r}"
        )
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN (use inf to never stop)")
    return value


def check_optimizer_arguments(
    optimizer,
    optimizee_create_individual,
    optimizee_fitness_weights,
    parameters,
    optimizee_bounding_func,
):
    """Checks the arguments every optimizer constructor takes.

    Args:
        optimizer: the optimizer being built; its ``parameters_type`` (a namedtuple
            class, a tuple of them, or None for anything) is what `parameters` must be.
        optimizee_create_individual: must be callable.
        optimizee_fitness_weights: a non-empty sequence of finite real numbers.
        parameters: the optimizer's parameters.
        optimizee_bounding_func: must be callable or None.

    Returns:
        The fitness weights, a tuple of floats.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: the fitness weights are empty or not finite.
    """
    if not callable(optimizee_create_individual):
        raise TypeError(
            "optimizee_create_individual must be callable, got "
            f"{type(optimizee_create_individual).__name__}"
        )
    if optimizee_bounding_func is not None and not callable(optimizee_bounding_func):
        raise TypeError(
            "optimizee_bounding_func must be callable or None, got "
            f"{type(optimizee_bounding_func).__name__}"
        )
    expected_type = optimizer.parameters_type
    if expected_type is not None and not isinstance(parameters, expected_type):
        if isinstance(expected_type, tuple):
            expected = "one of " + ", ".join(t.__name__ for t in expected_type)
        else:
            expected = "a " + expected_type.__name__
        raise TypeError(f"parameters must be {expected}, got {type(parameters).__name__}")
    return check_fitness_weights(optimizee_fitness_weights)


def check_fitness_weights(weights):
    """Returns `weights` as a tuple of floats if it is a non-empty sequence of finite reals.

    Raises:
        TypeError: `weights` is not a sequence of real numbers.
        ValueError: `weights` is empty or holds a value that is not finite.
    """
    try:
        weights = tuple(weights)
    except TypeError:
        raise TypeError(
            "optimizee_fitness_weights must be a sequence of numbers, e.g. (-1.0,), got "
            f"{type(weights).__name__} {weights!r}"
        ) from None
    if not weights:
        raise ValueError("optimizee_fitness_weights must hold at least one weight, got ()")
    return tuple(check_real(f"optimizee_fitness_weights[{i}]", w) for i, w in enumerate(weights))


def weighted_fitness(weights, fitness):
    """The scalar an optimizer maximises: ``sum(w_i * f_i)``.

    Raises:
        ValueError: `fitness` does not have one value per weight.
    """
    fitness = tuple(fitness)
    if len(fitness) != len(weights):
        raise ValueError(
            f"a fitness {fitness} has {len(fitness)} value(s) but optimizee_fitness_weights "
            f"{weights} has {len(weights)}"
        )
    return float(sum(w * f for w, f in zip(weights, fitness)))

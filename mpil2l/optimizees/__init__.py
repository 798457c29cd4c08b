"""Optimizees: what the optimizers tune (benchmark functions so far)."""

from .functions import (
    Ackley,
    AckleyParameters,
    BenchmarkedFunctions,
    FunctionGenerator,
    FunctionGeneratorOptimizee,
    Rastrigin,
    RastriginParameters,
    Rosenbrock,
    RosenbrockParameters,
)

__all__ = [
    "Ackley",
    "AckleyParameters",
    "BenchmarkedFunctions",
    "FunctionGenerator",
    "FunctionGeneratorOptimizee",
    "Rastrigin",
    "RastriginParameters",
    "Rosenbrock",
    "RosenbrockParameters",
]

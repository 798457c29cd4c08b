"""Optimizers: the outer loop, run on rank 0."""

from .genetic import GeneticAlgorithmOptimizer, GeneticAlgorithmParameters
from .gridsearch import GridSearchOptimizer, GridSearchParameters
from .optimizer import Optimizer

__all__ = [
    "GeneticAlgorithmOptimizer",
    "GeneticAlgorithmParameters",
    "GridSearchOptimizer",
    "GridSearchParameters",
    "Optimizer",
]

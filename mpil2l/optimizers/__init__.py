"""Optimizers: the outer loop, run on rank 0."""

from .evolutionstrategies import EvolutionStrategiesOptimizer, EvolutionStrategiesParameters
from .genetic import GeneticAlgorithmOptimizer, GeneticAlgorithmParameters
from .gradientdescent import (
    AdaMaxParameters,
    AdamParameters,
    ClassicGDParameters,
    GradientDescentOptimizer,
    RMSPropParameters,
    StochasticGDParameters,
)
from .gridsearch import GridSearchOptimizer, GridSearchParameters
from .multigradientdescent import (
    MultiAdaMaxParameters,
    MultiAdamParameters,
    MultiClassicGDParameters,
    MultiGradientDescentOptimizer,
    MultiRMSPropParameters,
    MultiStochasticGDParameters,
)
from .naturalevolutionstrategies import NaturalEvolutionStrategiesOptimizer, NaturalEvolutionStrategiesParameters
from .optimizer import Optimizer

__all__ = [
    "AdaMaxParameters",
    "AdamParameters",
    "ClassicGDParameters",
    "EvolutionStrategiesOptimizer",
    "EvolutionStrategiesParameters",
    "GeneticAlgorithmOptimizer",
    "GeneticAlgorithmParameters",
    "GradientDescentOptimizer",
    "GridSearchOptimizer",
    "GridSearchParameters",
    "MultiAdaMaxParameters",
    "MultiAdamParameters",
    "MultiClassicGDParameters",
    "MultiGradientDescentOptimizer",
    "MultiRMSPropParameters",
    "MultiStochasticGDParameters",
    "NaturalEvolutionStrategiesOptimizer",
    "NaturalEvolutionStrategiesParameters",
    "Optimizer",
    "RMSPropParameters",
    "StochasticGDParameters",
]

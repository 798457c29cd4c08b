"""Optimizers: the outer loop, run on rank 0."""

from .crossentropy import CrossEntropyOptimizer, CrossEntropyParameters
from .distributions import BayesianGaussianMixture, Gaussian, NoisyBayesianGaussianMixture, NoisyGaussian
from .evolutionstrategies import EvolutionStrategiesOptimizer, EvolutionStrategiesParameters
from .face import FACEOptimizer, FACEParameters
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
    "BayesianGaussianMixture",
    "ClassicGDParameters",
    "CrossEntropyOptimizer",
    "CrossEntropyParameters",
    "EvolutionStrategiesOptimizer",
    "EvolutionStrategiesParameters",
    "FACEOptimizer",
    "FACEParameters",
    "Gaussian",
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
    "NoisyBayesianGaussianMixture",
    "NoisyGaussian",
    "NaturalEvolutionStrategiesParameters",
    "Optimizer",
    "RMSPropParameters",
    "StochasticGDParameters",
]

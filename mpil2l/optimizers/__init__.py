"""Optimizers: the outer loop, run on rank 0."""

from .asktell import AskTellOptimizer, Candidate
from .asyncrandomsearch import AsyncRandomSearch, AsyncRandomSearchParameters
from .crossentropy import CrossEntropyOptimizer, CrossEntropyParameters
from .distributions import (
    BayesianGaussianMixture,
    Gaussian,
    NoisyBayesianGaussianMixture,
    NoisyGaussian,
)
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
from .kalmanfilter import EnsembleKalmanFilter, EnsembleKalmanFilterParameters
from .multigradientdescent import (
    MultiAdaMaxParameters,
    MultiAdamParameters,
    MultiClassicGDParameters,
    MultiGradientDescentOptimizer,
    MultiRMSPropParameters,
    MultiStochasticGDParameters,
)
from .naturalevolutionstrategies import (
    NaturalEvolutionStrategiesOptimizer,
    NaturalEvolutionStrategiesParameters,
)
from .optimizer import Optimizer
from .paralleltempering import ParallelTemperingOptimizer, ParallelTemperingParameters
from .simulatedannealing import (
    AvailableCoolingSchedules,
    SimulatedAnnealingOptimizer,
    SimulatedAnnealingParameters,
)
from .steadystate import SteadyStateOptimizer, SteadyStateParameters

__all__ = [
    "AdaMaxParameters",
    "AdamParameters",
    "AskTellOptimizer",
    "AsyncRandomSearch",
    "AsyncRandomSearchParameters",
    "AvailableCoolingSchedules",
    "BayesianGaussianMixture",
    "Candidate",
    "ClassicGDParameters",
    "CrossEntropyOptimizer",
    "CrossEntropyParameters",
    "EnsembleKalmanFilter",
    "EnsembleKalmanFilterParameters",
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
    "ParallelTemperingOptimizer",
    "ParallelTemperingParameters",
    "RMSPropParameters",
    "SimulatedAnnealingOptimizer",
    "SimulatedAnnealingParameters",
    "SteadyStateOptimizer",
    "SteadyStateParameters",
    "StochasticGDParameters",
]

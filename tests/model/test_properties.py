"""Property tests (hypothesis): bounding functions, and the individual <-> vector conversions
(dict_to_list / list_to_dict, and the packing of multi-individuals)."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpil2l.model.conversion import DictEntryType, dict_to_list, entry_size, list_to_dict
from mpil2l.optimizees import (
    ActiveWaitOptimizee,
    ActiveWaitOptimizeeParameters,
    BenchmarkedFunctions,
    FaultInjectionOptimizee,
    FunctionGeneratorOptimizee,
)
from mpil2l.optimizers import (
    CrossEntropyOptimizer,
    CrossEntropyParameters,
    EvolutionStrategiesOptimizer,
    EvolutionStrategiesParameters,
    GeneticAlgorithmOptimizer,
    GeneticAlgorithmParameters,
    NaturalEvolutionStrategiesOptimizer,
    NaturalEvolutionStrategiesParameters,
    ParallelTemperingOptimizer,
    ParallelTemperingParameters,
    SimulatedAnnealingOptimizer,
    SimulatedAnnealingParameters,
)
from mpil2l.optimizers.multigradientdescent import pack_individuals, unpack_individual
from mpil2l.model.trajectory import Trajectory

BENCHMARKS = BenchmarkedFunctions().function_names
# finite and infinite, tiny and huge; NaN is left out (clipping keeps it, see below)
REALS = st.floats(allow_nan=False, allow_infinity=True, width=64)
MODERATE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def benchmark_optimizee(name, seed=0):
    (_, fg), _ = BenchmarkedFunctions().get_function_by_name(name)
    return FunctionGeneratorOptimizee(Trajectory(), fg, seed=seed)


def coords_for(optimizee, elements=REALS):
    return hnp.arrays(np.float64, optimizee.dims, elements=elements)


# -- bounding functions ---------------------------------------------------------------------


@pytest.mark.parametrize("name", BENCHMARKS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_benchmark_bounding_stays_in_the_box_is_idempotent_and_keeps_inside_points(name, data):
    optimizee = benchmark_optimizee(name)
    low, high = optimizee.bound
    x = data.draw(coords_for(optimizee))
    before = x.copy()
    bounded = optimizee.bounding_func({"coords": x})["coords"]
    assert bounded.shape == x.shape and bounded.dtype == np.float64
    assert np.all((low <= bounded) & (bounded <= high))
    np.testing.assert_array_equal(
        optimizee.bounding_func({"coords": bounded})["coords"], bounded
    )  # idempotent
    inside = (low <= x) & (x <= high)
    np.testing.assert_array_equal(bounded[inside], x[inside])  # points inside are kept
    np.testing.assert_array_equal(bounded[x < low], low)  # points outside go to the nearest face
    np.testing.assert_array_equal(bounded[x > high], high)
    np.testing.assert_array_equal(x, before)  # the input is not changed


@settings(max_examples=100, deadline=None)
@given(
    x=coords_for(benchmark_optimizee("Rastrigin2d")),
    y=coords_for(benchmark_optimizee("Rastrigin2d")),
)
def test_benchmark_bounding_moves_no_point_further_and_keeps_the_order(x, y):
    optimizee = benchmark_optimizee("Rastrigin2d")
    bx = optimizee.bounding_func({"coords": x})["coords"]
    by = optimizee.bounding_func({"coords": y})["coords"]
    # the projection onto a box is monotone per coordinate and never lengthens a distance
    assert np.all((x <= y) <= (bx <= by))
    finite = np.isfinite(x) & np.isfinite(y)
    with np.errstate(over="ignore"):  # x - y may overflow to inf, which still compares right
        assert np.all(np.abs(bx[finite] - by[finite]) <= np.abs(x[finite] - y[finite]))


def test_benchmark_bounding_keeps_nan_for_the_runtime_to_reject():
    # np.clip leaves NaN as it is; an individual with NaN is refused when it is evaluated
    optimizee = benchmark_optimizee("Ackley2d")
    assert np.isnan(optimizee.bounding_func({"coords": np.array([np.nan, 9.0])})["coords"][0])


@settings(max_examples=100, deadline=None)
@given(difficulty=st.one_of(REALS, st.integers(-(10**6), 10**6)), maximum=st.floats(0, 1e7))
def test_active_wait_bounding_clips_to_zero_and_the_maximum(difficulty, maximum):
    optimizee = ActiveWaitOptimizee(
        Trajectory(), ActiveWaitOptimizeeParameters(difficulty=0.0, max_difficulty=maximum)
    )
    bounded = optimizee.bounding_func({"difficulty": difficulty})["difficulty"]
    assert 0.0 <= bounded <= maximum
    assert optimizee.bounding_func({"difficulty": bounded})["difficulty"] == bounded
    if 0 <= difficulty <= maximum:
        assert bounded == difficulty


@settings(max_examples=50, deadline=None)
@given(difficulty=st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf)))
def test_active_wait_without_maximum_refuses_nan_and_infinity(difficulty):
    optimizee = ActiveWaitOptimizee(Trajectory(), ActiveWaitOptimizeeParameters(difficulty=1.0))
    if difficulty == -math.inf:
        assert optimizee.bounding_func({"difficulty": difficulty})["difficulty"] == 0.0
    else:
        with pytest.raises(ValueError, match="difficulty must be finite"):
            optimizee.bounding_func({"difficulty": difficulty})


@settings(max_examples=50, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(1, 6), elements=REALS))
def test_fault_injection_bounding_stays_in_its_box(x):
    bounded = FaultInjectionOptimizee(Trajectory(), dims=x.size).bounding_func({"x": x})["x"]
    assert np.all(np.abs(bounded) <= 5.0)
    np.testing.assert_array_equal(bounded[np.abs(x) <= 5], x[np.abs(x) <= 5])


# -- optimizers keep their individuals in bounds, whatever the fitness ------------------------

OPTIMIZERS = {
    "ga": (
        GeneticAlgorithmOptimizer,
        GeneticAlgorithmParameters,
        dict(pop_size=8, mut_par=10.0, ind_prob=0.9),
    ),
    "ce": (CrossEntropyOptimizer, CrossEntropyParameters, dict(pop_size=8, rho=0.5)),
    "es": (
        EvolutionStrategiesOptimizer,
        EvolutionStrategiesParameters,
        dict(pop_size=4, noise_std=10.0),
    ),
    "nes": (
        NaturalEvolutionStrategiesOptimizer,
        NaturalEvolutionStrategiesParameters,
        dict(sigma=10.0, pop_size=4),
    ),
    "sa": (
        SimulatedAnnealingOptimizer,
        SimulatedAnnealingParameters,
        dict(n_parallel_runs=6, noisy_step=10.0),
    ),
    "pt": (
        ParallelTemperingOptimizer,
        ParallelTemperingParameters,
        dict(n_parallel_runs=6, noisy_step=10.0),
    ),
}


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    fitness=st.lists(MODERATE, min_size=1, max_size=16),
    name=st.sampled_from(BENCHMARKS),
)
def test_every_individual_an_optimizer_proposes_is_within_the_bounds(kind, seed, fitness, name):
    optimizer_class, parameters_class, settings_ = OPTIMIZERS[kind]
    optimizee = benchmark_optimizee(name, seed=seed % 1000)
    low, high = optimizee.bound
    traj = Trajectory()
    optimizer = optimizer_class(
        traj,
        optimizee.create_individual,
        (-1.0,),
        parameters_class(seed=seed, n_iteration=4, **settings_),
        optimizee.bounding_func,
    )
    for g in range(3):
        individuals = traj.individuals[g]
        for ind in individuals:
            assert np.all((low <= ind.coords) & (ind.coords <= high)), (kind, g, ind.coords)
        # arbitrary fitness values, recycled over the generation
        results = [(ind.ind_idx, (fitness[i % len(fitness)],)) for i, ind in enumerate(individuals)]
        optimizer.post_process(traj, results)
        if g + 1 not in traj.individuals:
            break


# -- individual <-> vector ------------------------------------------------------------------

KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
SAFE_INTS = st.integers(-(2**53), 2**53)  # exactly representable as float
VALUES = st.one_of(
    MODERATE,
    SAFE_INTS,
    hnp.from_dtype(np.dtype(np.float64), allow_nan=False),
    hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4), elements=REALS
    ),
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), elements=SAFE_INTS),
    st.lists(MODERATE, max_size=5),
)
INDIVIDUALS = st.dictionaries(KEYS, VALUES, max_size=6)


@settings(max_examples=200, deadline=None)
@given(individual=INDIVIDUALS)
def test_dict_to_list_and_back_is_the_identity(individual):
    vector, spec = dict_to_list(individual, get_dict_spec=True)
    assert vector.ndim == 1 and vector.dtype == np.float64
    assert vector.size == sum(np.size(v) for v in individual.values())
    assert [key for key, _, _ in spec] == sorted(individual)
    back = list_to_dict(vector, spec)
    assert back.keys() == individual.keys()
    for key, value in individual.items():
        if np.ndim(value) == 0:
            assert type(back[key]) is float and back[key] == float(value)
        else:
            assert isinstance(back[key], np.ndarray) and back[key].shape == np.shape(value)
            np.testing.assert_array_equal(back[key], np.asarray(value, dtype=float))
    np.testing.assert_array_equal(dict_to_list(back), vector)  # and the other way round
    assert dict_to_list(back, get_dict_spec=True)[1] == spec


@settings(max_examples=200, deadline=None)
@given(individual=INDIVIDUALS)
def test_vector_is_laid_out_key_by_key_in_sorted_order(individual):
    vector, spec = dict_to_list(individual, get_dict_spec=True)
    cursor = 0
    for key, entry_type, length_or_shape in spec:
        size = entry_size(length_or_shape)
        assert (entry_type is DictEntryType.Scalar) == (np.ndim(individual[key]) == 0)
        np.testing.assert_array_equal(
            vector[cursor : cursor + size], np.ravel(np.asarray(individual[key], dtype=float))
        )
        cursor += size
    assert cursor == vector.size


@settings(max_examples=100, deadline=None)
@given(individual=INDIVIDUALS, data=st.data())
def test_any_vector_of_the_right_length_fills_the_spec_and_others_are_refused(individual, data):
    _, spec = dict_to_list(individual, get_dict_spec=True)
    n = sum(entry_size(s) for _, _, s in spec)
    vector = data.draw(hnp.arrays(np.float64, n, elements=REALS))
    np.testing.assert_array_equal(dict_to_list(list_to_dict(vector, spec)), vector)
    wrong = data.draw(st.integers(0, n + 3).filter(lambda k: k != n))
    with pytest.raises(
        ValueError, match=f"input_list has {wrong} elements but dict_spec describes {n}"
    ):
        list_to_dict(np.zeros(wrong), spec)


@settings(max_examples=100, deadline=None)
@given(
    shapes=st.dictionaries(
        KEYS,
        hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3),
        min_size=1,
        max_size=4,
    ),
    k=st.integers(1, 5),
    data=st.data(),
)
def test_packing_individuals_and_unpacking_them_is_the_identity(shapes, k, data):
    individuals = [
        {
            key: data.draw(hnp.arrays(np.float64, shape, elements=MODERATE))
            for key, shape in shapes.items()
        }
        for _ in range(k)
    ]
    packed = pack_individuals(individuals)
    assert all(packed[key].shape == (k, *shape) for key, shape in shapes.items())
    unpacked = unpack_individual(packed)
    assert len(unpacked) == k
    for original, back in zip(individuals, unpacked):
        for key, value in original.items():
            if value.ndim == 0:
                assert back[key] == float(value)
            else:
                np.testing.assert_array_equal(back[key], value)
    assume(k > 1)
    broken = dict(packed, **{next(iter(packed)): packed[next(iter(packed))][:-1]})
    if len(packed) > 1:
        with pytest.raises(ValueError, match="same first-axis length"):
            unpack_individual(broken)

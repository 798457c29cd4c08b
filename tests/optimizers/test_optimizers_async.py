"""The ask/tell optimizers without MPI: one conformance suite over every asynchronous
optimizer (seeded determinism, improvement with results arriving out of order, batches of
one, checkpoint round trip, misuse), plus what is particular to each."""

import doctest
import importlib
import pickle

import numpy as np
import pytest

from mpil2l.optimizers import (
    AskTellOptimizer,
    AsyncRandomSearch,
    AsyncRandomSearchParameters,
    SteadyStateOptimizer,
    SteadyStateParameters,
)


def sphere(individual):
    return (float(np.sum(individual["x"] ** 2)),)


def rastrigin(individual):
    x = individual["x"]
    return (float(10 * x.size + np.sum(x**2 - 10 * np.cos(2 * np.pi * x))),)


def creator(seed=0, dims=2):
    rng = np.random.default_rng(seed)
    return lambda: {"x": rng.uniform(-5.0, 5.0, dims)}


def bound(individual):
    return {"x": np.clip(individual["x"], -5.0, 5.0)}


OPTIMIZERS = {
    "random": lambda seed=1, **kw: AsyncRandomSearch(
        creator(),
        (-1.0,),
        AsyncRandomSearchParameters(seed=seed, lower=-5.0, upper=5.0, **kw),
        bound,
    ),
    "steady": lambda seed=1, **kw: SteadyStateOptimizer(
        creator(), (-1.0,), SteadyStateParameters(seed=seed, **{"pop_size": 10, **kw}), bound
    ),
}


def run_async(optimizer, function, budget, in_flight=4, order_seed=0):
    """Evaluates like an asynchronous driver: `in_flight` candidates out at a time, each
    finished one (picked at random: arrival order) told at once and replaced by a new one.
    Returns every (number, individual, fitness) in tell order."""
    arrival = np.random.default_rng(order_seed)
    out, told = [], []
    while optimizer.n_told < budget:
        while len(out) < in_flight and optimizer.n_asked < budget:
            out.extend(optimizer.ask(1))
        candidate = out.pop(int(arrival.integers(len(out))))
        fitness = function(candidate.individual)
        optimizer.tell([(candidate.number, fitness)])
        told.append((candidate.number, candidate.individual["x"].tolist(), fitness))
    return told


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_same_seed_and_tell_order_give_the_same_run(name):
    a = run_async(OPTIMIZERS[name](), sphere, 60)
    b = run_async(OPTIMIZERS[name](), sphere, 60)
    assert a == b
    c = run_async(OPTIMIZERS[name](seed=2), sphere, 60)
    assert [x for _, x, _ in a] != [x for _, x, _ in c]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("function", [sphere, rastrigin])
@pytest.mark.parametrize("in_flight", [1, 4])
def test_improves_with_results_arriving_out_of_order(name, function, in_flight):
    optimizer = OPTIMIZERS[name]()
    told = run_async(optimizer, function, 300, in_flight=in_flight, order_seed=3)
    first = np.median([f[0] for _, _, f in told[:10]])
    assert optimizer.best_fitness[0] < 0.1 * first
    assert optimizer.best_fitness[0] == min(f[0] for _, _, f in told)
    assert sorted(n for n, _, _ in told) == list(range(300))
    assert all(np.all(np.abs(x) <= 5.0) for _, x, _ in told), "every candidate is bounded"


def test_steady_state_beats_random_search_on_the_sphere():
    steady, random = OPTIMIZERS["steady"](), OPTIMIZERS["random"]()
    run_async(steady, sphere, 300)
    run_async(random, sphere, 300)
    assert steady.best_fitness[0] < random.best_fitness[0]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_checkpointed_state_goes_on_exactly(name):
    original = OPTIMIZERS[name]()
    run_async(original, sphere, 30)
    state = pickle.loads(pickle.dumps(original.get_state()))
    restored = OPTIMIZERS[name](seed=1)
    restored.set_state(state)
    assert restored.n_asked == original.n_asked and restored.pending == original.pending
    for optimizer in (original, restored):
        (candidate,) = optimizer.ask(1)
        optimizer.tell([(candidate.number, sphere(candidate.individual))])
    a, b = original.ask(3), restored.ask(3)
    assert [c.number for c in a] == [c.number for c in b]
    assert all(np.array_equal(x.individual["x"], y.individual["x"]) for x, y in zip(a, b))
    assert restored.best_number == original.best_number


def test_random_search_does_not_depend_on_arrival_order():
    a, b = OPTIMIZERS["random"](), OPTIMIZERS["random"]()
    told_a = sorted(run_async(a, sphere, 50, order_seed=1))
    told_b = sorted(run_async(b, sphere, 50, in_flight=7, order_seed=2))
    assert told_a == told_b
    assert (a.best_number, a.best_fitness) == (b.best_number, b.best_fitness)


def test_steady_state_replaces_the_worst_member_only_when_better():
    optimizer = OPTIMIZERS["steady"](pop_size=3)
    candidates = optimizer.ask(5)
    optimizer.tell([(0, (5.0,)), (1, (1.0,)), (2, (3.0,))])
    optimizer.tell([(3, (9.0,))])  # worse than every member: not taken
    assert [n for n, *_ in optimizer.population] == [0, 1, 2]
    optimizer.tell([(4, (2.0,))])  # replaces the worst, candidate 0
    assert [n for n, *_ in optimizer.population] == [4, 1, 2]
    assert optimizer.best_number == 1
    assert np.array_equal(optimizer.population[0][1]["x"], candidates[4].individual["x"])


def test_steady_state_offspring_are_never_copies_of_a_parent():
    optimizer = OPTIMIZERS["steady"](pop_size=2, cx_prob=0.0, mut_prob=0.0)
    first = optimizer.ask(2)
    optimizer.tell([(c.number, sphere(c.individual)) for c in first])
    parents = [c.individual["x"] for c in first]
    for candidate in optimizer.ask(20):
        assert not any(np.array_equal(candidate.individual["x"], p) for p in parents)


def test_ties_go_to_the_lowest_number_whatever_the_order():
    optimizer = OPTIMIZERS["random"]()
    optimizer.ask(3)
    optimizer.tell([(2, (1.0,)), (1, (1.0,)), (0, (4.0,))])
    assert optimizer.best_number == 1


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_tell_and_ask_misuse_raise_clear_errors(name):
    optimizer = OPTIMIZERS[name]()
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        optimizer.ask(0)
    (candidate,) = optimizer.ask(1)
    with pytest.raises(ValueError, match="candidate 5 was never asked"):
        optimizer.tell([(5, (1.0,))])
    with pytest.raises(ValueError, match=r"has 2 value\(s\)"):
        optimizer.tell([(candidate.number, (1.0, 2.0))])
    optimizer.tell([(candidate.number, (1.0,))])
    with pytest.raises(ValueError, match="candidate 0 was already told"):
        optimizer.tell([(candidate.number, (1.0,))])
    with pytest.raises(ValueError, match="lacks"):
        optimizer.set_state({"n_asked": 1})


def test_nan_fitness_counts_as_the_worst():
    optimizer = OPTIMIZERS["steady"](pop_size=2)
    optimizer.ask(2)
    optimizer.tell([(0, (float("nan"),)), (1, (3.0,))])
    assert optimizer.best_number == 1


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: OPTIMIZERS["steady"](pop_size=-3), ValueError, "pop_size must be >= 1, got -3"),
        (lambda: OPTIMIZERS["steady"](tourn_size=0), ValueError, "tourn_size must be >= 1, got 0"),
        (lambda: OPTIMIZERS["steady"](cx_prob=1.5), ValueError, "cx_prob must be in"),
        (lambda: OPTIMIZERS["steady"](mut_par=0.0), ValueError, "mut_par must be > 0"),
        (lambda: OPTIMIZERS["steady"](seed=-1), ValueError, "seed must be >= 0, got -1"),
        (lambda: OPTIMIZERS["random"](seed=1.5), TypeError, "seed must be an integer"),
        (
            lambda: AsyncRandomSearch(
                creator(), (-1.0,), AsyncRandomSearchParameters(lower=1.0, upper=1.0)
            ),
            ValueError,
            "upper must be > lower",
        ),
        (
            lambda: AsyncRandomSearch(
                creator(), (-1.0,), AsyncRandomSearchParameters(lower=[0.0, 0.0, 0.0])
            ),
            ValueError,
            "lower must hold 1 or 2 values",
        ),
        (
            lambda: AsyncRandomSearch(creator(), (-1.0,), SteadyStateParameters()),
            TypeError,
            "parameters must be a AsyncRandomSearchParameters",
        ),
        (
            lambda: SteadyStateOptimizer(creator(), (), SteadyStateParameters()),
            ValueError,
            "at least one weight",
        ),
        (
            lambda: SteadyStateOptimizer(None, (-1.0,), SteadyStateParameters()),
            TypeError,
            "must be callable",
        ),
    ],
)
def test_bad_parameters_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_new_optimizer_is_one_subclass():
    class Fixed(AskTellOptimizer):
        def __init__(self):
            super().__init__(lambda: {"x": 0.0}, (1.0,), AsyncRandomSearchParameters())
            self.flatten({"x": 0.0})

        def _propose(self, number, rng):
            return np.array([float(number)])

    optimizer = Fixed()
    candidates = optimizer.ask(3)
    optimizer.tell([(c.number, (c.individual["x"],)) for c in candidates])
    assert optimizer.best_individual == {"x": 2.0} and optimizer.best_number == 2


@pytest.mark.parametrize(
    "module",
    [
        "mpil2l.optimizers.asktell",
        "mpil2l.optimizers.asyncrandomsearch",
        "mpil2l.optimizers.steadystate",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0

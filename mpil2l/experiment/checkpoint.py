"""The generational checkpoint: its format, and the checks that a resumed run is the saved one.

After every generation rank 0 saves a checkpoint into the run's results log (the log's
two-slot ``/checkpoint``, replaced atomically): the pickled dict

    format, version      'mpil2l-checkpoint', 1
    optimizer            the optimizer's class ('module.QualName')
    parameters           the optimizer's parameters (a plain dict, or the object)
    fitness_weights      the optimizer's fitness weights
    state                ``optimizer.get_state()`` (its random generator included)
    experiment           the runtime's own state (best individual so far, first attempt seen)
    traj                 the trajectory, less its evaluated generations
    generations          ``[(g, offset, length)]``: where each evaluated generation (its
                         individuals, results and attempt records, pickled and compressed:
                         a piece of `mpil2l.model.history`) lies in the log's append-only
                         ``/checkpoint/history``; a generation is written there once, so a
                         checkpoint costs the same at generation 1000 as at generation 1
    generation_tables    (optional) ``{g: [table names]}`` for the generations whose piece
                         lacks a table (from runs older than the attempt records)
    next_generation      the first generation without results

A trajectory saved by `Experiment.end_experiment` or on SIGTERM carries the same dict, less
``traj``, as ``traj.resume_state``, so that L2L's ``prepare_experiment(checkpoint=traj)``
resumes too.
"""

import math
import pickle

import numpy as np

from ..model import pickles
from ..model.history import GENERATION_RESULTS, INDIVIDUALS
from ..storage.parameters import flatten_parameters


FORMAT = "mpil2l-checkpoint"
VERSION = 1
# parameters a resumed run may change: how it is run, not what it computes
FREE_PARAMETER_GROUPS = ("runner_params",)
PROTOCOL = pickle.HIGHEST_PROTOCOL


class ResumeError(ValueError):
    """A run cannot be resumed from the checkpoint given: none was saved, it is not an
    mpil2l checkpoint, or the resumed run's optimizer or parameters differ from the saved
    ones."""


def optimizer_identity(optimizer):
    """What must be equal for a checkpoint to fit `optimizer`: its class, parameters and
    fitness weights."""
    cls = type(optimizer)
    parameters = getattr(optimizer, "parameters", None)
    if hasattr(parameters, "_asdict"):
        parameters = dict(parameters._asdict())
    weights = getattr(optimizer, "optimizee_fitness_weights", None)
    return {
        "optimizer": f"{cls.__module__}.{cls.__qualname__}",
        "parameters": parameters,
        "fitness_weights": None if weights is None else tuple(float(w) for w in weights),
    }


def can_checkpoint(optimizer):
    """True if `optimizer` has the state interface (``get_state`` and ``set_state``)."""
    return callable(getattr(optimizer, "get_state", None)) and callable(
        getattr(optimizer, "set_state", None)
    )


def resume_state(optimizer, experiment_state, next_generation):
    """The checkpoint of a run between two generations, less the trajectory (what
    ``traj.resume_state`` holds)."""
    state = {"format": FORMAT, "version": VERSION, **optimizer_identity(optimizer)}
    state.update(
        state=optimizer.get_state(), experiment=experiment_state, next_generation=next_generation
    )
    return state


def store_generations(traj, stored, store):
    """Stores the trajectory's evaluated generations that are not stored yet, once each, as
    pieces of `mpil2l.model.history` (a packed generation's piece is stored as it is).

    Args:
        stored: ``{generation: (offset, length)}`` of the generations already stored;
            updated with the new ones.
        store: ``store([bytes]) -> [(offset, length)]`` appends pieces to the log's
            history (one call for all of them: a collective step with the parallel log).

    Returns:
        The evaluated generations, in the trajectory's order.
    """
    history = traj._generation_history()
    evaluated = [g for g in traj.individuals if g in traj.results.all_results]
    new = [g for g in evaluated if g not in stored]
    if new:
        stored.update(zip(new, store([history.piece(g) for g in new])))
    return evaluated


def capture(state, traj, stored, store):
    """The checkpoint saved in the results log, pickled: `state` (from `resume_state`) and
    the trajectory, whose evaluated generations are stored once each (`store_generations`).
    Packed generations are not unpacked."""
    evaluated = store_generations(traj, stored, store)
    refs = [(g, *stored[g]) for g in evaluated]
    full = [name for name in GENERATION_RESULTS if name in traj.results]
    partial = {g: names for g in evaluated if (names := _result_groups(traj, g)) != full}
    extra = {"generation_tables": partial} if partial else {}
    with traj._generation_history().without(evaluated):
        return pickle.dumps(dict(state, traj=traj, generations=refs, **extra), protocol=PROTOCOL)


def attach(payload, source):
    """Puts the generations a loaded checkpoint refers to back into its trajectory, packed:
    read from the log's history when first used.

    Args:
        payload: from `load`; its trajectory is completed in place.
        source: the `mpil2l.model.history.HistoryFile` of the log the checkpoint was read from.

    Returns:
        ``{generation: (offset, length)}``: where those generations lie in the history.
    """
    traj, refs = payload["traj"], payload.pop("generations", [])
    partial = payload.pop("generation_tables", {})
    history = traj._generation_history()
    groups = {}
    for g, offset, length in refs:
        names = partial.get(g, [name for name in GENERATION_RESULTS if name in traj.results])
        groups.setdefault(tuple(names), {})[g] = source.ref(offset, length)
    for names, pieces in groups.items():
        history.attach(pieces, (INDIVIDUALS, *names))
    return {g: (offset, length) for g, offset, length in refs}


def _result_groups(traj, g):
    return [
        name
        for name in GENERATION_RESULTS
        if name in traj.results and g in traj.results[name]._data
    ]


def load(data, source):
    """Unpickles and checks a checkpoint read from `source` (named in errors).

    Raises:
        ResumeError: `data` is not an mpil2l checkpoint this version reads.
    """
    try:
        payload = pickles.loads(data)
    except Exception as exc:
        raise ResumeError(
            f"{source}: the checkpoint cannot be read ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ResumeError(f"{source}: the checkpoint is not an mpil2l checkpoint")
    if payload.get("version", math.inf) > VERSION:
        raise ResumeError(
            f"{source}: the checkpoint has version {payload['version']}, newer than this mpil2l "
            "reads"
        )
    return payload


def differences(saved, current, path=""):
    """The names under which two values (dicts, sequences, arrays, random generators, objects
    with attributes) differ; empty if they are equal.

    Example:
        >>> saved = {"pop_size": 6, "x": np.zeros(2), "seed": 1}
        >>> differences(saved, {"pop_size": 8, "x": np.zeros(2), "seed": 1.0})
        ['pop_size']
    """
    if isinstance(saved, np.random.Generator) and isinstance(current, np.random.Generator):
        return differences(saved.bit_generator.state, current.bit_generator.state, path)
    if type(saved) is not type(current) and not (_is_number(saved) and _is_number(current)):
        return [path or "value"]
    if isinstance(saved, np.ndarray):
        same = saved.shape == current.shape and np.array_equal(
            saved, current, equal_nan=saved.dtype.kind in "fc"
        )
        return [] if same else [path or "value"]
    if isinstance(saved, dict):
        out = [f"{path}.{k}".lstrip(".") for k in sorted(set(saved) ^ set(current), key=str)]
        for key in saved:
            if key in current:
                out += differences(saved[key], current[key], f"{path}.{key}".lstrip("."))
        return out
    if isinstance(saved, (list, tuple)):
        if len(saved) != len(current):
            return [path or "value"]
        out = []
        for i, (a, b) in enumerate(zip(saved, current)):
            out += differences(a, b, f"{path}[{i}]")
        return out
    if _is_number(saved):
        equal = saved == current or (math.isnan(saved) and math.isnan(current))
        return [] if equal else [path or "value"]
    if hasattr(saved, "__dict__") and not isinstance(saved, type) and not callable(saved):
        return differences(vars(saved), vars(current), path)
    try:
        equal = bool(saved == current)
    except Exception:
        equal = False
    return [] if equal else [path or "value"]


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def identity_problems(saved, optimizer):
    """How `optimizer` differs from the one a checkpoint was saved with (its class,
    parameters and fitness weights, as `optimizer_identity` gives them): a list of phrases,
    empty if they are the same; and the parameter names among them."""
    problems = []
    now = optimizer_identity(optimizer)
    reported = set()
    if saved["optimizer"] != now["optimizer"]:
        problems.append(
            f"the optimizer is {now['optimizer']}, the checkpoint's {saved['optimizer']}"
        )
    elif isinstance(saved["parameters"], dict) and isinstance(now["parameters"], dict):
        names = differences(saved["parameters"], now["parameters"])
        reported = {n.split("[")[0] for n in names}
        if names:
            changes = (_change(n, saved["parameters"], now["parameters"]) for n in names)
            problems.append("optimizer parameters " + ", ".join(changes))
    elif differences(saved["parameters"], now["parameters"]):
        problems.append("optimizer parameters")
    if saved["fitness_weights"] != now["fitness_weights"]:
        problems.append(
            f"fitness weights {now['fitness_weights']} (saved {saved['fitness_weights']})"
        )
    return problems, reported


def raise_misfit(problems, source):
    """Raises the `ResumeError` that names every one of `problems` (if any)."""
    if problems:
        raise ResumeError(
            f"cannot resume from {source}: the run differs from the saved one in "
            + "; ".join(problems)
            + ". Resume with the same settings, or start a new run"
        )


def check_fits(payload, optimizer, traj, source):
    """Checks that the resumed run is the saved one: the same optimizer class, parameters
    and fitness weights, and the same trajectory parameters (``runner_params`` may change).

    Raises:
        ResumeError: naming every difference.
    """
    problems, reported = identity_problems(payload, optimizer)
    saved, current = flatten_parameters(payload["traj"]), flatten_parameters(traj)
    names = [
        n
        for n in differences(saved, current)
        if n.split(".")[0] not in FREE_PARAMETER_GROUPS and n.split("[")[0] not in reported
    ]
    if names:
        problems.append(
            "trajectory parameters " + ", ".join(_change(n, saved, current) for n in names)
        )
    raise_misfit(problems, source)


def _change(name, saved, current):
    """``name (saved X, now Y)`` for a top-level name, else the name alone."""
    if name in saved and name in current:
        return f"{name} (saved {saved[name]!r}, now {current[name]!r})"
    if name in saved or name in current:
        return f"{name} ({'only saved' if name in saved else 'only now'})"
    return name

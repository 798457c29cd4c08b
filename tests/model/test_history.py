"""Packed generations of a trajectory (mpil2l.model.history): the tables read as dicts whether a
generation is live or packed, into bytes or into a results log's checkpoint history, and a
pickled trajectory needs no results log."""

import os
import pickle
import subprocess
import sys
import zlib

import numpy as np
import pytest

from mpil2l import Trajectory
from mpil2l.experiment import checkpoint as ckpt
from mpil2l.model.conversion import dict_to_list
from mpil2l.model.history import (
    PACKED,
    GenerationHistory,
    HistoryRef,
    pack_generation,
    unpack_generation,
)
from mpil2l.storage.history_file import HistoryFile
from mpil2l.storage import ResultsLog, ResultsLogError


def evaluated_traj(generations=4, n=3):
    """A trajectory of `generations` evaluated generations of `n` individuals, plus one
    expanded but not evaluated."""
    traj = Trajectory(name="t")
    traj.f_add_parameter("n_iteration", generations + 1)
    for g in range(generations + 1):
        traj.f_expand(
            {
                "generation": [g],
                "ind_idx": list(range(n)),
                "individual.x": [float(10 * g + i) for i in range(n)],
                "individual.v": [np.full(2, g + i / 10) for i in range(n)],
            }
        )
        if g < generations:
            traj.results.f_add_result_to_group(
                "all_results", g, [(i, (float(g + i),)) for i in range(n)]
            )
            traj.results.f_add_result_to_group(
                "attempts", g, [{"generation": g, "ind_idx": i, "attempt": 0} for i in range(n)]
            )
    return traj


def content(traj):
    """Everything the three tables hold, as plain values (unpacking what is packed)."""

    def inds(values):
        return [(i.generation, i.ind_idx, i.x, i.v.tolist()) for i in values]

    return (
        list(traj.individuals),
        {g: inds(v) for g, v in traj.individuals.items()},
        dict(traj.results.all_results.items()),
        dict(traj.results.attempts.items()),
    )


def pack_all(traj, into=None):
    """Packs every evaluated generation: into bytes, or through `into(piece) -> ref`."""
    history = traj._generation_history()
    for g in list(traj.results.all_results):
        piece = history.piece(g)
        history.pack(g, piece if into is None else into(piece))


def new_log(path):
    _, spec = dict_to_list({"x": 0.0, "v": np.zeros(2)}, get_dict_spec=True)
    return ResultsLog.create(path, 1, spec, overwrite=True)


def test_docstring_examples():
    import doctest

    import mpil2l.model.history

    assert doctest.testmod(mpil2l.model.history).failed == 0


def test_packed_generations_read_like_live_ones():
    traj = evaluated_traj()
    before = content(traj)
    pack_all(traj)
    assert all(traj.individuals.is_packed(g) for g in range(4)) and not traj.individuals.is_packed(
        4
    )
    assert traj.individuals._entries[0] is PACKED  # the live objects are gone
    assert content(traj) == before
    assert (
        len(traj.individuals) == 5
        and max(traj.individuals) == 4
        and sorted(traj.individuals) == list(range(5))
    )
    assert 3 in traj.results.all_results and 4 not in traj.results.all_results
    assert list(traj.results.all_results.keys()) == [0, 1, 2, 3] and len(traj.results.attempts) == 4
    # the last generations unpacked are cached: the same objects twice in a row
    assert traj.individuals[1] is traj.individuals[1]
    assert traj.individuals[1] is not traj.individuals[2] and traj.results.all_results[1] == [
        (0, (1.0,)),
        (1, (2.0,)),
        (2, (3.0,)),
    ]
    assert traj.results["all_results"][2] == traj.results.all_results[2]


def test_writing_a_packed_generation_makes_it_live_again():
    traj = evaluated_traj()
    pack_all(traj)
    traj.results.f_add_result_to_group("all_results", 1, [(0, (-1.0,))])
    assert not traj.individuals.is_packed(1) and traj.individuals[1][2].x == 12.0
    assert (
        traj.results.all_results[1] == [(0, (-1.0,))]
        and traj.results.attempts[1][0]["ind_idx"] == 0
    )
    del traj.individuals[2]
    assert 2 not in traj.individuals and traj.results.all_results[2][0] == (0, (2.0,))
    assert list(traj.individuals) == [0, 1, 3, 4]  # order kept
    traj.individuals = {7: ["replaced"]}  # assigning replaces the table; the results stay
    assert (
        dict(traj.individuals) == {7: ["replaced"]} and traj.results.attempts[3][1]["ind_idx"] == 1
    )
    assert not any(traj.results.all_results._data.is_packed(g) for g in traj.results.all_results)


def test_a_pickled_trajectory_holds_its_packed_generations_compressed():
    traj = evaluated_traj(generations=6, n=50)
    before = content(traj)
    plain = len(pickle.dumps(traj))
    pack_all(traj)
    data = pickle.dumps(traj)
    assert len(data) < plain / 2
    loaded = pickle.loads(data)
    assert all(loaded.individuals.is_packed(g) for g in range(6))
    assert isinstance(loaded._generations._pieces[0], bytes)
    assert content(loaded) == before
    loaded.f_expand(
        {"generation": [7], "ind_idx": [0], "individual.x": [1.0], "individual.v": [np.zeros(2)]}
    )
    assert max(loaded.individuals) == 7 and loaded.individuals[7][0].x == 1.0


def test_pieces_are_compressed_and_plain_pickles_still_read():
    individuals, results = ["a", "b"], {"all_results": [(0, (1.0,))]}
    piece = pack_generation(individuals, results)
    assert piece[:1] == b"\x78" and unpack_generation(piece) == (individuals, results)
    old = pickle.dumps(
        (individuals, results), protocol=pickle.HIGHEST_PROTOCOL
    )  # what checkpoints wrote before
    assert unpack_generation(old) == (individuals, results)
    assert unpack_generation(zlib.compress(old)) == (individuals, results)


def test_generations_packed_into_a_results_log_read_while_open_and_after(tmp_path):
    path = str(tmp_path / "results.h5")
    log = new_log(path)
    current = {"log": log}
    file = HistoryFile(path, lambda: current["log"])
    traj = evaluated_traj()
    before = content(traj)
    pack_all(traj, into=lambda piece: file.ref(*log.append_checkpoint_history(piece)))
    traj._generations._cache.clear()
    assert content(traj) == before  # read through the open log
    log.close()
    traj._generations._cache.clear()
    assert content(traj) == before  # read from the file, opened read-only
    current["log"] = None
    data = pickle.dumps(traj)
    os.remove(path)
    loaded = pickle.loads(data)
    assert content(loaded) == before
    traj._generations._cache.clear()
    with pytest.raises(FileNotFoundError):
        traj.individuals[0]


def test_a_trajectory_pickle_loads_in_a_fresh_process_without_the_log(tmp_path):
    path = str(tmp_path / "results.h5")
    with new_log(path) as log:
        traj = evaluated_traj()
        before = content(traj)
        file = HistoryFile(path, lambda: log)
        pack_all(traj, into=lambda piece: file.ref(*log.append_checkpoint_history(piece)))
    with open(tmp_path / "trajectory.pickle", "wb") as f:
        pickle.dump(traj, f)
    os.remove(path)
    code = (
        "import pickle, sys; traj = pickle.load(open(sys.argv[1], 'rb'));"
        "print(repr([(g, [(i.generation, i.ind_idx, i.x) for i in traj.individuals[g]],"
        " traj.results.all_results.get(g),"
        " len(traj.results.attempts.get(g, ()))) for g in traj.individuals]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "trajectory.pickle")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    expected = [
        (g, [(i[0], i[1], i[2]) for i in before[1][g]], before[2].get(g), len(before[3].get(g, ())))
        for g in before[0]
    ]
    assert out.stdout.strip() == repr(expected)


def test_a_replaced_log_is_named_instead_of_read_as_garbage(tmp_path):
    path = str(tmp_path / "results.h5")
    with new_log(path) as log:
        traj = evaluated_traj()
        file = HistoryFile(path, lambda: log)
        pack_all(traj, into=lambda piece: file.ref(*log.append_checkpoint_history(piece)))
    with new_log(path) as log:  # another run in the same folder, overwrite=True
        log.append_checkpoint_history(b"x" * 4096)
    traj._generations._cache.clear()
    with pytest.raises(
        ValueError,
        match="generation 1 of this trajectory is packed in .*results.h5'.*replaced or damaged",
    ):
        traj.individuals[1]
    os.remove(path)
    with new_log(path):
        pass
    with pytest.raises(ResultsLogError, match="history bytes the file does not hold"):
        traj.results.attempts[2]


def test_checkpoints_store_packed_generations_without_unpacking_them(tmp_path, monkeypatch):
    traj = evaluated_traj()
    before = content(traj)
    pack_all(traj)
    traj._generations._cache.clear()
    monkeypatch.setattr(
        "mpil2l.model.history.unpack_generation",
        lambda piece: pytest.fail("a generation was unpacked"),
    )
    pieces, stored, calls = [], {}, []

    def store(new):
        calls.append(len(new))
        pieces.extend(new)
        return [(len(pieces) - len(new) + i, len(piece)) for i, piece in enumerate(new)]

    state = {"format": ckpt.FORMAT, "version": ckpt.VERSION, "next_generation": 4}
    data = ckpt.capture(state, traj, stored, store)
    assert sorted(stored) == [0, 1, 2, 3] and pieces[0] == traj._generations._pieces[0]
    assert stored[3] == (3, len(pieces[3]))
    assert ckpt.capture(state, traj, stored, store) and len(pieces) == 4  # each stored once
    assert calls == [4]  # in one call: one collective step with the parallel log
    assert list(traj.individuals) == list(range(5))  # the trajectory is whole again
    monkeypatch.undo()
    payload = ckpt.load(data, "test")
    assert list(payload["traj"].individuals) == [4]  # the checkpoint's trajectory lacks them

    class Pieces:
        path = "in memory"

        def ref(self, offset, length):
            return HistoryRef(self, offset, length)

        def read(self, offset, length):
            return pieces[offset]

    assert ckpt.attach(payload, Pieces()) == stored
    assert content(payload["traj"]) == before
    assert all(payload["traj"].results.attempts._data.is_packed(g) for g in range(4))


def test_a_trajectory_pickled_before_packing_existed_loads():
    traj = evaluated_traj()
    before = content(traj)
    state = dict(traj.__dict__)
    state["individuals"] = dict(state.pop("_individuals"))
    state.pop("_generations")
    for name in ("all_results", "attempts"):
        traj.results[name]._data = dict(traj.results[name]._data)
    old = Trajectory.__new__(Trajectory)
    old.__setstate__(state)
    assert content(old) == before
    pack_all(old)
    assert content(pickle.loads(pickle.dumps(old))) == before


def test_a_replaced_result_group_is_taken_in():
    traj = evaluated_traj()
    pack_all(traj)
    traj.results.f_add_result_group("attempts")  # a plain one, empty
    traj.results.f_add_result_to_group("attempts", 9, ["new"])
    history = traj._generation_history()
    assert history.owns(traj.results.attempts._data) and dict(traj.results.attempts) == {9: ["new"]}
    assert traj.individuals[0][1].x == 1.0 and traj.results.all_results[3][0] == (0, (3.0,))


def test_restore_and_parameters_only_keep_working():
    traj = evaluated_traj()
    before = content(traj)
    pack_all(traj)
    target = Trajectory(name="other")
    target.restore(pickle.loads(pickle.dumps(traj)))
    assert content(target) == before and target.par.n_iteration == 5
    bare = traj.parameters_only()
    assert len(bare.individuals) == 0 and bare.par.n_iteration == 5
    assert isinstance(GenerationHistory().table("individuals", {1: "x"})[1], str)

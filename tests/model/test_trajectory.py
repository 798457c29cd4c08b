"""The trajectory data model: L2L's names, plus errors for names that were never added."""

import pickle

import numpy as np
import pytest

from mpil2l import Individual, ParameterGroup, Trajectory


def make_traj():
    traj = Trajectory(name="t")
    traj.f_add_parameter("n_iteration", 5)
    traj.f_add_parameter_group("ga")
    traj.f_add_parameter_to_group("ga", "pop_size", 20)
    traj.f_add_derived_parameter("seed", 7)
    traj.f_expand(
        {
            "generation": [0],
            "ind_idx": [0, 1, 2],
            "individual.x": [0.1, 0.2, 0.3],
            "individual.v": [np.ones(2)] * 3,
        }
    )
    return traj


def test_parameters_read_as_attributes_items_and_dotted_names():
    traj = make_traj()
    assert (
        traj.par.n_iteration
        == traj.par["n_iteration"]
        == traj.n_iteration
        == traj["n_iteration"]
        == 5
    )
    assert traj.par.ga.pop_size == traj.par["ga.pop_size"] == traj.ga["pop_size"] == 20
    assert traj.parameters.seed == 7
    assert "ga.pop_size" in traj.par and "ga.nope" not in traj.par
    assert traj.par.get("missing", 3) == 3


def test_dotted_parameter_names_create_groups():
    traj = Trajectory()
    traj.f_add_parameter("es.sigma", 0.5)
    assert traj.par.es.sigma == 0.5


def test_misspelt_names_raise_attribute_error():
    traj = make_traj()
    with pytest.raises(AttributeError, match="n_iteraton"):
        traj.par.n_iteraton
    with pytest.raises(AttributeError, match="pop_sise"):
        traj.par.ga.pop_sise
    with pytest.raises(AttributeError, match="y"):
        traj.individuals[0][0].y
    with pytest.raises(KeyError, match="no parameter group 'nope'"):
        traj.f_add_parameter_to_group("nope", "a", 1)


def test_expand_builds_individuals_indexed_by_ind_idx():
    traj = make_traj()
    inds = traj.individuals[0]
    assert [(i.generation, i.ind_idx, i.x) for i in inds] == [(0, 0, 0.1), (0, 1, 0.2), (0, 2, 0.3)]
    assert inds[1]["x"] == 0.2 and "individual.x" in inds[1].params
    assert inds[2].as_dict().keys() == {"x", "v"}


def test_expand_rejects_malformed_build_dicts():
    traj = Trajectory()
    with pytest.raises(ValueError, match="f_expand needs"):
        traj.f_expand({"ind_idx": [0]})
    with pytest.raises(ValueError, match="no value for ind_idx 2"):
        traj.f_expand({"generation": [0], "ind_idx": [0, 1, 2], "individual.x": [1, 2]})


def test_results_groups_and_l2l_ind_idx_lookup():
    traj = make_traj()
    traj.results.f_add_result_to_group("all_results", 0, [(0, (1.0,))])
    traj.f_add_result("all_results.extra", 5)
    traj.f_add_result("note", "hi")
    assert traj.results.all_results[0] == [(0, (1.0,))]
    assert traj.results.all_results["extra"] == 5 and traj.results.note == "hi"
    traj.current_results = [(4, (1.0,)), (7, (2.0,))]
    traj.v_idx = 7
    assert traj.par.ind_idx == 1


def test_pickles_and_parameters_only_copy():
    traj = make_traj()
    copy = pickle.loads(pickle.dumps(traj))
    assert copy.par.ga.pop_size == 20 and copy.individuals[0][2].x == 0.3
    light = traj.parameters_only()
    assert light.par.ga.pop_size == 20 and light.individuals == {}


def test_individual_and_group_constructors():
    ind = Individual(3, 4, {"individual.a": 1})
    assert (ind.generation, ind.ind_idx, ind.a) == (3, 4, 1)
    group = ParameterGroup()
    group.f_add_parameter("k", "v")
    assert group.k == "v" and list(group.keys()) == ["k"]

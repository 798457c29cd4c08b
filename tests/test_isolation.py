"""Evaluation processes: how their thread pools are sized (no MPI needed)."""

import pytest

from mpil2l.isolation import THREAD_VARIABLES, evaluation_threads


@pytest.mark.parametrize(
    "environ, usable, online, threads",
    [
        ({}, 16, 16, 16),  # one rank on the node (or a launcher that does not say)
        ({"MPI_LOCALNRANKS": "4"}, 16, 16, 4),  # Hydra, ranks not bound: the node shared out
        ({"OMPI_COMM_WORLD_LOCAL_SIZE": "4"}, 16, 16, 4),  # Open MPI, likewise
        ({"MPI_LOCALNRANKS": "3"}, 16, 16, 5),
        ({"MPI_LOCALNRANKS": "32"}, 16, 16, 1),  # more ranks than cores: one thread each
        ({"MPI_LOCALNRANKS": "4"}, 4, 16, 4),  # bound to 4 cores each: those are its own
        ({"MPI_LOCALNRANKS": "8"}, 4, 16, 1),  # 8 masks of 4 cannot all be disjoint on 16
        ({"MPI_LOCALNRANKS": "many"}, 16, 16, 16),  # unreadable: as if alone
    ],
)
def test_the_share_of_the_cores(environ, usable, online, threads):
    assert evaluation_threads(environ, usable, online) == threads


@pytest.mark.parametrize("name", THREAD_VARIABLES)
def test_any_pool_the_user_sized_leaves_every_pool_to_the_user(name):
    assert evaluation_threads({name: "2", "MPI_LOCALNRANKS": "4"}, 16, 16) is None

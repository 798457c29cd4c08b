"""Evaluation processes (no MPI needed): how their thread pools are sized, and a child that
dies while the worker hands it more runs."""

import os

import cloudpickle
import pytest

from mpil2l.evaluation.process import Sandbox
from mpil2l.evaluation.resources import THREAD_VARIABLES, evaluation_threads
from mpil2l.core.runs import StatusType


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


def square_or_die(x):
    if x < 0:
        os._exit(3)  # as a segfaulting simulation ends its process
    return x * x


def test_runs_handed_to_a_child_that_died_go_to_the_next_one():
    """The child dies in a run; before the worker reads the end of its pipe, the worker
    receives more runs (rank 0 keeps sending) and writes them to the dead child's pipe.
    That run is CRASHED and the new runs are evaluated by the child that replaces it,
    instead of the worker ending on a broken pipe."""
    sandbox = Sandbox(cloudpickle.dumps(square_or_die), rank=1)
    try:
        sandbox.submit([("dies", -1.0, None)])
        os.waitid(os.P_PID, sandbox.process.pid, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped
        sandbox.submit([("after", 4.0, None), ("later", 5.0, None)])
        key, value = sandbox.next_result()
        assert key == "dies" and value.status == StatusType.CRASHED
        assert "exit" in value.additional_info["error"]
        assert [
            (k, v.status, v.cost) for k, v in (sandbox.next_result(), sandbox.next_result())
        ] == [("after", StatusType.SUCCESS, 16.0), ("later", StatusType.SUCCESS, 25.0)]
        assert sandbox.restarts == 1
    finally:
        sandbox.close()

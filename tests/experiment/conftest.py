"""Fixtures of the experiment tests."""

import logging

import pytest


@pytest.fixture(autouse=True)
def _restore_the_logger():
    """The in-process runs set up the mpil2l logger in the test process; leave it as it was."""
    logger = logging.getLogger("mpil2l")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate

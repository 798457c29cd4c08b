"""Shared by every test folder: pytest puts this folder on ``sys.path`` to import this file,
so the test modules import the launch helper (`mpirun`) and `serial_loop` from here."""

"""The MPI runtime: the message protocol between rank 0 and the workers (`protocol`), the
SPMD helpers every rank calls (`spmd`), rank 0's `Scheduler` and the workers' `serve` loop
(`worker`)."""

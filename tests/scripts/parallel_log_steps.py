"""Checkpoints of the parallel results log that outgrow their datasets, on every rank of
the job (tests/test_results_log_mpi.py). As an `Experiment` does, rank 0 creates the log
and saves the first checkpoint on its own, every rank then opens it with ``mpio``, and rank
0 saves the last checkpoint on its own after the collective close; a resumed run then opens
it with ``mpio`` again. Every checkpoint is larger than the slot it goes to.

usage: parallel_log_steps.py PATH
"""

import sys

from mpi4py import MPI

from mpil2l.model.conversion import dict_to_list
from mpil2l.storage import ResultsLog, read_checkpoint
from mpil2l.storage.parallel import ParallelResultsLog


def checkpoints_in_parallel(comm, path, sizes, first_generation):
    log = ParallelResultsLog.open(comm, path)
    if comm.rank != 0:
        log.close()  # follows rank 0's collective steps until it closes the log
        return None
    for g, n in enumerate(sizes, first_generation):
        log.append_checkpoint_pieces([bytes([g % 256]) * 70_000, b"piece" * 200])
        log.save_checkpoint(bytes([g % 256]) * n, generation=g)
    log.close()
    return log.finish_serially()


def main():
    path = sys.argv[1]
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        _, spec = dict_to_list({"x": 0.0}, get_dict_spec=True)
        log = ResultsLog.create(path, 1, spec, for_parallel=True)
        log.save_checkpoint(b"first" * 10, generation=-1)  # slot 0, created by rank 0 alone
        log.detach()
    log = checkpoints_in_parallel(comm, path, [300_000, 700_000, 1_500_000], 0)
    if comm.rank == 0:
        log.save_checkpoint(b"last" * 1_000_000, generation=3)  # grows slot 1 on rank 0 alone
        log.close()
    log = checkpoints_in_parallel(comm, path, [2_000_000, 5_000_000], 4)  # a resumed run
    if comm.rank == 0:
        log.close()
        data = read_checkpoint(path)
        assert data == bytes([5]) * 5_000_000, len(data)
        print("checkpoints read back:", len(data), flush=True)


if __name__ == "__main__":
    main()

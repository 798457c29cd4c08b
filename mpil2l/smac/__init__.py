"""SMAC's runner contract on MPI workers: the v1 `MPIRunner` (`runner`), the SMAC3 runner for
SMAC's facades (`smac3`) and the target call the workers run (`target`)."""

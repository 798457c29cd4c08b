"""What an evaluation process gets of its node: its environment, thread pools, scheduling
policy and memory.

- Environment: the child never sees what the MPI launcher tells a rank about its job
  (`child_environment`), so MPI in the child is a singleton instead of a second copy of the
  worker's rank.
- Threads: thread pools (OpenMP, OpenBLAS, MKL, ...) size themselves to every core a process
  may run on, so N evaluation processes on an N-core node would start N threads each:
  threaded code in ``simulate()`` would oversubscribe the node, and even importing numpy
  slows down. The child's pools get the worker's share of the cores (`evaluation_threads`),
  unless the user sized them.
- Scheduling policy: a worker whose runs are evaluated by a child only relays messages, so
  while its `mpil2l.evaluation.process.Sandbox` runs it is a ``SCHED_BATCH`` task (Linux;
  `enter_relay_policy`): woken by a child's result, it does not preempt that child, which on
  shared cores would otherwise stop between handing over one result and starting its next
  run. The child evaluates under the worker's former policy (`restore_policy`), which the
  worker gets back when the sandbox closes.
- Memory: a run's memory limit counts from what the child holds once it is ready
  (`resident_kb`); `limit_memory` caps the child's address space accordingly.
"""

import os
import resource

# The thread-pool sizes an evaluation process gets (see `evaluation_threads`).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# How many ranks share this rank's node, as launchers say it (Hydra: MPICH and Intel MPI;
# Open MPI).
_LOCAL_SIZE_VARIABLES = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")
# What MPI launchers (Hydra, Slurm's PMI, PMIx, Open MPI) tell a rank about its job. The child
# must not see it: MPI_Init there would join the job as a second copy of the worker's rank.
_LAUNCHER_PREFIXES = (
    "PMI_",
    "PMIX_",
    "HYDI_",
    "HYDRA_",
    "OMPI_",
    "MPI_LOCAL",
    "MPIR_",
    "SLURM_STEP",
)


def evaluation_threads(environ=None, usable=None, online=None):
    """The thread count an evaluation process gets in each of `THREAD_VARIABLES`: this
    rank's share of the cores it may run on, or None where the user set one of them (the
    child then sees the user's settings, and only those).

    The share is the cores of this rank's affinity mask (`usable`), divided by the ranks on
    the node when their masks overlap: when the launcher did not bind the ranks (each mask
    is the whole node), or bound several ranks to the same cores. Masks that fit side by
    side in the node's `online` cores are taken as each rank's own."""
    environ = os.environ if environ is None else environ
    if any(name in environ for name in THREAD_VARIABLES):
        return None
    if usable is None:
        try:
            usable = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            usable = os.cpu_count() or 1
    online = online or os.cpu_count() or usable
    local = 1
    for name in _LOCAL_SIZE_VARIABLES:
        try:
            local = max(1, int(environ[name]))
            break
        except (KeyError, ValueError):
            continue
    if usable * local <= online:
        return usable
    return max(1, usable // local)


def child_environment():
    """The environment an evaluation process starts with: this process's, without the
    launcher's variables, with the thread pools sized by `evaluation_threads`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCHER_PREFIXES)}
    threads = evaluation_threads()
    if threads is not None:
        env.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    return env


def enter_relay_policy():
    """Makes this worker a ``SCHED_BATCH`` task (see the module docstring) for as long as a
    `Sandbox` runs; returns the policy it had (the children evaluate under it), or None
    where nothing changed (not Linux, a policy other than the default, or refused)."""
    try:
        if os.sched_getscheduler(0) != os.SCHED_OTHER:
            return None
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        return None
    return os.SCHED_OTHER


def restore_policy(policy):
    """Sets this process's scheduling policy to `policy`, the one `enter_relay_policy`
    returned (None: leaves it): in the worker once its runs are over (the program goes on
    after the run), in a child before it evaluates anything."""
    if policy is not None:
        try:
            os.sched_setscheduler(0, policy, os.sched_param(0))
        except OSError:
            pass


def resident_kb():
    """This process's resident memory (VmRSS), in kilobytes."""
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def limit_memory(limit_mb):
    """Caps the address space at what this process maps now plus `limit_mb`: an allocation
    beyond it raises MemoryError (reported as MEMOUT)."""
    with open(f"/proc/{os.getpid()}/status") as f:
        mapped_kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    limit = (mapped_kb * 1024) + int(limit_mb * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

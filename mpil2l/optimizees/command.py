"""An optimizee that runs an external program for each individual: a simulation binary, a
training script, anything that can be started from a command line (under ``srun -n 4`` if
it is itself parallel)."""

import io
import json
import os
import shlex
import subprocess
import tarfile
import tempfile
import time

import numpy as np

from ..evaluation.call import RANK_VARIABLE
from .base import Optimizee

# How much of a failed program's stderr goes into the error of its attempt.
STDERR_TAIL = 4000
_MARKER = "current.json"  # in the scratch folder while a program runs


class CommandFailed(RuntimeError):
    """The program exited with an error, was killed, or printed no fitness."""


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def _argument(name, value):
    value = _plain(value)
    if isinstance(value, list):
        value = ",".join(map(str, np.ravel(value).tolist()))
    return f"--{name}={value}"


def parse_fitness(text):
    """The fitness in `text`: the last line that is a JSON object with a ``fitness`` entry (a
    number or a list of numbers), or a JSON list of numbers.

    Raises:
        CommandFailed: no such line.
    """
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if not line.startswith(("{", "[")):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "fitness" in data:
            data = data["fitness"]
        elif isinstance(data, dict):
            continue
        return tuple(data) if isinstance(data, list) else (data,)
    raise CommandFailed('the program printed no fitness (a last line such as {"fitness": [1.5]})')


class CommandOptimizee(Optimizee):
    """Evaluates an individual by running a program and reading the fitness it prints.

    For each evaluation attempt the program is started as
    ``launcher + command + ['--name=value', ...]`` (arrays as comma-separated values; leave
    them out with ``pass_arguments=False``) in a scratch folder of the worker, with
    ``MPIL2L_PARAMS_FILE`` naming a JSON file ``{"generation", "ind_idx", "attempt",
    "params"}`` and ``MPIL2L_RESULT_FILE`` the file it may write its result to. In `command`,
    ``{params_file}``, ``{result_file}``, ``{generation}``, ``{ind_idx}`` and ``{attempt}``
    are replaced by their values.

    The fitness is the last line of stdout that is ``{"fitness": [...]}`` (or a JSON list of
    numbers); with ``result="file"``, the content of the result file, in the same form. A
    non-zero exit, a signal or a missing fitness fails the attempt (CRASHED, retried) with the
    end of stderr in its error. The program runs in the evaluation process's process group,
    so ``runner_params['timeout']`` kills it with everything it started.

    stdout and stderr are kept in one tar archive per worker, ``<output_dir>/rank-<r>.tar``
    (members ``g<generation>/i<ind_idx>/a<attempt>/stdout`` and ``stderr``), not in a file
    per individual; the output of an attempt killed for its time limit is archived too,
    with ``.killed`` added, by the evaluation process that replaces the killed one.
    ``output_dir=None`` keeps no output.

    Args:
        traj: the run's trajectory.
        command: the program and its fixed arguments: a list, or a string split like a shell.
        create_individual: returns a new individual dict (or override the method).
        bounding_func: maps an individual dict into the valid domain (optional).
        launcher: a prefix such as ``"srun -n 4"`` (a string or a list), or None.
        pass_arguments: add ``--name=value`` for every parameter (default True).
        result: ``"stdout"`` (default) or ``"file"``.
        output_dir: folder of the output archives, or None.
        scratch_dir: where each worker's scratch folder goes (default: the system's
            temporary folder).
        env: extra environment variables for the program.

    Raises:
        ValueError: an empty command or an unknown `result`.
    """

    def __init__(
        self,
        traj,
        command,
        create_individual=None,
        bounding_func=None,
        launcher=None,
        pass_arguments=True,
        result="stdout",
        output_dir=None,
        scratch_dir=None,
        env=None,
    ):
        super().__init__(traj)
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.launcher = shlex.split(launcher) if isinstance(launcher, str) else list(launcher or [])
        if not self.command:
            raise ValueError("command is empty")
        if result not in ("stdout", "file"):
            raise ValueError(f"result must be 'stdout' or 'file', got {result!r}")
        self._create = create_individual
        self._bound = bounding_func
        self.pass_arguments = pass_arguments
        self.result = result
        self.output_dir = None if output_dir is None else os.path.abspath(output_dir)
        self.scratch_dir = scratch_dir or tempfile.gettempdir()
        self.env = dict(env or {})
        # Names this run's scratch folders: the same on every worker, new for every run.
        self.run_token = f"{os.getpid()}-{time.time_ns()}"

    def create_individual(self):
        if self._create is None:
            raise NotImplementedError("pass create_individual= or override create_individual()")
        return self._create()

    def bounding_func(self, individual):
        return individual if self._bound is None else self._bound(individual)

    def process_started(self):
        """Called by mpil2l in each evaluation process before its first run, the one that
        replaces a process killed for its time limit included: archives what the killed
        program wrote."""
        rank, work = self._scratch()
        if os.path.isdir(work):
            self._archive_killed(work, rank)

    def _scratch(self):
        """This worker's rank and scratch folder."""
        rank = os.environ.get(RANK_VARIABLE, "0")
        return rank, os.path.join(self.scratch_dir, f"mpil2l-command-{self.run_token}-rank{rank}")

    def simulate(self, traj):
        ind = traj.individual
        rank, work = self._scratch()
        os.makedirs(work, exist_ok=True)
        self._archive_killed(work, rank)
        params = ind.as_dict()
        where = {
            "generation": ind.generation,
            "ind_idx": ind.ind_idx,
            "attempt": getattr(ind, "attempt", 0),
        }
        params_file = os.path.join(work, "params.json")
        result_file = os.path.join(work, "result.json")
        with open(params_file, "w") as f:
            json.dump({**where, "params": {k: _plain(v) for k, v in params.items()}}, f)
        if os.path.exists(result_file):
            os.remove(result_file)
        fields = {**where, "params_file": params_file, "result_file": result_file}
        argv = self.launcher + [part.format(**fields) for part in self.command]
        if self.pass_arguments:
            argv += [_argument(k, v) for k, v in sorted(params.items())]
        env = dict(
            os.environ, **self.env, MPIL2L_PARAMS_FILE=params_file, MPIL2L_RESULT_FILE=result_file
        )
        paths = {name: os.path.join(work, name) for name in ("stdout", "stderr")}
        with open(os.path.join(work, _MARKER), "w") as f:
            json.dump(where, f)
        with open(paths["stdout"], "wb") as out, open(paths["stderr"], "wb") as err:
            code = subprocess.call(argv, stdout=out, stderr=err, cwd=work, env=env)
        os.remove(os.path.join(work, _MARKER))
        self._archive(rank, where, paths, "")
        stderr_tail = _tail(paths["stderr"])
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise CommandFailed(f"{argv[0]} {how}; end of its stderr:\n{stderr_tail}")
        if self.result == "file":
            if not os.path.exists(result_file):
                raise CommandFailed(f"{argv[0]} wrote no result file {result_file}")
            with open(result_file) as f:
                return parse_fitness(f.read())
        with open(paths["stdout"], errors="replace") as f:
            return parse_fitness(f.read())

    def _archive(self, rank, where, paths, suffix):
        if self.output_dir is None:
            return
        os.makedirs(self.output_dir, exist_ok=True)
        prefix = f"g{where['generation']}/i{where['ind_idx']}/a{where['attempt']}"
        with tarfile.open(os.path.join(self.output_dir, f"rank-{rank}.tar"), "a") as tar:
            for name, path in paths.items():
                with open(path, "rb") as f:
                    data = f.read()
                info = tarfile.TarInfo(f"{prefix}/{name}{suffix}")
                info.size, info.mtime = len(data), time.time()
                tar.addfile(info, io.BytesIO(data))

    def _archive_killed(self, work, rank):
        """Archives the output of a program that was killed with its evaluation process."""
        marker = os.path.join(work, _MARKER)
        if not os.path.exists(marker):
            return
        try:
            with open(marker) as f:
                where = json.load(f)
        except ValueError:  # killed while writing the marker: nothing ran yet
            os.remove(marker)
            return
        paths = {name: os.path.join(work, name) for name in ("stdout", "stderr")}
        self._archive(rank, where, {k: p for k, p in paths.items() if os.path.exists(p)}, ".killed")
        os.remove(marker)


def _tail(path):
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - STDERR_TAIL))
        return f.read().decode(errors="replace")

"""Checkpointing for both drivers: finding what ``checkpoint=`` names, saving checkpoints into
the results log while a run goes on, and putting them back in place on resume.

The generational driver checkpoints between generations (`GenerationCheckpoints`, the format
in `mpil2l.experiment.checkpoint`); the asynchronous driver saves its loop's state and
replays the rows written after it (`save_async_checkpoint`, `read_async_checkpoint`). Both
refuse, with `ResumeError`, a resume whose optimizer differs from the saved one.
"""

import itertools
import json
import os
import pickle
import time
from typing import NamedTuple

from ..core.console import logger
from ..model import pickles
from ..model.history import HistoryRef
from ..model.trajectory import Trajectory
from ..storage.checkpoint_slots import HISTORY, load_checkpoint_slots
from ..storage.errors import ResultsLogError
from ..storage.history_file import HistoryFile
from ..storage.reader import open_log, read_attempts
from ..storage.repair import repair_truncated
from ..storage.writer_lock import check_not_in_use
from . import checkpoint as ckpt
from .checkpoint import ResumeError
from .run_folder import results_log_path, same_file

# A checkpoint is saved after a generation unless the last one was saved less than this many
# times its own saving time ago, so that checkpoints cost rank 0 a small, bounded share of the
# run; a resumed run replays the generations in between from the log, evaluating none of them.
CHECKPOINT_COST_RATIO = 50
# Finished generations are stored into the results log's history (and rank 0 drops their
# objects, see `mpil2l.model.history`) once those not stored yet hold this many evaluations, and
# with every checkpoint: rank 0 keeps about this many beyond the newest generation, and runs
# of small generations do not pay a store (a collective step with the parallel log) each.
SPILL_EVALUATIONS = 10_000

ASYNC_CHECKPOINT_KIND = "mpil2l-async"
# 2: the optimizer is identified as the generational checkpoints identify it (class path,
# parameters, fitness weights); 1 named its class and the repr of its parameters.
ASYNC_CHECKPOINT_VERSION = 2


class Resume(NamedTuple):
    """What ``checkpoint=`` names to resume from (rank 0)."""

    source: str  # named in messages
    data: bytes  # the pickled checkpoint, its whole trajectory included
    log_path: str  # the results log to go on writing, or None: a new one
    first_generation: int
    history: dict  # generation -> (offset, length) in that log's checkpoint history


def log_to_resume(checkpoint, paths, overwrite, log_required):
    """The results log that ``checkpoint=True`` or a path names, and whether it is this run's
    own (resumed in place); None where ``checkpoint=True`` finds no run folder yet (the run
    starts). Both drivers locate what they go on from with it.

    Args:
        log_required: with ``checkpoint=True``, a run folder without a results log is an
            error (else the log path is returned, missing).

    Raises:
        FileNotFoundError: the path names nothing, or a required log is missing.
        ResumeError: `overwrite` would delete the log resumed in place.
    """
    if checkpoint is True:
        if not os.path.lexists(paths.output_dir_path):
            logger.info(
                "checkpoint=True: no run folder %s yet; starting the run", paths.output_dir_path
            )
            return None
        path = results_log_path(paths.output_dir_path) if log_required else paths.results_log
    else:
        path = results_log_path(checkpoint)
    in_place = same_file(path, paths.results_log)
    if in_place and overwrite:
        raise ResumeError(
            f"checkpoint={checkpoint!r} goes on in the run folder {paths.output_dir_path!r}; "
            "overwrite=True would delete it: pass one or the other"
        )
    return path, in_place


def find_resume(checkpoint, paths, overwrite):
    """What ``checkpoint=`` of a generational run names, checked without writing anything:
    a `Resume`, or None for a new run.

    Raises:
        ResumeError: nothing to resume from, or `overwrite` would delete it.
        ResultsLogError: the log is not a usable results log.
        LogInUseError: a live run writes the log.
    """
    if checkpoint is None:
        return None
    if isinstance(checkpoint, Trajectory):
        return _resume_trajectory(checkpoint)
    found = log_to_resume(checkpoint, paths, overwrite, log_required=True)
    if found is None:
        return None
    path, in_place = found
    check_not_in_use(path)
    if os.path.isfile(path) and repair_truncated(path):  # killed while growing it in parallel
        check_not_in_use(path)
    with open_log(path) as file:
        group = file["checkpoint"]
        data, _ = load_checkpoint_slots(group, path)
        if data is None:
            raise ResumeError(
                f"checkpoint: {path!r} holds no checkpoint (the run ended before its first "
                "generation)"
            )
        payload = ckpt.load(data, repr(path))
        # the generations stay in the log (packed into the trajectory, read when used):
        # check now that it holds them
        history = {g: (offset, length) for g, offset, length in payload.get("generations", [])}
        size = group[HISTORY].shape[0] if HISTORY in group else 0
        if any(offset < 0 or offset + length > size for offset, length in history.values()):
            raise ResultsLogError(
                f"{path!r}: the checkpoint refers to history bytes the file does not hold; "
                "it is corrupt"
            )
    log_path = paths.results_log if in_place else os.path.abspath(path)
    return Resume(repr(path), data, log_path, payload["next_generation"], history)


def _resume_trajectory(traj):
    state = getattr(traj, "resume_state", None)
    if not isinstance(state, dict) or state.get("format") != ckpt.FORMAT:
        raise ResumeError(
            "checkpoint: this trajectory holds no optimizer state (traj.resume_state): only "
            "trajectories saved by mpil2l can be resumed; or pass the run folder or its results.h5"
        )
    saved = pickle.loads(pickle.dumps(traj))
    _clear_run_marks(saved)
    data = pickle.dumps(dict(state, traj=saved), protocol=pickle.HIGHEST_PROTOCOL)
    return Resume("the checkpoint trajectory", data, None, state["next_generation"], {})


def _clear_run_marks(traj):
    """Drops what a saved trajectory says about the run that saved it."""
    traj.resume_state = None
    traj.results._data.pop("interrupted", None)


class GenerationCheckpoints:
    """Rank 0's checkpoints of a generational run, saved into the log of `recorder`.

    Finished generations are stored once each into the log's append-only history and packed
    (the trajectory reads them back from the log when used), so that rank 0's memory does not
    grow with the run; a checkpoint refers to them by offset.
    """

    def __init__(self, recorder):
        self.recorder = recorder
        self.history = {}  # generation -> (offset, length) in the log's checkpoint history
        self._history_file = None
        self.reset()

    def reset(self, history=None):
        """The state of a run that has saved nothing yet (`history`: what its log holds)."""
        self.history = dict(history or {})
        self.unstored_evaluations = 0  # evaluations of generations not yet in the history
        self._failed = self._spill_failed = False
        self.last = None  # (resume state without traj, pickled checkpoint) saved last
        self.checkpointed = None  # the generation the last checkpoint begins at
        self._end, self._seconds = -float("inf"), 0.0

    @property
    def resume_state(self):
        """What ``traj.resume_state`` of a saved trajectory holds (None: no checkpoint)."""
        return None if self.last is None else self.last[0]

    def history_source(self, path):
        """The `HistoryFile` of the results log at `path`, read through the recorder's log
        while it is open."""
        if self._history_file is None or self._history_file.path != path:
            self._history_file = HistoryFile(path, lambda: self.recorder.log)
        return self._history_file

    def load(self, resume):
        """The checkpoint of `resume`, loaded; its evaluated generations are packed into its
        trajectory, read from the log when used."""
        payload = ckpt.load(resume.data, resume.source)
        if resume.log_path is not None:
            ckpt.attach(payload, self.history_source(resume.log_path))
        return payload

    def restore(self, resume, optimizer, traj):
        """Puts the checkpoint's optimizer state and trajectory in place, once the script has
        built its optimizer; checks first that they fit (nothing changes when they do not).

        Returns:
            The driver's own state saved with the checkpoint.
        """
        payload = self.load(resume)
        if not ckpt.can_checkpoint(optimizer):
            raise ResumeError(
                f"cannot resume {type(optimizer).__name__} from {resume.source}: it has no "
                "get_state()/set_state()"
            )
        ckpt.check_fits(payload, optimizer, traj, resume.source)
        try:
            optimizer.set_state(payload["state"])
        except (ValueError, TypeError, KeyError) as exc:
            raise ResumeError(
                f"cannot resume from {resume.source}: the optimizer refused the saved state: {exc}"
            ) from None
        saved = payload["traj"]
        _clear_run_marks(saved)
        traj.restore(saved)
        # what end_experiment and an interruption save until this run checkpoints anew
        self.last = ({k: v for k, v in payload.items() if k != "traj"}, resume.data)
        return payload["experiment"]

    def count(self, evaluations):
        """Notes a newly evaluated generation of `evaluations` individuals."""
        self.unstored_evaluations += evaluations

    def _pack_stored(self, traj, first):
        """Packs the generations stored in the history from the `first`-th stored on."""
        history = traj._generation_history()
        source = self.history_source(self.recorder.log.path)
        for g, (offset, length) in itertools.islice(self.history.items(), first, None):
            history.pack(g, HistoryRef(source, offset, length))

    def spill(self, traj):
        """Stores the evaluated generations not stored yet and packs them, once they hold
        `SPILL_EVALUATIONS` (also in runs that cannot checkpoint)."""
        if self._spill_failed or self.unstored_evaluations < SPILL_EVALUATIONS:
            return
        first = len(self.history)
        try:
            ckpt.store_generations(traj, self.history, self.recorder.log.append_checkpoint_pieces)
        except Exception as exc:  # say, an individual that cannot be pickled
            logger.warning(
                "cannot store the finished generations in the results log (%s: %s); they stay "
                "in memory",
                type(exc).__name__,
                exc,
            )
            self._spill_failed = True
        self._pack_stored(traj, first)
        self.unstored_evaluations = 0

    def save(self, optimizer, traj, next_generation, driver_state, force=False):
        """Spills when due, then saves the optimizer's state and the trajectory (with
        `driver_state`) as the checkpoint before `next_generation`, unless the last one is too
        recent for its cost (`CHECKPOINT_COST_RATIO`) and `force` is False."""
        log = self.recorder.log
        if log is None:
            return
        self.spill(traj)
        if not ckpt.can_checkpoint(optimizer) or self._failed:
            return
        now = time.monotonic()
        if not force and now - self._end < CHECKPOINT_COST_RATIO * self._seconds:
            return
        first = len(self.history)
        try:
            state = ckpt.resume_state(optimizer, driver_state, next_generation)
            data = ckpt.capture(state, traj, self.history, log.append_checkpoint_pieces)
        except Exception as exc:  # say, an attribute that cannot be pickled: run on, unsaved
            logger.warning(
                "cannot checkpoint %s (%s: %s); the run goes on without checkpoints",
                type(optimizer).__name__,
                type(exc).__name__,
                exc,
            )
            self._failed = True
            self._pack_stored(traj, first)
            return
        self._pack_stored(traj, first)
        self.unstored_evaluations = 0  # capture stored every evaluated generation
        log.save_checkpoint(data, generation=next_generation - 1)
        self.last = (state, data)
        self.checkpointed = next_generation
        self._end = time.monotonic()
        self._seconds = self._end - now
        self.recorder.flushed()  # saving a checkpoint flushes the log

    def saved_trajectory(self, traj):
        """The trajectory of the last checkpoint, with its resume state (`traj` itself where
        there is none or the log is closed): whole, where the live one may be half-way
        through ``post_process``."""
        if self.last is None or not self.recorder.open:
            return traj
        payload = pickle.loads(self.last[1])
        if "generations" in payload:  # packed: read from the log as it is pickled
            ckpt.attach(payload, self.history_source(self.recorder.log.path))
        saved = payload["traj"]
        saved.resume_state = self.last[0]
        return saved


def save_async_checkpoint(log, optimizer, loop_state):
    """Saves an asynchronous run's checkpoint into `log`: the optimizer (identity and state)
    and `loop_state`, the driver's counters and evaluations in flight."""
    state = {
        "kind": ASYNC_CHECKPOINT_KIND,
        "version": ASYNC_CHECKPOINT_VERSION,
        **ckpt.optimizer_identity(optimizer),
        "state": optimizer.get_state(),
        **loop_state,
    }
    log.save_checkpoint(pickle.dumps(state, protocol=ckpt.PROTOCOL))


def read_async_checkpoint(path):
    """The unpickled checkpoint of an asynchronous run's log (None if it has none yet), the
    attempt rows written after it, and the index of the first of them."""
    with open_log(path) as file:
        data, attrs = load_checkpoint_slots(file["checkpoint"], path)
    if data is None:
        return None, None, 0
    try:
        checkpoint = pickles.loads(data)
    except Exception as exc:
        raise ResumeError(f"{path!r}: the checkpoint cannot be read: {exc}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") != ASYNC_CHECKPOINT_KIND:
        raise ResumeError(
            f"{path!r} is not the log of an asynchronous run; resume it with Experiment"
        )
    if checkpoint.get("version") not in (1, ASYNC_CHECKPOINT_VERSION):
        raise ResumeError(
            f"{path!r}: checkpoint version {checkpoint.get('version')} is not one this mpil2l "
            f"reads (1 or {ASYNC_CHECKPOINT_VERSION})"
        )
    counts = attrs.get("counts", b"{}")
    counts = json.loads(counts.decode() if isinstance(counts, bytes) else counts)
    start = int(counts.get("attempts", 0))
    return checkpoint, read_attempts(path, start=start), start


def check_async_fits(checkpoint, optimizer, path):
    """Checks that `optimizer` is the one an asynchronous run's checkpoint was saved with,
    as `GenerationCheckpoints.restore` checks a generational one.

    Raises:
        ResumeError: naming every difference.
    """
    source = repr(path)
    if checkpoint["version"] == 1:
        if checkpoint.get("optimizer") != type(optimizer).__name__:
            saved = checkpoint.get("optimizer")
            problem = f"the optimizer is {type(optimizer).__name__}, the checkpoint's {saved}"
            ckpt.raise_misfit([problem], source)
        if checkpoint["parameters"] != repr(optimizer.parameters):
            saved, now = checkpoint["parameters"], repr(optimizer.parameters)
            ckpt.raise_misfit([f"optimizer parameters (saved {saved}, now {now})"], source)
        return
    problems, _ = ckpt.identity_problems(checkpoint, optimizer)
    ckpt.raise_misfit(problems, source)

"""`TrainingCheckpoint`: what a killed staged run needs to continue.

`fit_stages(..., checkpoint=TrainingCheckpoint(folder, fingerprint))` saves,
after every epoch and after every stage:

- every variable of the model (weights, BatchNorm statistics, random seed
  states) and of the optimizer being used (its step count, moments and the
  schedule's position), as one `.npz` file of plain arrays (no pickle);
- `state.json`: the stage in progress, the epochs it has done, its history
  so far, and the records of the stages already finished.

Both are written to a temporary name and renamed into place, the weights
first: `state.json` always names a complete weights file, so a kill at any
moment leaves the previous epoch's state or the new one. Running the same
plan again restores the model and optimizer of the last finished epoch, sets
the stage's `trainable` flags, and continues with the next epoch.

The fingerprint (the run's config, as a dict) must match to resume: a
checkpoint of another config is refused rather than mixed in.
"""

import contextlib
import dataclasses
import json
import os
import time

import numpy as np

from tfl.io import write_atomically
from tfl.io import write_text

FORMAT = 1
STATE_FILE = "state.json"


class CheckpointMismatchError(ValueError):
    """A checkpoint folder holds an unfinished run of another config.

    Examples:

    >>> issubclass(CheckpointMismatchError, ValueError)
    True
    """


@dataclasses.dataclass
class ResumePoint:
    """Where a checkpointed run stopped.

    Attributes:
        stage: index of the stage in progress (the plan's length once every
            stage has finished).
        stage_epochs: epochs of that stage already finished.
        epoch: global epochs finished, all stages together.
        history: {metric: [value per epoch]} of the stage in progress.
        stage_seconds: training seconds the stage in progress has used.
        records: `StageRecord` dicts of the finished stages.
        weights: the weights file, relative to the checkpoint folder.
        variable_paths: the saved variables' paths, in order (for a person
            reading the file: restoring checks the count and the shapes).
        optimizer_variables: how many of the saved arrays (at the end)
            belong to the optimizer; 0 at a stage boundary.
        saved_at: `time.time()` of the save.
        plan: every stage of the plan, as JSON-ready dicts of `Stage`
            fields (a resume checks the finished stages and the one in
            progress against them); None in checkpoints that predate it.

    Examples:

    >>> list(ResumePoint.__annotations__)[:3]
    ['stage', 'stage_epochs', 'epoch']
    """

    stage: int
    stage_epochs: int
    epoch: int
    history: dict
    stage_seconds: float
    records: list
    weights: str
    variable_paths: list
    optimizer_variables: int
    saved_at: float
    plan: list | None = None


class TrainingCheckpoint:
    """A folder with the latest state of a staged run.

    Args:
        directory: the folder; created on the first save.
        fingerprint: a JSON-serialisable dict that identifies the run (tfl
            uses the config); a checkpoint with another fingerprint is refused.

    Examples:

    >>> checkpoint = TrainingCheckpoint("runs/x/checkpoint", {"backbone": "mobilenet_v3_small"})
    >>> history = fit_stages(model, data, [Stage("none", epochs=1)], checkpoint=checkpoint, verbose=0)
    >>> os.path.isdir("runs/x/checkpoint")
    True
    >>> checkpoint.remove()   # once the results are written
    >>> os.path.exists("runs/x/checkpoint")
    False
    """

    def __init__(self, directory, fingerprint=None):
        self.directory = os.fspath(directory)
        self.fingerprint = _normalised(fingerprint)

    @property
    def state_path(self):
        return os.path.join(self.directory, STATE_FILE)

    def exists(self):
        """Whether the folder holds a saved state."""
        return os.path.isfile(self.state_path)

    def differences(self):
        """Config keys whose values differ from the saved run's (dotted paths)."""
        saved = self._read_state()["fingerprint"]
        return sorted(_differing_keys(saved, self.fingerprint))

    def load(self):
        """The saved `ResumePoint`, or None when nothing was saved.

        Raises:
            CheckpointMismatchError: the saved run had another fingerprint.
        """
        if not self.exists():
            return None
        state = self._read_state()
        if state.get("format") != FORMAT:
            raise CheckpointMismatchError(
                f"{self.state_path} was written in checkpoint format {state.get('format')!r}; this "
                f"tfl reads format {FORMAT}. Start over: remove {self.directory} (or pass --no-resume)."
            )
        differing = sorted(_differing_keys(state["fingerprint"], self.fingerprint))
        if differing:
            raise CheckpointMismatchError(
                f"{self.directory} holds an unfinished run of another config (differs in: "
                f"{', '.join(differing[:8])}). Run the command of that run to continue it, pass "
                "--no-resume (resume=False) to discard it and start over, or choose another output folder."
            )
        return ResumePoint(**state["point"])

    def save(self, variables, point):
        """Saves `variables` (model first, then optimizer) and `point`.

        The weights file goes first; `state.json` is replaced only once it
        is complete, and the weights it named before are removed after.
        """
        os.makedirs(self.directory, exist_ok=True)
        previous = self._read_state()["point"]["weights"] if self.exists() else None
        arrays = {f"v{i}": np.asarray(variable.numpy()) for i, variable in enumerate(variables)}
        weights = f"weights-stage{point.stage}-epoch{point.epoch}-{time.time_ns()}.npz"
        write_atomically(os.path.join(self.directory, weights), lambda file: np.savez(file, **arrays))
        point = dataclasses.replace(point, weights=weights, variable_paths=[_path(v) for v in variables])
        state = {"format": FORMAT, "fingerprint": self.fingerprint, "point": dataclasses.asdict(point)}
        write_text(self.state_path, json.dumps(state, indent=1, default=_jsonable))
        if previous and previous != weights:
            _remove_quietly(os.path.join(self.directory, previous))
        self._remove_orphans(keep=weights)
        return point

    def restore(self, variables, point, *, model_only=False):
        """Assigns the saved arrays to `variables` (the same model and
        optimizer, built the same way); with `model_only`, `variables` are
        the model's alone and the optimizer's saved arrays are left out."""
        paths = [_path(v) for v in variables]
        saved_count = len(point.variable_paths) - (point.optimizer_variables if model_only else 0)
        if len(paths) != saved_count:
            raise CheckpointMismatchError(
                f"{self.directory} saved {saved_count} variables, but the model{'' if model_only else ' and optimizer'} "
                f"to restore have {len(paths)}: the model was built differently. Start over with "
                "--no-resume (resume=False), or choose another output folder."
            )
        with np.load(os.path.join(self.directory, point.weights), allow_pickle=False) as saved:
            for i, variable in enumerate(variables):
                value = saved[f"v{i}"]
                if tuple(value.shape) != tuple(variable.shape):
                    raise CheckpointMismatchError(
                        f"Variable {paths[i]} has shape {tuple(variable.shape)} but the checkpoint in "
                        f"{self.directory} saved {tuple(value.shape)}. Start over with --no-resume."
                    )
                variable.assign(value)

    def remove(self):
        """Deletes the checkpoint's files (after the run's results are written)."""
        if not os.path.isdir(self.directory):
            return
        for name in os.listdir(self.directory):
            if name == STATE_FILE or name.startswith(("weights-", ".")):
                _remove_quietly(os.path.join(self.directory, name))
        with contextlib.suppress(OSError):  # the user put something else there: leave it
            os.rmdir(self.directory)

    def _read_state(self):
        with open(self.state_path, encoding="utf-8") as file:
            return json.load(file)

    def _remove_orphans(self, keep):
        """Weights files of saves a kill interrupted before `state.json` named them,
        and temporary files of `state.json` a kill left."""
        for name in os.listdir(self.directory):
            if name.startswith(("weights-", ".weights-", f".{STATE_FILE}.")) and name != keep:
                _remove_quietly(os.path.join(self.directory, name))


def _path(variable):
    return getattr(variable, "path", None) or variable.name


def _remove_quietly(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"Cannot write {type(value).__name__} to a checkpoint's state.json")


def _normalised(fingerprint):
    """`fingerprint` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(fingerprint, default=_jsonable))


def _differing_keys(saved, current, prefix=""):
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in sorted(set(saved) | set(current)):
            yield from _differing_keys(saved.get(key), current.get(key), f"{prefix}{key}.")
    elif saved != current:
        yield prefix.rstrip(".") or "(all)"

"""Training: stages that set `trainable` flags, the loop that runs them."""

from tfl.config.stage import Stage
from tfl.config.stage import parse_stages
from tfl.train.batchnorm import recalibrate_batchnorm
from tfl.train.discriminative import ScaledUpdates
from tfl.train.freezing import StagePlan
from tfl.train.freezing import apply_stage
from tfl.train.freezing import resolve_unfreeze
from tfl.train.history import StageRecord
from tfl.train.history import TrainingHistory
from tfl.train.loop import compile_for
from tfl.train.loop import default_stages
from tfl.train.loop import fit_stages
from tfl.train.loop import make_optimizer

__all__ = [
    "ScaledUpdates",
    "Stage",
    "StagePlan",
    "StageRecord",
    "TrainingHistory",
    "apply_stage",
    "compile_for",
    "default_stages",
    "fit_stages",
    "make_optimizer",
    "parse_stages",
    "recalibrate_batchnorm",
    "resolve_unfreeze",
]

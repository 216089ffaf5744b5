"""Training: stages that set `trainable` flags, the loop that runs them."""

from tfl.config.stage import Stage
from tfl.config.stage import parse_stages
from tfl.train.batchnorm import recalibrate_batchnorm
from tfl.train.checkpoint import CheckpointMismatchError
from tfl.train.checkpoint import ResumePoint
from tfl.train.checkpoint import TrainingCheckpoint
from tfl.train.discriminative import ScaledUpdates
from tfl.train.feature_cache import FeatureCache
from tfl.train.feature_cache import cache_decision
from tfl.train.fine_tune import fine_tune
from tfl.train.fit_stage import FitOptions
from tfl.train.fit_stage import fit_stage
from tfl.train.fixmatch import FixMatch
from tfl.train.fixmatch import FixMatchRecord
from tfl.train.fixmatch import fit_fixmatch
from tfl.train.fixmatch import fixmatch_dataset
from tfl.train.fixmatch import format_fixmatch
from tfl.train.fixmatch import strong_augmentation
from tfl.train.fixmatch import weak_augmentation
from tfl.train.freezing import StagePlan
from tfl.train.freezing import apply_stage
from tfl.train.freezing import resolve_unfreeze
from tfl.train.fusion_weights import FusionWeightLogger
from tfl.train.history import StageRecord
from tfl.train.history import TrainingHistory
from tfl.train.linear_probe import fit_linear_probe
from tfl.train.loop import fit_stages
from tfl.train.lr_finder import LRFinderResult
from tfl.train.lr_finder import find_learning_rate
from tfl.train.optimizers import make_optimizer
from tfl.train.plan import default_stages
from tfl.train.plan import fine_tune_stages
from tfl.train.plan import head_can_be_probed
from tfl.train.plan import with_early_stopping
from tfl.train.prototype_fit import fit_prototypes
from tfl.train.prototype_fit import init_head_from_prototypes
from tfl.train.pseudo_labels import PseudoLabels
from tfl.train.pseudo_labels import round_summary
from tfl.train.pseudo_labels import select_pseudo_labels
from tfl.train.schedules import StageSchedule
from tfl.train.self_training import SelfTrainingRecord
from tfl.train.self_training import fit_self_training
from tfl.train.self_training import format_rounds
from tfl.train.shared_trace import StagedUpdates
from tfl.train.shared_trace import share_stages
from tfl.train.stage_report import StageReport
from tfl.train.stage_report import stage_report
from tfl.train.transfer_check import TransferCheck
from tfl.train.transfer_check import transfer_check

__all__ = [
    "CheckpointMismatchError",
    "FeatureCache",
    "FitOptions",
    "FixMatch",
    "FixMatchRecord",
    "FusionWeightLogger",
    "LRFinderResult",
    "PseudoLabels",
    "ResumePoint",
    "ScaledUpdates",
    "SelfTrainingRecord",
    "Stage",
    "StagePlan",
    "StageRecord",
    "StageReport",
    "StageSchedule",
    "StagedUpdates",
    "TrainingCheckpoint",
    "TrainingHistory",
    "TransferCheck",
    "apply_stage",
    "cache_decision",
    "default_stages",
    "find_learning_rate",
    "fine_tune",
    "fine_tune_stages",
    "fit_fixmatch",
    "fit_linear_probe",
    "fit_prototypes",
    "fit_self_training",
    "fit_stage",
    "fit_stages",
    "fixmatch_dataset",
    "format_fixmatch",
    "format_rounds",
    "head_can_be_probed",
    "init_head_from_prototypes",
    "make_optimizer",
    "parse_stages",
    "recalibrate_batchnorm",
    "resolve_unfreeze",
    "round_summary",
    "select_pseudo_labels",
    "share_stages",
    "stage_report",
    "strong_augmentation",
    "transfer_check",
    "weak_augmentation",
    "with_early_stopping",
]

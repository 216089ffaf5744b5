"""Domain adaptation: one objective over a labelled source and a target domain, its alignment terms and scores."""

from tfl.adapt.alignment import coral
from tfl.adapt.alignment import mmd
from tfl.adapt.domain_adaptation import DomainAdaptation
from tfl.adapt.domain_adaptation import paired_dataset
from tfl.adapt.fit import AdaptationRecord
from tfl.adapt.fit import check_target_labels
from tfl.adapt.fit import fit_adaptation
from tfl.adapt.gradient_reversal import GradientReversal
from tfl.adapt.reversal_ramp import ReversalRamp
from tfl.adapt.unsupervised_scores import UnsupervisedScores
from tfl.adapt.unsupervised_scores import information_maximization
from tfl.adapt.unsupervised_scores import soft_neighborhood_density

__all__ = [
    "AdaptationRecord",
    "DomainAdaptation",
    "GradientReversal",
    "ReversalRamp",
    "UnsupervisedScores",
    "check_target_labels",
    "coral",
    "fit_adaptation",
    "information_maximization",
    "mmd",
    "paired_dataset",
    "soft_neighborhood_density",
]

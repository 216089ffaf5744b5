"""Evaluation: predictions over a dataset, classification metrics, interpretation, JSON reports, plots.

`THRESHOLD` (0.5) is the probability at or above which a multi-label
classifier predicts a class.
"""

from tfl.evaluate.adaptation_plot import plot_adaptation
from tfl.evaluate.compare import format_table
from tfl.evaluate.held_out import HeldOutEvaluation
from tfl.evaluate.held_out import evaluate_held_out
from tfl.evaluate.held_out import write_held_out
from tfl.evaluate.interpretation import example_losses
from tfl.evaluate.interpretation import gather_examples
from tfl.evaluate.interpretation import interpret
from tfl.evaluate.interpretation import most_confused
from tfl.evaluate.interpretation import top_losses
from tfl.evaluate.interpretation import write_interpretation
from tfl.evaluate.metrics import THRESHOLD
from tfl.evaluate.metrics import classification_metrics
from tfl.evaluate.metrics import confusion_matrix
from tfl.evaluate.metrics import roc_auc
from tfl.evaluate.plots import plot_confusion_matrix
from tfl.evaluate.plots import plot_fusion_weights
from tfl.evaluate.plots import plot_lr_finder
from tfl.evaluate.plots import plot_top_losses
from tfl.evaluate.plots import plot_training
from tfl.evaluate.plots import plot_transfer_vs_scratch
from tfl.evaluate.plots import save_figure
from tfl.evaluate.predict import predict_dataset
from tfl.evaluate.predict import top_k
from tfl.evaluate.report import evaluate_model
from tfl.evaluate.selection_plot import plot_rank
from tfl.io import to_json
from tfl.io import write_json

__all__ = [
    "THRESHOLD",
    "HeldOutEvaluation",
    "classification_metrics",
    "confusion_matrix",
    "evaluate_held_out",
    "evaluate_model",
    "example_losses",
    "format_table",
    "gather_examples",
    "interpret",
    "most_confused",
    "plot_adaptation",
    "plot_confusion_matrix",
    "plot_fusion_weights",
    "plot_lr_finder",
    "plot_rank",
    "plot_top_losses",
    "plot_training",
    "plot_transfer_vs_scratch",
    "predict_dataset",
    "roc_auc",
    "save_figure",
    "to_json",
    "top_k",
    "top_losses",
    "write_held_out",
    "write_interpretation",
    "write_json",
]

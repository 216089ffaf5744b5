"""Evaluation: predictions over a dataset, classification metrics, JSON reports."""

from tfl.evaluate.compare import format_table
from tfl.evaluate.metrics import THRESHOLD, classification_metrics, confusion_matrix, roc_auc
from tfl.evaluate.predict import predict_dataset, top_k
from tfl.evaluate.report import evaluate_model, to_json, write_json

__all__ = [
    "THRESHOLD",
    "classification_metrics",
    "confusion_matrix",
    "evaluate_model",
    "format_table",
    "predict_dataset",
    "roc_auc",
    "to_json",
    "top_k",
    "write_json",
]

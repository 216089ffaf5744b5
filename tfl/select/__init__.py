"""Model selection: score candidate backbones on the data before fine-tuning any.

`rank` extracts each candidate's frozen features once and scores them by
LogME (`logme`) and a cross-validated linear probe, beside their cost.
"""

from tfl.select.logme import logme

__all__ = ["logme"]

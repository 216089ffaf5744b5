"""Model selection: score candidate backbones on the data before fine-tuning any.

`rank` extracts each candidate's frozen features once and scores them by
LogME (`logme`) and a cross-validated linear probe, beside their cost.
"""

from tfl.select.candidates import Candidate
from tfl.select.candidates import parse_candidate
from tfl.select.candidates import parse_candidates
from tfl.select.logme import logme
from tfl.select.rank import rank
from tfl.select.rank import write_rank
from tfl.select.result import CandidateScore
from tfl.select.result import RankResult
from tfl.select.result import Recommendation

__all__ = [
    "Candidate",
    "CandidateScore",
    "RankResult",
    "Recommendation",
    "logme",
    "parse_candidate",
    "parse_candidates",
    "rank",
    "write_rank",
]

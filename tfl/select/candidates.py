"""`Candidate`: one backbone with its weights, as the command line names it.

`BACKBONE[:WEIGHTS]`: a registered backbone name (`tfl backbones`) and
"imagenet" (the default), "none" (a random initialisation) or the path of a
weights file (`.weights.h5`, `.h5` or `.keras`), e.g. `mobilenet_025`,
`mobilenet_025:none` or `resnet50:/models/resnet50.weights.h5`.
"""

import dataclasses
import os

from tfl.backbones import backbone_names
from tfl.backbones import get_backbone_spec
from tfl.backbones.weights import WEIGHT_FILE_SUFFIXES

IMAGENET = "imagenet"
NO_WEIGHTS = ("none", "null", "random")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A backbone and the weights to start it from.

    Attributes:
        backbone: the registered backbone name.
        weights: "imagenet", None (random) or a weights file path.
    """

    backbone: str
    weights: str | None = IMAGENET

    @property
    def name(self):
        """`BACKBONE:WEIGHTS`, as the command line writes it ("none" for random)."""
        return f"{self.backbone}:{'none' if self.weights is None else self.weights}"

    def __str__(self):
        return self.name


def parse_candidate(text):
    """A `Candidate` from `BACKBONE[:WEIGHTS]`, or a `Candidate` as it is.

    Raises:
        ValueError: an unknown backbone (listing close names), or weights that
            are not imagenet, none or an existing weights file.

    Examples:

    >>> parse_candidate("mobilenet_025:none")
    Candidate(backbone='mobilenet_025', weights=None)
    >>> parse_candidate("MobileNet_025").name
    'mobilenet_025:imagenet'
    """
    if isinstance(text, Candidate):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            "A candidate is BACKBONE[:WEIGHTS], e.g. 'mobilenet_025:imagenet' or 'resnet50:none'. "
            f"Received: candidate={text!r}"
        )
    backbone, _, weights = text.strip().partition(":")
    spec = get_backbone_spec(backbone)
    return Candidate(spec.name, _parse_weights(weights, text))


def _parse_weights(weights, text):
    if weights == "" or weights.lower() == IMAGENET:
        return IMAGENET
    if weights.lower() in NO_WEIGHTS:
        return None
    if weights.endswith(WEIGHT_FILE_SUFFIXES) and os.path.isfile(weights):
        return weights
    problem = "no such file" if weights.endswith(WEIGHT_FILE_SUFFIXES) else "unknown weights"
    raise ValueError(
        f"Candidate {text!r}: {problem} {weights!r}. WEIGHTS is imagenet, none (random), or the path "
        f"of an existing weights file ({', '.join(WEIGHT_FILE_SUFFIXES)}). Received: candidate={text!r}"
    )


def parse_candidates(candidates):
    """A list of `Candidate`s from a comma-separated string or a list of names.

    Raises:
        ValueError: for an empty list, a bad candidate, or one named twice.

    Examples:

    >>> [c.name for c in parse_candidates("mobilenet_025,mobilenet_025:none")]
    ['mobilenet_025:imagenet', 'mobilenet_025:none']
    """
    items = candidates.split(",") if isinstance(candidates, str) else list(candidates)
    parsed = [parse_candidate(item) for item in items if not (isinstance(item, str) and not item.strip())]
    if not parsed:
        raise ValueError(
            "No candidate given. Name at least one as BACKBONE[:WEIGHTS], e.g. "
            f"'mobilenet_025:imagenet,mobilenet_025:none'. Received: candidates={candidates!r}"
        )
    names = [c.name for c in parsed]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"Candidate {twice[0]!r} is named twice; name each once. Received: candidates={candidates!r}")
    return parsed


def registered_candidates(weights=IMAGENET):
    """Every registered backbone with `weights`: the candidates when none are named."""
    return [Candidate(name, weights) for name in backbone_names()]


__all__ = ["Candidate", "parse_candidate", "parse_candidates", "registered_candidates"]

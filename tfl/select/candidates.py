"""`Candidate`: one backbone with its weights, or one text encoder, as the command line names it.

Images: `BACKBONE[:WEIGHTS]`, a registered backbone name (`tfl backbones`)
and "imagenet" (the default), "none" (a random initialisation) or the path
of a weights file (`.weights.h5`, `.h5` or `.keras`), e.g. `mobilenet_025`,
`mobilenet_025:none` or `resnet50:/models/resnet50.weights.h5`.

Text: `ENCODER`, a pretrained encoder as `tfl train --encoder` takes it
(`tfl backbones --text`): "all_minilm_l6_v2", a KerasHub preset name, or a
local KerasHub preset or Hugging Face checkpoint folder.
"""

import dataclasses
import os

from tfl.backbones import backbone_names
from tfl.backbones import get_backbone_spec
from tfl.backbones.encoders import list_encoders
from tfl.backbones.encoders import resolve_encoder
from tfl.backbones.weights import WEIGHT_FILE_SUFFIXES
from tfl.config.model_config import TASKS

IMAGENET = "imagenet"
PRETRAINED = "pretrained"
NO_WEIGHTS = ("none", "null", "random")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A backbone and the weights to start it from, or a text encoder.

    Attributes:
        backbone: the registered backbone name, or the encoder (text).
        weights: "imagenet", None (random) or a weights file path; text:
            "pretrained", the encoder's own.
        task: "image" or "text".
    """

    backbone: str
    weights: str | None = IMAGENET
    task: str = "image"

    @property
    def name(self):
        """`BACKBONE:WEIGHTS` as the command line writes it ("none" for random); text: the encoder."""
        if self.task == "text":
            return self.backbone
        return f"{self.backbone}:{'none' if self.weights is None else self.weights}"

    def __str__(self):
        return self.name


def parse_candidate(text, task="image"):
    """A `Candidate` from `BACKBONE[:WEIGHTS]` (text: `ENCODER`), or a `Candidate` as it is.

    Raises:
        ValueError: an unknown backbone (listing close names), or weights that
            are not imagenet, none or an existing weights file.

    Examples:

    >>> parse_candidate("mobilenet_025:none")
    Candidate(backbone='mobilenet_025', weights=None)
    >>> parse_candidate("MobileNet_025").name
    'mobilenet_025:imagenet'
    """
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}. Known: {', '.join(TASKS)}. Received: task={task!r}")
    if isinstance(text, Candidate):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            "A candidate is BACKBONE[:WEIGHTS], e.g. 'mobilenet_025:imagenet' or 'resnet50:none' "
            f"(text: an encoder, e.g. 'all_minilm_l6_v2'). Received: candidate={text!r}"
        )
    if task == "text":
        resolve_encoder(text.strip())  # an unknown name: a ValueError naming close ones
        return Candidate(text.strip(), PRETRAINED, "text")
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


def parse_candidates(candidates, task="image"):
    """A list of `Candidate`s from a comma-separated string or a list of names.

    Raises:
        ValueError: for an empty list, a bad candidate, or one named twice.

    Examples:

    >>> [c.name for c in parse_candidates("mobilenet_025,mobilenet_025:none")]
    ['mobilenet_025:imagenet', 'mobilenet_025:none']
    """
    items = candidates.split(",") if isinstance(candidates, str) else list(candidates)
    parsed = [parse_candidate(item, task) for item in items if not (isinstance(item, str) and not item.strip())]
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


def registered_candidates(task="image"):
    """The candidates when none are named: every backbone of
    `keras.applications` (with ImageNet weights; not those added with
    `register_backbone`, which may have none), or every encoder tfl knows by
    name (text)."""
    if task == "text":
        return [Candidate(row["name"], PRETRAINED, "text") for row in list_encoders()]
    return [Candidate(name, IMAGENET) for name in backbone_names() if get_backbone_spec(name).from_keras_applications]

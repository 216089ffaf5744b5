"""Candidates as the command line names them: BACKBONE[:WEIGHTS]."""

import pytest

from tfl.select import Candidate
from tfl.select import parse_candidate
from tfl.select import parse_candidates


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mobilenet_025", Candidate("mobilenet_025", "imagenet")),
        ("MobileNet-025:ImageNet", Candidate("mobilenet_025", "imagenet")),
        ("mobilenet_v3_small:none", Candidate("mobilenet_v3_small", None)),
        ("resnet50:random", Candidate("resnet50", None)),
    ],
    ids=["default_weights", "any_case", "none", "random"],
)
def test_a_candidate_is_a_backbone_and_its_weights(text, expected):
    assert parse_candidate(text) == expected


def test_a_weights_file_is_a_path_that_exists(tmp_path):
    path = tmp_path / "mine.weights.h5"
    path.write_bytes(b"")

    candidate = parse_candidate(f"mobilenet_025:{path}")

    assert candidate.weights == str(path) and candidate.name == f"mobilenet_025:{path}"
    with pytest.raises(ValueError, match="no such file"):
        parse_candidate(f"mobilenet_025:{tmp_path / 'missing.weights.h5'}")


def test_an_unknown_backbone_lists_close_names():
    with pytest.raises(ValueError, match=r"Unknown backbone 'mobilenet_25'.*Did you mean: .*mobilenet_025"):
        parse_candidate("mobilenet_25:imagenet")


def test_unknown_weights_name_the_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown weights 'imgnet'.*imagenet, none.*Received: candidate='mobilenet_025:imgnet'"):
        parse_candidate("mobilenet_025:imgnet")


def test_a_list_is_comma_separated_and_names_each_candidate_once():
    parsed = parse_candidates("mobilenet_025:imagenet, mobilenet_025:none,")

    assert [c.name for c in parsed] == ["mobilenet_025:imagenet", "mobilenet_025:none"]
    with pytest.raises(ValueError, match="named twice"):
        parse_candidates(["mobilenet_025", "mobilenet_025:imagenet"])
    with pytest.raises(ValueError, match="No candidate given"):
        parse_candidates(" , ")


def test_without_named_candidates_every_registered_backbone_or_encoder_is_one():
    from tfl.backbones import backbone_names
    from tfl.backbones import get_backbone_spec
    from tfl.backbones.keras_applications import SPECS
    from tfl.select.candidates import registered_candidates

    images = registered_candidates()
    keras_names = [name for name in backbone_names() if get_backbone_spec(name).from_keras_applications]
    assert [c.backbone for c in images] == keras_names and {c.weights for c in images} == {"imagenet"}
    assert keras_names == [spec.name for spec in SPECS]
    text = registered_candidates("text")
    assert text[0] == Candidate("all_minilm_l6_v2", "pretrained", "text") and text[0].name == "all_minilm_l6_v2"

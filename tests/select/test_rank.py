"""`tfl.rank` and `tfl rank`: candidates scored on frozen features, best first, with their cost."""

import importlib
import json

import numpy as np
import pytest

from tfl.cli.main import main
from tfl.data import from_arrays
from tfl.select import rank
from tfl.select.result import CandidateScore
from tfl.select.result import recommend

TINY = "mobilenet_025:none,mobilenet_v3_small:none"


def _tiny_data(n=40):
    """Bright images are class 1, dark ones class 0: 16x16, loaded at 32x32."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    images = (rng.integers(0, 110, (n, 16, 16, 3)) + 130 * labels[:, None, None, None]).astype(np.uint8)
    return from_arrays(images, labels, class_names=("dark", "bright"), image_size=32, batch_size=8)


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    output = tmp_path_factory.mktemp("rank")
    return rank(TINY, _tiny_data(), output=output), output


def test_rank_writes_rank_json_with_every_candidate_best_first(ranked):
    result, output = ranked
    written = json.loads((output / "rank.json").read_text())

    names = [c["name"] for c in written["candidates"]]
    assert sorted(names) == sorted(TINY.split(","))
    logmes = [c["logme"] for c in written["candidates"]]
    assert logmes == sorted(logmes, reverse=True)
    for candidate in written["candidates"]:
        assert set(candidate) >= {"name", "weights", "logme", "probe_accuracy", "parameters", "latency_ms",
                                  "feature_seconds"}
        assert candidate["weights"] is None and candidate["parameters"] > 0 and candidate["latency_ms"] > 0
        assert 0.5 <= candidate["probe_accuracy"] <= 1.0  # bright against dark: any features see it
    assert written["recommendation"]["name"] in names and written["recommendation"]["reason"]
    assert written["examples"] == 32 and written["folds"] == 5 and written["image_size"] == [32, 32]
    assert (output / "rank.png").stat().st_size > 0
    assert [c.name for c in result.candidates] == names


def test_the_table_lists_the_candidates_in_order_and_the_recommendation(ranked):
    result, _ = ranked
    lines = str(result).splitlines()

    assert result.candidates[0].name in lines[1] and result.candidates[1].name in lines[2]
    assert lines[-1].startswith(f"Recommended: {result.recommendation.name}.")


def test_a_budget_skips_candidates_over_it_and_says_why():
    result = rank(TINY, _tiny_data(), max_params=500_000, folds=3)

    assert [c.name for c in result.candidates] == ["mobilenet_025:none"]
    assert result.skipped[0][0] == "mobilenet_v3_small:none" and "over max_params=500,000" in result.skipped[0][1]
    with pytest.raises(ValueError, match=r"imagenet: 940,274 parameters, over max_params=1,000"):
        rank("mobilenet_v3_small:imagenet", _tiny_data(), max_params=1000)  # counted before any download
    with pytest.raises(ValueError, match=r"No candidate was scored: mobilenet_v3_small:none: .* ms per example, over"):
        rank("mobilenet_v3_small:none", _tiny_data(), max_latency_ms=1e-6)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"candidates": None}, r"give a budget \(max_params, max_latency_ms; --max-params, --max-latency-ms"),
        ({"sort_by": "speed"}, "Unknown sort_by 'speed'"),
        ({"folds": 1}, r"folds is an int >= 2 \(--folds with tfl rank\)"),
        ({"image_size": 64}, "differs from the data's"),
        ({"tolerance": -0.5}, r"a fraction in \[0, 1\].*\(--tolerance with tfl rank\)\. Received: tolerance=-0\.5"),
        ({"tolerance": float("nan")}, r"\(--tolerance with tfl rank\)\. Received: tolerance=nan"),
        ({"max_latency_ms": -1.0}, r"max_latency_ms is .* > 0 \(--max-latency-ms with tfl rank\)"),
    ],
    ids=["no_candidates_no_budget", "sort_by", "folds", "image_size", "negative_tolerance", "nan_tolerance",
         "negative_latency"],
)
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        rank(**{"candidates": TINY, "data": _tiny_data(), **arguments})


def _score(name, accuracy, logme, latency):
    return CandidateScore(name, name, None, logme, accuracy, 0.1, 1000, latency, 1.0, 8)


def test_the_recommendation_is_the_cheapest_within_the_tolerance_of_the_best_probe():
    scores = [_score("big", 0.93, 0.5, 9.0), _score("small", 0.925, 0.4, 2.0), _score("tiny", 0.80, 0.1, 0.5)]

    choice = recommend(scores, tolerance=0.01)

    assert choice.name == "small"
    assert "cheapest candidate (2.00 ms per example" in choice.reason and "big: 0.930" in choice.reason
    assert "LogME and the probe agree on the best: big" in choice.reason
    assert recommend(scores, tolerance=0.0).name == "big"
    assert "disagree on the best: LogME ranks b first" in recommend([_score("a", 0.9, 0.1, 1.0), _score("b", 0.8, 0.2, 1.0)], 0.01).reason


def test_tfl_rank_prints_the_table_and_writes_the_files(image_folder, tmp_path, capsys):
    output = tmp_path / "out"
    code = main(["rank", "--data", str(image_folder), "--candidates", "mobilenet_025:none", "--image-size", "32",
                 "--folds", "2", "--output", str(output)])

    assert code == 0
    printed = capsys.readouterr().out
    assert "mobilenet_025:none" in printed and "Recommended: mobilenet_025:none." in printed
    assert json.loads((output / "rank.json").read_text())["candidates"][0]["name"] == "mobilenet_025:none"


def test_a_negative_tolerance_is_refused_before_any_candidate_is_scored(image_folder, capsys, monkeypatch):
    def no_scoring(*args, **kwargs):
        raise AssertionError("a candidate was scored before the tolerance was checked")

    monkeypatch.setattr(importlib.import_module("tfl.select.rank"), "_score", no_scoring)  # the module, not rank()
    code = main(["rank", "--data", str(image_folder), "--candidates", "mobilenet_025:none", "--image-size", "32",
                 "--tolerance", "-0.5"])

    assert code == 2
    assert "tfl rank: error: tolerance is the probe accuracy a cheaper candidate may give up" in capsys.readouterr().err


def test_tfl_rank_names_a_bad_candidate_without_a_traceback(image_folder, capsys):
    code = main(["rank", "--data", str(image_folder), "--candidates", "mobilenet_025:imgnet"])

    assert code == 2
    assert "tfl rank: error: Candidate 'mobilenet_025:imgnet': unknown weights" in capsys.readouterr().err


def test_imagenet_features_rank_first_on_ants_and_bees(imagenet_home, hymenoptera):
    result = rank("mobilenet_025:none,mobilenet_025:imagenet", hymenoptera / "train", image_size=224,
                  max_examples=96, folds=4)

    best = result.candidates[0]
    assert best.name == "mobilenet_025:imagenet" and best.weights == "imagenet"
    assert best.probe_accuracy > result.candidates[1].probe_accuracy + 0.1
    assert result.recommendation.name == "mobilenet_025:imagenet"


def _reviews(path, n=40):
    rng = np.random.default_rng(0)
    words = {"pos": ["good", "great", "fun"], "neg": ["bad", "awful", "boring"]}
    rows = ["text,label"]
    for i in range(n):
        label = ("pos", "neg")[i % 2]
        rows.append(f"the {' '.join(rng.choice(words[label], 2))} movie,{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_text_candidates_are_encoders_each_reading_the_text_with_its_own_tokenizer(tmp_path):
    from tests.text_fakes import tiny_encoder_folder

    small = tiny_encoder_folder(tmp_path / "small", hidden_dim=8)
    wider = tiny_encoder_folder(tmp_path / "wider", hidden_dim=16)

    result = rank([str(small), str(wider)], _reviews(tmp_path / "reviews.csv"), sequence_length=16, folds=3)

    assert result.task == "text" and result.image_size is None and result.examples == 32
    assert sorted(c.name for c in result.candidates) == sorted([str(small), str(wider)])
    assert {c.feature_dim for c in result.candidates} == {8, 16}
    assert result.to_dict()["image_size"] is None
    with pytest.raises(ValueError, match="Unknown encoder 'no_such_encoder'"):
        rank("no_such_encoder", tmp_path / "reviews.csv")

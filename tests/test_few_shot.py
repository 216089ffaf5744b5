"""Few-shot episodes: the three classifiers, the interval, `tfl.evaluate_few_shot` and `tfl fewshot`."""

import json
import math

import numpy as np
import pytest

import tfl
from tests.small_backbone import SMALL_BACKBONE
from tfl.cli.main import main
from tfl.evaluate.intervals import episode_interval
from tfl.train import fit_linear_probe
from tfl.train.episode_classifiers import fine_tune_predictions
from tfl.train.episode_classifiers import probe_predictions
from tfl.train.episode_classifiers import prototype_predictions


def _episodes(shots, noise, seed=0, ways=4, dim=16, episodes=30):
    """Support and query features of `episodes` episodes around `ways` random class centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(episodes, ways, 1, dim))
    support = (centres + noise * rng.normal(size=(episodes, ways, shots, dim))).reshape(episodes, -1, dim)
    query = (centres + noise * rng.normal(size=(episodes, ways, 6, dim))).reshape(episodes, -1, dim)
    support_labels = np.broadcast_to(np.repeat(np.arange(ways), shots), support.shape[:2])
    return support, support_labels, query, np.repeat(np.arange(ways), 6)


def test_the_interval_is_1_96_standard_deviations_over_the_square_root_of_the_episodes():
    accuracies = [0.5, 0.7, 0.9, 0.6, 0.8]
    mean = sum(accuracies) / 5
    std = math.sqrt(sum((a - mean) ** 2 for a in accuracies) / 4)
    summary = episode_interval(accuracies)
    assert summary["mean"] == pytest.approx(0.7) and summary["std"] == pytest.approx(std)
    assert summary["plus_minus"] == pytest.approx(1.96 * std / math.sqrt(5))
    assert summary["ci95"] == pytest.approx([0.7 - 1.96 * std / math.sqrt(5), 0.7 + 1.96 * std / math.sqrt(5)])
    assert summary["episodes"] == 5


def test_prototypes_classify_separated_directions_perfectly_and_identical_features_at_chance():
    # Each class's features point along its own axis, at any length: cosine prototypes are exact.
    labels = np.repeat(np.arange(5), 20)
    lengths = np.random.default_rng(0).uniform(0.5, 3.0, size=(100, 1))
    result = tfl.evaluate_few_shot_features(np.eye(5)[labels] * lengths, labels, ways=3, shots=1, queries=5,
                                            episodes=50, methods="prototypes")
    assert result.results["prototypes"][1]["mean"] == 1.0
    # Every feature the same: every query ties, and the first class wins: 1 / ways exactly.
    result = tfl.evaluate_few_shot_features(np.ones((100, 4)), labels, ways=4, shots=2, queries=5, episodes=20,
                                            methods="prototypes")
    assert result.results["prototypes"][2]["mean"] == 0.25 and result.results["prototypes"][2]["std"] == 0.0


def test_prototypes_follow_the_nearest_class_mean_by_cosine():
    support = np.array([[[1.0, 0.0], [1.0, 0.2], [0.0, 1.0], [0.2, 1.0]]])  # means at ~(1, .1) and ~(.1, 1)
    query = np.array([[[5.0, 4.0], [4.0, 5.0], [0.1, 0.0]]])  # by angle, not by distance
    assert prototype_predictions(support, [[0, 0, 1, 1]], query, 2).tolist() == [[0, 1, 0]]


@pytest.mark.parametrize("shots", [1, 5])
def test_the_batched_probe_predicts_as_fit_linear_probe_with_l2_one_over_n(shots):
    support, support_labels, query, _ = _episodes(shots, noise=2.0, episodes=5)
    batched = probe_predictions(support, support_labels, query, 4)
    for e in range(5):
        probe = fit_linear_probe(support[e], support_labels[e], 4, l2=None, tol=1e-7, max_iter=1000)
        np.testing.assert_array_equal(batched[e], np.argmax(query[e] @ probe.kernel + probe.bias, axis=1))


def test_the_head_before_fine_tuning_is_the_euclidean_prototype_classifier_of_normalised_features():
    support, support_labels, query, _ = _episodes(2, noise=3.0)
    normalised = [f / np.linalg.norm(f, axis=-1, keepdims=True) for f in (support, query)]
    expected = prototype_predictions(*normalised[:1], support_labels, normalised[1], 4, metric="euclidean")
    np.testing.assert_array_equal(fine_tune_predictions(support, support_labels, query, 4, steps=0), expected)


def test_fine_tuning_the_head_fits_its_support_set_better_than_the_prototypes():
    support, support_labels, _, _ = _episodes(5, noise=3.0)
    before = fine_tune_predictions(support, support_labels, support, 4, steps=0)
    after = fine_tune_predictions(support, support_labels, support, 4, steps=300, learning_rate=0.1)
    assert np.mean(after == support_labels) > np.mean(before == support_labels)


def test_every_method_beats_chance_on_separable_episodes():
    features_labels = np.repeat(np.arange(6), 25)
    features = np.random.default_rng(0).normal(size=(150, 8)) + 3 * np.eye(6, 8)[features_labels]
    result = tfl.evaluate_few_shot_features(features, features_labels, ways=5, shots=(1, 5), queries=10,
                                            episodes=40)
    for method in ("prototypes", "linear_probe", "fine_tune"):
        assert result.results[method][1]["mean"] > 0.6 and result.results[method][5]["mean"] > 0.85, method
    assert "prototypes" in result.table() and "5-shot" in result.table()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(shots=(1, 0)), r"shots is a whole number >= 1 or several"),
        (dict(methods=("prototypes", "maml")), r"Unknown few-shot method \['maml'\]. Known: prototypes"),
        (dict(ways=9), r"A 9-way episode needs 9 classes; the labelled set has 6"),
    ],
)
def test_bad_settings_are_named(arguments, message):
    labels = np.repeat(np.arange(6), 25)
    with pytest.raises(ValueError, match=message):
        tfl.evaluate_few_shot_features(np.ones((150, 3)), labels, **arguments)


@pytest.fixture(scope="module")
def written(image_folder, tmp_path_factory):
    """`tfl fewshot` on the dark-and-bright folder (8 images of each), the tests' small random network."""
    output = tmp_path_factory.mktemp("fewshot")
    code = main(["fewshot", "--data", str(image_folder), "--backbone", SMALL_BACKBONE, "--weights", "none",
                 "--image-size", "32", "--ways", "2", "--shots", "1,3", "--queries", "4", "--episodes", "30",
                 "--output", str(output)])
    return code, json.loads((output / "fewshot.json").read_text())


def test_tfl_fewshot_writes_every_method_and_shot_with_its_interval(written):
    code, content = written
    assert code == 0
    assert content["settings"]["ways"] == 2 and content["settings"]["shots"] == [1, 3]
    assert content["settings"]["backbone"] == SMALL_BACKBONE and content["settings"]["weights"] is None
    assert content["settings"]["examples"] == 16 and content["settings"]["class_names"] == ["bright", "dark"]
    assert sorted(content["results"]) == ["fine_tune", "linear_probe", "prototypes"]
    for by_shot in content["results"].values():
        assert sorted(by_shot) == ["1", "3"]
        for summary in by_shot.values():
            assert summary["episodes"] == 30
            assert summary["plus_minus"] == pytest.approx(1.96 * summary["std"] / math.sqrt(30))
    # Dark and bright images are told apart even by random weights, with 3 shots.
    assert content["results"]["prototypes"]["3"]["mean"] > 0.8


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--ways", "3"], "A 3-way episode needs 3 classes; the labelled set has 2 ('bright', 'dark')"),
        (["--ways", "2", "--shots", "5", "--queries", "4"], "shots + queries = 9 examples for an episode; 2 classes have fewer"),
    ],
)
def test_tfl_fewshot_names_a_setting_the_data_cannot_meet_before_extracting(image_folder, capsys, arguments,
                                                                             message):
    code = main(["fewshot", "--data", str(image_folder), "--backbone", "mobilenet_025", "--weights", "none",
                 "--image-size", "32", *arguments])
    assert code == 2
    assert message in capsys.readouterr().err


def test_tfl_fewshot_refuses_a_missing_folder_and_bad_shots(tmp_path, capsys):
    assert main(["fewshot", "--data", str(tmp_path / "nowhere"), "--backbone", "mobilenet_025"]) == 2
    assert "No such folder or file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fewshot", "--data", str(tmp_path), "--shots", "1,x"])
    assert "expected whole numbers >= 1 joined by commas (e.g. 1,5), got '1,x'" in capsys.readouterr().err


def test_imagenet_features_beat_random_weights_by_far_on_real_photos(imagenet_home, hymenoptera):
    # Ants and bees (244 real photos) at 224 px: the ImageNet weights (from ../shared/data) against
    # the same network with random weights, 2-way 5-shot, the same episodes.
    data = tfl.load_data(tfl.DataConfig(source=str(hymenoptera / "train")), (224, 224))
    means = {
        weights: tfl.evaluate_few_shot(data, backbone="mobilenet_025", weights=weights, ways=2, shots=5,
                                       queries=10, episodes=100, methods="prototypes")
        .results["prototypes"][5]["mean"]
        for weights in ("imagenet", None)
    }
    assert means["imagenet"] > 0.68 and means["imagenet"] > means[None] + 0.15, means


def test_tfl_fewshot_reads_a_text_file_through_an_encoder(tmp_path, capsys):
    from tests.text_fakes import tiny_encoder_folder

    encoder = tiny_encoder_folder(tmp_path / "encoder", hidden_dim=8)
    words = {"good": "good great fun", "bad": "bad awful boring", "flat": "the a is"}
    lines = ["review,stars"] + [f"{words[c]} {i},{c}" for c in words for i in range(5)]
    (tmp_path / "reviews.csv").write_text("\n".join(lines) + "\n")
    code = main(["fewshot", "--data", str(tmp_path / "reviews.csv"), "--text-column", "review", "--label-column",
                 "stars", "--encoder", str(encoder), "--sequence-length", "8", "--ways", "3", "--shots", "2",
                 "--queries", "3", "--episodes", "10", "--output", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    content = json.loads((tmp_path / "out" / "fewshot.json").read_text())
    assert content["settings"]["task"] == "text" and content["settings"]["encoder"] == str(encoder)
    assert content["settings"]["examples"] == 15 and content["settings"]["feature_dim"] == 8
    assert content["results"]["linear_probe"]["2"]["episodes"] == 10
    assert "3-way episodes on 15 examples of 3 classes" in capsys.readouterr().out


def test_tfl_fewshot_reads_the_second_text_of_sentence_pairs(tmp_path, capsys):
    from tests.text_fakes import tiny_encoder_folder

    encoder = tiny_encoder_folder(tmp_path / "encoder", hidden_dim=8)
    words = {"good": "good great fun", "bad": "bad awful boring", "flat": "the a is"}
    lines = ["question,answer,label"] + [f"how was it,{words[c]} {i},{c}" for c in words for i in range(5)]
    (tmp_path / "pairs.csv").write_text("\n".join(lines) + "\n")
    arguments = ["fewshot", "--data", str(tmp_path / "pairs.csv"), "--text-column", "question", "--encoder",
                 str(encoder), "--sequence-length", "12", "--ways", "3", "--shots", "2", "--queries", "3",
                 "--episodes", "20", "--methods", "prototypes"]
    results = {}
    for pair in (None, "answer"):
        output = tmp_path / f"out-{pair}"
        extra = [] if pair is None else ["--text-pair-column", pair]
        assert main([*arguments, *extra, "--output", str(output)]) == 0, capsys.readouterr().err
        content = json.loads((output / "fewshot.json").read_text())
        assert content["settings"].get("text_pair_column") == pair
        results[pair] = content["results"]["prototypes"]["2"]["mean"]
    # Without the pair every example is the same question: one feature, chance. With it, the answers tell.
    assert results[None] < 0.5 < results["answer"], results


def test_tfl_fewshot_refuses_text_columns_for_images(image_folder, capsys):
    code = main(["fewshot", "--data", str(image_folder), "--backbone", "mobilenet_v3_small", "--weights", "none",
                 "--text-pair-column", "answer"])
    assert code == 2
    assert "Remove text_pair_column (--text-pair-column with `tfl fewshot`)" in capsys.readouterr().err

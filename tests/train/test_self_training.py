"""Self-training rounds: what each fit sees, the refresh per round, and the record."""

import numpy as np
import pytest

import tfl
from tests.small_backbone import SMALL_BACKBONE
from tfl.config import Stage
from tfl.data.unlabeled import unlabeled_images
from tfl.data.unlabeled import unlabeled_texts
from tfl.train import self_training
from tfl.train.history import TrainingHistory
from tfl.train.loop import fit_stages
from tfl.train.pseudo_labels import PseudoLabels


def _images(n, seed):
    """Dark (class 0) and bright (class 1) 16x16 images; each one's first pixel is unique."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.integers(0, 100, (n, 16, 16, 3)) + labels[:, None, None, None] * 140
    images[:, 0, 0, :] = (np.arange(n) + 100 * seed)[:, None] % 256
    return images.astype(np.uint8), labels


@pytest.fixture(scope="module")
def setup():
    import keras

    keras.utils.set_random_seed(0)
    images, labels = _images(12, 1)
    held_out, held_out_labels = _images(8, 2)
    pool, truth = _images(30, 0)
    truth = truth.copy()
    truth[::5] = -1  # some true labels unknown
    data = tfl.data.from_arrays(
        images, labels, class_names=["dark", "bright"], validation_data=(held_out, held_out_labels),
        image_size=32, resize="stretch", batch_size=4,
    )
    model = tfl.build_model(tfl.ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), data.class_names)
    unlabeled = unlabeled_images(pool, image_size=32, resize="stretch", true_labels=truth, class_names=data.class_names)
    return data, model, unlabeled, pool, truth


class Spy:
    """Wraps `fit_stages`, keeping what each round's fit trains on."""

    def __init__(self, delegate=True):
        self.delegate = delegate
        self.seen = []

    def __call__(self, model, data, stages, options, cache=None):
        if cache is not None:  # the cached route: the features handed to the head
            features = cache.get(data)
            self.seen.append((np.array(features.train_features), np.array(features.train_labels)))
        else:
            batches = list(data.train.as_numpy_iterator())
            inputs = np.concatenate([x["images"] for x, _ in batches])
            self.seen.append((inputs, np.concatenate([y for _, y in batches])))
        if self.delegate:
            return fit_stages(model, data, stages, options, cache=cache)
        return TrainingHistory(plan=tuple(stages))


@pytest.fixture
def spy(monkeypatch):
    made = Spy()
    monkeypatch.setattr(self_training, "fit_stages", made)
    return made


def _unlabeled_features(model, unlabeled):
    return self_training._features(model, unlabeled.inputs)


def test_cached_rounds_fit_on_the_labels_plus_exactly_the_rounds_confident_pseudo_labels(setup, spy):
    data, model, unlabeled, _, truth = setup
    # a threshold between the confidences round 1 will see (round 0 is this same probe), so that it filters
    fit_stages(model, data, [Stage("probe")], verbose=0)
    confidence = np.sort(model.head_model()(_unlabeled_features(model, unlabeled)).numpy().max(axis=1))
    threshold = float(confidence[len(confidence) // 2])
    record = self_training.fit_self_training(
        model, data, unlabeled, [Stage("probe")], rounds=2, threshold=threshold, balance="none", verbose=0
    )
    assert record.route == "cached features"
    spy.seen = spy.seen[-3:]  # the probe above went through fit_stages too
    assert [entry["round"] for entry in record.per_round] == [0, 1, 2]
    features = _unlabeled_features(model, unlabeled)
    labelled, labelled_labels = spy.seen[0]
    assert len(labelled) == data.num_train == record.num_labelled
    for round_index in (1, 2):
        pseudo = record.pseudo_labels[round_index]
        seen, seen_labels = spy.seen[round_index]
        np.testing.assert_array_equal(seen[: len(labelled)], labelled)
        extra, extra_labels = seen[len(labelled) :], seen_labels[len(labelled) :]
        # each extra row is one unlabelled example's features, with its pseudo-label
        rows = [int(np.argmin(np.abs(features - row).sum(axis=1))) for row in extra]
        assert sorted(rows) == pseudo.accepted.tolist()
        assert all(pseudo.confidence[i] >= threshold for i in rows)
        assert [pseudo.labels[i] for i in rows] == extra_labels.tolist()
        summary = record.per_round[round_index]["pseudo_labels"]
        assert summary["accepted"] == len(rows)
        known = [i for i in rows if truth[i] != -1]
        expected = np.mean([pseudo.labels[i] == truth[i] for i in known]) if known else None
        assert summary["accuracy"] == pytest.approx(expected)
    # the threshold did filter: some examples were taken, some were below it
    assert any(record.pseudo_labels[r].accepted.size for r in (1, 2))
    assert (record.pseudo_labels[1].confidence < threshold).any()
    assert record.per_round[0]["pseudo_labels"] is None
    assert all(0 <= entry["validation_accuracy"] <= 1 for entry in record.per_round)


def test_below_threshold_examples_never_reach_the_fit_when_the_model_trains(setup, monkeypatch):
    """The "model" route: the fit's own training batches hold the labelled images and the accepted ones."""
    data, model, unlabeled, pool, _ = setup
    spy = Spy(delegate=False)
    monkeypatch.setattr(self_training, "fit_stages", spy)
    # the spy does not train: round 1 predicts with the model as it is; a threshold between its confidences
    confidence = np.sort(np.concatenate([model(x, training=False).numpy().max(axis=1) for x in unlabeled.inputs]))
    threshold = float(confidence[len(confidence) // 2])
    record = self_training.fit_self_training(
        model, data, unlabeled, [Stage("none", epochs=1, learning_rate=1e-3)], rounds=1, threshold=threshold,
        balance="none", verbose=0, feature_cache="off",
    )
    assert record.route == "model"
    pseudo = record.pseudo_labels[1]
    assert 0 < pseudo.accepted.size < unlabeled.num_examples
    inputs, labels = spy.seen[1]
    assert len(inputs) == data.num_train + pseudo.accepted.size
    pool_pixels = {int(v): i for i, v in enumerate(pool[:, 0, 0, 0])}
    from_pool = [(pool_pixels[int(round(x[0, 0, 0]))], y) for x, y in zip(inputs, labels) if int(round(x[0, 0, 0])) in pool_pixels]
    assert sorted(i for i, _ in from_pool) == pseudo.accepted.tolist()
    assert all(pseudo.confidence[i] >= threshold and pseudo.labels[i] == y for i, y in from_pool)


def test_each_round_refreshes_the_pseudo_labels_dropped_and_changed_ones_leave_the_fit(setup, spy, monkeypatch):
    data, model, unlabeled, _, _ = setup
    n = unlabeled.num_examples
    first = np.full(n, -1, np.int32)
    first[[0, 1, 2]] = [0, 1, 1]
    second = np.full(n, -1, np.int32)
    second[[1, 2, 3]] = [0, 1, 0]  # 0 dropped, 1 changed class, 2 kept, 3 added
    scripted = iter([first, second])

    def select(probabilities, threshold, balance, counts):
        labels = next(scripted)
        return PseudoLabels(labels, np.ones(n, np.float32), np.bincount(labels[labels >= 0], minlength=2))

    monkeypatch.setattr(self_training, "select_pseudo_labels", select)
    record = self_training.fit_self_training(model, data, unlabeled, [Stage("probe")], rounds=2, verbose=0)
    features = _unlabeled_features(model, unlabeled)
    extra, extra_labels = (part[data.num_train :] for part in spy.seen[2])
    rows = [int(np.argmin(np.abs(features - row).sum(axis=1))) for row in extra]
    assert dict(zip(rows, extra_labels.tolist())) == {1: 0, 2: 1, 3: 0}
    summary = record.per_round[2]["pseudo_labels"]
    assert (summary["added"], summary["dropped"], summary["changed"]) == (1, 1, 1)


def test_bad_settings_and_inputs_are_refused_naming_them(setup):
    data, model, unlabeled, _, _ = setup
    with pytest.raises(ValueError, match="rounds=0"):
        self_training.fit_self_training(model, data, unlabeled, [Stage("probe")], rounds=0)
    with pytest.raises(ValueError, match=r"\(0, 1\].*threshold=1.5"):
        self_training.fit_self_training(model, data, unlabeled, [Stage("probe")], threshold=1.5)
    texts = unlabeled_texts(["a text"], preprocessor=None)
    with pytest.raises(ValueError, match="holds text examples, and the model is an image classifier"):
        self_training.fit_self_training(model, data, texts, [Stage("probe")])


def test_a_fusion_of_image_and_text_branches_is_refused_naming_its_kind_and_the_fix(setup):
    from tests.text_fakes import tiny_encoder
    from tfl.backbones import build_backbone
    from tfl.model import FusionClassifier
    from tfl.model import image_branch
    from tfl.model import text_branch

    data, _, unlabeled, _, _ = setup
    encoder, preprocessor = tiny_encoder(sequence_length=8, hidden_dim=8)
    backbone = build_backbone(SMALL_BACKBONE, weights=None, image_size=32)
    model = FusionClassifier(
        [image_branch("image", backbone, SMALL_BACKBONE, 32), text_branch("text", encoder, "tiny", preprocessor=preprocessor)],
        data.class_names,
    )

    with pytest.raises(ValueError, match=r"task 'image_text'.*image or text classifiers.*fit_stages"):
        self_training.fit_self_training(model, data, unlabeled, [Stage("probe")])


def test_the_record_prints_a_table_per_round_and_class(setup):
    record = self_training.SelfTrainingRecord(
        rounds=1, threshold=0.9, balance="proportional", route="cached features", num_labelled=4,
        num_unlabeled=6, num_known=6,
        per_round=[
            {"round": 0, "pseudo_labels": None, "validation_accuracy": 0.5, "seconds": 1.0},
            {"round": 1, "validation_accuracy": 0.75, "seconds": 1.0, "pseudo_labels": {
                "accepted": 4, "accuracy": 0.75,
                "per_class": {"dark": {"accepted": 2, "accuracy": 1.0}, "bright": {"accepted": 2, "accuracy": 0.5}},
            }},
        ],
    )
    lines = record.format(["dark", "bright"]).splitlines()
    assert lines[-1].split() == ["1", "2", "(1.00)", "2", "(0.50)", "0.750", "0.7500"]
    assert lines[-2].split() == ["0", "-", "-", "-", "0.5000"]

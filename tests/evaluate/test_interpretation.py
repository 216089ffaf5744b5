"""Interpretation: top losses, most confused pairs, per-class F1, the figure and the files."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfl.evaluate import confusion_matrix
from tfl.evaluate import to_json
from tfl.evaluate.interpretation import EPSILON
from tfl.evaluate.interpretation import INTERPRETATION_FILE
from tfl.evaluate.interpretation import TOP_LOSSES_PLOT
from tfl.evaluate.interpretation import ConfusedPair
from tfl.evaluate.interpretation import example_losses
from tfl.evaluate.interpretation import gather_examples
from tfl.evaluate.interpretation import interpret
from tfl.evaluate.interpretation import most_confused
from tfl.evaluate.interpretation import top_losses
from tfl.evaluate.interpretation import write_interpretation
from tfl.evaluate.plots import TOP_LOSS_GID
from tfl.evaluate.plots import TOP_LOSS_TEXT_CHARS
from tfl.evaluate.plots import plot_top_losses

NAMES = ["cat", "dog", "fox"]
# Six examples, two per class. Predictions (argmax): cat, dog, dog, dog, fox, cat.
Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PROB = np.array([
    [0.7, 0.2, 0.1],
    [0.3, 0.6, 0.1],
    [0.1, 0.8, 0.1],
    [0.2, 0.5, 0.3],
    [0.1, 0.1, 0.8],
    [0.5, 0.1, 0.4],
])


def test_single_label_loss_is_minus_log_of_the_actual_class_probability():
    losses = example_losses(Y_TRUE, Y_PROB, NAMES)
    expected = -np.log([0.7, 0.3, 0.8, 0.5, 0.8, 0.4])
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    keras_losses = keras.losses.sparse_categorical_crossentropy(Y_TRUE, Y_PROB.astype("float32"))
    np.testing.assert_allclose(losses, np.asarray(keras_losses), rtol=1e-5)


def test_a_zero_probability_gives_the_clipped_loss_not_infinity():
    losses = example_losses([0, 1], [[0.0, 1.0], [0.0, 1.0]], ["a", "b"])
    assert losses[0] == pytest.approx(-math.log(EPSILON))
    assert losses[1] == pytest.approx(-math.log(1 - EPSILON))


def test_one_sigmoid_column_is_the_probability_of_class_1():
    losses = example_losses([0, 1], [[0.25], [0.25]], ["no", "yes"])
    np.testing.assert_allclose(losses, [-math.log(0.75), -math.log(0.25)])


def test_top_losses_lists_the_worst_examples_first_with_classes_and_probabilities():
    records = top_losses(Y_TRUE, Y_PROB, NAMES, k=3)
    assert [r["index"] for r in records] == [1, 5, 3]
    assert records[0] == {
        "index": 1,
        "actual": "cat",
        "predicted": "dog",
        "probability": 0.3,
        "predicted_probability": 0.6,
        "loss": pytest.approx(-math.log(0.3)),
    }
    assert (records[1]["actual"], records[1]["predicted"]) == ("fox", "cat")
    assert records[1]["loss"] == pytest.approx(-math.log(0.4))
    assert (records[2]["actual"], records[2]["predicted"], records[2]["probability"]) == ("dog", "dog", 0.5)


def test_top_losses_with_equal_losses_keep_the_example_order():
    probs = [[0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.5, 0.5]]
    records = top_losses([1, 0, 0, 1], probs, ["a", "b"], k=4)
    assert [r["index"] for r in records] == [0, 2, 3, 1]


def test_top_losses_gives_every_example_when_k_is_larger():
    assert len(top_losses(Y_TRUE, Y_PROB, NAMES, k=50)) == 6


def test_top_losses_reads_one_hot_labels_like_class_ids():
    one_hot = np.eye(3)[Y_TRUE]
    assert top_losses(one_hot, Y_PROB, NAMES, k=6) == top_losses(Y_TRUE, Y_PROB, NAMES, k=6)


MULTI_TRUE = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]])
MULTI_PROB = np.array([[0.9, 0.2, 0.4], [0.6, 0.7, 0.1], [0.1, 0.2, 0.3]])


def test_multi_label_loss_is_binary_cross_entropy_summed_over_the_labels():
    losses = example_losses(MULTI_TRUE, MULTI_PROB, NAMES, multi_label=True)
    expected = [
        -(math.log(0.9) + math.log(0.8) + math.log(0.4)),
        -(math.log(0.4) + math.log(0.7) + math.log(0.9)),
        -(math.log(0.9) + math.log(0.8) + math.log(0.7)),
    ]
    np.testing.assert_allclose(losses, expected, rtol=1e-12)
    mean = keras.losses.binary_crossentropy(MULTI_TRUE.astype("float32"), MULTI_PROB.astype("float32"))
    np.testing.assert_allclose(losses, 3 * np.asarray(mean), rtol=1e-5)


def test_multi_label_records_list_actual_and_predicted_labels():
    records = top_losses(MULTI_TRUE, MULTI_PROB, NAMES, k=2, multi_label=True)
    assert [r["index"] for r in records] == [1, 0]
    assert records[0]["actual"] == ["dog"] and records[0]["predicted"] == ["cat", "dog"]
    assert records[0]["probabilities"] == {"cat": 0.6, "dog": 0.7}
    assert records[1]["actual"] == ["cat", "fox"] and records[1]["predicted"] == ["cat"]
    assert records[1]["probabilities"] == {"cat": 0.9, "fox": 0.4}


def test_most_confused_lists_off_diagonal_cells_by_count():
    matrix = [[5, 2, 0], [1, 4, 3], [0, 0, 6]]
    assert most_confused(matrix, NAMES) == [
        ConfusedPair("dog", "fox", 3),
        ConfusedPair("cat", "dog", 2),
        ConfusedPair("dog", "cat", 1),
    ]
    assert most_confused(matrix, NAMES, min_count=2) == [("dog", "fox", 3), ("cat", "dog", 2)]


def test_most_confused_breaks_ties_in_class_order():
    matrix = [[0, 1, 1], [1, 0, 0], [1, 0, 9]]
    pairs = most_confused(matrix, NAMES)
    assert [(p.actual, p.predicted) for p in pairs] == [("cat", "dog"), ("cat", "fox"), ("dog", "cat"), ("fox", "cat")]


def test_most_confused_from_labels_and_predictions():
    matrix = confusion_matrix(Y_TRUE, np.argmax(Y_PROB, axis=1), num_classes=3)
    assert most_confused(matrix, NAMES) == [("cat", "dog", 1), ("fox", "cat", 1)]


def test_interpret_gathers_top_losses_confusions_and_per_class_f1():
    result = interpret(Y_TRUE, Y_PROB, NAMES, k=2)
    assert result["num_examples"] == 6 and result["multi_label"] is False
    assert [r["index"] for r in result["top_losses"]] == [1, 5]
    assert result["most_confused"] == [
        {"actual": "cat", "predicted": "dog", "count": 1},
        {"actual": "fox", "predicted": "cat", "count": 1},
    ]
    # cat: 1 of 2 found, 1 of 2 predictions right; dog: 2 of 2, 2 of 3; fox: 1 of 2, 1 of 1.
    per_class = result["per_class"]
    assert (per_class["cat"]["precision"], per_class["cat"]["recall"], per_class["cat"]["f1"]) == (0.5, 0.5, 0.5)
    assert per_class["dog"]["precision"] == pytest.approx(2 / 3) and per_class["dog"]["recall"] == 1.0
    assert per_class["dog"]["f1"] == pytest.approx(0.8)
    assert per_class["fox"]["f1"] == pytest.approx(2 / 3) and per_class["fox"]["support"] == 2
    assert result["classes_by_f1"] == ["cat", "fox", "dog"]
    assert result["mean_loss"] == pytest.approx(-np.mean(np.log([0.7, 0.3, 0.8, 0.5, 0.8, 0.4])))
    assert json.loads(json.dumps(to_json(result), allow_nan=False)) == to_json(result)


def test_interpret_multi_label_has_no_confused_pairs_but_per_label_matrices():
    result = interpret(MULTI_TRUE, MULTI_PROB, NAMES, multi_label=True)
    assert result["most_confused"] is None
    assert "summed over the labels" in result["loss"]
    # cat: predicted for rows 0 and 1, true for row 0 -> tn 1, fp 1, fn 0, tp 1.
    assert result["per_class"]["cat"]["confusion_matrix"] == [[1, 1], [0, 1]]
    assert [r["index"] for r in result["top_losses"]] == [1, 0, 2]


@pytest.mark.parametrize(
    "call, message",
    [
        pytest.param(lambda: top_losses(Y_TRUE, Y_PROB, NAMES, k=0), "k must be a whole number >= 1", id="k_zero"),
        pytest.param(lambda: top_losses(Y_TRUE, Y_PROB, NAMES, k=True), "Received: k=True", id="k_bool"),
        pytest.param(lambda: interpret(Y_TRUE, Y_PROB, NAMES, k=2.5), "Received: k=2.5", id="k_float"),
        pytest.param(lambda: most_confused(np.eye(3), NAMES, min_count=0), "min_count=0", id="min_count_zero"),
        pytest.param(
            lambda: top_losses(Y_TRUE[:4], Y_PROB, NAMES), "y_true has 4 labels but y_prob has 6 rows", id="lengths"
        ),
        pytest.param(lambda: top_losses(Y_TRUE, Y_PROB, NAMES[:2]), "y_prob has 3 columns", id="class_names"),
        pytest.param(lambda: top_losses(Y_TRUE, Y_PROB * 3, NAMES), "not logits", id="logits"),
        pytest.param(
            lambda: top_losses(Y_TRUE, Y_PROB, NAMES, multi_label="yes"), "multi_label=", id="multi_label"
        ),
        pytest.param(lambda: most_confused(np.ones((2, 3)), NAMES), r"with shape \(2, 3\)", id="not_square"),
        pytest.param(
            lambda: most_confused([[1, -1, 0], [0, 1, 0], [0, 0, 1]], NAMES),
            r"-1.0 at confusion_matrix\[0, 1\]",
            id="negative_count",
        ),
        pytest.param(
            lambda: plot_top_losses(top_losses(Y_TRUE, Y_PROB, NAMES, k=3), images=np.zeros((2, 4, 4, 3))),
            r"one of images per record \(3\)",
            id="images_per_record",
        ),
        pytest.param(lambda: plot_top_losses([]), "at least one record", id="no_records"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _image_dataset(num, batch_size):
    images = np.arange(num * 4 * 4 * 3, dtype="float32").reshape(num, 4, 4, 3) % 256
    dataset = tf.data.Dataset.from_tensor_slices(({"images": images}, np.zeros(num, "int32")))
    return images, dataset.batch(batch_size)


def test_gather_examples_takes_the_images_at_the_indices_in_their_order():
    images, dataset = _image_dataset(7, batch_size=3)
    shown = gather_examples(dataset, [5, 0, 6])
    np.testing.assert_array_equal(shown["images"], images[[5, 0, 6]])


def test_gather_examples_decodes_raw_text_and_pairs_from_the_batches():
    columns = {"text": ["a cat", "a dog", "a fox"], "text_pair": ["x", "y", "z"]}
    dataset = tf.data.Dataset.from_tensor_slices((columns, [0, 1, 0])).batch(2)
    assert gather_examples(dataset, [2, 1]) == {"texts": ["a fox | z", "a dog | y"]}


def test_gather_examples_takes_given_texts_when_batches_hold_token_ids():
    tokens = {"token_ids": np.zeros((3, 4), "int32"), "padding_mask": np.ones((3, 4), bool)}
    dataset = tf.data.Dataset.from_tensor_slices((tokens, [0, 1, 0])).batch(2)
    assert gather_examples(dataset, [1]) == {}
    assert gather_examples(dataset, [2, 0], texts=("t0", "t1", "t2")) == {"texts": ["t2", "t0"]}


def test_gather_examples_beyond_the_dataset_is_an_error():
    _, dataset = _image_dataset(4, batch_size=3)
    with pytest.raises(ValueError, match="has 4 examples, fewer than the index 9"):
        gather_examples(dataset, [1, 9])


def test_plot_top_losses_shows_one_titled_image_per_record():
    records = top_losses(Y_TRUE, Y_PROB, NAMES, k=5)
    images = np.random.RandomState(0).randint(0, 256, (5, 8, 8, 3)).astype("float32")
    figure = plot_top_losses(records, images=images)
    assert len(figure.axes) == 5  # a 3 x 2 grid, the unused sixth axes removed
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == figure.top_loss_titles
    assert titles[0] == "cat / dog\n1.20 / 0.30"  # -log(0.3) = 1.204
    assert all(len(ax.get_images()) == 1 for ax in figure.axes)
    np.testing.assert_array_equal(figure.axes[0].get_images()[0].get_array(), images[0].astype("uint8"))


def test_plot_top_losses_lists_texts_cut_to_length():
    records = top_losses(Y_TRUE, Y_PROB, NAMES, k=3)
    texts = ["short", "word " * 60, "third"]
    figure = plot_top_losses(records, texts=texts)
    (ax,) = figure.axes
    lines = [t.get_text() for t in ax.texts if t.get_gid() == TOP_LOSS_GID]
    assert len(lines) == 3
    assert lines[0] == '#1  cat / dog / 1.20 / 0.30  "short"'
    quoted = lines[1].split('"')[1]
    assert len(quoted) == TOP_LOSS_TEXT_CHARS and quoted.endswith("…")


def test_plot_top_losses_without_examples_lists_indices_and_multi_label_classes():
    records = top_losses(MULTI_TRUE, MULTI_PROB, NAMES, k=3, multi_label=True)
    figure = plot_top_losses(records)
    lines = [t.get_text() for t in figure.axes[0].texts if t.get_gid() == TOP_LOSS_GID]
    assert lines[0].startswith("#1  dog / cat, dog / ")
    assert lines[2].startswith("#2  (none) / (none) / ")


def test_write_interpretation_writes_the_json_and_the_figure(tmp_path):
    result = interpret(Y_TRUE, Y_PROB, NAMES, k=2)
    names = write_interpretation(tmp_path, result, texts=["worst text", "second text"])
    assert names == [INTERPRETATION_FILE, TOP_LOSSES_PLOT]
    written = json.loads((tmp_path / INTERPRETATION_FILE).read_text())
    assert [r["text"] for r in written["top_losses"]] == ["worst text", "second text"]
    assert [r["index"] for r in written["top_losses"]] == [1, 5]
    assert written["per_class"] == to_json(result["per_class"])
    assert "text" not in result["top_losses"][0]  # the caller's dict is left as it was
    assert (tmp_path / TOP_LOSSES_PLOT).read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == [INTERPRETATION_FILE, TOP_LOSSES_PLOT]

"""Metrics against scikit-learn (an independent reference) on seeded random cases."""

import json

import keras
import numpy as np
import pytest
from sklearn import metrics as skm

from tfl.evaluate import classification_metrics
from tfl.evaluate import confusion_matrix
from tfl.evaluate import roc_auc


@pytest.fixture(autouse=True)
def _seeded():
    """Replaces the shared fixture here: seeds as it does, but skips its Keras
    session reset, since these tests build no Keras objects and the reset costs
    about 0.15 s per test (over 10 s for this file)."""
    keras.utils.set_random_seed(1234)
    yield


# Cases: each builder returns (y_true, y_prob, class_names, multi_label) and
# asserts the situation it is named after, so a case cannot silently stop
# exercising it.


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _informative(rng, labels, num_classes, signal=1.0):
    logits = rng.normal(size=(labels.size, num_classes))
    logits[np.arange(labels.size), labels] += signal
    return _softmax(logits)


def _names(num_classes):
    return [f"class_{k}" for k in range(num_classes)]


def _binary(rng):
    y = rng.integers(0, 2, size=60)
    return y, _informative(rng, y, 2), ["cat", "dog"], False


def _three_class(rng):
    y = rng.integers(0, 3, size=90)
    return y, _informative(rng, y, 3), _names(3), False


def _ten_class(rng):
    y = rng.integers(0, 10, size=300)
    return y, _informative(rng, y, 10, signal=2.0), _names(10), False


def _binary_ties(rng):
    y = rng.integers(0, 2, size=80)
    p1 = rng.choice([0.1, 0.3, 0.5, 0.7, 0.9], size=80)
    p1 = np.where(y == 1, np.maximum(p1, rng.choice([0.3, 0.7], size=80)), p1)
    assert len(np.unique(p1)) <= 5
    return y, np.stack([1 - p1, p1], axis=1), ["neg", "pos"], False


def _multi_class_ties(rng):
    y = rng.integers(0, 3, size=80)
    counts = rng.integers(1, 4, size=(80, 3)).astype(float)
    counts[np.arange(80), y] += 1
    prob = counts / counts.sum(axis=1, keepdims=True)
    assert all(len(np.unique(prob[:, k])) < 20 for k in range(3))
    return y, prob, _names(3), False


def _never_predicted(rng):
    y = rng.integers(0, 4, size=60)
    prob = _informative(rng, y, 4)
    prob[:, 3] *= 0.01
    prob /= prob.sum(axis=1, keepdims=True)
    assert not np.any(prob.argmax(axis=1) == 3) and np.any(y == 3)
    return y, prob, _names(4), False


def _absent_class(rng):
    y = rng.choice([0, 2, 3], size=60)
    prob = _informative(rng, y, 4)
    assert not np.any(y == 1)
    return y, prob, _names(4), False


def _multi_label(rng):
    y = (rng.random((80, 5)) < 0.4).astype(int)
    logits = rng.normal(size=(80, 5)) + 1.5 * (2 * y - 1)
    return y, 1 / (1 + np.exp(-logits)), _names(5), True


def _multi_label_ties(rng):
    y = (rng.random((80, 4)) < 0.5).astype(int)
    prob = rng.choice([0.2, 0.4, 0.6, 0.8], size=(80, 4))
    prob = np.where(y == 1, np.maximum(prob, 0.4), prob)
    return y, prob, _names(4), True


def _multi_label_degenerate(rng):
    """Label 3 never occurs and is never predicted; label 4 is always present."""
    y = (rng.random((60, 5)) < 0.4).astype(int)
    y[:, 3] = 0
    y[:, 4] = 1
    logits = rng.normal(size=(60, 5)) + 1.5 * (2 * y - 1)
    prob = 1 / (1 + np.exp(-logits))
    prob[:, 3] = 0.1
    return y, prob, _names(5), True


CASES = {
    "binary": _binary,
    "three_class": _three_class,
    "ten_class": _ten_class,
    "binary_ties": _binary_ties,
    "multi_class_ties": _multi_class_ties,
    "never_predicted": _never_predicted,
    "absent_class": _absent_class,
    "multi_label": _multi_label,
    "multi_label_ties": _multi_label_ties,
    "multi_label_degenerate": _multi_label_degenerate,
}
SINGLE_LABEL = [name for name in CASES if not name.startswith("multi_label")]
MULTI_LABEL = [name for name in CASES if name.startswith("multi_label")]


@pytest.fixture(params=list(CASES))
def case(request):
    return CASES[request.param](np.random.default_rng(7))


@pytest.fixture(params=SINGLE_LABEL)
def single_case(request):
    return CASES[request.param](np.random.default_rng(7))


@pytest.fixture(params=MULTI_LABEL)
def multi_case(request):
    return CASES[request.param](np.random.default_rng(7))


def _predictions(y_prob, multi_label):
    return (y_prob > 0.5).astype(int) if multi_label else y_prob.argmax(axis=1)


def _indicators(y_true, num_classes, multi_label):
    if multi_label:
        return y_true
    return np.eye(num_classes, dtype=int)[y_true]


def _defined_auc_columns(y_true, num_classes, multi_label):
    columns = _indicators(y_true, num_classes, multi_label)
    return [k for k in range(num_classes) if 0 < columns[:, k].sum() < len(columns)]


EXACT = {"rel": 1e-12, "abs": 1e-12}


def _assert_close(got, expected):
    """Dicts of numbers or None, equal to 1e-12; the message lists every key that differs."""
    assert got.keys() == expected.keys()
    wrong = {
        key: (got[key], expected[key])
        for key in expected
        if not _same(got[key], expected[key])
    }
    assert not wrong, f"(tfl, sklearn) differ: {wrong}"


def _same(value, expected):
    if value is None or expected is None:
        return value is expected
    return value == pytest.approx(expected, **EXACT)


def _sklearn_scores(y_true, y_prob, num_classes, multi_label):
    y_pred = _predictions(y_prob, multi_label)
    if multi_label:
        # Labels with neither a positive nor a prediction are left out (documented).
        occurs = y_true.any(axis=0) | y_pred.any(axis=0)
        macro_labels = np.flatnonzero(occurs).tolist()
    else:
        macro_labels = None  # sklearn's default: classes in y_true or y_pred.
    if num_classes == 2 and not multi_label:
        auc = skm.roc_auc_score(y_true, y_prob[:, 1])
    else:
        columns = _defined_auc_columns(y_true, num_classes, multi_label)
        indicators = _indicators(y_true, num_classes, multi_label)
        auc = skm.roc_auc_score(indicators[:, columns], y_prob[:, columns], average="macro")
    return {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "macro_f1": skm.f1_score(
            y_true, y_pred, labels=macro_labels, average="macro", zero_division=0
        ),
        "micro_f1": skm.f1_score(y_true, y_pred, average="micro", zero_division=0),
        "auc_roc": auc,
    }


def _sklearn_per_class(y_true, y_prob, names, multi_label):
    labels = None if multi_label else list(range(len(names)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, _predictions(y_prob, multi_label), labels=labels, zero_division=0
    )
    indicators = _indicators(y_true, len(names), multi_label)
    defined = _defined_auc_columns(y_true, len(names), multi_label)
    expected = {}
    for k, name in enumerate(names):
        auc = skm.roc_auc_score(indicators[:, k], y_prob[:, k]) if k in defined else None
        expected[name, "precision"] = precision[k]
        expected[name, "recall"] = recall[k]
        expected[name, "f1"] = f1[k]
        expected[name, "support"] = support[k]
        expected[name, "auc_roc"] = auc
    return expected


def test_scores_match_sklearn(case):
    y_true, y_prob, names, multi_label = case
    report = classification_metrics(y_true, y_prob, names, multi_label=multi_label)
    expected = _sklearn_scores(y_true, y_prob, len(names), multi_label)
    _assert_close({key: report[key] for key in expected}, expected)


def test_per_class_scores_match_sklearn(case):
    y_true, y_prob, names, multi_label = case
    report = classification_metrics(y_true, y_prob, names, multi_label=multi_label)
    expected = _sklearn_per_class(y_true, y_prob, names, multi_label)
    _assert_close({key: report["per_class"][key[0]][key[1]] for key in expected}, expected)


def test_confusion_matrix_matches_sklearn(single_case):
    y_true, y_prob, names, _ = single_case
    report = classification_metrics(y_true, y_prob, names)
    expected = skm.confusion_matrix(
        y_true, y_prob.argmax(axis=1), labels=list(range(len(names)))
    )
    assert report["confusion_matrix"] == expected.tolist()


def test_multi_label_per_label_confusion_matrices_match_sklearn(multi_case):
    y_true, y_prob, names, _ = multi_case
    report = classification_metrics(y_true, y_prob, names, multi_label=True)
    expected = skm.multilabel_confusion_matrix(y_true, (y_prob > 0.5).astype(int))
    assert report["confusion_matrix"] is None
    assert [report["per_class"][name]["confusion_matrix"] for name in names] == (
        expected.tolist()
    )


def _types(value):
    """The types of `value` and of everything nested in it, dict keys included."""
    found = {type(value)}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= {type(key)} | _types(item)
    elif isinstance(value, list):
        for item in value:
            found |= _types(item)
    return found


def test_report_is_strict_json_of_plain_types(case):
    y_true, y_prob, names, multi_label = case
    report = classification_metrics(y_true, y_prob, names, multi_label=multi_label)
    assert _types(report) <= {dict, list, str, int, float, bool, type(None)}
    assert json.loads(json.dumps(report, allow_nan=False)) == report


# Situations, each with an explicit expectation.


def test_never_predicted_class_scores_zero_not_nan():
    y_true, y_prob, names, _ = _never_predicted(np.random.default_rng(7))
    entry = classification_metrics(y_true, y_prob, names)["per_class"]["class_3"]
    assert entry["support"] > 0
    assert (entry["precision"], entry["recall"], entry["f1"]) == (0.0, 0.0, 0.0)


def test_absent_class_has_no_auc_and_is_left_out_of_the_macro_auc():
    y_true, y_prob, names, _ = _absent_class(np.random.default_rng(7))
    report = classification_metrics(y_true, y_prob, names)
    per_class = report["per_class"]
    assert per_class["class_1"]["auc_roc"] is None
    assert per_class["class_1"]["support"] == 0
    present = [per_class[f"class_{k}"]["auc_roc"] for k in (0, 2, 3)]
    assert report["auc_roc"] == pytest.approx(np.mean(present), **EXACT)


@pytest.mark.parametrize(
    "y_true, y_prob, expected",
    [
        # Class c: no true example, no prediction -> left out: mean(1.0, 1.0).
        pytest.param(
            [0, 1, 1, 0],
            [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.1, 0.9, 0.0], [0.9, 0.1, 0.0]],
            1.0,
            id="class_absent_and_never_predicted_left_out",
        ),
        # Class c: no true example, predicted once -> F1 0 counts: mean(0.8, 1.0, 0.0).
        pytest.param(
            [0, 1, 0, 0],
            [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.0, 0.1, 0.9], [0.9, 0.1, 0.0]],
            0.6,
            id="class_absent_but_predicted_counts_zero",
        ),
    ],
)
def test_macro_f1_over_classes_that_occur(y_true, y_prob, expected):
    report = classification_metrics(y_true, y_prob, ["a", "b", "c"])
    assert report["macro_f1"] == pytest.approx(expected, **EXACT)


@pytest.mark.parametrize(
    "y_true, y_prob, names",
    [
        pytest.param([1, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], ["a", "b"], id="binary"),
        pytest.param(
            [2, 2], [[0.2, 0.3, 0.5], [0.5, 0.3, 0.2]], ["a", "b", "c"], id="multi_class"
        ),
    ],
)
def test_auc_is_none_when_y_true_has_one_class(y_true, y_prob, names):
    report = classification_metrics(y_true, y_prob, names)
    assert report["auc_roc"] is None
    assert all(entry["auc_roc"] is None for entry in report["per_class"].values())
    assert json.loads(json.dumps(report, allow_nan=False))["auc_roc"] is None


def test_binary_auc_is_that_of_class_one():
    # Rows that do not sum to 1 make the two columns rank differently.
    y_prob = np.array([[0.9, 0.2], [0.1, 0.6], [0.8, 0.4], [0.3, 0.3]])
    report = classification_metrics([0, 1, 1, 0], y_prob, ["a", "b"])
    assert report["auc_roc"] == 1.0
    assert report["per_class"]["b"]["auc_roc"] == 1.0
    assert report["per_class"]["a"]["auc_roc"] == 0.75


@pytest.mark.parametrize(
    "y_true, y_score, expected",
    [
        pytest.param([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0, id="perfect"),
        pytest.param([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0, id="reversed"),
        pytest.param([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5, id="all_tied"),
        pytest.param([0, 1, 1], [0.5, 0.5, 0.9], 0.75, id="one_tie_counts_half"),
        pytest.param([1, 1, 1], [0.1, 0.2, 0.3], None, id="no_negatives"),
        pytest.param([False, True], [0.3, 0.2], 0.0, id="bool_labels"),
    ],
)
def test_roc_auc_hand_computed(y_true, y_score, expected):
    assert roc_auc(y_true, y_score) == expected


def test_multi_label_threshold_one_half_is_negative():
    report = classification_metrics([[1], [0]], [[0.5], [0.4]], ["a"], multi_label=True)
    assert report["per_class"]["a"]["confusion_matrix"] == [[1, 0], [1, 0]]
    assert report["threshold"] == 0.5


def test_argmax_tie_picks_the_lowest_class_id():
    report = classification_metrics([1], [[0.4, 0.4, 0.2]], ["a", "b", "c"])
    assert report["confusion_matrix"][1] == [1, 0, 0]


def test_single_sigmoid_column_reads_as_probability_of_class_one():
    y_true, y_prob, names, _ = _binary(np.random.default_rng(3))
    one_column = classification_metrics(y_true, y_prob[:, 1:], names)
    two_columns = np.stack([1 - y_prob[:, 1], y_prob[:, 1]], axis=1)
    assert one_column == classification_metrics(y_true, two_columns, names)


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(lambda y: np.eye(3, dtype=int)[y], id="one_hot"),
        pytest.param(lambda y: y[:, None], id="trailing_axis"),
        pytest.param(lambda y: y.astype(float), id="whole_floats"),
    ],
)
def test_other_label_layouts_read_as_class_ids(labels):
    y_true, y_prob, names, _ = _three_class(np.random.default_rng(5))
    expected = classification_metrics(y_true, y_prob, names)
    assert classification_metrics(labels(y_true), y_prob, names) == expected


def test_report_keys():
    y_true, y_prob, names, _ = _three_class(np.random.default_rng(5))
    report = classification_metrics(y_true, y_prob, names)
    assert list(report) == [
        "num_examples", "num_classes", "class_names", "multi_label", "threshold",
        "accuracy", "macro_f1", "micro_f1", "auc_roc", "per_class", "confusion_matrix",
    ]  # fmt: skip
    assert (report["num_examples"], report["num_classes"]) == (90, 3)
    assert report["class_names"] == names and list(report["per_class"]) == names
    assert list(report["per_class"]["class_0"]) == [
        "precision", "recall", "f1", "support", "auc_roc"
    ]  # fmt: skip


# Input checks: each error names the bad value.

PROB3 = [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]]
NAMES3 = ["a", "b", "c"]


@pytest.mark.parametrize(
    "y_true, y_prob, names, multi_label, match",
    [
        pytest.param([0, 1, 2], PROB3[0], NAMES3, False, r"shape \[num_examples, num_classes\]"
                     r".*shape \(3,\)", id="prob_not_2d"),
        pytest.param([0, 1], PROB3, NAMES3, False, "y_true has 2 labels but y_prob has 3 rows",
                     id="rows_mismatch"),
        pytest.param([0, -1, 2], PROB3, NAMES3, False, r"outside \[0, 3\): -1 at y_true\[1\]",
                     id="label_negative"),
        pytest.param([0, 1, 3], PROB3, NAMES3, False, r"outside \[0, 3\): 3 at y_true\[2\]",
                     id="label_too_large"),
        pytest.param([0, 1.5, 2], PROB3, NAMES3, False, r"whole class ids.*1\.5 at y_true\[1\]",
                     id="label_fractional"),
        pytest.param(["a", "b", "c"], PROB3, NAMES3, False, "y_true must hold numbers",
                     id="label_strings"),
        pytest.param([0, 1, 2], [[0.2, 0.5, 0.3], [0.6, np.nan, 0.1], [0.1, 0.1, 0.8]],
                     NAMES3, False, r"y_prob holds nan at y_prob\[1, 1\]", id="nan_prob"),
        pytest.param([0, 1, 2], [[0.2, 0.5, np.inf], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]],
                     NAMES3, False, r"y_prob holds inf at y_prob\[0, 2\]", id="inf_prob"),
        pytest.param([0, 1, 2], [[2.5, -1.0, 0.3], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]],
                     NAMES3, False, r"not logits\). Received: 2\.5 at y_prob\[0, 0\]",
                     id="logits"),
        pytest.param([0, 1, 2], PROB3, ["a", "b"], False,
                     r"y_prob has 3 columns but class_names has 2 names", id="names_too_few"),
        pytest.param([0, 1, 2], PROB3, ["a", "b", "a"], False, r"must be unique; repeated: a\.",
                     id="names_repeated"),
        pytest.param([0, 1, 2], PROB3, "abc", False, "not one string", id="names_one_string"),
        pytest.param([0], [[1.0]], ["a"], False, "at least 2 classes", id="one_class"),
        pytest.param([], np.zeros((0, 3)), NAMES3, False, "at least one example", id="empty"),
        pytest.param([[1, 1, 0], [1, 0, 0], [0, 0, 1]], PROB3, NAMES3, False,
                     r"exactly one 1 per row.*row 0 = \[1, 1, 0\]", id="one_hot_two_ones"),
        pytest.param([[1, 2, 0], [1, 0, 0], [0, 0, 1]], PROB3, NAMES3, True,
                     r"only 0 and 1. Received: 2 at y_true\[0, 1\]", id="multi_hot_not_binary"),
        pytest.param([0, 1, 2], PROB3, NAMES3, True, r"multi-hot.*shape \(3,\)",
                     id="multi_hot_wrong_shape"),
        pytest.param([0, 1, 2], PROB3, NAMES3, "yes", "multi_label must be True or False",
                     id="multi_label_not_bool"),
    ],
)  # fmt: skip
def test_classification_metrics_rejects(y_true, y_prob, names, multi_label, match):
    with pytest.raises(ValueError, match=match):
        classification_metrics(y_true, y_prob, names, multi_label=multi_label)


def test_confusion_matrix_matches_sklearn_with_missing_classes():
    y_true = np.array([0, 2, 2, 4, 0])
    y_pred = np.array([0, 2, 0, 4, 4])
    expected = skm.confusion_matrix(y_true, y_pred, labels=list(range(6)))
    got = confusion_matrix(y_true, y_pred, 6)
    assert got.dtype == np.int64 and got.tolist() == expected.tolist()


@pytest.mark.parametrize(
    "y_true, y_pred, num_classes, match",
    [
        pytest.param([0, 1], [0, 5], 3, r"y_pred holds labels outside \[0, 3\): 5 at y_pred\[1\]",
                     id="pred_too_large"),
        pytest.param([0, 1], [0, 1, 1], 3, r"shape \(2,\), y_pred with shape \(3,\)",
                     id="lengths_differ"),
        pytest.param([0, 1], [0, 1], 0, "num_classes=0", id="no_classes"),
        pytest.param([[0, 1]], [[0, 1]], 3, r"1-D array of class ids.*\(1, 2\)", id="not_1d"),
    ],
)  # fmt: skip
def test_confusion_matrix_rejects(y_true, y_pred, num_classes, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(y_true, y_pred, num_classes)


@pytest.mark.parametrize(
    "y_true, y_score, match",
    [
        pytest.param([0, 2], [0.1, 0.2], r"only 0 and 1. Received: 2 at y_true\[1\]",
                     id="labels_not_binary"),
        pytest.param([0, 1], [0.1], r"same shape \[N\]", id="lengths_differ"),
        pytest.param([0, 1], [0.1, np.nan], r"y_score holds nan at y_score\[1\]", id="nan_score"),
    ],
)  # fmt: skip
def test_roc_auc_rejects(y_true, y_score, match):
    with pytest.raises(ValueError, match=match):
        roc_auc(y_true, y_score)

"""`tfl train --unlabeled`: the config keys, their YAML round trip and errors, the
unlabelled inputs, and one small run whose report counts the pseudo-labels."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.small_backbone import SMALL_BACKBONE
from tfl.cli.main import build_parser
from tfl.cli.main import main
from tfl.cli.train import config_from_args
from tfl.config import Config
from tfl.data.unlabeled import load_unlabeled

TINY = ["--backbone", SMALL_BACKBONE, "--weights", "none", "--image-size", "32", "--batch-size", "8"]


def _png(path, low, rng):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(rng.randint(low, low + 100, (16, 16, 3)).astype("uint8")).numpy())


@pytest.fixture(scope="module")
def unlabeled_folder(tmp_path_factory):
    """4 loose images (labels unknown) and a `bright` class folder of 3 (labels known, for the report)."""
    root = tmp_path_factory.mktemp("unlabeled")
    rng = np.random.RandomState(1)
    for i in range(4):
        _png(root / f"loose{i}.png", 0 if i % 2 else 140, rng)
    for i in range(3):
        _png(root / "bright" / f"{i}.png", 140, rng)
    return root


def _config(*flags):
    return config_from_args(build_parser().parse_args(["train", *flags]))


def test_the_flags_set_the_self_training_keys_and_they_survive_yaml(tmp_path):
    config = _config(
        "--data", "images/", "--unlabeled", "loose/", "--pseudo-label-threshold", "0.8",
        "--self-training-rounds", "2", "--pseudo-label-balance", "none",
    )
    settings = config.train.self_training
    assert config.data.unlabeled_source == "loose/"
    assert (settings.method, settings.threshold, settings.rounds, settings.balance) == ("pseudo_label", 0.8, 2, "none")
    path = tmp_path / "config.yaml"
    path.write_text(config.to_yaml())
    assert Config.from_yaml(path) == config
    assert _config("--data", "images/").train.self_training.method is None
    fixmatch = _config("--data", "images/", "--unlabeled", "loose/", "--self-training-method", "fixmatch",
                       "--fixmatch-lambda-u", "0.5", "--fixmatch-mu", "3").train.self_training
    assert (fixmatch.method, fixmatch.lambda_u, fixmatch.mu) == ("fixmatch", 0.5, 3)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"train": {"self_training": {"threshold": 0}}}, r"threshold is the least top probability.*\(0, 1\].*threshold=0"),
        ({"train": {"self_training": {"threshold": 1.5}}}, r"\(0, 1\].*threshold=1.5"),
        ({"train": {"self_training": {"rounds": 0}}}, "rounds=0"),
        ({"train": {"self_training": {"mu": 0}}}, "mu=0"),
        ({"train": {"self_training": {"lambda_u": -1}}}, "lambda_u=-1"),
        ({"train": {"self_training": {"balance": "rarest"}}}, "Unknown self_training.balance 'rarest'. Known: proportional, none"),
        ({"train": {"self_training": {"method": "mean_teacher"}}}, "Unknown self-training method 'mean_teacher'"),
        ({"train": {"self_training": {"method": "pseudo_label"}}}, "data.unlabeled_source is not set.*--unlabeled PATH"),
        ({"data": {"unlabeled_source": "loose/"}}, "train.self_training.method is not set"),
    ],
)
def test_bad_self_training_settings_name_the_key_and_the_fix(raw, message):
    with pytest.raises(ValueError, match=message):
        Config.from_dict(raw)


def test_unlabelled_inputs_of_the_wrong_task_an_empty_folder_or_a_stray_class_folder_are_refused(tmp_path, unlabeled_folder):
    text = tmp_path / "texts.csv"
    text.write_text("text\nhello\n")
    with pytest.raises(ValueError, match="is a text file, and this run trains an image classifier"):
        load_unlabeled(str(text), "image", class_names=("dark", "bright"), image_size=32)
    with pytest.raises(ValueError, match="is not a .csv/.tsv/.jsonl file, and this run trains a text classifier"):
        load_unlabeled(str(unlabeled_folder), "text", class_names=("neg", "pos"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        load_unlabeled(str(empty), "image", class_names=("dark", "bright"), image_size=32)
    with pytest.raises(ValueError, match="Class folder 'bright' in the unlabelled images folder .* is not a class name"):
        load_unlabeled(str(unlabeled_folder), "image", class_names=("ants", "bees"), image_size=32)


def test_an_unlabelled_text_file_keeps_its_labels_for_the_report_only(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_text("text,label\ngood film,pos\nawful,neg\nso so,\nfine,other\n")
    unlabeled = load_unlabeled(str(path), "text", class_names=("neg", "pos"))
    assert unlabeled.num_examples == 4 and unlabeled.true_labels.tolist() == [1, 0, -1, -1]
    (element,) = list(unlabeled.inputs.unbatch().take(1))
    assert set(element) == {"text"}  # inputs only: the labels never enter the pipeline
    bare = tmp_path / "bare.csv"
    bare.write_text("text\none\ntwo\n")
    assert load_unlabeled(str(bare), "text", class_names=("neg", "pos")).true_labels is None


def test_bad_rows_of_an_unlabelled_text_file_are_named_or_skipped(tmp_path):
    path = tmp_path / "pool.csv"
    path.write_bytes(b"text,label\ngood film,pos\ncaf\xe9 noir,\n   ,\nawful,neg,extra\nso so,\n")
    with pytest.raises(ValueError, match=r"3 of 5 rows of .*pool.csv are bad") as error:
        load_unlabeled(str(path), "text", class_names=("neg", "pos"))
    for problem in ("line 3: text is not UTF-8 (byte 0xe9", "line 4: text is only whitespace", "line 5: 3 fields",
                    "--skip-bad-files"):
        assert problem in str(error.value)
    unlabeled = load_unlabeled(str(path), "text", class_names=("neg", "pos"), skip_bad_files=True)
    assert unlabeled.num_examples == 2 and unlabeled.true_labels.tolist() == [1, -1]
    assert [t.decode() for t in unlabeled.inputs.unbatch().map(lambda x: x["text"]).as_numpy_iterator()] == [
        "good film", "so so"
    ]


def test_an_unlabelled_text_file_of_a_pair_run_is_read_as_pairs(tmp_path):
    path = tmp_path / "pool.jsonl"
    path.write_text('{"a": "good film", "b": "fine"}\n{"a": "awful", "b": "bad"}\n')
    unlabeled = load_unlabeled(str(path), "text", class_names=("neg", "pos"), text_column="a", text_pair_column="b")
    (element,) = list(unlabeled.inputs.unbatch().take(1))
    assert {k: v.numpy().decode() for k, v in element.items()} == {"text": "good film", "text_pair": "fine"}
    with pytest.raises(ValueError, match=r"has no column 'hypothesis' \(text_pair_column='hypothesis'\)"):
        load_unlabeled(str(path), "text", class_names=("neg", "pos"), text_column="a", text_pair_column="hypothesis")


def test_train_on_text_pairs_pseudo_labels_the_unlabelled_pairs(tmp_path, monkeypatch):
    import tfl.experiment

    from tests.text_fakes import tiny_encoder_folder

    rows = [("good film", "fine", "pos"), ("great fun", "good", "pos"), ("a good movie", "fun", "pos"),
            ("bad film", "awful", "neg"), ("boring plot", "bad", "neg"), ("an awful movie", "boring", "neg")] * 2
    data = tmp_path / "pairs.csv"
    data.write_text("premise,hypothesis,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows))
    pool = tmp_path / "pool.csv"
    pool.write_text("premise,hypothesis\ngood fun,great film\nawful plot,bad acting\n")
    loaded = []
    real = tfl.experiment.load_unlabeled
    monkeypatch.setattr(tfl.experiment, "load_unlabeled", lambda *a, **k: loaded.append(real(*a, **k)) or loaded[-1])
    code = main(["train", "--data", str(data), "--text-column", "premise", "--text-pair-column", "hypothesis",
                 "--encoder", tiny_encoder_folder(tmp_path / "encoder"), "--sequence-length", "16",
                 "--batch-size", "4", "--stages", "none:1:1e-2", "--unlabeled", str(pool),
                 "--self-training-rounds", "1", "--output", str(tmp_path / "run"), "--verbose", "0"])
    assert code == 0
    (element,) = list(loaded[0].inputs.unbatch().take(1))
    assert element["segment_ids"].numpy().max() == 1  # the second text is there, as in training


def test_train_with_unlabeled_reports_the_pseudo_labels_per_round_and_class(image_folder, unlabeled_folder, tmp_path, capsys):
    output = tmp_path / "run"
    code = main([
        "train", "--data", str(image_folder), *TINY, "--stages", "probe", "--unlabeled", str(unlabeled_folder),
        "--self-training-rounds", "1", "--pseudo-label-threshold", "0.5", "--pseudo-label-balance", "none",
        "--output", str(output), "--verbose", "0",
    ])
    assert code == 0
    report = json.loads((output / "report.json").read_text())
    record = report["self_training"]
    assert (record["num_unlabeled"], record["num_known"], record["route"]) == (7, 3, "cached features")
    first = record["per_round"][1]["pseudo_labels"]
    # threshold 0.5 with two classes: every example is a candidate, and balance "none" takes them all
    assert first["accepted"] == 7 == sum(entry["accepted"] for entry in first["per_class"].values())
    bright = first["per_class"]["bright"]
    assert bright["known"] + first["per_class"]["dark"]["known"] == 3
    known_correct = bright["correct"]
    assert first["accuracy"] == pytest.approx(known_correct / 3)
    assert "unlabeled_source" in (output / "config.yaml").read_text()
    printed = capsys.readouterr().out
    assert "Self-training (cached features)" in printed and "val_acc" in printed

"""`run_experiment` on text: sentence pairs, multi-label rows and a TFDS name, end to end."""

import json

import numpy as np
import pytest

from tests.text_fakes import tiny_encoder_folder
from tfl.config import Config
from tfl.experiment import run_experiment


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return tiny_encoder_folder(tmp_path_factory.mktemp("encoder") / "tiny")


def _config(encoder, data):
    raw = {
        "task": "text",
        "data": {"batch_size": 4, **data},
        "model": {"encoder": encoder, "sequence_length": 16},
        "train": {"stages": [{"unfreeze": "none", "epochs": 1, "learning_rate": 1e-2}]},
    }
    return Config.from_dict(raw)


def test_sentence_pairs_reach_the_model_as_two_segments(encoder, tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [{"premise": "the cat sat", "hypothesis": "a cat sat" if i % 2 else "the dog was bad",
             "label": "same" if i % 2 else "different"} for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = run_experiment(_config(encoder, {"source": str(path), "text_column": "premise",
                                              "text_pair_column": "hypothesis"}), verbose=0)
    inputs, _ = next(iter(result.data.train))
    segments = np.asarray(inputs["segment_ids"])
    assert result.data.text_pairs
    assert (segments == 1).any(axis=1).all()  # every example has a second segment
    assert result.report["class_names"] == ["different", "same"]


def test_multi_label_rows_train_sigmoid_outputs(encoder, tmp_path):
    path = tmp_path / "tags.jsonl"
    tags = [["fun"], ["plot"], ["fun", "plot"], ["acting"]] * 4
    path.write_text("".join(json.dumps({"text": "a good movie", "label": t}) + "\n" for t in tags))
    result = run_experiment(_config(encoder, {"source": str(path)}), verbose=0)
    assert result.data.multi_label and result.model.multi_label
    assert result.report["config"]["model"]["multi_label"] is True
    assert result.model.head.activation.__name__ == "sigmoid"
    assert result.report["class_names"] == ["acting", "fun", "plot"]


def test_a_tfds_text_name_trains_and_reports(encoder, tmp_path, tfds_mock):
    with tfds_mock(num_examples=12):
        config = _config(encoder, {"source": "tfds:imdb_reviews", "tfds_data_dir": str(tmp_path)})
        config = config.replace(task=None)  # detected: imdb_reviews has a text feature
        result = run_experiment(config, tmp_path / "run", verbose=0)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["task"] == "text" and report["class_names"] == ["neg", "pos"]
    assert report["num_train"] == 12 and report["num_validation"] == 12
    assert result.model.encoder_name == encoder

import json
import os
import re
import types
import warnings

import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tfl.cli.main import main


@pytest.mark.slow
def test_demo_writes_source_targets_and_the_comparison_table(tmp_path, capsys):
    code = main([
        "demo", "--part", "image", "--output", str(tmp_path / "demo"), "--labels-per-class", "2",
        "--source-epochs", "1", "--steps", "3",
        "--backbone", SMALL_BACKBONE,  # the demo's structure, not its numbers: the tests' small network
    ])
    assert code == 0
    output = tmp_path / "demo" / "image"
    summary = json.loads((output / "summary.json").read_text())
    assert [(r["labels_per_class"], r["method"]) for r in summary["rows"]] == [
        (2, "transfer"), (2, "scratch"), (2, "head only")
    ]
    assert summary["target_test_images"] == 449  # half of the 898 images of digits 5-9
    assert all(0 <= r["accuracy"] <= 1 for r in summary["rows"])
    assert sorted(os.listdir(output / "source")) == ["backbone.weights.h5", "model.keras", "report.json"]
    assert summary["plots"] == ["transfer_vs_scratch.png"]
    assert (output / "transfer_vs_scratch.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(os.listdir(output / "target-2")) == ["head_only-draw0.json", "scratch-draw0.json", "transfer-draw0.json"]
    transfer = json.loads((output / "target-2" / "transfer-draw0.json").read_text())
    head = json.loads((output / "target-2" / "head_only-draw0.json").read_text())
    assert [s["unfreeze"] for s in transfer["stages"]] == ["all"]
    assert [s["unfreeze"] for s in head["stages"]] == ["none"]
    out = capsys.readouterr().out
    assert re.search(r"labels_per_class\s+method\s+accuracy", out)
    assert re.search(r"^2\s+transfer\s+0\.\d{4}", out, re.M) and re.search(r"^2\s+scratch\s+0\.\d{4}", out, re.M)


def test_demo_refuses_labels_beyond_the_training_pool(tmp_path, capsys):
    assert main(["demo", "--output", str(tmp_path / "d"), "--labels-per-class", "500"]) == 2
    assert "between 1 and 80" in capsys.readouterr().err


@pytest.mark.slow
def test_text_demo_compares_minilm_transfer_with_scratch(tmp_path):
    from tfl.demo import TextDemoSettings
    from tfl.demo import run_text_demo

    settings = TextDemoSettings(
        labels_per_class=(4,), pool_per_class=12, test_per_class=20, head_steps=20,
        fine_tune_steps=2, fine_tune_epochs=1, scratch_steps=5,
    )
    lines = []
    summary = run_text_demo(str(tmp_path / "text"), settings, log=lines.append)
    assert [(r["labels_per_class"], r["method"]) for r in summary["rows"]] == [
        (4, "transfer, fine-tuned"), (4, "transfer, head only"), (4, "scratch"),
        ("all", "transfer, fine-tuned"), ("all", "transfer, head only"), ("all", "scratch"),
    ]
    assert summary["test_tweets"] == 60 and summary["pool_tweets"] == 36
    assert summary["inference_sentences_per_second"] > 0 and summary["training_sentences_per_second"] > 0
    assert sorted(os.listdir(tmp_path / "text" / "labels-4")) == [
        "scratch.json", "transfer-fine-tuned.json", "transfer-head_only.json"
    ]
    report = json.loads((tmp_path / "text" / "labels-all" / "transfer-head_only.json").read_text())
    assert report["num_examples"] == 60 and report["class_names"] == ["negative", "neutral", "positive"]
    table = "\n".join(lines)
    assert re.search(r"^all\s+transfer, fine-tuned\s+0\.\d{4}", table, re.M)
    assert "sentences/s inference" in table


def test_the_text_demos_scratch_model_trains_without_a_shuffle_warning():
    from tfl.demo.text import TextDemoSettings
    from tfl.demo.text import _scratch

    texts = np.array(["good film", "bad film", "fine film", "great plot", "awful plot", "so so plot"] * 2)
    labels = np.array(["positive", "negative", "neutral"] * 4)
    task = types.SimpleNamespace(pool_texts=texts, pool_labels=labels, test_texts=texts[:6], test_labels=labels[:6])
    settings = TextDemoSettings(scratch_steps=2, batch_size=4, sequence_length=4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report, _ = _scratch(task, np.arange(len(texts)), settings, verbose=0)
    assert report["num_examples"] == 6
    assert not [str(w.message) for w in caught if "shuffle" in str(w.message)]

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


def test_seeds_reseed_python_and_numpy_every_time_and_tensorflow_only_on_a_new_seed(monkeypatch):
    import keras
    import tensorflow as tf

    from tfl.demo.seeds import Seeds

    calls = []
    set_seed = tf.random.set_seed
    monkeypatch.setattr(tf.random, "set_seed", lambda seed: (calls.append(seed), set_seed(seed)))

    def initial_kernel():
        layer = keras.layers.Dense(3)
        layer.build((None, 4))
        return keras.ops.convert_to_numpy(layer.kernel)

    seeds = Seeds()
    seeds.set(0)
    first = initial_kernel()
    seeds.set(0)  # TensorFlow's kernel cache (the traced steps) is kept ...
    np.testing.assert_array_equal(initial_kernel(), first)  # ... and the next model starts alike
    assert calls == [0]
    seeds.set(1)
    assert calls == [0, 1]
    assert not np.array_equal(initial_kernel(), first)


def test_the_runner_starts_each_run_from_its_fresh_models_values():
    import keras

    from tfl.config import ModelConfig
    from tfl.demo.image import _Runner
    from tfl.model import build_model

    def fresh(seed):
        keras.utils.set_random_seed(seed)
        return build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b"])

    runner = _Runner()
    first = fresh(0)
    assert runner.start_from(first) is first
    second = fresh(1)
    assert runner.start_from(second) is first  # one model object, so one traced step
    values = [keras.ops.convert_to_numpy(v) for v in first.variables]
    for value, expected in zip(values, second.variables, strict=True):
        np.testing.assert_array_equal(value, keras.ops.convert_to_numpy(expected))
    assert any(not np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
               for a, b in zip(fresh(0).variables, second.variables))  # the seeds gave other values

"""README.md's image examples, run from the README's own text on real data.

The "In Python" block and the `tfl train` / `tfl evaluate` / `tfl predict` lines
are read from README.md and run as written, with two substitutions: the large
backbone becomes `mobilenet_025` (whose genuine ImageNet weights ../shared/data
holds; `resnet50`'s top stage `conv5` becomes its top stage `stride32`), and
`flowers/` (train) and `test_flowers/` (val) are the ants-vs-bees photos. So the
test breaks when the README's calls stop working.
"""

import pathlib
import re
import shlex

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfl.cli.main import main
from tfl.data import load_images

pytestmark = pytest.mark.slow

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _block(heading, language):
    match = re.search(rf"^## {heading}\n\n```{language}\n(.*?)^```", README.read_text(), re.S | re.M)
    assert match, f"README.md has no ```{language} block under '## {heading}'"
    return match.group(1)


def _replace(text, old, new):
    assert old in text, f"README.md's example no longer holds {old!r}: update this test with the README"
    return text.replace(old, new)


def _command(block, start, substitutions=()):
    """The arguments of the README line that starts with `start`, comments dropped."""
    lines = [line for line in block.splitlines() if line.startswith(start)]
    assert len(lines) == 1, f"README.md should have one line starting {start!r}; found {lines}"
    line = lines[0]
    for old, new in substitutions:
        line = _replace(line, old, new)
    return shlex.split(line, comments=True)[1:]  # without "tfl"


@pytest.fixture
def workdir(hymenoptera, tmp_path, monkeypatch):
    """A folder with `flowers/` (train: 123 ants, 121 bees) and `test_flowers/` (val)."""
    (tmp_path / "flowers").symlink_to(hymenoptera / "train", target_is_directory=True)
    (tmp_path / "test_flowers").symlink_to(hymenoptera / "val", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_python_example_transfers_imagenet_features(imagenet_home, workdir):
    code = _replace(_block("In Python", "python"), '"efficientnet_b0"', '"mobilenet_025"')
    ant = sorted((workdir / "flowers" / "ants").glob("*.jpg"))[0]
    code = _replace(code, '"flowers/roses/1.jpg"', repr(str(ant)))

    namespace = {}
    exec(compile(code, str(README), "exec"), namespace)

    model, data, report, history = (namespace[name] for name in ("model", "data", "report", "history"))
    assert data.class_names == ("ants", "bees") and model.backbone_name == "mobilenet_025"
    assert len(history.stages) == len(history.plan) >= 2  # the head, then part of the backbone
    # 20% of each class held out (49 photos). Measured: accuracy 0.80, AUC 0.93 after the
    # README's epochs; the same lines with weights=None: 0.51, AUC 0.50 (a constant answer).
    assert report["num_examples"] == 49
    assert report["accuracy"] >= 0.65 and report["auc_roc"] >= 0.75
    loaded = keras.saving.load_model(workdir / "flowers.keras")  # "after `import tfl`"
    photos = sorted((workdir / "test_flowers" / "bees").glob("*.jpg"))[:4]
    images = {"images": load_images(photos, model.image_size, model.resize)}
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)
    predictions = namespace["predictions"]  # tfl.predict on the saved file, from the photo's path
    expected = model.predict({"images": load_images([ant], model.image_size, model.resize)}, verbose=0)
    np.testing.assert_allclose(predictions.probabilities, expected, atol=1e-6)
    assert len(predictions.top_k[0]) == 2 and predictions.top_k[0][0][0] == model.class_names[int(expected.argmax())]


def test_the_command_line_examples_train_evaluate_and_predict(imagenet_home, workdir, capsys):
    block = _block("From the command line", "bash")
    substitutions = [("--backbone resnet50", "--backbone mobilenet_025"), ("conv5:", "stride32:")]
    train = _command(block, "tfl train --data flowers/ --backbone", substitutions)
    ants, bees = (sorted((workdir / "test_flowers" / name).glob("*.jpg"))[0] for name in ("ants", "bees"))
    (workdir / "photo1.jpg").write_bytes(ants.read_bytes())
    (workdir / "photo2.png").write_bytes(tf.io.encode_png(tf.io.decode_jpeg(bees.read_bytes())).numpy())

    assert main([*train, "--verbose", "0"]) == 0
    run = workdir / "runs" / "flowers"
    assert {"model.keras", "report.json", "config.yaml"} <= {path.name for path in run.iterdir()}
    capsys.readouterr()

    assert main(_command(block, "tfl evaluate runs/flowers")) == 0
    evaluated = capsys.readouterr().out
    assert "test_flowers/: 153 examples" in evaluated
    accuracy, auc = (float(re.search(rf"{name} (\d\.\d+)", evaluated).group(1)) for name in ("accuracy", "AUC-ROC"))
    # Measured on the 153 val photos: accuracy 0.837, AUC 0.904; with --weights none 0.458, 0.500.
    assert accuracy >= 0.72 and auc >= 0.80

    assert main(_command(block, "tfl predict runs/flowers")) == 0
    predicted = capsys.readouterr().out
    model = keras.saving.load_model(run / "model.keras")
    for name in ("photo1.jpg", "photo2.png"):
        images = {"images": load_images(workdir / name, model.image_size, model.resize)}
        (probabilities,) = model.predict(images, verbose=0)
        ranked = [f"{model.class_names[i]} {probabilities[i]:.3f}" for i in np.argsort(-probabilities)]
        assert f"{name}: {', '.join(ranked)}" in predicted  # --top-k 3 of 2 classes: both, best first

"""Two runs of `tfl train`, made once per session and shared by the explanation tests.

- `image_run`: the genuine ImageNet MobileNet 0.25 (`../shared/data/weights`)
  with a linear probe on 20 ants and 20 bees photos at 224 px, held out: 16
  of each from `val/`. About 14 s on 2 cores.
- `text_run`: all-MiniLM-L6-v2 with a linear probe on 16 positive and 16
  negative hand-written reviews (`reviews.py`), held out: 8 of each. About 11 s.

Both record the heatmaps `tfl train` drew over `top_losses.png`.
"""

import csv
import dataclasses
import os

import pytest

from tests.conftest import REAL_WEIGHTS_FILE
from tests.conftest import shared_data
from tests.explain.reviews import NEGATIVE
from tests.explain.reviews import POSITIVE

IMAGE_SIZE = 224
TRAIN_PER_CLASS = 20
HELD_OUT_PER_CLASS = 16
TEXT_TRAIN_PER_CLASS = 16


@dataclasses.dataclass
class Run:
    folder: object        # the run folder `tfl train` wrote
    model: object         # its model.keras, loaded
    inputs: list          # the held-out image paths, or texts
    labels: list          # their class indices
    top_loss_heatmaps: list  # what `tfl train` drew over top_losses.png (None for text)
    images: object = None    # images: the held-out images as the model sees them


def _link_subset(source, target, per_class):
    for class_name in ("ants", "bees"):
        os.makedirs(target / class_name)
        for name in sorted(os.listdir(source / class_name))[:per_class]:
            os.symlink(source / class_name / name, target / class_name / name)
    return target


def _train_recording_heatmaps(arguments):
    """Runs `tfl train` and returns the heatmaps it passed to `plot_top_losses`."""
    from tfl.cli.main import main
    from tfl.evaluate import interpretation

    drawn = []
    plot = interpretation.plot_top_losses

    def recording(records, images=None, texts=None, heatmaps=None):
        drawn.append(heatmaps)
        return plot(records, images=images, texts=texts, heatmaps=heatmaps)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(interpretation, "plot_top_losses", recording)
        assert main([*arguments, "--verbose", "0"]) == 0
    return drawn[-1]


@pytest.fixture(scope="session")
def image_run(hymenoptera, tmp_path_factory):
    from tfl.data import list_image_files
    from tfl.data import load_images
    from tfl.model import load_model

    root = tmp_path_factory.mktemp("explain_images")
    train = _link_subset(hymenoptera / "train", root / "train", TRAIN_PER_CLASS)
    held_out = _link_subset(hymenoptera / "val", root / "val", HELD_OUT_PER_CLASS)
    weights = str(shared_data("weights", REAL_WEIGHTS_FILE))
    heatmaps = _train_recording_heatmaps([
        "train", "--data", str(train), "--val-data", str(held_out), "--backbone", "mobilenet_025",
        "--weights", weights, "--image-size", str(IMAGE_SIZE), "--stages", "probe", "--seed", "0",
        "--output", str(root / "run"),
    ])
    model = load_model(str(root / "run" / "model.keras"))
    paths = list_image_files(str(held_out))
    labels = [0 if os.sep + "ants" + os.sep in path else 1 for path in paths]
    images = load_images(paths, model.image_size, model.resize).numpy()
    return Run(root / "run", model, paths, labels, heatmaps, images)


def _write_reviews(path, positive, negative):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([(text, "pos") for text in positive] + [(text, "neg") for text in negative])
    return str(path)


@pytest.fixture(scope="session")
def text_run(tmp_path_factory):
    from tfl.model import load_model

    root = tmp_path_factory.mktemp("explain_texts")
    n = TEXT_TRAIN_PER_CLASS
    train = _write_reviews(root / "train.csv", POSITIVE[:n], NEGATIVE[:n])
    held_out = _write_reviews(root / "held_out.csv", POSITIVE[n:], NEGATIVE[n:])
    heatmaps = _train_recording_heatmaps([
        "train", "--data", train, "--val-data", held_out, "--encoder", "all_minilm_l6_v2",
        "--sequence-length", "32", "--stages", "probe", "--batch-size", "8", "--seed", "0",
        "--output", str(root / "run"),
    ])
    model = load_model(str(root / "run" / "model.keras"))
    texts = POSITIVE[n:] + NEGATIVE[n:]
    labels = [model.class_names.index("pos")] * (len(POSITIVE) - n) + [model.class_names.index("neg")] * (len(NEGATIVE) - n)
    return Run(root / "run", model, texts, labels, heatmaps)

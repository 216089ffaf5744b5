import json

import pytest
import yaml

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.backbones import save_backbone
from tfl.cli.main import main
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.config import TrainConfig
from tfl.model import build_model
from tfl.train import fit_stages

SMALL = ["--backbone", SMALL_BACKBONE, "--image-size", "32", "--batch-size", "8", "--verbose", "0"]


def test_plan_fine_tune_runs_the_probe_then_every_stage_on_a_one_cycle(image_folder, tmp_path):
    # A source trained on bright vs dark images: its features beat a random network's on the target.
    source = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b"])
    fit_stages(source, tiny_image_data(n=32), [Stage("all", 4, 1e-3, train_batchnorm=True)], verbose=0)
    weights = save_backbone(source, str(tmp_path / "source.weights.h5"))
    output = tmp_path / "run"

    code = main(["train", "--data", str(image_folder), *SMALL, "--weights", str(weights), "--plan", "fine_tune",
                 "--epochs", "2", "--output", str(output)])

    assert code == 0
    report = json.loads((output / "report.json").read_text())
    assert report["transfer_check"]["features_transfer"] is True
    head, unfrozen = report["stages"]
    assert head["unfreeze"] == "none" and head["epochs"] == 1 and head["linear_probe"]["converged"]  # LP-FT
    assert unfrozen["unfreeze"] == "all" and unfrozen["epochs"] == 2
    rates = [row["learning_rate"] for row in unfrozen["report"]["rows"]]
    assert rates[-1] == pytest.approx(1e-3) and rates[0] == pytest.approx(1e-5)
    saved = yaml.safe_load((output / "config.yaml").read_text())["train"]
    assert saved["plan"] == "fine_tune" and saved["stages"][1]["schedule"] == "one_cycle"


def test_an_unknown_plan_is_refused_before_training(image_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", str(image_folder), *SMALL, "--plan", "fastai", "--output", str(tmp_path / "o")])
    assert exit_.value.code == 2 and "invalid choice: 'fastai'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="Unknown plan 'fastai'. Known: default, fine_tune"):
        TrainConfig(plan="fastai")
    assert not (tmp_path / "o").exists()

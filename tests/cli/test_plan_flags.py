"""`--plan` and `--stages` against a config file: the flags override it, and one flag chooses the stages."""

import pytest

from tfl.cli.main import build_parser
from tfl.cli.main import main
from tfl.cli.train import config_from_args
from tfl.config import parse_stages


@pytest.fixture
def config_with_stages(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("data:\n  source: digits\ntrain:\n  epochs: 2\n  stages: [probe, top2]\n")
    return path


def _config(*argv):
    return config_from_args(build_parser().parse_args(["train", *argv]))


@pytest.mark.parametrize("plan", ["fine_tune", "default"])
def test_the_plan_flag_replaces_the_stages_of_a_config_file(config_with_stages, plan):
    config = _config("--config", str(config_with_stages), "--plan", plan)
    assert (config.train.plan, config.train.stages, config.train.epochs) == (plan, None, 2)


def test_the_stages_flag_still_replaces_the_stages_of_a_config_file(config_with_stages):
    config = _config("--config", str(config_with_stages), "--stages", "all:1:1e-3")
    assert config.train.stages == parse_stages("all:1:1e-3")


def test_without_the_plan_flag_the_config_files_stages_stay(config_with_stages):
    assert _config("--config", str(config_with_stages)).train.stages == parse_stages("probe,top2", epochs=2)


def test_plan_and_stages_flags_together_are_refused_naming_both(capsys):
    code = main(["train", "--data", "digits", "--plan", "fine_tune", "--stages", "probe"])
    assert code == 2
    assert "--plan and --stages both choose the stages" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "cv", "tune"])
def test_the_epochs_flag_reaches_the_plan_strings_of_a_config_file(config_with_stages, command):
    config = config_from_args(build_parser().parse_args([command, "--config", str(config_with_stages), "--epochs", "7"]))
    assert config.train.epochs == 7
    assert config.train.stages == parse_stages("probe,top2", epochs=7)


@pytest.mark.parametrize(
    "stages, expected",
    [
        pytest.param('["top2:3", "all"]', "top2:3,all:7", id="a-string-with-epochs-keeps-them"),
        pytest.param("[{unfreeze: all, epochs: 2}]", "all:2:1e-3", id="a-mapping-keeps-its-epochs"),
    ],
)
def test_the_epochs_flag_leaves_the_epochs_a_config_stage_gives(tmp_path, stages, expected):
    path = tmp_path / "config.yaml"
    path.write_text(f"data:\n  source: digits\ntrain:\n  epochs: 2\n  stages: {stages}\n")
    assert _config("--config", str(path), "--epochs", "7").train.stages == parse_stages(expected)


def test_a_config_file_whose_plan_strings_are_read_with_the_flags_is_still_checked_alone(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("train:\n  epochs: 0\n  stages: [probe, top2]\n")
    with pytest.raises(ValueError, match=r"config\.yaml: train: .*epochs >= 1\. Received: epochs=0"):
        _config("--config", str(path), "--epochs", "3")

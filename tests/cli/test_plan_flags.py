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

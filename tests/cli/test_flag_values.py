"""A value a flag gave that its config key does not take is refused naming the flag and the value,
in `tfl train`, `tfl cv` and `tfl tune` (which share the flags of `config_from_args`)."""

import re

import pytest

from tfl.cli.main import build_parser
from tfl.cli.train import _FLAG_KEYS
from tfl.cli.train import config_from_args

COMMANDS = ("train", "cv", "tune")
ADAPT = ("--adapt", "mmd", "--target-data", "t/")
UNLABELED = ("--unlabeled", "u/")


def _parse(command, *flags):
    return build_parser().parse_args([command, "--data", "digits", *flags])


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "flags, option, value, reason",
    [
        pytest.param(("--adapt-alpha", "2", *ADAPT), "--adapt-alpha", "2", r"is a mixing weight in \[0, 1\]", id="adapt-alpha"),
        pytest.param(("--adapt-beta", "-0.5", *ADAPT), "--adapt-beta", "-0.5", r"is a mixing weight in \[0, 1\]", id="adapt-beta"),
        pytest.param(("--align-weight", "-1", *ADAPT), "--align-weight", "-1", r"is a weight >= 0", id="align-weight"),
        pytest.param(("--target-labels-per-class", "-1", *ADAPT), "--target-labels-per-class", "-1", r"is a count >= 0", id="target-labels"),
        pytest.param(("--label-smoothing", "2"), "--label-smoothing", "2", r"is in \[0, 1\)", id="label-smoothing"),
        pytest.param(("--weight-decay", "nan"), "--weight-decay", "nan", r"must be a finite number >= 0", id="weight-decay"),
        pytest.param(("--mixup", "-1"), "--mixup", "-1", r"is a finite Beta alpha >= 0", id="mixup"),
        pytest.param(("--cutmix", "inf"), "--cutmix", "inf", r"is a finite Beta alpha >= 0", id="cutmix"),
        pytest.param(("--class-weight", "ants=-1,bees=2"), "--class-weight", "ants=-1,bees=2", r"finite weights >= 0 .*'ants' weighs -1", id="class-weight"),
        pytest.param(("--sequence-length", "4"), "--sequence-length", "4", r"it must be >= 8", id="sequence-length"),
        pytest.param(("--pooling", "median"), "--pooling", "median", r"^Unknown --pooling 'median'\. Known: avg, max", id="pooling"),
        pytest.param(("--prototype-temperature", "0"), "--prototype-temperature", "0", r"must be a number > 0", id="prototype-temperature"),
        pytest.param(("--pseudo-label-threshold", "0", *UNLABELED), "--pseudo-label-threshold", "0", r"in \(0, 1\]", id="threshold"),
        pytest.param(("--fixmatch-lambda-u", "-2", *UNLABELED), "--fixmatch-lambda-u", "-2", r"is a finite weight >= 0", id="lambda-u"),
        pytest.param(("--augment", "flip,rotation=1.5"), "--augment rotation", "rotation=1.5", r"is a fraction in \[0, 1\)", id="augment-rotation"),
        pytest.param(("--augment", "flip=diagonal"), "--augment flip", "flip=diagonal", r"Known: horizontal, vertical", id="augment-flip"),
    ],
)
def test_a_bad_flag_value_is_named_as_the_flag_with_the_reason(command, flags, option, value, reason):
    with pytest.raises(ValueError) as raised:
        config_from_args(_parse(command, *flags))
    message = str(raised.value)
    assert re.search(reason, message), message
    assert option in message.split(" Received: ")[0]
    flag = option.split()[0]
    assert message.endswith(f"Received: {flag} {value}")
    assert "=" not in message.split(" Received: ")[0].replace(">=", "")  # no Python syntax
    key = dict(_FLAG_KEYS).get(flag[2:].replace("-", "_"), "model.augmentation.x")
    assert f"{key.rpartition('.')[0]}:" not in message and f"{key.rpartition('.')[2]}=" not in message


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("dest, key", _FLAG_KEYS, ids=[dest for dest, _ in _FLAG_KEYS])
def test_every_flag_of_the_table_is_an_option_of_the_command_spelt_as_its_messages_spell_it(command, dest, key):
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    option = "--" + dest.replace("_", "-")
    assert [action.dest for action in parser._actions if option in action.option_strings] == [dest]


def test_a_bad_value_in_the_config_file_is_named_in_the_file_also_with_flags(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("train:\n  label_smoothing: 2\n")
    with pytest.raises(ValueError, match=r"config\.yaml: train: label_smoothing is in \[0, 1\)\. Received: label_smoothing=2"):
        config_from_args(_parse("train", "--config", str(path), "--mixup", "0.2"))


def test_a_good_flag_value_over_a_config_file_is_kept(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("train:\n  label_smoothing: 0.1\n")
    config = config_from_args(_parse("train", "--config", str(path), "--label-smoothing", "0.2", "--adapt-alpha", "0.5"))
    assert (config.train.label_smoothing, config.train.adaptation.alpha) == (0.2, 0.5)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "plan, item, reason",
    [("probe,top2:3:-1", "top2:3:-1", r"finite learning rate > 0"), ("none:1:1e-3,top2:x", "top2:x", r"EPOCHS must be an integer")],
    ids=["rate", "epochs"],
)
def test_a_bad_stages_item_is_named_with_the_flag(command, plan, item, reason):
    with pytest.raises(ValueError, match=rf"^--stages '{re.escape(plan)}', item '{re.escape(item)}': .*{reason}"):
        config_from_args(_parse(command, "--stages", plan))

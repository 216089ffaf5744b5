"""What a new user tripped on in the `tfl` command (issue 22, part 6), each fixed and kept fixed."""

import argparse
import io
import shutil

import pytest

from tfl.backbones import get_backbone_spec
from tfl.backbones.weights import load_weights_file
from tfl.cli import arguments
from tfl.cli.main import build_parser
from tfl.cli.main import in_flag_syntax
from tfl.cli.main import main


def _every_parser():
    parser = build_parser()
    (subcommands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return [("tfl", parser), *subcommands.choices.items()]


@pytest.mark.parametrize("name, parser", _every_parser(), ids=[name for name, _ in _every_parser()])
def test_no_parser_matches_option_prefixes(name, parser):
    assert parser.allow_abbrev is False


@pytest.mark.parametrize(
    "argv, unknown, suggestion",
    [
        pytest.param(["train", "--weight", "none"], "--weight none", "did you mean --weights", id="weight"),
        pytest.param(["train", "--epoch=3"], "--epoch=3", "did you mean --epochs", id="epoch-equals"),
        pytest.param(["predict", "model", "x.png", "--top", "2"], "--top 2", "did you mean --top-k", id="predict-top"),
    ],
)
def test_an_unknown_option_is_an_error_naming_it_and_the_close_options(capsys, argv, unknown, suggestion):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"tfl {argv[0]}: error: unrecognized arguments: {unknown}" in err and suggestion in err


def test_the_tensorflow_flag_is_taken_before_and_after_the_subcommand():
    parser = build_parser()
    assert parser.parse_args(["--verbose-tensorflow", "backbones"]).verbose_tensorflow is True
    assert parser.parse_args(["backbones", "--verbose-tensorflow"]).verbose_tensorflow is True
    assert parser.parse_args(["backbones"]).verbose_tensorflow is False


def test_a_bad_weights_flag_is_answered_in_the_flags_syntax(capsys, tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["train", "--data", "x", "--weights", "nne", "--output", str(tmp_path / "out")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --weights: expected imagenet, none, or a path to a weights file" in err and "'nne'" in err
    assert "weights=None" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["imagenet", "none", "None", "null", "IMAGENET"])
def test_the_weights_flag_takes_its_names_in_any_case(value):
    assert arguments.weights(value) == value


def test_the_weights_flag_takes_a_file_and_refuses_a_folder(tmp_path):
    (tmp_path / "backbone.weights.h5").write_bytes(b"")
    assert arguments.weights(str(tmp_path / "backbone.weights.h5")) == str(tmp_path / "backbone.weights.h5")
    with pytest.raises(argparse.ArgumentTypeError, match=r"\(a folder\)"):
        arguments.weights(str(tmp_path))


def test_the_weights_advice_of_the_library_becomes_flags_in_the_cli_and_stays_python_in_python():
    with pytest.raises(FileNotFoundError) as raised:
        load_weights_file(None, "missing.weights.h5", get_backbone_spec("mobilenet_v3_small"))
    python = str(raised.value)
    assert "weights='imagenet', weights=None" in python  # the Python API's own message (offline: text only)
    cli = in_flag_syntax(python)
    assert "--weights imagenet, --weights none" in cli and "weights=None" not in cli
    assert in_flag_syntax("Pass weights=PATH, or branch_weights=None.") == "Pass --weights PATH, or branch_weights=None."


@pytest.fixture
def broken_images(image_folder, tmp_path):
    """The image folder with an empty PNG: refused while the data load, after the run folder is made."""
    folder = tmp_path / "images"
    shutil.copytree(image_folder, folder)
    (folder / "dark" / "broken.png").write_bytes(b"")
    return folder


def _train(data, output, *extra):
    return main(["train", "--data", str(data), "--backbone", "mobilenet_v3_small", "--image-size", "32",
                 "--weights", "none", "--stages", "none:1", "--output", str(output), "--verbose", "0", *extra])


def test_a_failed_run_removes_the_output_folder_it_created(broken_images, tmp_path, capsys):
    assert _train(broken_images, tmp_path / "runs" / "first") == 2
    assert "broken.png" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nor the parent it needed


@pytest.mark.parametrize("keep", ["empty-folder-of-the-user", "a-file-of-the-user"])
def test_a_failed_run_keeps_a_folder_that_existed(broken_images, tmp_path, keep):
    output = tmp_path / "mine"
    output.mkdir()
    if keep == "a-file-of-the-user":
        (output / "notes.txt").write_text("mine")
    assert _train(broken_images, output, "--overwrite") == 2
    assert output.is_dir()
    assert sorted(p.name for p in output.iterdir()) == ([] if keep == "empty-folder-of-the-user" else ["notes.txt"])


@pytest.mark.parametrize(
    "flag, terminal, expected",
    [
        pytest.param(None, True, 1, id="terminal-progress-bar"),
        pytest.param(None, False, 2, id="file-one-line-per-epoch"),
        pytest.param(1, False, 1, id="asked-for-the-bar"),
        pytest.param(0, True, 0, id="silent"),
    ],
)
def test_keras_verbosity_is_one_line_per_epoch_unless_on_a_terminal(monkeypatch, flag, terminal, expected):
    class Stdout(io.StringIO):
        def isatty(self):
            return terminal

    monkeypatch.setattr("sys.stdout", Stdout())
    assert arguments.keras_verbosity(flag) == expected


def test_train_without_verbose_writes_one_line_per_epoch_to_a_file(image_folder, tmp_path, monkeypatch):
    import tfl.experiment

    seen = {}

    def fake_run_experiment(plan, output, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop here: only the verbosity is under test

    monkeypatch.setattr(tfl.experiment, "run_experiment", fake_run_experiment)
    code = main(["train", "--data", str(image_folder), "--backbone", "mobilenet_v3_small", "--image-size", "32",
                 "--weights", "none", "--output", str(tmp_path / "o")])
    assert code == 130 and seen["verbose"] == 2  # pytest's captured stdout is not a terminal

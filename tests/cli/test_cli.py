import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import yaml

from tests.small_backbone import SMALL_BACKBONE
from tfl.cli.main import build_parser
from tfl.cli.main import main
from tfl.cli.train import config_from_args
from tfl.data import load_images
from tfl.model import load_model

TINY = ["--backbone", SMALL_BACKBONE, "--weights", "none", "--image-size", "32", "--batch-size", "8"]


@pytest.fixture(scope="module")
def trained_run(image_folder, tmp_path_factory):
    output = tmp_path_factory.mktemp("run") / "out"
    options = ["--label-smoothing", "0.1", "--class-weight", "balanced", "--weight-decay", "1e-4", "--early-stopping", "2"]
    code = main(["train", "--data", str(image_folder), *TINY, *options, "--stages", "all:1:1e-3", "--output", str(output), "--verbose", "0"])
    assert code == 0
    return output


def test_the_loss_options_reach_the_model_and_the_config(trained_run, image_folder):
    import yaml

    model = load_model(trained_run / "model.keras")
    train = yaml.safe_load((trained_run / "config.yaml").read_text())["train"]

    assert (train["label_smoothing"], train["class_weight"], train["weight_decay"]) == (0.1, "balanced", 1e-4)
    assert model.training_options.label_smoothing == pytest.approx(0.1)
    assert model.optimizer.weight_decay == pytest.approx(1e-4)
    assert sorted(model.training_options.class_weight) == [0, 1]  # "balanced", counted from the training labels


def test_the_early_stopping_flag_reaches_the_config_and_every_stage(trained_run):
    train = yaml.safe_load((trained_run / "config.yaml").read_text())["train"]
    assert train["early_stopping"] == 2 and [stage["early_stopping"] for stage in train["stages"]] == [2]
    (stage,) = json.loads((trained_run / "report.json").read_text())["stages"]
    assert stage["early_stopping"]["patience"] == 2 and stage["early_stopping"]["best_epoch"] == 0


def test_evaluate_and_predict_with_tta_use_the_flip_averaged_probabilities(trained_run, image_folder, capsys):
    import tfl

    files = [str(image_folder / "dark" / "0.png"), str(image_folder / "bright" / "1.png")]
    expected = tfl.predict(trained_run, files, top_k=2, tta=True)
    assert main(["predict", str(trained_run), *files, "--top-k", "2", "--json", "--tta"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for line, ranked in zip(lines, expected.top_k):
        assert [(c["class"], c["probability"]) for c in line["top_k"]] == [(c, round(float(p), 6)) for c, p in ranked]
    assert main(["evaluate", str(trained_run), str(image_folder), "--json", "--tta"]) == 0
    assert json.loads(capsys.readouterr().out)["tta"] == "flip"


def test_train_with_skip_bad_files_lists_the_skipped_files_in_the_report(image_folder, tmp_path):
    folder = tmp_path / "images"
    shutil.copytree(image_folder, folder)
    (folder / "dark" / "broken.png").write_bytes(b"")
    output = tmp_path / "out"
    arguments = ["train", "--data", str(folder), *TINY, "--stages", "none:1:1e-3", "--output", str(output)]

    assert main([*arguments, "--verbose", "0"]) == 2  # refused without the flag, naming it
    assert main([*arguments, "--verbose", "0", "--skip-bad-files", "--no-resume", "--overwrite"]) == 0

    report = json.loads((output / "report.json").read_text())
    assert [os.path.basename(path) for path in report["skipped_files"]] == ["broken.png"]
    assert report["num_train"] + report["num_validation"] == 16


def test_train_writes_model_report_and_config(trained_run):
    assert sorted(os.listdir(trained_run)) == [
        "config.yaml", "confusion_matrix.png", "interpretation.json", "model.keras", "report.json",
        "top_losses.png", "training.png",
    ]
    report = json.loads((trained_run / "report.json").read_text())
    assert report["plots"] == ["training.png", "confusion_matrix.png", "top_losses.png"]
    for name in report["plots"]:
        data = (trained_run / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000, name
    for key in ("accuracy", "macro_f1", "auc_roc", "confusion_matrix", "class_names", "stages", "seconds", "config"):
        assert key in report, key
    assert report["class_names"] == ["bright", "dark"]
    assert report["num_examples"] == 4  # the held-out 20% of 16 images, stratified
    assert sum(map(sum, report["confusion_matrix"])) == 4
    assert report["stages"][0]["unfreeze"] == "all" and report["stages"][0]["seconds"] > 0
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["model"]["backbone"] == SMALL_BACKBONE and config["model"]["image_size"] == [32, 32]
    assert config["model"]["resize"] == report["resize"] == "crop"
    assert config["train"]["stages"][0]["epochs"] == 1


def test_overwrite_removes_the_plots_an_earlier_run_left_that_this_run_does_not_make(image_folder, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    for name in ("fusion_weights.png", "adaptation.png", "notes.txt"):  # a weighted fusion run with --adapt, a user
        (output / name).write_bytes(b"earlier")
    arguments = ["train", "--data", str(image_folder), *TINY, "--stages", "none:1:1e-3", "--output", str(output)]

    assert main([*arguments, "--verbose", "0", "--overwrite"]) == 0

    plots = json.loads((output / "report.json").read_text())["plots"]
    assert sorted(plots) == ["confusion_matrix.png", "top_losses.png", "training.png"]
    assert sorted(name for name in os.listdir(output) if name.endswith(".png")) == sorted(plots)
    assert (output / "notes.txt").read_bytes() == b"earlier"  # not tfl's: left alone


def test_written_model_reloads_with_its_class_names(trained_run):
    model = load_model(trained_run / "model.keras")
    assert model.class_names == ["bright", "dark"]
    assert model.resize == "crop"


@pytest.mark.parametrize("flags, resize", [([], "crop"), (["--resize", "stretch"], "stretch"), (["--resize", "crop"], "crop")])
def test_the_resize_flag_sets_model_resize(flags, resize):
    args = build_parser().parse_args(["train", "--data", "digits", *flags])
    assert config_from_args(args).model.resize == resize


def test_an_unknown_resize_flag_names_the_choices(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--data", "digits", "--resize", "pad"])
    err = capsys.readouterr().err
    assert "--resize: invalid choice: 'pad'" in err and "crop" in err and "stretch" in err


def test_evaluate_on_the_training_folder_scores_only_the_runs_held_out_split(trained_run, image_folder, capsys, tmp_path):
    assert main(["evaluate", str(trained_run), str(image_folder), "--output", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "4 examples" in out and "held-out split" in out and "macro-F1" in out
    report = json.loads((tmp_path / "r.json").read_text())
    trained = json.loads((trained_run / "report.json").read_text())
    assert report["confusion_matrix"] == trained["confusion_matrix"]  # the same images as train's own evaluation
    assert f"wrote {tmp_path / 'interpretation.json'}" in out and f"wrote {tmp_path / 'top_losses.png'}" in out


def test_evaluate_on_the_training_folder_of_a_val_data_run_names_the_folder_it_scored(image_folder, tmp_path, capsys):
    held_out = tmp_path / "held_out"
    shutil.copytree(image_folder, held_out)
    (held_out / "dark" / "7.png").unlink()
    run = tmp_path / "run"
    arguments = ["--data", str(image_folder), "--val-data", str(held_out), *TINY, "--stages", "none:1:1e-3"]
    assert main(["train", *arguments, "--output", str(run), "--verbose", "0"]) == 0
    capsys.readouterr()

    assert main(["evaluate", str(run), str(image_folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["num_examples"] == 15  # the run's held-out folder, not the 16 training images
    assert report["evaluated_on"] == f"{held_out} (the run's held-out data, --val-data; it trained on {image_folder})"


def test_val_data_of_one_class_folder_is_named_as_missing_classes_with_the_flags(image_folder, tmp_path, capsys):
    held_out = tmp_path / "held_out"
    shutil.copytree(image_folder / "dark", held_out / "dark")
    arguments = ["--data", str(image_folder), "--val-data", str(held_out), *TINY, "--stages", "none:1:1e-3"]
    assert main(["train", *arguments, "--output", str(tmp_path / "run"), "--verbose", "0"]) == 2
    error = capsys.readouterr().err
    assert "at least 2 classes" not in error
    assert f"The class folders of the validation folder {held_out} (" in error and "--val-data" in error
    assert f"the training folder {image_folder} (" in error and "--data with `tfl train`" in error
    assert "missing from the validation folder: 'bright'" in error
    assert not (tmp_path / "run").exists()


def test_evaluate_on_the_runs_own_folder_honours_skip_bad_files(image_folder, tmp_path, capsys):
    data = tmp_path / "images"
    shutil.copytree(image_folder, data)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), *TINY, "--stages", "none:1:1e-3", "--output", str(run), "--verbose", "0"]) == 0
    (data / "dark" / "empty.png").write_bytes(b"")  # a bad file after training
    capsys.readouterr()

    assert main(["evaluate", str(run), str(data), "--json"]) == 2
    error = capsys.readouterr().err
    assert "empty.png: empty file" in error and "--skip-bad-files with `tfl train`, `tfl evaluate`" in error
    assert main(["evaluate", str(run), str(data), "--json", "--skip-bad-files"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["evaluated_on"] == f"{data} (the run's held-out split)"


def test_evaluate_from_another_folder_still_scores_a_relative_source_runs_held_out_split(
    image_folder, tmp_path, monkeypatch, capsys
):
    """config.yaml keeps `--data` as given; run from elsewhere, evaluate once took the run's own
    folder for new data and scored every image, the training ones included."""
    monkeypatch.chdir(image_folder.parent)
    run = tmp_path / "run"
    arguments = ["--data", image_folder.name, *TINY, "--stages", "none:1:1e-3", "--output", str(run)]
    assert main(["train", *arguments, "--verbose", "0"]) == 0
    held_out = json.loads((run / "report.json").read_text())["num_examples"]
    capsys.readouterr()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert main(["evaluate", str(run), str(image_folder), "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["num_examples"] == held_out < 16
    assert "held-out split" in report["evaluated_on"]


def test_train_and_evaluate_write_the_same_interpretation(trained_run, image_folder, tmp_path):
    assert main(["evaluate", str(trained_run), str(image_folder), "--output", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    interpretation = json.loads((tmp_path / "interpretation.json").read_text())
    trained = json.loads((trained_run / "interpretation.json").read_text())
    records = interpretation["top_losses"]
    assert sorted(r["index"] for r in records) == [0, 1, 2, 3]  # k=9 > 4 held-out images: all of them
    assert [r["loss"] for r in records] == sorted((r["loss"] for r in records), reverse=True)
    for record in records:
        assert record["loss"] == pytest.approx(-np.log(max(record["probability"], 1e-7)), rel=1e-6)
        assert record["actual"] in ("bright", "dark") and record["predicted"] in ("bright", "dark")
    matrix = np.array(report["confusion_matrix"])
    assert sum(p["count"] for p in interpretation["most_confused"]) == matrix.sum() - np.trace(matrix)
    assert interpretation["per_class"] == report["per_class"]
    assert [r["index"] for r in trained["top_losses"]] == [r["index"] for r in records]
    assert [r["loss"] for r in trained["top_losses"]] == pytest.approx([r["loss"] for r in records], rel=1e-5)
    assert (tmp_path / "top_losses.png").read_bytes().startswith(b"\x89PNG")


def test_evaluate_top_losses_sets_how_many_examples_are_listed(trained_run, image_folder, tmp_path, capsys):
    assert main(["evaluate", str(trained_run), str(image_folder), "--output", str(tmp_path / "r.json"),
                 "--top-losses", "2"]) == 0
    assert len(json.loads((tmp_path / "interpretation.json").read_text())["top_losses"]) == 2
    assert main(["evaluate", str(trained_run), str(image_folder), "--top-losses", "0"]) == 2
    assert "--top-losses must be 1 or more. Received: --top-losses 0" in capsys.readouterr().err


def test_evaluate_and_predict_refuse_an_image_and_text_fusion_model_with_the_fix(image_folder, tmp_path, capsys):
    from tests.text_fakes import tiny_encoder
    from tfl.backbones import build_backbone
    from tfl.model import FusionClassifier
    from tfl.model import image_branch
    from tfl.model import text_branch

    encoder, preprocessor = tiny_encoder(sequence_length=8, hidden_dim=8)
    backbone = build_backbone(SMALL_BACKBONE, weights=None, image_size=32)
    model = FusionClassifier(
        [image_branch("image", backbone, SMALL_BACKBONE, 32), text_branch("text", encoder, "tiny", preprocessor=preprocessor)],
        ["bright", "dark"],
    )
    model.save(tmp_path / "fusion.keras")
    report = tmp_path / "evaluation" / "report.json"

    assert main(["evaluate", str(tmp_path / "fusion.keras"), str(image_folder), "--output", str(report)]) == 2
    error = capsys.readouterr().err
    assert "task 'image_text'" in error and "evaluate_held_out(model, dataset)" in error
    assert not report.parent.exists()
    assert main(["predict", str(tmp_path / "fusion.keras"), str(image_folder / "dark" / "0.png")]) == 2
    assert "takes both (image_text)" in capsys.readouterr().err


def test_evaluate_uses_every_image_of_another_folder(trained_run, image_folder, capsys, tmp_path):
    other = tmp_path / "test_images"
    shutil.copytree(image_folder, other)
    assert main(["evaluate", str(trained_run), str(other), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_examples"] == 16


def test_predict_prints_top_k_class_names(trained_run, image_folder, capsys):
    files = [str(image_folder / "dark" / "0.png"), str(image_folder / "bright" / "1.png")]
    assert main(["predict", str(trained_run / "model.keras"), *files, "--top-k", "2", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines] == files
    for line in lines:
        assert {c["class"] for c in line["top_k"]} == {"bright", "dark"}
        assert abs(sum(c["probability"] for c in line["top_k"]) - 1) < 1e-5


def test_predict_on_a_folder_names_it_and_the_command_line_fix(trained_run, image_folder, capsys):
    folder = str(image_folder / "dark")
    assert main(["predict", str(trained_run), folder]) == 2
    error = capsys.readouterr().err
    assert f"{folder} is a folder (8 images in it); tfl predict takes image files" in error
    assert f"tfl predict {trained_run} {folder}/*" in error and "list_image_files" not in error


def test_predict_crops_a_wide_image_as_the_model_does(trained_run, tmp_path, capsys):
    # Flat 4x4 blocks: the centred 64x64 square, halved, is exact in uint8 (no rounding).
    blocks = np.random.default_rng(0).integers(90, 150, (16, 32, 3), dtype=np.uint8)  # neither dark nor bright
    pixels = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)  # 64x128
    path = tmp_path / "wide.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    model = load_model(trained_run / "model.keras")
    expected = model.predict({"images": pixels[None].astype("float32")}, verbose=0)[0]

    assert main(["predict", str(trained_run), str(path), "--json"]) == 0

    (line,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    predicted = {c["class"]: c["probability"] for c in line["top_k"]}
    np.testing.assert_allclose([predicted[name] for name in model.class_names], expected, atol=1e-5)


def test_output_folder_with_files_is_refused_and_left_untouched(image_folder, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    code = main(["train", "--data", str(image_folder), *TINY, "--output", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and "--overwrite" in err
    assert os.listdir(tmp_path) == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        pytest.param("model:\n  backbon: resnet50\n", "Unknown config key 'model.backbon'. Did you mean 'backbone'", id="unknown-key"),
        pytest.param("train:\n  epochs: -2\n", "epochs must be >= 1", id="negative-epochs"),
        pytest.param("data:\n  batch_size: many\n", "data.batch_size must be an integer", id="wrong-type"),
    ],
)
def test_bad_config_file_is_named_without_a_traceback(tmp_path, capsys, yaml_text, message):
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    assert main(["train", "--config", str(path), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err


def test_a_bad_class_weight_flag_names_the_forms(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--data", "x", "--class-weight", "heavy"])
    assert "expected 'balanced' or CLASS=WEIGHT pairs joined by commas" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        pytest.param(["--backbone", "resnet5"], "Did you mean: resnet50", id="unknown-backbone"),
        pytest.param(["--stages", "conv9:1"], "Unknown backbone stage 'conv9'", id="unknown-stage"),
        pytest.param(["--image-size", "16"], "at least 32x32", id="image-too-small"),
        pytest.param(["--label-smoothing", "1.5"], "--label-smoothing is in [0, 1). Received: --label-smoothing 1.5", id="bad-label-smoothing"),
    ],
)
def test_bad_flags_fail_before_any_training(image_folder, tmp_path, capsys, flags, message):
    args = ["train", "--data", str(image_folder), "--weights", "none", "--output", str(tmp_path / "o"), *flags]
    if "--backbone" not in flags:
        args += ["--backbone", "resnet50"]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "model.keras").exists()


@pytest.fixture(scope="module")
def target_folder(image_folder, tmp_path_factory):
    """The source's images inverted: 3 labelled per class, 4 loose (unlabelled)."""
    root = tmp_path_factory.mktemp("target")
    for name in ("dark", "bright"):
        for i, path in enumerate(sorted((image_folder / name).iterdir())):
            pixels = 255 - tf.io.decode_png(path.read_bytes()).numpy()
            destination = root / name / path.name if i < 3 else root / f"{name}_{path.name}"
            destination.parent.mkdir(exist_ok=True)
            destination.write_bytes(tf.io.encode_png(pixels).numpy())
            if i == 4:
                break
    return root


@pytest.mark.slow
def test_train_with_fusion_and_adaptation_writes_the_adaptation_report_and_plot(image_folder, target_folder, tmp_path, capsys):
    output = tmp_path / "adapted"
    code = main([
        "train", "--data", str(image_folder), *TINY, "--stages", "none:1:1e-3",
        "--fusion", "weighted", "--target-data", str(target_folder), "--adapt", "mmd", "--adapt-epochs", "2",
        "--align-weight", "0.5", "--target-labels-per-class", "1", "--output", str(output), "--verbose", "0",
    ])
    assert code == 0
    assert "Held-out target (2 examples)" in capsys.readouterr().out
    report = json.loads((output / "report.json").read_text())
    assert report["plots"] == [
        "training.png", "confusion_matrix.png", "fusion_weights.png", "adaptation.png", "top_losses.png"
    ]
    for name in ("adaptation.png", "fusion_weights.png"):
        assert (output / name).read_bytes().startswith(b"\x89PNG")
    weights = report["stages"][0]["history"]
    assert weights["fusion_weight_source"][-1] + weights["fusion_weight_target"][-1] == pytest.approx(1.0)
    adaptation = report["adaptation"]
    assert (adaptation["method"], adaptation["align_weight"], adaptation["epochs"]) == ("mmd", 0.5, 2)
    assert (adaptation["num_target"], adaptation["num_target_labelled"], adaptation["num_target_test"]) == (8, 2, 2)
    assert len(adaptation["history"]["alignment_loss"]) == 2 and adaptation["history"]["alignment_loss"][0] > 0
    assert report["target"]["num_examples"] == 2
    assert report["target"]["accuracy"] == pytest.approx(adaptation["target_accuracy_after"])
    assert report["fusion"]["mode"] == "weighted" and sum(report["fusion"]["input_weights"]) == pytest.approx(1.0)
    assert adaptation["trainable_stages"] == ["target/block1", "target/block2"]  # the source branch stays frozen
    config = yaml.safe_load((output / "config.yaml").read_text())
    assert config["train"]["adaptation"]["method"] == "mmd" and config["data"]["target_source"] == str(target_folder)
    model = load_model(output / "model.keras")
    assert type(model).__name__ == "FusionClassifier"

    # The fused, adapted model serves like any image classifier: JPEG/PNG bytes in.
    assert main(["export", str(output), "--name", "fused", "--base", str(tmp_path / "saved_models")]) == 0
    files = sorted((image_folder / "dark").iterdir())[:2]
    serve = tf.saved_model.load(str(tmp_path / "saved_models" / "fused" / "1")).signatures["serving_default"]
    served = serve(images=tf.constant([f.read_bytes() for f in files]))["probabilities"].numpy()
    expected = model.predict({"images": load_images([str(f) for f in files], model.image_size)}, verbose=0)
    np.testing.assert_allclose(served, expected, atol=1e-5)


@pytest.mark.parametrize(
    "flags, message",
    [
        pytest.param(["--adapt", "coral"], "data.target_source is not set", id="adapt-without-target"),
        pytest.param(["--target-data", "shifted/"], "train.adaptation.method is not set", id="target-without-method"),
        pytest.param(["--target-data", "missing/", "--adapt", "dann"], "The target folder missing/ does not exist", id="missing-target"),
        pytest.param(["--adapt", "joint", "--adapt-beta", "0", "--target-data", "t/"], "nothing would learn", id="beta-zero"),
        pytest.param(["--adapt", "mmd", "--adapt-alpha", "2", "--target-data", "t/"], "--adapt-alpha is a mixing weight in [0, 1]. Received: --adapt-alpha 2", id="alpha"),
    ],
)
def test_bad_adaptation_flags_fail_before_any_training(image_folder, tmp_path, capsys, flags, message):
    args = ["train", "--data", str(image_folder), *TINY, "--output", str(tmp_path / "o"), *flags]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "model.keras").exists()


def test_train_on_a_mocked_tfds_data_set(tmp_path, tfds_mock):
    with tfds_mock(num_examples=20):
        code = main(["train", "--data", "tfds:mnist", *TINY, "--stages", "none:1", "--output", str(tmp_path / "o"), "--verbose", "0"])
    assert code == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["class_names"] == [str(i) for i in range(10)]


def test_backbones_lists_every_backbone_with_its_stages(capsys):
    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "stem, conv2, conv3, conv4, conv5" in out
    assert "mobilenet_025" in out and "MobileNet(alpha=0.25)" in out
    # 40 Keras classes, 12 more width variants, and the backbones registered in this process
    # (tests/small_backbone.py's).
    from tfl.backbones import backbone_names

    assert len(out.strip().splitlines()) == 1 + len(backbone_names()) >= 1 + 53
    assert SMALL_BACKBONE in out and "tiny_stages_net" in out


def test_console_script_runs_without_importing_tensorflow_for_help():
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    code = "import sys; from tfl.cli.main import build_parser; build_parser(); print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "False"


def test_installed_tfl_command_answers():
    tfl = os.path.join(os.path.dirname(sys.executable), "tfl")  # the venv's console script
    result = subprocess.run([tfl, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("tfl ")

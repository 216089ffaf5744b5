"""`tfl.tune` and `tfl tune`: KerasTuner searches a config's plan on a split of the
training data; the best YAML reproduces its score; a second run continues the search."""

import json
import os
import re
import shutil

import keras_tuner
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tfl.cli.main import main
from tfl.config import Config
from tfl.tuning import PlanSpace
from tfl.tuning import search_config
from tfl.tuning import tune

TINY = ["--backbone", SMALL_BACKBONE, "--weights", "none", "--image-size", "32", "--batch-size", "4"]


@pytest.fixture(scope="module")
def held_out(image_folder, tmp_path_factory):
    """The held-out folder, with an unreadable file per class: reading it would fail."""
    root = tmp_path_factory.mktemp("held_out") / "images"
    shutil.copytree(image_folder, root)
    for name in ("dark", "bright"):
        (root / name / "broken.png").write_bytes(b"not an image")
    return root


@pytest.fixture(scope="module")
def searched(image_folder, held_out, tmp_path_factory):
    """A finished `tfl tune` of 2 trials: `(output folder, trials.json before a resume)`."""
    output = tmp_path_factory.mktemp("tune") / "search"
    code = main(_tune_arguments(image_folder, held_out, output, max_trials=2))
    assert code == 0
    return output, _trials(output)


def _tune_arguments(image_folder, held_out, output, max_trials):
    return [
        "tune", "--data", str(image_folder), "--val-data", str(held_out), *TINY,
        "--stages", "none:1:1e-3", "--epochs", "1", "--max-trials", str(max_trials), "--max-unfreeze", "0",
        "--search-split", "0.25", "--output", str(output),
    ]  # fmt: skip


def _trials(output):
    with open(output / "trials.json", encoding="utf-8") as file:
        return json.load(file)


def test_tune_writes_the_best_config_the_trials_and_kerastuner_state(searched):
    output, trials = searched
    assert {"best.yaml", "trials.json", "default.json", "search.yaml", "keras_tuner"} <= set(os.listdir(output))
    assert [row["trial_id"] for row in trials] == ["default", "0", "1"]
    assert all(row["status"] == "COMPLETED" and 0 <= row["score"] <= 1 for row in trials)
    assert (output / "keras_tuner" / "oracle.json").is_file()
    best = Config.from_yaml(output / "best.yaml")
    assert best.data.validation_source is None and best.data.validation_split == 0.25  # the search's split
    assert best.train.feature_cache_dir is None  # the search's shared cache stays in the search folder


def test_the_best_yaml_reproduces_its_score_with_tfl_train(searched, tmp_path):
    output, trials = searched
    best = max(trials, key=lambda row: row["score"])  # the first of equals, as tune picks it
    run = tmp_path / "run"
    assert main(["train", "--config", str(output / "best.yaml"), "--output", str(run), "--verbose", "0"]) == 0
    with open(run / "report.json", encoding="utf-8") as file:
        report = json.load(file)
    assert report["num_validation"] == 4  # 25% of each class of the training folder, seeded
    assert report["accuracy"] == pytest.approx(best["val_accuracy"], abs=1e-6)
    assert report["macro_f1"] == pytest.approx(best["val_macro_f1"], abs=1e-6)
    assert report["auc_roc"] == pytest.approx(best["val_auc_roc"], abs=1e-6)


def test_running_tune_again_continues_the_search(searched, image_folder, held_out):
    output, before = searched
    assert main(_tune_arguments(image_folder, held_out, output, max_trials=3)) == 0
    after = _trials(output)
    assert [row["trial_id"] for row in after] == ["default", "0", "1", "2"]
    assert after[:3] == before  # finished trials are kept, not run again


def test_a_search_of_another_config_is_refused(searched, image_folder, held_out):
    output, _ = searched
    config = Config.from_dict(
        {"data": {"source": str(image_folder), "validation_source": str(held_out), "seed": 7}}
    )
    with pytest.raises(ValueError, match="holds a search of another config"):
        tune(config, output_dir=output)


@pytest.mark.parametrize(
    "flags, named",
    [(["--tuner", "hyperband"], r"tuner='bayesian' there, 'hyperband' now \(--tuner\)"),
     (["--max-epochs", "5"], r"max_epochs=2 there, 5 now \(--max-epochs\)"),
     (["--objective", "macro_f1"], r"objective='accuracy' there, 'macro_f1' now \(--objective\)")],
    ids=["tuner", "max_epochs", "objective"],
)
def test_a_search_with_other_settings_is_refused_before_any_trial(searched, image_folder, held_out, capsys, flags, named):
    output, _ = searched
    before = _trials(output)
    assert main([*_tune_arguments(image_folder, held_out, output, max_trials=9), *flags]) == 2
    assert re.search(named, capsys.readouterr().err)
    assert _trials(output) == before and json.loads((output / "search.json").read_text())["tuner"] == "bayesian"


def test_hyperband_trains_each_trial_for_its_epoch_budget(image_folder, held_out):
    config = Config.from_dict(
        {
            "data": {"source": str(image_folder), "validation_source": str(held_out), "batch_size": 4},
            "model": {"backbone": SMALL_BACKBONE, "weights": None, "image_size": 32},
            "train": {"stages": ["probe"], "epochs": 1},
        }
    )
    result = tune(config, max_trials=2, tuner="hyperband", max_unfreeze=0, max_epochs=3)
    assert result.output_dir is None and [row["trial_id"] for row in result.trials] == ["default", "0", "1"]
    for row in result.trials[1:]:
        if row["values"]["head"] == "fit":
            assert row["plan"].startswith(f"none:{row['values']['tuner/epochs']}:")
    assert result.best_score >= result.default_score


def test_the_search_space_maps_values_to_config_fields():
    hp = keras_tuner.HyperParameters()
    space = PlanSpace(Config(), max_unfreeze=3)
    space.build(hp)  # declares the space
    values = {"head": "fit", "head_learning_rate": 3e-3, "head_epochs": 4, "unfreeze": 3,
              "fine_tune_learning_rate": 2e-5, "fine_tune_epochs": 2, "dropout": 0.3,
              "label_smoothing": 0.1, "weight_decay": 1e-4}  # fmt: skip
    hp.values.update(values)
    config = space.build(hp)
    assert [(s.unfreeze, s.epochs, s.learning_rate) for s in config.train.stages] == [
        ("none", 4, 3e-3),
        ("top 3", 2, 2e-5),
    ]
    assert (config.model.dropout, config.train.label_smoothing, config.train.weight_decay) == (0.3, 0.1, 1e-4)


def test_a_head_that_cannot_be_probed_is_searched_as_head_stages_only():
    hp = keras_tuner.HyperParameters()
    space = PlanSpace(Config(), max_unfreeze=1, probe=False)
    config = space.build(hp)
    assert hp.get_config()["space"][0]["config"]["values"] == ["fit"]
    assert not config.train.stages[0].linear_probe
    assert PlanSpace(Config()).heads == ["probe", "fit"]


@pytest.mark.parametrize(
    "freeze_source, stages",
    [(True, 2), (False, 6)],
    ids=["frozen source: the target's 2 blocks", "trained source: its 4 stages and the target's 2"],
)
def test_a_fusion_config_unfreezes_at_most_the_stages_of_its_trainable_branches(image_folder, freeze_source, stages):
    from tfl.model import build_model
    from tfl.run_plan import plan_run
    from tfl.train.freezing import resolve_unfreeze
    from tfl.tuning import _max_unfreeze

    fusion = {"mode": "weighted", "freeze_source": freeze_source}
    config = Config.from_dict({"data": {"source": str(image_folder)},
                               "model": {"backbone": SMALL_BACKBONE, "weights": None, "image_size": 32, "fusion": fusion}})
    model_stages = build_model(config.model, ["a", "b"]).stage_layers()

    assert _max_unfreeze(plan_run(config), 8) == stages == len(model_stages)
    resolve_unfreeze(f"top {stages}", model_stages)  # what the largest trial asks for exists


def test_the_search_never_reads_the_held_out_data_and_needs_it_apart():
    with pytest.raises(ValueError, match=r"--val-data.*Received: data.source='train/'"):
        search_config(Config.from_dict({"data": {"source": "train/"}}))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"tuner": "random"}, "Unknown tuner 'random'. Known: bayesian, hyperband"),
        ({"objective": "loss"}, "Unknown objective 'loss'. Known: accuracy, macro_f1"),
        ({"max_trials": 0}, "max_trials must be a whole number >= 1"),
        ({"max_unfreeze": -1}, r"max_unfreeze must be a whole number >= 0 \(--max-unfreeze with tfl tune\)"),
        ({"max_epochs": 0}, r"max_epochs must be a whole number >= 1 \(--max-epochs with tfl tune\)"),
        ({"validation_split": 1.5}, r"in \(0, 1\), e\.g\. 0\.2 \(--search-split with tfl tune.*validation_split=1\.5"),
    ],
    ids=["tuner", "objective", "max_trials", "max_unfreeze", "max_epochs", "search_split"],
)
def test_bad_arguments_are_named(arguments, message):
    config = Config.from_dict({"data": {"source": "train/", "validation_source": "test/"}})
    with pytest.raises(ValueError, match=message):
        tune(config, **arguments)

"""`cross_validate` and `tfl cv`: the folds' runs, per-fold resume, cv.json and cv.png.

Most tests replace `run_experiment` by a fake that writes a report: what is
tested is which folds run, on which data, and what is written. One test trains
for real, on two folds of 16 tiny images.
"""

import json
import os

import pytest

from tests.small_backbone import SMALL_BACKBONE
from tfl import cross_validation
from tfl.cli.main import main
from tfl.config import Config
from tfl.cross_validation import cross_validate


def _config(source, **model):
    return Config.from_dict(
        {
            "data": {"source": str(source), "batch_size": 4},
            "model": {"backbone": SMALL_BACKBONE, "weights": None, "image_size": 32, **model},
            "train": {"stages": ["none:1:1e-3"]},
        }
    )


class FakeRuns:
    """Stands in for `run_experiment`: records each call, writes a report whose
    accuracy tells the plan (weights) and the fold apart."""

    def __init__(self):
        self.calls = []

    def __call__(self, config, folder, *, overwrite, resume, verbose, log):
        self.calls.append((config, folder))
        self.resume = resume
        held_out = sorted(os.listdir(os.path.join(config.data.validation_source, "dark")))
        accuracy = (0.9 if config.model.weights else 0.6) + 0.01 * len(self.calls)
        report = {"accuracy": accuracy, "macro_f1": accuracy - 0.05, "auc_roc": 0.95, "seconds": 1.0}
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "report.json"), "w") as f:
            json.dump({**report, "held_out": held_out}, f)
        return type("Result", (), {"report": report})()

    def folders(self):
        return [os.path.basename(folder) for _, folder in self.calls]


@pytest.fixture
def fake_runs(monkeypatch):
    runs = FakeRuns()
    monkeypatch.setattr(cross_validation, "run_experiment", runs)
    return runs


def test_each_fold_runs_the_plan_on_its_own_split(image_folder, tmp_path, fake_runs):
    cv = cross_validate(_config(image_folder), folds=4, repeats=2, output_dir=tmp_path / "cv")

    assert fake_runs.folders() == [f"fold-{r}-{k}" for r in range(2) for k in range(4)]
    for config, folder in fake_runs.calls:
        name = os.path.basename(folder)[len("fold-"):]
        assert config.data.source == str(tmp_path / "cv" / "folds" / f"fold-{name}" / "train")
        assert config.data.validation_source == str(tmp_path / "cv" / "folds" / f"fold-{name}" / "held_out")
        assert config.train.feature_cache_dir == str(tmp_path / "cv" / "feature_cache")
    assert [(f["repeat"], f["fold"], f["num_train"], f["num_held_out"]) for f in cv.folds][:2] == [(0, 0, 12, 4), (0, 1, 12, 4)]


def test_cv_json_holds_the_folds_and_each_metrics_interval(image_folder, tmp_path, fake_runs):
    cross_validate(_config(image_folder), folds=2, output_dir=tmp_path / "cv")

    cv = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert [sorted(fold) for fold in cv["folds"]] == [
        ["accuracy", "auc_roc", "fold", "macro_f1", "num_held_out", "num_train", "repeat", "resumed", "seconds"]
    ] * 2
    for metric in ("accuracy", "macro_f1", "auc_roc"):
        assert sorted(cv[metric]) == ["ci95", "mean", "n", "std"]
    assert cv["accuracy"]["mean"] == pytest.approx(0.615)  # weights none: 0.6 + 0.01 per call
    assert (cv["compare"], cv["difference"], cv["folds_per_repeat"], cv["repeats"]) == (None, None, 2, 1)
    assert (tmp_path / "cv" / "cv.png").stat().st_size > 0


def test_a_finished_fold_is_read_back_not_trained_again(image_folder, tmp_path, fake_runs):
    config, output = _config(image_folder), tmp_path / "cv"
    first = cross_validate(config, folds=4, output_dir=output)
    os.remove(output / "fold-0-2" / "report.json")  # killed before its report was written

    second = cross_validate(config, folds=4, output_dir=output)

    assert fake_runs.folders() == ["fold-0-0", "fold-0-1", "fold-0-2", "fold-0-3", "fold-0-2"]
    assert [fold["resumed"] for fold in second.folds] == [True, True, False, True]
    assert second.folds[0]["accuracy"] == first.folds[0]["accuracy"]


def test_a_comparison_runs_on_the_same_folds_and_reports_the_paired_difference(image_folder, tmp_path, fake_runs):
    config = _config(image_folder, weights="imagenet")  # offline: fake_runs trains nothing
    cv = cross_validate(config, folds=2, compare=config.replace(**{"model.weights": None}), output_dir=tmp_path / "cv")

    assert fake_runs.folders() == ["fold-0-0", "compare-0-0", "fold-0-1", "compare-0-1"]
    ours, theirs = fake_runs.calls[0][0], fake_runs.calls[1][0]
    assert (ours.data.source, ours.data.validation_source) == (theirs.data.source, theirs.data.validation_source)
    assert [fold["accuracy"] - fold["compare"]["accuracy"] for fold in cv.folds] == pytest.approx([0.29, 0.29])
    assert cv.difference["accuracy"]["mean"] == pytest.approx(0.29)
    written = json.loads((tmp_path / "cv" / "cv.json").read_text())
    assert written["difference"]["accuracy"]["mean"] == pytest.approx(0.29)
    assert written["compare_config"]["model"]["weights"] is None


def test_another_request_in_the_same_folder_is_refused(image_folder, tmp_path, fake_runs):
    cross_validate(_config(image_folder), folds=2, output_dir=tmp_path / "cv")

    with pytest.raises(FileExistsError, match=r"differs in: folds.*--overwrite"):
        cross_validate(_config(image_folder), folds=4, output_dir=tmp_path / "cv")
    cross_validate(_config(image_folder), folds=4, output_dir=tmp_path / "cv", overwrite=True)
    assert len(fake_runs.calls) == 2 + 4


@pytest.mark.parametrize(
    "updates, message",
    [
        ({"data.validation_source": "val/"}, r"Received: data.validation_source='val/'"),
        ({"data.source": "reviews.csv", "task": "text"}, r"folds a folder of class folders.*Received: data.source='reviews.csv'"),
    ],
    ids=["held_out_folder", "text"],
)
def test_sources_it_cannot_fold_are_refused(image_folder, updates, message):
    with pytest.raises(ValueError, match=message):
        cross_validate(_config(image_folder).replace(**updates), folds=2)


def test_tfl_cv_reads_the_training_flags_and_the_comparison(image_folder, tmp_path, fake_runs, capsys):
    tiny = ["--backbone", SMALL_BACKBONE, "--weights", "imagenet", "--image-size", "32", "--stages", "none:1:1e-3"]
    code = main(["cv", "--data", str(image_folder), *tiny, "--folds", "2", "--compare-backbone", ":none", "--output", str(tmp_path / "cv")])

    assert code == 0
    assert [config.model.weights for config, _ in fake_runs.calls] == ["imagenet", None, "imagenet", None]
    assert {config.train.stages[0].unfreeze for config, _ in fake_runs.calls} == {"none"}
    assert "difference" in capsys.readouterr().out
    assert fake_runs.resume == "auto"


def test_tfl_cv_no_resume_starts_unfinished_folds_over(image_folder, tmp_path, fake_runs):
    code = main(["cv", "--data", str(image_folder), "--folds", "2", "--no-resume", "--output", str(tmp_path / "cv")])

    assert code == 0 and fake_runs.resume is False
    assert (tmp_path / "cv" / "cv.json").exists()


def test_tfl_cv_names_a_bad_comparison(image_folder, tmp_path, capsys):
    code = main(["cv", "--data", str(image_folder), "--compare-backbone", "mobilenet_025:", "--output", str(tmp_path / "cv")])

    assert code == 2
    assert "Received: --compare-backbone 'mobilenet_025:'" in capsys.readouterr().err


def test_two_real_folds_train_and_score(image_folder, tmp_path):
    config = _config(image_folder).replace(**{"model.image_size": 32})
    cv = cross_validate(config, folds=2, output_dir=tmp_path / "cv")

    for fold in cv.folds:
        assert 0.0 <= fold["accuracy"] <= 1.0 and fold["num_held_out"] == 8
        assert (tmp_path / "cv" / f"fold-0-{fold['fold']}" / "model.keras").exists()
    assert cv.summary["accuracy"]["n"] == 2


def test_a_compared_config_file_runs_on_the_plans_folds(image_folder, tmp_path, fake_runs):
    other = tmp_path / "other.yaml"
    other.write_text("model:\n  backbone: mobilenet_v3_small\n  weights: null\n  image_size: 32\ntrain:\n  stages: ['none:1:1e-3']\n")
    code = main(["cv", "--data", str(image_folder), "--folds", "2", "--compare", str(other), "--output", str(tmp_path / "cv")])

    assert code == 0
    assert fake_runs.calls[0][0].data.source == fake_runs.calls[1][0].data.source


def test_a_folder_of_other_files_is_refused(image_folder, tmp_path):
    (tmp_path / "cv").mkdir()
    (tmp_path / "cv" / "notes.txt").write_text("mine")

    with pytest.raises(FileExistsError, match="is not empty"):
        cross_validate(_config(image_folder), folds=2, output_dir=tmp_path / "cv")

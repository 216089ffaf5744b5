"""`cross_validate` and `tfl cv`: the folds' runs, per-fold resume, cv.json and cv.png.

Most tests replace `run_experiment` by a fake that writes a report: what is
tested is which folds run, on which data, and what is written. Two tests train
for real: on two folds of 16 tiny images, and through `tfl cv` on two folds of
a 12-row CSV file with a tiny random encoder.
"""

import json
import os

import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.text_fakes import tiny_encoder_folder
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
        held_out = _held_out(config.data.validation_source)
        accuracy = (0.9 if config.model.weights else 0.6) + 0.01 * len(self.calls)
        report = {"accuracy": accuracy, "macro_f1": accuracy - 0.05, "auc_roc": 0.95, "seconds": 1.0}
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "report.json"), "w") as f:
            json.dump({**report, "held_out": held_out}, f)
        return type("Result", (), {"report": report})()

    def folders(self):
        return [os.path.basename(folder) for _, folder in self.calls]


def _held_out(source):
    """What a fold holds out: its dark images' file names, or its text file's rows."""
    if os.path.isdir(source):
        return sorted(os.listdir(os.path.join(source, "dark")))
    with open(source, encoding="utf-8") as f:
        return f.read().splitlines()[1:]


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


NOT_FOLDED = r"folds a folder of class folders \(images\) or a .csv, .tsv or .jsonl file \(text\)"


@pytest.mark.parametrize(
    "updates, message",
    [
        ({"data.validation_source": "val/"}, r"Received: data.validation_source='val/'.*Remove it \(--val-data\)"),
        ({"data.source": "reviews.csv", "task": "text"}, NOT_FOLDED + r".*data.source='reviews.csv' \(no such file"),
        ({"data.source": "tweets", "task": "text"}, NOT_FOLDED + r".*Received: data.source='tweets' \(task 'text'\)\. Give a folder"),
        ({"task": "text"}, NOT_FOLDED + r".*\(task 'text'\).*or a text file with a text and a label column"),
    ],
    ids=["held_out_folder", "missing_text_file", "demo_tweets", "folder_as_text"],
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

    origins = []
    for fold in cv.folds:
        assert 0.0 <= fold["accuracy"] <= 1.0 and fold["num_held_out"] == 8
        assert (tmp_path / "cv" / f"fold-0-{fold['fold']}" / "model.keras").exists()
        report = json.loads((tmp_path / "cv" / f"fold-0-{fold['fold']}" / "report.json").read_text())
        origins.append(report["stages"][0]["feature_origin"])
    assert cv.summary["accuracy"]["n"] == 2
    # The first fold's run put every image (training and held-out part) through the
    # frozen backbone; the second fold's are the same images: read back, none computed.
    assert origins == ["computed", "disk"]


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


# Text: 12 rows of 3 classes; `note` is a column no config names.
TEXTS = ["a good movie", "a bad movie", "the plot was not bad", "great fun", "awful film", "a movie",
         "very good acting", "boring plot", "the cat sat", "really fun", "not really good", "the film"]


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "reviews.csv"
    sentiments = ["pos", "neg", "mixed"] * 4
    path.write_text("review,sentiment,note\n" + "".join(f"{t},{s},n{i}\n" for i, (t, s) in enumerate(zip(TEXTS, sentiments))))
    return str(path)


def _text_config(source, **data):
    return Config.from_dict(
        {
            "task": "text",
            "data": {"source": source, "batch_size": 4, "text_column": "review", "label_column": "sentiment", **data},
            "model": {"encoder": "tiny", "sequence_length": 16},
            "train": {"stages": ["none:1:1e-2"]},
        }
    )


def test_each_text_fold_runs_the_plan_on_its_own_files_and_a_finished_one_is_read_back(text_file, tmp_path, fake_runs):
    config, output = _text_config(text_file), tmp_path / "cv"
    first = cross_validate(config, folds=3, repeats=2, output_dir=output)

    assert fake_runs.folders() == [f"fold-{r}-{k}" for r in range(2) for k in range(3)]
    for config_run, folder in fake_runs.calls:
        fold = output / "folds" / os.path.basename(folder)
        assert (config_run.data.source, config_run.data.validation_source) == (str(fold / "train.csv"), str(fold / "held_out.csv"))
        assert (config_run.data.text_column, config_run.data.label_column) == ("review", "sentiment")
    with open(text_file, encoding="utf-8") as f:
        rows = f.read().splitlines()[1:]
    for repeat in range(2):  # fake_runs saw each fold's held-out rows
        reports = [json.loads((output / f"fold-{repeat}-{k}" / "report.json").read_text()) for k in range(3)]
        assert sorted(row for report in reports for row in report["held_out"]) == sorted(rows)
    assert [(f["num_train"], f["num_held_out"]) for f in first.folds] == [(8, 4)] * 6
    os.remove(output / "fold-1-0" / "report.json")  # killed before its report was written

    second = cross_validate(config, folds=3, repeats=2, output_dir=output)

    assert fake_runs.folders()[6:] == ["fold-1-0"]
    assert [fold["resumed"] for fold in second.folds] == [True, True, True, False, True, True]
    assert second.folds[0]["accuracy"] == first.folds[0]["accuracy"]


def test_a_compared_text_plan_runs_on_the_same_fold_files(text_file, tmp_path, fake_runs):
    config = _text_config(text_file)
    cv = cross_validate(config, folds=2, compare=config.replace(**{"model.encoder": "other"}), output_dir=tmp_path / "cv")

    assert fake_runs.folders() == ["fold-0-0", "compare-0-0", "fold-0-1", "compare-0-1"]
    ours, theirs = fake_runs.calls[0][0], fake_runs.calls[1][0]
    assert (ours.data.source, ours.data.validation_source) == (theirs.data.source, theirs.data.validation_source)
    assert (ours.model.encoder, theirs.model.encoder) == ("tiny", "other")
    assert cv.difference["accuracy"]["n"] == 2


@pytest.mark.parametrize(
    "updates, error, message",
    [
        ({}, ValueError, r"folds=5 is more than the 4 examples of class 'mixed', the smallest.*folds <= 4"),
        ({"data.validation_source": "held_out.csv"}, ValueError, r"Received: data.validation_source='held_out.csv'"),
        ({"data.text_column": "text"}, ValueError, r"has no column 'text' \(text_column='text'\)"),
    ],
    ids=["too_few_rows_of_a_class", "held_out_file", "unknown_column"],
)
def test_text_it_cannot_fold_is_refused_before_any_run(text_file, tmp_path, fake_runs, updates, error, message):
    with pytest.raises(error, match=message):
        cross_validate(_text_config(text_file).replace(**updates), folds=5, output_dir=tmp_path / "cv")
    assert fake_runs.calls == [] and not (tmp_path / "cv" / "folds").exists()


def test_after_too_many_folds_the_corrected_request_runs_in_the_same_folder(text_file, image_folder, tmp_path, fake_runs):
    (tmp_path / "kept").mkdir()  # a folder the user made: it stays
    for config, output in ((_text_config(text_file), tmp_path / "new"), (_config(image_folder), tmp_path / "kept")):
        with pytest.raises(ValueError, match="the smallest"):
            cross_validate(config, folds=50, output_dir=output)
        assert not (output / cross_validation.REQUEST_FILE).exists()
        assert output.exists() == (output.name == "kept")

        cv = cross_validate(config, folds=2, output_dir=output)  # not refused as "another request"

        assert len(cv.folds) == 2


def test_tfl_cv_refuses_a_compared_backbone_for_text(text_file, tmp_path, capsys):
    code = main(["cv", "--data", text_file, "--compare-backbone", "resnet50", "--output", str(tmp_path / "cv")])

    assert code == 2
    assert "Received: --compare-backbone 'resnet50' with text data" in capsys.readouterr().err


def test_tfl_cv_cross_validates_a_text_file_end_to_end(text_file, tmp_path, capsys):
    encoder = tiny_encoder_folder(tmp_path / "encoder")
    output = tmp_path / "cv"
    command = ["cv", "--data", text_file, "--encoder", encoder, "--text-column", "review", "--label-column", "sentiment",
               "--sequence-length", "16", "--stages", "none:1:1e-2", "--batch-size", "4", "--folds", "2",
               "--output", str(output), "--verbose", "0"]

    assert main(command) == 0
    cv = json.loads((output / "cv.json").read_text())
    assert [(f["fold"], f["num_train"], f["num_held_out"], f["resumed"]) for f in cv["folds"]] == [(0, 6, 6, False), (1, 6, 6, False)]
    for fold in cv["folds"]:
        assert 0.0 <= fold["accuracy"] <= 1.0 and 0.0 <= fold["macro_f1"] <= 1.0 and 0.0 <= fold["auc_roc"] <= 1.0
        report = json.loads((output / f"fold-0-{fold['fold']}" / "report.json").read_text())
        assert (report["task"], report["class_names"], report["num_validation"]) == ("text", ["mixed", "neg", "pos"], 6)
        assert report["config"]["data"]["validation_source"] == str(output / "folds" / f"fold-0-{fold['fold']}" / "held_out.csv")
    assert cv["accuracy"]["n"] == 2 and cv["config"]["model"]["encoder"] == encoder

    assert main(command) == 0  # again: both folds are read back, none trained
    assert "fold-0-1: finished earlier, read back" in capsys.readouterr().out
    assert [f["resumed"] for f in json.loads((output / "cv.json").read_text())["folds"]] == [True, True]

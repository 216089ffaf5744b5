"""`tfl train / evaluate / predict` on text: the same commands and report as for images."""

import csv
import json

import pytest
import yaml

from tests.text_fakes import tiny_encoder_folder
from tfl.cli.main import main

POSITIVE = ["a good movie", "great fun", "very good film", "the acting was great", "really fun plot",
            "good acting", "a great film", "fun movie"]
NEGATIVE = ["a bad movie", "awful film", "very boring", "the plot was bad", "not fun really",
            "bad acting", "an awful plot", "boring film"]


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment"])
        writer.writerows(rows)
    return str(path)


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    encoder = tiny_encoder_folder(root / "encoder")
    data = _write_csv(root / "reviews.csv", [(t, "pos") for t in POSITIVE] + [(t, "neg") for t in NEGATIVE])
    output = root / "run"
    code = main([
        "train", "--data", data, "--encoder", encoder, "--text-column", "review", "--label-column", "sentiment",
        "--sequence-length", "16", "--stages", "none:2:1e-2,top1:1:1e-3", "--batch-size", "4",
        "--output", str(output), "--verbose", "0",
    ])
    assert code == 0
    return root, data, encoder, output


@pytest.fixture(scope="module")
def tags_run(text_run):
    """A multi-label run: 'pos|fun' cells split at '|' (3 classes: fun, neg, pos)."""
    root, _, encoder, _ = text_run
    rows = [(t, "pos|fun" if "fun" in t else "pos") for t in POSITIVE] + [(t, "neg") for t in NEGATIVE]
    data = _write_csv(root / "tags.csv", rows)
    run = root / "tags_run"
    assert main(["train", "--data", data, "--encoder", encoder, "--text-column", "review", "--label-column",
                 "sentiment", "--label-separator", "|", "--sequence-length", "16", "--stages", "none:8:3e-2",
                 "--batch-size", "4", "--output", str(run), "--verbose", "0"]) == 0
    return run


def test_train_detects_text_and_writes_the_image_report_keys(text_run):
    _, _, encoder, output = text_run
    report = json.loads((output / "report.json").read_text())
    assert report["task"] == "text" and report["encoder"] == encoder
    assert report["class_names"] == ["neg", "pos"]
    assert report["num_train"] + report["num_validation"] == 16
    assert [s["unfreeze"] for s in report["stages"]] == ["none", "top 1"]
    assert report["stages"][1]["trainable_stages"] == ["layer_1"]
    for key in ("accuracy", "macro_f1", "auc_roc", "confusion_matrix", "per_class", "boundaries", "seconds"):
        assert key in report
    assert report["truncated"] == {"train": 0, "validation": 0}
    config = yaml.safe_load((output / "config.yaml").read_text())
    assert config["task"] == "text" and config["data"]["text_column"] == "review"


def test_evaluate_scores_the_runs_held_out_rows(text_run, capsys):
    root, data, _, output = text_run
    report_file = root / "evaluation.json"
    assert main(["evaluate", str(output), data, "--output", str(report_file)]) == 0
    report = json.loads(report_file.read_text())
    trained = json.loads((output / "report.json").read_text())
    assert report["num_examples"] == trained["num_validation"]
    assert report["accuracy"] == pytest.approx(trained["accuracy"])
    assert "held-out split" in report["evaluated_on"]


def test_evaluate_writes_top_losses_with_each_examples_own_text(text_run):
    root, data, _, output = text_run
    report_file = root / "interpreted" / "evaluation.json"
    assert main(["evaluate", str(output), data, "--output", str(report_file)]) == 0
    interpretation = json.loads((root / "interpreted" / "interpretation.json").read_text())
    labels = {**{t: "pos" for t in POSITIVE}, **{t: "neg" for t in NEGATIVE}}
    records = interpretation["top_losses"]
    assert len(records) == json.loads(report_file.read_text())["num_examples"]
    for record in records:
        assert labels[record["text"]] == record["actual"]  # the text shown is the example scored
    assert sorted(r["index"] for r in records) == list(range(len(records)))
    assert (root / "interpreted" / "top_losses.png").read_bytes().startswith(b"\x89PNG")


def test_evaluate_on_another_file_scores_every_row(text_run, tmp_path):
    _root, _, _, output = text_run
    other = _write_csv(tmp_path / "more.csv", [("good fun", "pos"), ("bad plot", "neg"), ("great", "pos")])
    report_file = tmp_path / "evaluation.json"
    assert main(["evaluate", str(output), other, "--output", str(report_file)]) == 0
    assert json.loads(report_file.read_text())["num_examples"] == 3


def test_predict_ranks_the_classes_of_each_text(text_run, capsys):
    _, _, _, output = text_run
    assert main(["predict", str(output), "a good movie", "an awful plot", "--json", "--top-k", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["text"] for line in lines] == ["a good movie", "an awful plot"]
    assert sorted(c["class"] for c in lines[0]["top_k"]) == ["neg", "pos"]


def test_a_missing_label_column_lists_the_columns(text_run, tmp_path, capsys):
    _, data, encoder, _ = text_run
    code = main(["train", "--data", data, "--encoder", encoder, "--text-column", "review",
                 "--label-column", "sentimnet", "--output", str(tmp_path / "r")])
    assert code == 2
    error = capsys.readouterr().err
    assert "sentimnet" in error and "review" in error and "sentiment" in error


def test_evaluate_names_the_flag_of_a_missing_column(text_run, capsys):
    _, data, _, output = text_run
    assert main(["evaluate", str(output), data, "--text-pair-column", "hypothesis"]) == 2
    error = capsys.readouterr().err
    assert "has no column 'hypothesis'" in error and "--text-pair-column with `tfl train` or `tfl evaluate`" in error


def test_an_unknown_text_stage_is_named_before_training(text_run, tmp_path, capsys):
    _, data, encoder, _ = text_run
    code = main(["train", "--data", data, "--encoder", encoder, "--text-column", "review",
                 "--label-column", "sentiment", "--stages", "layer_7:1", "--output", str(tmp_path / "r")])
    assert code == 2
    assert "Unknown backbone stage 'layer_7'" in capsys.readouterr().err


def test_image_pooling_for_text_is_refused(text_run, tmp_path, capsys):
    _, data, encoder, _ = text_run
    code = main(["train", "--task", "text", "--data", data, "--encoder", encoder, "--pooling", "avg",
                 "--output", str(tmp_path / "r")])
    assert code == 2
    assert "pooling 'avg' does not apply to task 'text'" in capsys.readouterr().err


def test_evaluate_reads_another_file_of_a_multi_label_run_with_the_runs_label_separator(tags_run, tmp_path):
    other = _write_csv(tmp_path / "more.csv", [("good fun", "pos|fun"), ("bad plot", "neg"), ("great", "pos")])
    report_file = tmp_path / "evaluation.json"
    assert main(["evaluate", str(tags_run), other, "--output", str(report_file)]) == 0
    report = json.loads(report_file.read_text())
    assert report["class_names"] == ["fun", "neg", "pos"] and report["num_examples"] == 3
    assert report["per_class"]["fun"]["support"] == 1


def test_predict_takes_the_texts_of_a_pair_model_two_at_a_time(text_run, tmp_path, capsys):
    import tfl

    _, _, encoder, _ = text_run
    rows = [(a, b, "pos") for a, b in zip(POSITIVE, POSITIVE[1:] + POSITIVE[:1])]
    rows += [(a, b, "neg") for a, b in zip(NEGATIVE, NEGATIVE[1:] + NEGATIVE[:1])]
    data = tmp_path / "pairs.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("premise", "hypothesis", "label"), *rows])
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--encoder", encoder, "--text-column", "premise",
                 "--text-pair-column", "hypothesis", "--sequence-length", "16", "--stages", "none:1:1e-2",
                 "--batch-size", "4", "--output", str(run), "--verbose", "0"]) == 0
    capsys.readouterr()

    assert main(["predict", str(run), "--pairs", "a good movie", "great fun", "bad acting", "awful film", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    expected = tfl.predict(run, [("a good movie", "great fun"), ("bad acting", "awful film")], top_k=2)
    assert [line["text"] for line in lines] == [["a good movie", "great fun"], ["bad acting", "awful film"]]
    assert [[c["class"] for c in line["top_k"]] for line in lines] == [[n for n, _ in r] for r in expected.top_k]

    assert main(["predict", str(run), "a good movie"]) == 2
    assert "classifies sentence pairs" in capsys.readouterr().err
    assert main(["predict", str(run), "--pairs", "a good movie", "great fun", "bad acting"]) == 2
    assert "'bad acting' has no second text" in capsys.readouterr().err


def test_evaluate_accepts_a_file_with_some_of_the_models_classes(text_run, tmp_path, capsys):
    _root, _, _, output = text_run
    texts = ["good fun", "great film", "bad plot"]
    other = _write_csv(tmp_path / "positive.csv", [(t, "pos") for t in texts])
    report_file = tmp_path / "evaluation.json"
    assert main(["evaluate", str(output), other, "--output", str(report_file)]) == 0
    report = json.loads(report_file.read_text())
    assert report["class_names"] == ["neg", "pos"] and report["num_examples"] == 3
    assert report["per_class"]["pos"]["support"] == 3 and report["per_class"]["neg"]["support"] == 0
    capsys.readouterr()
    assert main(["predict", str(output), *texts, "--json", "--top-k", "1"]) == 0
    predicted = [json.loads(line)["top_k"][0]["class"] for line in capsys.readouterr().out.strip().splitlines()]
    assert report["accuracy"] == pytest.approx(predicted.count("pos") / 3)  # "pos" is the model's id 1, not 0


def test_evaluate_refuses_a_file_with_a_class_the_model_does_not_know(text_run, tmp_path, capsys):
    _root, _, _, output = text_run
    other = _write_csv(tmp_path / "more.csv", [("good fun", "pos"), ("so so", "meh")])
    assert main(["evaluate", str(output), other]) == 2
    err = capsys.readouterr().err
    assert "line 3: label 'meh' is not a class of the model" in err and "['neg', 'pos']" in err


def test_evaluate_moves_the_multi_hot_columns_of_a_subset_to_the_models(tags_run, tmp_path):
    other = _write_csv(tmp_path / "more.csv", [("good fun", "pos|fun"), ("great", "pos")])  # no 'neg' row
    report_file = tmp_path / "evaluation.json"
    assert main(["evaluate", str(tags_run), other, "--output", str(report_file)]) == 0
    report = json.loads(report_file.read_text())
    assert report["class_names"] == ["fun", "neg", "pos"]
    assert [report["per_class"][c]["support"] for c in ("fun", "neg", "pos")] == [1, 0, 2]


def test_cv_folds_a_multi_label_file_and_scores_each_fold(text_run, tmp_path):
    _, _, encoder, _ = text_run
    rows = [(t, "pos|fun" if "fun" in t else "pos") for t in POSITIVE] + [(t, "neg") for t in NEGATIVE]
    data = _write_csv(tmp_path / "tags.csv", rows)
    output = tmp_path / "cv"
    assert main(["cv", "--data", data, "--encoder", encoder, "--text-column", "review", "--label-column", "sentiment",
                 "--label-separator", "|", "--sequence-length", "16", "--stages", "none:1:1e-2", "--batch-size", "4",
                 "--folds", "2", "--output", str(output), "--verbose", "0"]) == 0
    cv = json.loads((output / "cv.json").read_text())
    assert [fold["num_held_out"] for fold in cv["folds"]] == [8, 8]
    for fold in cv["folds"]:
        report = json.loads((output / f"fold-{fold['repeat']}-{fold['fold']}" / "report.json").read_text())
        assert report["class_names"] == ["fun", "neg", "pos"] and report["multi_label"]
        assert report["per_class"]["fun"]["support"] >= 1  # 3 rows of 'fun': one fold has 1, the other 2


def test_predict_names_every_class_a_multi_label_model_predicts_whatever_the_top_k(tags_run, tmp_path, capsys):
    import numpy as np

    import tfl

    model = tfl.load_model(str(tags_run / "model.keras"))
    kernel, bias = model.head.get_weights()
    model.head.set_weights([kernel, np.array([4.0, -4.0, 4.0], dtype=bias.dtype)])  # 'fun' and 'pos' above 0.5
    model.save(tmp_path / "m.keras")
    texts = ["great fun", "fun movie", "awful film"]
    expected = tfl.predict(str(tmp_path / "m.keras"), texts).labels
    assert any(len(labels) > 1 for labels in expected)  # the case --top-k 1 cannot show
    capsys.readouterr()

    assert main(["predict", str(tmp_path / "m.keras"), *texts, "--json", "--top-k", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["labels"] for line in lines] == expected
    assert all(len(line["top_k"]) == 1 for line in lines)
    assert main(["predict", str(tmp_path / "m.keras"), *texts, "--top-k", "1"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    for line, labels in zip(printed, expected):
        assert f"labels {', '.join(labels) if labels else 'none at or above 0.5'}; top 1: " in line

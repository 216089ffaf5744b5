import json
import os
import re

import pytest

from tfl.cli.main import main


@pytest.mark.slow
def test_demo_writes_source_targets_and_the_comparison_table(tmp_path, capsys):
    output = tmp_path / "demo"
    code = main([
        "demo", "--output", str(output), "--labels-per-class", "2", "--source-epochs", "1", "--steps", "3",
    ])
    assert code == 0
    summary = json.loads((output / "summary.json").read_text())
    assert [(r["labels_per_class"], r["method"]) for r in summary["rows"]] == [
        (2, "transfer"), (2, "scratch"), (2, "head only")
    ]
    assert summary["target_test_images"] == 449  # half of the 898 images of digits 5-9
    assert all(0 <= r["accuracy"] <= 1 for r in summary["rows"])
    assert sorted(os.listdir(output / "source")) == ["backbone.weights.h5", "model.keras", "report.json"]
    assert sorted(os.listdir(output / "target-2")) == ["head_only-draw0.json", "scratch-draw0.json", "transfer-draw0.json"]
    transfer = json.loads((output / "target-2" / "transfer-draw0.json").read_text())
    head = json.loads((output / "target-2" / "head_only-draw0.json").read_text())
    assert [s["unfreeze"] for s in transfer["stages"]] == ["all"]
    assert [s["unfreeze"] for s in head["stages"]] == ["none"]
    out = capsys.readouterr().out
    assert re.search(r"labels_per_class\s+method\s+accuracy", out)
    assert re.search(r"^2\s+transfer\s+0\.\d{4}", out, re.M) and re.search(r"^2\s+scratch\s+0\.\d{4}", out, re.M)


def test_demo_refuses_labels_beyond_the_training_pool(tmp_path, capsys):
    assert main(["demo", "--output", str(tmp_path / "d"), "--labels-per-class", "500"]) == 2
    assert "between 1 and 80" in capsys.readouterr().err

"""`tfl explain` on run folders written by `tfl train` (an image run and a text run), and
the heatmaps `tfl evaluate --output` draws over top_losses.png."""

import json
import os

from tfl.cli.main import main
from tfl.evaluate import interpretation


def test_explain_writes_an_overlay_per_image_of_an_image_run(image_run, tmp_path, capsys):
    files = [image_run.inputs[0], image_run.inputs[-1]]  # an ant, a bee
    output = tmp_path / "explained"
    assert main(["explain", str(image_run.folder), *files, "--output", str(output)]) == 0
    for path in files:
        overlay = output / (os.path.splitext(os.path.basename(path))[0] + ".png")
        assert overlay.read_bytes().startswith(b"\x89PNG")
    summary = json.loads((output / "explanations.json").read_text())
    assert summary["method"] == "grad_cam" and summary["target"] == "stride32 (output)"
    rows = summary["inputs"]
    assert [row["input"] for row in rows] == files
    assert all(row["explained"] == row["predicted"] and 0.5 <= row["probability"] <= 1 for row in rows)
    printed = capsys.readouterr().out
    assert f"{files[0]}: {rows[0]['explained']} " in printed


def test_explain_a_chosen_class_with_grad_cam_plus_plus(image_run, tmp_path):
    output = tmp_path / "bees"
    code = main(["explain", str(image_run.folder / "model.keras"), image_run.inputs[0], "--output", str(output),
                 "--class-name", "bees", "--method", "grad_cam_plus_plus", "--layer", "stride16"])
    assert code == 0
    summary = json.loads((output / "explanations.json").read_text())
    assert summary["method"] == "grad_cam_plus_plus" and summary["target"].startswith("stride16")
    assert summary["inputs"][0]["explained"] == "bees"


def test_explain_writes_one_html_page_for_the_texts_of_a_text_run(text_run, tmp_path):
    texts = ["A wonderful film, truly <great> acting.", "The food was cold & the staff rude."]
    output = tmp_path / "texts"
    assert main(["explain", str(text_run.folder), *texts, "--output", str(output)]) == 0
    page = (output / "explanations.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<h2>") == 2
    assert "&lt;" in page and "&amp;" in page and "<great>" not in page  # escaped
    assert not any(marker in page for marker in ("http", "src=", "<link", "<script"))  # no external assets
    assert 'title="' in page and "wonderful</span>" in page
    rows = json.loads((output / "explanations.json").read_text())["inputs"]
    assert [row["explained"] for row in rows] == ["pos", "neg"]
    assert rows[0]["words"][:3] == ["a", "wonderful", "film"]
    assert all(row["completeness_gap"] < 0.05 for row in rows)


def test_a_bad_class_name_is_named_without_a_traceback(image_run, tmp_path, capsys):
    code = main(["explain", str(image_run.folder), image_run.inputs[0], "--output", str(tmp_path / "x"),
                 "--class-name", "wasps"])
    assert code == 2
    assert "Unknown class 'wasps'. Known: ants, bees" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_evaluate_output_draws_the_heatmaps_over_the_top_losses(image_run, tmp_path, monkeypatch):
    drawn = []
    plot = interpretation.plot_top_losses

    def recording(records, images=None, texts=None, heatmaps=None):
        drawn.append((images, heatmaps))
        return plot(records, images=images, texts=texts, heatmaps=heatmaps)

    monkeypatch.setattr(interpretation, "plot_top_losses", recording)
    held_out = os.path.dirname(os.path.dirname(image_run.inputs[0]))
    assert main(["evaluate", str(image_run.folder), held_out, "--output", str(tmp_path / "r.json"),
                 "--top-losses", "4"]) == 0
    (images, heatmaps), = drawn
    assert heatmaps.shape == images.shape[:3] == (4, 224, 224)
    assert heatmaps.min() >= 0 and heatmaps.max() <= 1 and heatmaps.max() > 0.9
    figure = plot([{"index": 0, "actual": "ants", "predicted": "bees", "probability": 0.2, "loss": 1.6}],
                  images=images[:1], heatmaps=heatmaps[:1])
    assert [image.get_gid() for image in figure.axes[0].get_images()] == [None, "heatmap"]


def test_the_text_run_draws_no_heatmaps(text_run):
    assert text_run.top_loss_heatmaps is None


def test_explain_on_a_folder_names_it_and_the_command_line_fix(image_run, tmp_path, capsys):
    folder = os.path.dirname(image_run.inputs[0])
    count = len([name for name in os.listdir(folder) if not name.startswith(".")])
    output = tmp_path / "x"
    assert main(["explain", str(image_run.folder), folder, "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert f"{folder} is a folder ({count} images in it); tfl explain takes image files" in error
    assert f"tfl explain {image_run.folder} {folder}/*" in error and "Not an image file" not in error
    assert not output.exists()

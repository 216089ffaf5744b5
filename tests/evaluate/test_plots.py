import os

import pytest
import tensorflow as tf

from tfl.evaluate.adaptation_plot import plot_adaptation
from tfl.evaluate.plots import BOUNDARY_GID
from tfl.evaluate.plots import STAGE_LABEL_GID
from tfl.evaluate.plots import plot_confusion_matrix
from tfl.evaluate.plots import plot_fusion_weights
from tfl.evaluate.plots import plot_training
from tfl.evaluate.plots import plot_transfer_vs_scratch
from tfl.evaluate.plots import save_figure
from tfl.evaluate.plots import stage_label
from tfl.train.history import StageRecord
from tfl.train.history import TrainingHistory


def _record(index, unfreeze, trainable_stages, first_epoch, epochs, after=None):
    history = {
        "loss": [1.0 / (first_epoch + i + 1) for i in range(epochs)],
        "accuracy": [0.5 + 0.05 * (first_epoch + i) for i in range(epochs)],
        "val_loss": [1.2 / (first_epoch + i + 1) for i in range(epochs)],
        "val_accuracy": [0.45 + 0.05 * (first_epoch + i) for i in range(epochs)],
    }
    return StageRecord(
        index=index, unfreeze=unfreeze, trainable_stages=trainable_stages, first_epoch=first_epoch,
        epochs=epochs, learning_rate=1e-3, lr_decay=None, train_batchnorm=after is not None,
        trainable_params=100, seconds=1.0, history=history, after_recalibration=after,
    )


def _three_stages():
    return TrainingHistory(stages=[
        _record(0, "none", [], 0, 3),
        _record(1, "top 2", ["conv4", "conv5"], 3, 2),
        _record(2, "all", ["conv1", "conv2", "conv3", "conv4", "conv5"], 5, 2, after={"loss": 0.2, "accuracy": 0.9}),
    ])


def _boundary_lines(figure):
    return [line for ax in figure.axes for line in ax.lines if line.get_gid() == BOUNDARY_GID]


def _stage_texts(figure):
    return [text.get_text() for text in figure.axes[0].texts if text.get_gid() == STAGE_LABEL_GID]


def test_three_stages_give_two_boundaries_named_by_their_unfrozen_stages():
    figure = plot_training(_three_stages())
    assert figure.stage_boundaries == [3, 5]
    assert len(_boundary_lines(figure)) == 2 * len(figure.axes) == 4  # loss and accuracy
    assert sorted({line.get_xdata()[0] for line in _boundary_lines(figure)}) == [3.5, 5.5]
    assert all(line.get_linestyle() == "--" for line in _boundary_lines(figure))
    assert _stage_texts(figure) == figure.stage_labels == ["head", "top 2: conv4, conv5", "all"]


def test_report_stage_dicts_plot_like_the_history():
    report = _three_stages().to_dict()
    figure = plot_training(report["stages"], report["boundaries"])
    assert figure.stage_boundaries == [3, 5]
    assert _stage_texts(figure) == ["head", "top 2: conv4, conv5", "all"]
    train_loss = figure.axes[0].lines[0]
    assert list(train_loss.get_xdata()) == [1, 2, 3, 4, 5, 6, 7]  # epochs count from 1


def test_one_stage_has_no_boundary():
    figure = plot_training([_record(0, "all", [], 0, 2).__dict__])
    assert figure.stage_boundaries == [] and _boundary_lines(figure) == []


@pytest.mark.parametrize(
    "unfreeze, stages, expected",
    [
        ("none", [], "head"),
        ("conv5", ["conv5"], "conv5"),
        ("conv4+conv5", ["conv4", "conv5"], "conv4, conv5"),
        ("top 5", ["c1", "c2", "c3", "c4", "c5"], "top 5: c1 … c5"),
    ],
    ids=["head", "one_name", "two_names", "many_names_shortened"],
)
def test_stage_label(unfreeze, stages, expected):
    assert stage_label(unfreeze, stages) == expected


def _one_epoch(loss=0.7, val_loss=0.7):
    stage = {"unfreeze": "none", "trainable_stages": [], "first_epoch": 0, "epochs": 1, "after_recalibration": None,
             "history": {"loss": [loss], "val_loss": [val_loss], "accuracy": [0.5], "val_accuracy": [0.55]}}
    return plot_training([stage], [0])


def test_a_one_epoch_run_shows_its_training_and_validation_points():
    figure = _one_epoch(loss=0.7, val_loss=0.7)  # the same value: the validation ring surrounds the training dot
    for ax in figure.axes:
        train, validation = ax.lines
        assert (train.get_label(), validation.get_label()) == ("train", "validation")
        assert train.get_marker() == validation.get_marker() == "o"
        assert train.get_markerfacecolor() != "none" and validation.get_markerfacecolor() == "none"
        assert validation.get_markersize() > train.get_markersize() + 2
        assert [tick for tick in ax.get_xticks() if 0.5 <= tick <= 1.5] == [1]  # whole epochs only


def test_the_training_legend_is_one_legend_below_the_axes_covering_no_data():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = _one_epoch()
    assert all(ax.get_legend() is None for ax in figure.axes)
    (legend,) = figure.legends
    assert [text.get_text() for text in legend.get_texts()] == ["train", "validation"]
    FigureCanvasAgg(figure).draw()
    box = legend.get_window_extent()
    assert all(not box.overlaps(ax.get_window_extent()) for ax in figure.axes)
    assert all(box.y1 < ax.get_window_extent().y0 for ax in figure.axes)  # below both


def test_training_png_is_written_and_decodes(tmp_path):
    path = save_figure(plot_training(_three_stages()), tmp_path / "training.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 1000
    image = tf.io.decode_png(data)
    assert image.shape[0] == 420 and image.shape[1] == 1100  # 11 x 4.2 inches at 100 dpi
    assert os.listdir(tmp_path) == ["training.png"]  # no temporary file left


def test_confusion_matrix_has_class_names_on_both_axes(tmp_path):
    names = ["cat", "dog", "bird"]
    figure = plot_confusion_matrix([[5, 1, 0], [2, 3, 0], [0, 0, 0]], names)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names
    assert [t.get_text() for t in ax.texts][:3] == ["0.83", "0.17", "0.00"]  # row fractions
    assert len(ax.texts) == 9
    data = save_figure(figure, tmp_path / "cm.png").read_bytes()
    assert data.startswith(b"\x89PNG") and tf.io.decode_png(data).shape[-1] in (3, 4)


def test_confusion_matrix_counts_and_no_cell_text_for_many_classes():
    counts = plot_confusion_matrix([[2, 1], [0, 4]], ["a", "b"], normalize=False)
    assert [t.get_text() for t in counts.axes[0].texts] == ["2", "1", "0", "4"]
    many = plot_confusion_matrix([[1] * 31] * 31, [f"c{i}" for i in range(31)])
    assert len(many.axes[0].texts) == 0


def test_confusion_matrix_shape_must_match_the_names():
    with pytest.raises(ValueError, match="one row per class"):
        plot_confusion_matrix([[1, 0], [0, 1]], ["a", "b", "c"])


def test_transfer_curve_puts_all_last(tmp_path):
    rows = [
        {"labels_per_class": size, "method": method, "accuracy": accuracy}
        for size, accuracy in (("all", 0.9), (10, 0.7), (2, 0.5))
        for method, accuracy in (("transfer", accuracy), ("scratch", accuracy - 0.3))
    ]
    figure = plot_transfer_vs_scratch(rows)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "10", "all"]
    assert [line.get_label() for line in ax.lines] == ["transfer", "scratch"]
    assert list(ax.lines[0].get_ydata()) == [0.5, 0.7, 0.9]
    assert save_figure(figure, tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "methods",
    [
        pytest.param(("transfer", "scratch", "head only"), id="image-demo"),
        pytest.param(("transfer, fine-tuned", "transfer, head only", "scratch"), id="text-demo"),
    ],
)
def test_each_method_keeps_its_colour_in_every_transfer_figure(methods):
    rows = [{"labels_per_class": 2, "method": method, "accuracy": 0.5} for method in methods]
    colours = {line.get_label(): line.get_color() for line in plot_transfer_vs_scratch(rows).axes[0].lines}
    expected = {"scratch": "tab:orange", "head only": "tab:green", "transfer": "tab:blue"}
    for method in methods:
        kind = next(kind for kind in expected if kind in method)
        assert colours[method] == expected[kind], method


def test_the_demos_transfer_figures_have_their_own_titles():
    from tfl.demo.image import DemoSettings
    from tfl.demo.image import comparison_figure as image_figure
    from tfl.demo.text import TextDemoSettings
    from tfl.demo.text import comparison_figure as text_figure

    rows = [{"labels_per_class": 2, "method": "scratch", "accuracy": 0.5}]
    image = image_figure(rows, DemoSettings()).axes[0].get_title()
    text = text_figure(rows, TextDemoSettings()).axes[0].get_title()
    assert image.startswith("Images: transfer vs scratch") and "digits" in image
    assert text.startswith("Text: transfer vs scratch") and "tweet" in text


def _adaptation_record(method="mmd", labelled=0, epochs=3):
    history = {key: [1.0 / (e + 1) for e in range(epochs)] for key in ("loss", "source_loss", "target_loss", "alignment_loss")}
    history.update(val_accuracy=[0.5, 0.6, 0.7][:epochs], target_im=[0.3, 0.4, 0.5][:epochs], target_snd=[4.0, 4.1, 4.2][:epochs])
    return {"method": method, "alpha": 1.0, "beta": 1.0, "align_weight": 0.5, "history": history,
            "num_target_labelled": labelled, "target_accuracy_before": 0.4, "restored_epoch": 1}


def _labels(ax):
    return [line.get_label() for line in ax.lines]


@pytest.mark.parametrize(
    "method, labelled, shown, hidden",
    [
        ("mmd", 0, {"source loss", "alignment term", "objective J"}, {"target loss (labelled)"}),
        ("joint", 5, {"source loss", "target loss (labelled)", "objective J"}, {"alignment term"}),
    ],
)
def test_adaptation_plot_shows_the_terms_that_were_trained(method, labelled, shown, hidden):
    figure = plot_adaptation(_adaptation_record(method, labelled))
    losses, target, scores = figure.axes
    assert shown <= set(_labels(losses)) and not hidden & set(_labels(losses))
    assert "held-out target accuracy" in _labels(target) and "before adapting" in _labels(target)
    assert {"IM (unlabelled target)", "SND (unlabelled target)"} <= set(_labels(scores))
    assert list(target.lines[0].get_xdata()) == [1, 2, 3]


def test_adaptation_plot_refuses_an_empty_history():
    record = _adaptation_record()
    record["history"] = {}
    with pytest.raises(ValueError, match="at least one epoch"):
        plot_adaptation(record)


def test_fusion_weight_plot_draws_one_line_per_branch_across_stages():
    stages = _three_stages()
    for record in stages.stages:
        epochs = record.epochs
        record.history["fusion_weight_source"] = [0.5 + 0.01 * i for i in range(epochs)]
        record.history["fusion_weight_target"] = [0.5 - 0.01 * i for i in range(epochs)]
    figure = plot_fusion_weights(stages)
    (ax,) = figure.axes
    assert [line.get_label() for line in ax.lines if line.get_gid() != BOUNDARY_GID] == ["source", "target"]
    assert figure.stage_boundaries == [3, 5] and len(_boundary_lines(figure)) == 2
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3, 4, 5, 6, 7]


def test_fusion_weight_plot_needs_fusion_weights():
    with pytest.raises(ValueError, match="FusionWeightLogger"):
        plot_fusion_weights(_three_stages())


def test_the_plot_reads_the_keys_the_logger_writes():
    from tfl.evaluate.plots import FUSION_WEIGHT_PREFIX
    from tfl.train.fusion_weights import LOG_PREFIX

    assert FUSION_WEIGHT_PREFIX == LOG_PREFIX

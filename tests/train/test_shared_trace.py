"""One compile for the stages that train the whole model: the same results as a
compile per stage, one traced training step, and frozen variables that do not move."""

import keras
import numpy as np
import pytest

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.config import parse_stages
from tfl.model import build_model
from tfl.train import fit_stages
from tfl.train.shared_trace import EXTRA_STEPS_PER_TRACE
from tfl.train.shared_trace import StagedUpdates
from tfl.train.shared_trace import share_stages

# AdamW with weight decay: the decay of a frozen variable must be masked too.
PLAN = (
    Stage("none", epochs=1, learning_rate=1e-3, optimizer="adamw"),
    Stage("top 1", epochs=2, learning_rate=1e-3, schedule="one_cycle", optimizer="adamw"),
    Stage("top 2", epochs=1, learning_rate=3e-4, schedule="cosine", lr_decay=0.5, optimizer="adamw"),
)


def _model():
    return build_model(
        ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0), ["dark", "bright"]
    )


class TrainFunctions(keras.callbacks.Callback):
    """Records the model's traced training function at the start of each `fit`."""

    def __init__(self):
        super().__init__()
        self.functions = []

    def on_train_begin(self, logs=None):
        self.functions.append(self.model.train_function)


def _train(shared_trace, stages=PLAN, weight_decay=0.05):
    keras.utils.set_random_seed(0)
    model = _model()
    model.compile(weight_decay=weight_decay)
    initial = {weight.path: weight.numpy() for weight in model.weights}
    data = tiny_image_data(n=24, batch_size=8)
    functions = TrainFunctions()
    history = fit_stages(
        model, data, stages, verbose=0, feature_cache="off", shared_trace=shared_trace, callbacks=[functions]
    )
    return model, history, functions.functions, initial


@pytest.fixture(scope="module")
def per_stage():
    return _train("off")


@pytest.fixture(scope="module")
def shared():
    return _train("on")


def test_shared_stages_end_with_the_weights_and_history_of_a_compile_per_stage(per_stage, shared):
    (model_off, history_off, _, _), (model_on, history_on, _, initial) = per_stage, shared
    for old, new in zip(model_off.weights, model_on.weights):
        np.testing.assert_allclose(new.numpy(), old.numpy(), rtol=1e-4, atol=1e-6, err_msg=old.path)
    for off, on in zip(history_off.stages, history_on.stages):
        assert on.trainable_params == off.trainable_params
        np.testing.assert_allclose(on.history["loss"], off.history["loss"], rtol=1e-4)
    # The plan did train: the weights moved from their initial values.
    assert not np.allclose(initial[model_on.head.kernel.path], model_on.head.kernel.numpy())


def test_the_stages_share_one_traced_training_step(per_stage, shared):
    functions_off, functions_on = per_stage[2], shared[2]
    assert len({id(function) for function in functions_on}) == 1
    assert len({id(function) for function in functions_off}) == len(PLAN)
    assert isinstance(shared[0].optimizer, StagedUpdates)


def test_variables_a_stage_keeps_frozen_do_not_move_and_batchnorm_statistics_stay(shared):
    model, history, _, before = shared
    trained = {name for record in history.stages for name in record.trainable_stages}
    frozen_layers = [layer for name, layers in model.stage_layers().items() if name not in trained for layer in layers]
    assert frozen_layers
    for layer in frozen_layers:
        for weight in layer.weights:
            np.testing.assert_array_equal(weight.numpy(), before[weight.path], err_msg=weight.path)
    for layer in model.backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            np.testing.assert_array_equal(layer.moving_mean.numpy(), before[layer.moving_mean.path])


def test_a_model_trained_with_a_shared_trace_saves_loads_and_predicts_the_same(shared, tmp_path):
    model = shared[0]
    model.save(tmp_path / "shared.keras")
    loaded = keras.saving.load_model(tmp_path / "shared.keras")
    images = tiny_image_data(n=8).images
    np.testing.assert_allclose(loaded.predict({"images": images}, verbose=0), model.predict({"images": images}, verbose=0), atol=1e-6)
    assert isinstance(loaded.optimizer, StagedUpdates)
    np.testing.assert_array_equal(loaded.optimizer.update_scales.numpy(), model.optimizer.update_scales.numpy())


def test_auto_shares_only_while_the_extra_steps_stay_below_a_trace():
    model = _model()
    stages = parse_stages("none:1:1e-3,all:1:1e-4")
    routes = ["model", "model"]
    assert share_stages(model, stages, routes, steps=EXTRA_STEPS_PER_TRACE).indices == (0, 1)
    assert share_stages(model, stages, routes, steps=EXTRA_STEPS_PER_TRACE + 1) is None
    assert share_stages(model, stages, routes, steps=10_000, mode="on").indices == (0, 1)
    assert share_stages(model, stages, routes, steps=8, mode="off") is None
    # Stages that train BatchNorm, on cached features, or with another optimizer are not shared.
    with_batchnorm = (stages[0], Stage("all", 1, 1e-4, train_batchnorm=True))
    assert share_stages(model, with_batchnorm, routes, steps=8) is None
    assert share_stages(model, stages, ["cached_head", "model"], steps=8) is None
    assert share_stages(model, (stages[0], Stage("all", 1, 1e-4, optimizer="sgd")), routes, steps=8) is None
    with pytest.raises(ValueError, match="Known: auto, on, off"):
        share_stages(model, stages, routes, steps=8, mode="always")


def test_staged_updates_refuses_an_optimizer_whose_fresh_state_is_not_zero():
    with pytest.raises(TypeError, match="Adagrad"):
        StagedUpdates(keras.optimizers.Adagrad())


def test_a_fusion_models_branches_with_the_same_variable_paths_both_train():
    """Two branches of one architecture built apart hold variables of the same
    path ("block1_conv/kernel"): the shared step tells them apart."""
    from tfl.model import FusionClassifier
    from tfl.model import cnn_branch
    from tfl.model import small_cnn

    keras.utils.set_random_seed(0)
    model = FusionClassifier(
        [cnn_branch(name, small_cnn(32, (4, 8), name=f"{name}_cnn"), 32) for name in ("a", "b")],
        ["dark", "bright"],
    )
    kernels = [model.backbones[name].get_layer("block1_conv").kernel for name in ("a", "b")]
    assert kernels[0].path == kernels[1].path
    before = [kernel.numpy() for kernel in kernels]

    fit_stages(model, tiny_image_data(n=8, batch_size=4), parse_stages("none:1:1e-2,all:1:1e-2"),
               verbose=0, feature_cache="off", shared_trace="on")

    assert isinstance(model.optimizer, StagedUpdates)
    assert all(not np.array_equal(kernel.numpy(), old) for kernel, old in zip(kernels, before))

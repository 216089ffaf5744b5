"""The training step is traced once per compile: the optimizer's variables
exist before the first step (`tfl.model.prebuild_optimizer`)."""

import keras

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import count_traces
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.model import build_model
from tfl.model import prebuild_optimizer
from tfl.train import fit_stages


def _model():
    return build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0), ["dark", "bright"])


def test_a_compiled_classifier_traces_its_training_step_once():
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    traces = count_traces(model)
    model.fit(tiny_image_data().train, epochs=2, verbose=0)
    assert len(traces) == 1
    assert model.optimizer.built


def test_keras_alone_traces_it_twice_which_is_what_prebuild_avoids():
    # The sentinel: when Keras builds the optimizer before the first step itself,
    # this fails and prebuild_optimizer can go.
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    traces = count_traces(model)
    keras.Model.fit(model, tiny_image_data().train, epochs=1, verbose=0, shuffle=False)
    assert len(traces) == 2


def test_each_stage_of_a_plan_traces_once():
    model = _model()
    traces = count_traces(model)
    stages = [Stage("top 1", epochs=1, learning_rate=1e-3), Stage("all", epochs=1, learning_rate=1e-4, optimizer="sgd")]
    fit_stages(model, tiny_image_data(), stages, verbose=0, shared_trace="off")
    assert len(traces) == 2


def test_prebuild_builds_on_the_trainable_variables_once():
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    prebuild_optimizer(model)
    variables = len(model.optimizer.variables)
    prebuild_optimizer(model)  # already built: nothing more
    assert len(model.optimizer.variables) == variables > 2 * len(model.trainable_variables)

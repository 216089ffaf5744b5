"""The Fusion layer: each mode's formula, gradients, round trips and refusals."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfl.model import Fusion


def _inputs(*widths, batch=3, steps=None, seed=0):
    rng = np.random.RandomState(seed)
    middle = () if steps is None else (steps,)
    return [rng.normal(size=(batch, *middle, w)).astype("float32") for w in widths]


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _dense(layer, x):
    kernel, bias = (_np(w) for w in layer.weights)
    return x @ kernel + bias


def _projected(layer, inputs):
    return [x if dense is None else _dense(dense, x) for x, dense in zip(inputs, layer.projections)]


def _set_logits(layer, values):
    layer.mixing_logits.assign(np.asarray(values, "float32"))


# Each case: Fusion arguments, input widths (or (widths, sequence length)), a setup that
# puts known values in the learned variables, and the expected output in numpy.
FORMULAS = [
    pytest.param(
        dict(mode="weighted", alpha=0.25),
        (4, 4),
        None,
        lambda layer, x: 0.25 * x[0] + 0.75 * x[1],
        id="weighted-fixed-alpha",
    ),
    pytest.param(
        dict(mode="weighted", alpha=0.3, learnable=True),
        (4, 4),
        lambda layer: _set_logits(layer, 0.8),
        lambda layer, x: _sigmoid(0.8) * x[0] + (1 - _sigmoid(0.8)) * x[1],
        id="weighted-learnable-scalar",
    ),
    pytest.param(
        dict(mode="weighted", learnable=True, per_channel=True),
        (4, 4),
        lambda layer: _set_logits(layer, [-1.0, 0.0, 0.5, 2.0]),
        lambda layer, x: (
            _sigmoid(np.array([-1.0, 0.0, 0.5, 2.0])) * x[0] + (1 - _sigmoid(np.array([-1.0, 0.0, 0.5, 2.0]))) * x[1]
        ),
        id="weighted-learnable-per-channel",
    ),
    pytest.param(
        dict(mode="weighted", alpha=0.6),
        (3, 5),
        None,
        lambda layer, x: 0.6 * _dense(layer.projections[0], x[0]) + 0.4 * x[1],
        id="weighted-projects-the-narrower-input",
    ),
    pytest.param(
        dict(mode="weighted", input_weights=[0.2, 0.3, 0.5]),
        (4, 4, 4),
        None,
        lambda layer, x: 0.2 * x[0] + 0.3 * x[1] + 0.5 * x[2],
        id="weighted-three-fixed",
    ),
    pytest.param(
        dict(mode="weighted", learnable=True),
        (4, 4, 4),
        lambda layer: _set_logits(layer, [1.0, -0.5, 0.25]),
        lambda layer, x: sum(w * f for w, f in zip(_softmax(np.array([1.0, -0.5, 0.25]), 0), x)),
        id="weighted-three-learnable-softmax",
    ),
    pytest.param(
        dict(mode="weighted", alpha=0.25),
        ((4, 4), 5),
        None,
        lambda layer, x: 0.25 * x[0] + 0.75 * x[1],
        id="weighted-sequences",
    ),
    pytest.param(
        dict(mode="gated"),
        (4, 6),
        None,
        lambda layer, x: _gated_two(layer, _projected(layer, x)),
        id="gated-two",
    ),
    pytest.param(
        dict(mode="gated"),
        (4, 4, 4),
        None,
        lambda layer, x: _gated_many(layer, x),
        id="gated-three-softmax",
    ),
    pytest.param(
        dict(mode="gated"),
        ((4, 6), 5),
        None,
        lambda layer, x: _gated_two(layer, _projected(layer, x)),
        id="gated-sequences",
    ),
    pytest.param(dict(mode="concat"), (3, 5), None, lambda layer, x: np.concatenate(x, -1), id="concat"),
    pytest.param(
        dict(mode="concat", projection_dim=2),
        (3, 5),
        None,
        lambda layer, x: _dense(layer.projection, np.concatenate(x, -1)),
        id="concat-projection",
    ),
]


def _gated_two(layer, x):
    g = _sigmoid(_dense(layer.gate, np.concatenate(x, -1)))
    return g * x[0] + (1 - g) * x[1]


def _gated_many(layer, x):
    logits = _dense(layer.gate, np.concatenate(x, -1))
    g = _softmax(np.stack(np.split(logits, len(x), axis=-1)), axis=0)
    return sum(g[i] * x[i] for i in range(len(x)))


@pytest.mark.parametrize("kwargs, widths, setup, expected", FORMULAS)
def test_output_matches_the_formula(kwargs, widths, setup, expected):
    widths, steps = widths if isinstance(widths[0], tuple) else (widths, None)
    inputs = _inputs(*widths, steps=steps)
    layer = Fusion(**kwargs)
    layer(inputs)  # build
    if setup is not None:
        setup(layer)
    np.testing.assert_allclose(_np(layer(inputs)), expected(layer, inputs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, widths, variable",
    [
        pytest.param(dict(mode="weighted", learnable=True), (4, 4), "mixing_logits", id="alpha"),
        pytest.param(
            dict(mode="weighted", learnable=True, per_channel=True), (3, 4), "mixing_logits", id="alpha-per-channel"
        ),
        pytest.param(dict(mode="weighted", learnable=True), (4, 4, 4), "mixing_logits", id="softmax-weights"),
        pytest.param(dict(mode="gated"), (4, 4), "gate", id="gate"),
        pytest.param(dict(mode="gated"), (4, 2, 3), "gate", id="gate-three"),
    ],
)
def test_gradients_reach_the_mixing_weights(kwargs, widths, variable):
    inputs = [tf.constant(x) for x in _inputs(*widths)]
    layer = Fusion(**kwargs)
    layer(inputs)
    target = getattr(layer, variable)
    variables = target.trainable_weights if isinstance(target, keras.layers.Layer) else [target]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(inputs) - 1.0))
    gradients = tape.gradient(loss, variables)
    assert all(g is not None and np.abs(_np(g)).max() > 0 for g in gradients)


ROUND_TRIPS = [
    pytest.param(dict(mode="weighted", alpha=0.3), id="weighted-fixed"),
    pytest.param(dict(mode="weighted", alpha=0.3, learnable=True), id="weighted-learnable"),
    pytest.param(dict(mode="weighted", learnable=True, per_channel=True), id="weighted-per-channel"),
    pytest.param(dict(mode="gated"), id="gated"),
    pytest.param(dict(mode="concat", projection_dim=4), id="concat-projection"),
    pytest.param(dict(mode="concat"), id="concat"),
]


def _model(kwargs):
    a = keras.Input(shape=(3,), name="a")
    b = keras.Input(shape=(5,), name="b")
    fusion = Fusion(**kwargs, name="fusion")
    model = keras.Model({"a": a, "b": b}, fusion([a, b]))
    if fusion.mixing_logits is not None:  # away from the starting value, so a reload that re-initialises fails
        fusion.mixing_logits.assign(fusion.mixing_logits + 0.7)
    return model


def _batch(n=2):
    a, b = _inputs(3, 5, batch=n, seed=1)
    return {"a": a, "b": b}


@pytest.mark.parametrize("kwargs", ROUND_TRIPS)
def test_keras_round_trip_gives_identical_outputs(tmp_path, kwargs):
    model = _model(kwargs)
    expected = _np(model(_batch()))
    model.save(tmp_path / "fusion.keras")

    loaded = keras.saving.load_model(tmp_path / "fusion.keras")  # no custom_objects

    assert isinstance(loaded.get_layer("fusion"), Fusion)
    np.testing.assert_array_equal(_np(loaded(_batch())), expected)


@pytest.mark.parametrize("kwargs", ROUND_TRIPS)
def test_saved_model_export_gives_identical_outputs(tmp_path, kwargs):
    model = _model(kwargs)
    signature = [tf.TensorSpec((None, 3), tf.float32, name="a"), tf.TensorSpec((None, 5), tf.float32, name="b")]
    serve = tf.function(lambda a, b: model({"a": a, "b": b}, training=False), input_signature=signature)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=serve, input_signature=signature)
    archive.write_out(str(tmp_path / "export"), verbose=False)

    reloaded = tf.saved_model.load(str(tmp_path / "export"))

    for n in (2, 5):  # another batch size through the same signature; the same graph, so bit-identical
        batch = _batch(n)
        served = _np(reloaded.serve(batch["a"], batch["b"]))
        np.testing.assert_array_equal(served, _np(serve(batch["a"], batch["b"])))
        np.testing.assert_allclose(served, _np(model(batch)), rtol=1e-6, atol=1e-6)  # eager: float rounding only


def test_config_round_trip():
    layer = Fusion("weighted", alpha=0.4, learnable=True, per_channel=True, width=6, name="f")
    config = layer.get_config()
    assert Fusion.from_config(config).get_config() == config
    assert config["mode"] == "weighted" and config["alpha"] == 0.4 and config["width"] == 6


def test_mixing_weights_and_summary_expose_the_learned_alpha():
    layer = Fusion("weighted", alpha=0.3, learnable=True)
    layer(_inputs(4, 4))
    np.testing.assert_allclose(layer.mixing_weights(), [0.3, 0.7], rtol=1e-6)
    _set_logits(layer, 2.0)
    np.testing.assert_allclose(layer.mixing_weights(), [_sigmoid(2.0), 1 - _sigmoid(2.0)], rtol=1e-6)
    summary = layer.weights_summary()
    assert summary["mode"] == "weighted" and summary["inputs"] == 2 and summary["width"] == 4
    np.testing.assert_allclose(summary["input_weights"], [_sigmoid(2.0), 1 - _sigmoid(2.0)], rtol=1e-6)


def test_mixing_weights_per_channel_have_one_row_per_input():
    layer = Fusion("weighted", learnable=True, per_channel=True)
    layer(_inputs(4, 4, 4))
    weights = layer.mixing_weights()
    assert weights.shape == (3, 4)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, rtol=1e-6)


def test_mean_gate_is_the_average_gate_over_the_batch():
    layer = Fusion("gated")
    inputs = _inputs(4, 4, batch=6)
    gate = layer.mean_gate(inputs)  # builds the layer
    expected = _sigmoid(_dense(layer.gate, np.concatenate(inputs, -1))).mean(axis=0)
    np.testing.assert_allclose(gate, expected, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, method, message",
    [
        pytest.param(
            dict(mode="gated"), "mixing_weights", r"mode='gated'.*use mean_gate", id="mixing-weights-of-gated"
        ),
        pytest.param(dict(mode="concat"), "mean_gate", r"mode='concat'", id="mean-gate-of-concat"),
    ],
)
def test_inspection_of_the_wrong_mode_is_refused(kwargs, method, message):
    layer = Fusion(**kwargs)
    inputs = _inputs(4, 4)
    layer(inputs)
    with pytest.raises(ValueError, match=message):
        getattr(layer, method)(inputs) if method == "mean_gate" else getattr(layer, method)()


def test_inspection_before_build_is_refused():
    with pytest.raises(ValueError, match=r"needs a built layer: call the layer on its inputs first"):
        Fusion("weighted").mixing_weights()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        pytest.param(
            dict(mode="sum"), r"Unknown fusion mode 'sum'\. Known: weighted, gated, concat", id="unknown-mode"
        ),
        pytest.param(dict(alpha=1.5), r"alpha .* in \[0, 1\]\. Received: alpha=1\.5", id="alpha-above-1"),
        pytest.param(dict(alpha=-0.1), r"in \[0, 1\]\. Received: alpha=-0\.1", id="alpha-negative"),
        pytest.param(
            dict(alpha=1.0, learnable=True), r"strictly between 0 and 1.*learnable=False", id="learnable-alpha-1"
        ),
        pytest.param(
            dict(input_weights=[0.5, 0.6]), r"sum to 1; they sum to 1\.1.*Divide each by their sum", id="weights-sum"
        ),
        pytest.param(dict(input_weights=[1.0]), r"one weight per input.*input_weights=\[1\.0\]", id="one-weight"),
        pytest.param(
            dict(input_weights=[0.0, 1.0], learnable=True), r"cannot start at exactly 0", id="learnable-zero-weight"
        ),
        pytest.param(
            dict(mode="gated", projection_dim=4),
            r"projection_dim applies to mode='concat' only",
            id="projection-not-concat",
        ),
        pytest.param(dict(width=0), r"width must be a whole number >= 1.*width=0", id="width-zero"),
    ],
)
def test_bad_arguments_are_refused_with_the_value_and_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Fusion(**kwargs)


@pytest.mark.parametrize(
    "kwargs, shapes, message",
    [
        pytest.param(
            {},
            [(2, 4), (2, 3, 4)],
            r"same rank >= 2.*\(2, 4\), \(2, 3, 4\) \(ranks \[2, 3\]\).*Pool sequence",
            id="ranks",
        ),
        pytest.param({}, [(2, 4)], r"at least 2 inputs.*Received: 1 input", id="one-input"),
        pytest.param(
            dict(input_weights=[0.5, 0.25, 0.25]), [(2, 4), (2, 4)], r"2 inputs, 3 weights", id="weights-length"
        ),
    ],
)
def test_bad_inputs_are_refused_with_the_shapes(kwargs, shapes, message):
    layer = Fusion(**kwargs)
    with pytest.raises(ValueError, match=message):
        layer([np.zeros(shape, "float32") for shape in shapes])


def test_a_single_tensor_is_refused():
    with pytest.raises(ValueError, match=r"takes a list of 2 or more feature tensors"):
        Fusion()(np.zeros((2, 4), "float32"))

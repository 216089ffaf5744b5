"""`Fusion`: one layer that combines two or more feature tensors (weighted, gated, concat)."""

import math

import keras
import numpy as np
from keras import ops

from tfl.config.model_config import FUSION_MODES
from tfl.serialization import keras_serializable

MODES = FUSION_MODES
_SUM_TOLERANCE = 1e-6


@keras_serializable
class Fusion(keras.layers.Layer):
    """Combines N >= 2 feature tensors `[B, D_i]` (or `[B, ..., D_i]` of equal rank).

    Inputs of different widths are first projected to a common width
    (`width`, default the largest `D_i`) by one Dense layer per input whose
    width differs; inputs already at that width pass unchanged. The modes,
    with `F_i` the (projected) inputs:

    - "weighted", 2 inputs: `a * F1 + (1 - a) * F2`. `a` is `alpha`, fixed,
      or with `learnable=True` `a = sigmoid(logit)`, the logit starting at
      `log(alpha / (1 - alpha))` (one per channel with `per_channel=True`).
    - "weighted", N inputs: `sum_i w_i * F_i`. Fixed: `input_weights` (N
      values summing to 1; default 1/N each). Learnable: `w = softmax(logits)`
      over the inputs (per channel with `per_channel`), the logits starting
      at `log(input_weights)`.
    - "gated", 2 inputs: `g * F1 + (1 - g) * F2` with the per-channel gate
      `g = sigmoid(W [F1; F2] + b)`, computed for every example (and every
      position of a sequence). N inputs: `sum_i g_i * F_i` with
      `g = softmax_i(W [F1; ...; FN] + b)`, one softmax over the inputs per
      channel.
    - "concat": `[F1; ...; FN]` along the last axis, then a Dense projection
      to `projection_dim` when given. Inputs keep their own widths unless
      `width` is given.

    Args:
        mode: "weighted", "gated" or "concat".
        alpha: "weighted" with 2 inputs: the weight of the first input, in
            [0, 1] (in (0, 1) when learnable: its starting value).
        learnable: "weighted": train the mixing weights (kept in (0, 1) by a
            sigmoid, or summing to 1 by a softmax).
        per_channel: "weighted" and learnable: one weight per channel instead
            of one scalar.
        input_weights: "weighted": one weight per input, summing to 1 (fixed,
            or the starting values when learnable); overrides `alpha`. None:
            `[alpha, 1 - alpha]` for 2 inputs, 1/N each for more.
        width: the common width inputs are projected to; None: the largest
            input width ("weighted", "gated"), no projection ("concat").
        projection_dim: "concat": the width of a Dense projection of the
            concatenation; None: no projection.
        **kwargs: passed to `keras.layers.Layer` (e.g. `name`, `dtype`).

    Examples:

    >>> fusion = Fusion("weighted", alpha=0.25)
    >>> fusion([np.ones((1, 2)), np.zeros((1, 2))]).numpy()
    array([[0.25, 0.25]], dtype=float32)
    >>> Fusion("weighted", learnable=True, per_channel=True)([np.ones((1, 3)), np.ones((1, 5))]).shape
    TensorShape([1, 5])
    """

    def __init__(
        self,
        mode="weighted",
        alpha=0.5,
        learnable=False,
        per_channel=False,
        input_weights=None,
        width=None,
        projection_dim=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"Unknown fusion mode {mode!r}. Known: {', '.join(MODES)}. Received: mode={mode!r}")
        alpha = _check_alpha(alpha, learnable)
        if input_weights is not None:
            input_weights = _check_input_weights(input_weights, learnable)
        for arg, value in (("width", width), ("projection_dim", projection_dim)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{arg} must be a whole number >= 1 or None. Received: {arg}={value!r}")
        if projection_dim is not None and mode != "concat":
            raise ValueError(
                f"projection_dim applies to mode='concat' only. Received: mode={mode!r}, "
                f"projection_dim={projection_dim!r}. Use width= to set the common width of {mode!r} fusion."
            )

        # === Config ===
        self.mode = mode
        self.alpha = alpha
        self.learnable = bool(learnable)
        self.per_channel = bool(per_channel)
        self.input_weights = input_weights
        self.width = width
        self.projection_dim = projection_dim

        # === Set in build() ===
        self.num_inputs = None
        self.common_width = None
        self.projections = []
        self.gate = None
        self.projection = None
        self.mixing_logits = None

    def build(self, input_shape):
        shapes = _check_shapes(input_shape)
        self.num_inputs = len(shapes)
        if self.input_weights is not None and len(self.input_weights) != self.num_inputs:
            raise ValueError(
                f"input_weights needs one weight per input: {self.num_inputs} inputs, "
                f"{len(self.input_weights)} weights. Received: input_weights={self.input_weights!r}"
            )
        widths = [shape[-1] for shape in shapes]
        if self.mode == "concat" and self.width is None:
            self.common_width = None
        else:
            self.common_width = self.width or max(widths)

        # === Layers ===
        self.projections = []
        for i, shape in enumerate(shapes):
            if self.common_width is None or shape[-1] == self.common_width:
                self.projections.append(None)
                continue
            dense = keras.layers.Dense(self.common_width, dtype=self.dtype_policy, name=f"project_{i}")
            dense.build(shape)
            self.projections.append(dense)
        concatenated = list(shapes[0][:-1]) + [sum(self.common_width or w for w in widths)]
        if self.mode == "gated":
            units = self.common_width if self.num_inputs == 2 else self.num_inputs * self.common_width
            self.gate = keras.layers.Dense(units, dtype=self.dtype_policy, name="gate")
            self.gate.build(concatenated)
        if self.mode == "concat" and self.projection_dim is not None:
            self.projection = keras.layers.Dense(self.projection_dim, dtype=self.dtype_policy, name="projection")
            self.projection.build(concatenated)

        # === Weights ===
        if self.mode == "weighted" and self.learnable:
            start = self._start_weights()
            if self.num_inputs == 2:
                logits = np.array(math.log(start[0] / start[1]), "float32")  # sigmoid(logit) = start[0]
            else:
                logits = np.log(np.asarray(start, "float32"))
            if self.per_channel:
                logits = np.broadcast_to(logits[..., None], logits.shape + (self.common_width,)).copy()
            self.mixing_logits = self.add_weight(
                shape=logits.shape,
                initializer=keras.initializers.Constant(logits),
                trainable=True,
                name="mixing_logits",
            )

    def _start_weights(self):
        if self.input_weights is not None:
            return list(self.input_weights)
        if self.num_inputs == 2:
            return [self.alpha, 1.0 - self.alpha]
        return [1.0 / self.num_inputs] * self.num_inputs

    def call(self, inputs):
        features = self._project(inputs)
        if self.mode == "concat":
            x = ops.concatenate(features, axis=-1)
            return x if self.projection is None else self.projection(x)
        if self.mode == "gated":
            gates = self._gates(features)
        else:
            gates = self._mixing(features[0].dtype)
        return sum(g * f for g, f in zip(gates, features))

    def _project(self, inputs):
        return [
            ops.cast(x, self.compute_dtype) if dense is None else dense(x) for x, dense in zip(inputs, self.projections)
        ]

    def _gates(self, features):
        logits = self.gate(ops.concatenate(features, axis=-1))
        if self.num_inputs == 2:
            g = ops.sigmoid(logits)
            return [g, 1.0 - g]
        g = ops.softmax(ops.stack(ops.split(logits, self.num_inputs, axis=-1), axis=0), axis=0)
        return [g[i] for i in range(self.num_inputs)]

    def _mixing(self, dtype):
        """The weight of each input: scalars, or vectors of `common_width`."""
        if not self.learnable:
            return [ops.cast(w, dtype) for w in self._start_weights()]
        logits = ops.cast(self.mixing_logits, dtype)
        if self.num_inputs == 2:
            a = ops.sigmoid(logits)
            return [a, 1.0 - a]
        w = ops.softmax(logits, axis=0)
        return [w[i] for i in range(self.num_inputs)]

    def mixing_weights(self):
        """The current weight of each input in "weighted" mode, as numpy.

        Returns:
            float32 array `[N]`, or `[N, width]` with `per_channel`; for 2
            inputs row 0 is `a` and row 1 is `1 - a`.
        """
        self._check_built("mixing_weights")
        if self.mode != "weighted":
            raise ValueError(
                f"mixing_weights() reads the weights of mode='weighted'; this layer has mode={self.mode!r}. "
                "For mode='gated' use mean_gate(inputs)."
            )
        weights = [np.asarray(ops.convert_to_numpy(w), "float32") for w in self._mixing("float32")]
        shape = np.broadcast_shapes(*(w.shape for w in weights))
        return np.stack([np.broadcast_to(w, shape) for w in weights])

    def mean_gate(self, inputs):
        """The gate averaged over a batch (and positions) in "gated" mode.

        Args:
            inputs: the list of input tensors, as the layer takes them.

        Returns:
            float32 numpy `[width]` (the mean `g`, the weight of the first
            input) for 2 inputs; `[N, width]` (mean weight of each input) for more.
        """
        self._check_built("mean_gate", inputs)
        if self.mode != "gated":
            raise ValueError(
                f"mean_gate() reads the gate of mode='gated'; this layer has mode={self.mode!r}. "
                "For mode='weighted' use mixing_weights()."
            )
        gates = self._gates(self._project(inputs))
        axes = tuple(range(len(gates[0].shape) - 1))
        means = [ops.convert_to_numpy(ops.mean(ops.cast(g, "float32"), axis=axes)) for g in gates]
        return means[0] if self.num_inputs == 2 else np.stack(means)

    def weights_summary(self):
        """A JSON-ready description of how the inputs are mixed: the mode,
        the common width and, in "weighted" mode, each input's weight (its
        mean over channels with `per_channel`)."""
        self._check_built("weights_summary")
        summary = {"mode": self.mode, "inputs": self.num_inputs, "width": self.common_width}
        if self.mode == "weighted":
            weights = self.mixing_weights()
            summary["input_weights"] = [float(np.mean(w)) for w in weights]
        return summary

    def _check_built(self, method, inputs=None):
        if not self.built and inputs is not None:
            self(inputs)
        if not self.built:
            raise ValueError(f"Fusion.{method}() needs a built layer: call the layer on its inputs first.")

    def compute_output_shape(self, input_shape):
        shapes = _check_shapes(input_shape)
        if self.mode == "concat":
            if self.projection_dim is not None:
                last = self.projection_dim
            else:
                last = sum(self.width or shape[-1] for shape in shapes)
        else:
            last = self.width or max(shape[-1] for shape in shapes)
        return tuple(shapes[0][:-1]) + (last,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "mode": self.mode,
                "alpha": self.alpha,
                "learnable": self.learnable,
                "per_channel": self.per_channel,
                "input_weights": self.input_weights,
                "width": self.width,
                "projection_dim": self.projection_dim,
            }
        )
        return config


def _check_alpha(alpha, learnable):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(
            f"alpha is the weight of the first input and must be a number in [0, 1]. Received: alpha={alpha!r}. "
            "Use e.g. alpha=0.5 for an equal mix."
        )
    if learnable and alpha in (0.0, 1.0):
        raise ValueError(
            "A learnable alpha starts from sigmoid(logit) and cannot start at exactly 0 or 1 (an infinite logit). "
            f"Received: alpha={alpha!r}, learnable=True. Use a value strictly between 0 and 1, e.g. 0.99, "
            "or learnable=False to fix it."
        )
    return float(alpha)


def _check_input_weights(input_weights, learnable):
    if isinstance(input_weights, (str, bytes)) or not hasattr(input_weights, "__len__"):
        raise ValueError(
            f"input_weights must be a list with one weight per input. Received: input_weights={input_weights!r}"
        )
    weights = list(input_weights)
    if len(weights) < 2:
        raise ValueError(
            f"input_weights needs one weight per input, and Fusion takes 2 or more inputs. "
            f"Received: input_weights={weights!r}"
        )
    if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0.0 <= w <= 1.0 for w in weights):
        raise ValueError(f"Every input weight must be a number in [0, 1]. Received: input_weights={weights!r}")
    if abs(sum(weights) - 1.0) > _SUM_TOLERANCE:
        raise ValueError(
            f"input_weights must sum to 1; they sum to {sum(weights):g}. Received: input_weights={weights!r}. "
            f"Divide each by their sum, e.g. {[round(w / sum(weights), 4) for w in weights] if sum(weights) else None}."
        )
    if learnable and min(weights) == 0.0:
        raise ValueError(
            "Learnable input weights start from softmax(logits) and cannot start at exactly 0 (an infinite logit). "
            f"Received: input_weights={weights!r}, learnable=True. Use small positive values instead."
        )
    return [float(w) for w in weights]


def _check_shapes(input_shape):
    """The input shapes as lists, checked: 2 or more, of one rank >= 2."""
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(input_shape[0], (list, tuple)):
        raise ValueError(
            "Fusion takes a list of 2 or more feature tensors, e.g. fusion([image_features, text_features]). "
            f"Received: one input of shape {input_shape!r}."
        )
    shapes = [list(shape) for shape in input_shape]
    if len(shapes) < 2:
        raise ValueError(
            f"Fusion needs at least 2 inputs to combine. Received: {len(shapes)} input of shape {tuple(shapes[0])}. "
            "Pass a list such as [features_a, features_b], or drop the Fusion layer for a single branch."
        )
    ranks = [len(shape) for shape in shapes]
    if len(set(ranks)) != 1 or ranks[0] < 2:
        received = ", ".join(str(tuple(shape)) for shape in shapes)
        raise ValueError(
            f"Fusion inputs must all have the same rank >= 2 ([B, D] with [B, D'], or [B, T, D] with "
            f"[B, T, D']). Received shapes: {received} (ranks {ranks}). Pool sequence features to [B, D] "
            "first (e.g. MaskedMeanPooling), or give every input the same rank."
        )
    for shape in shapes:
        if shape[-1] is None:
            raise ValueError(
                f"Fusion needs the last (feature) axis of every input to be known. Received shapes: {shapes}."
            )
    return shapes

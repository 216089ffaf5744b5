"""Grad-CAM and Grad-CAM++: where in an image a classifier's class score comes from.

Grad-CAM (Selvaraju et al. 2017) weighs each channel `k` of a feature map `A`
by the mean gradient of the class score over the map's positions and keeps
the positive part of the weighted sum: `ReLU(sum_k mean_ij(dS/dA_kij) A_k)`.
Grad-CAM++ (Chattopadhay et al. 2018) weighs each position's positive
gradient by `g^2 / (2 g^2 + sum_ij(A) g^3)` instead, which gives several
objects of one class their share of the map.

The feature map is the backbone's last one before pooling unless a stage or
layer is named (`target_layer`), and the score is `Classifier.class_scores`
(the head before its activation). Maps are computed in batches by one
`tf.function`, then normalised per image to [0, 1] and resized to each
image's own size (`map_to_image`): to the centre crop the model saw with
`resize="crop"`, zero outside it.
"""

import difflib

import keras
import numpy as np
import tensorflow as tf

from tfl.data.image.pipeline import crop_box
from tfl.model import ImageClassifier
from tfl.traced import traced

METHODS = ("grad_cam", "grad_cam_plus_plus")


def check_method(method, methods, kind):
    """Returns `method` if it is one of `methods`, else a ValueError naming them."""
    if method not in methods:
        raise ValueError(
            f"Unknown explanation method {method!r} for {kind}. Known: {', '.join(methods)}. "
            f"Received: method={method!r}"
        )
    return method


def target_layer(model, layer=None):
    """The feature map Grad-CAM differentiates, in the image backbone's graph.

    Args:
        model: a `tfl.ImageClassifier`.
        layer: None for the backbone's output (the last feature map before
            pooling, the end of its last stage); a stage name of
            `model.stage_layers()` (e.g. "stride16": the stage's last
            layer); or a layer name of `model.backbone`.

    Returns:
        `(label, tensor)`: a description such as "stride32 (output)" and
        the symbolic feature map `[B, h, w, channels]`.

    Raises:
        ValueError: a name that is neither a stage nor a layer of the
            backbone, or a layer whose output is not a feature map.

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> label, tensor = target_layer(model)
    >>> label, len(tensor.shape)
    ('stride32 (output)', 4)
    >>> target_layer(model, "stride16")[0]
    'stride16 (expanded_conv_7_add)'
    """
    if not isinstance(model, ImageClassifier):
        raise ValueError(
            f"Grad-CAM explains an ImageClassifier; {model.name!r} is a {type(model).__name__} ({model.task}), "
            "which has no single image backbone to take the feature map from. For a FusionClassifier, explain "
            "each branch's own model; for a TextClassifier, use TokenAttributor (tfl.explain picks it)."
        )
    stages = model.stage_layers()
    backbone = model.backbone
    if layer is None:
        return f"{list(stages)[-1]} (output)", backbone.output
    if layer in stages:
        last = stages[layer][-1]
        label, tensor = f"{layer} ({last.name})", last.output
    else:
        names = [each.name for each in backbone.layers]
        if layer not in names:
            raise UnknownLayerError(model, layer, names)
        label, tensor = str(layer), backbone.get_layer(layer).output
    if len(tensor.shape) != 4:
        raise ValueError(
            f"Grad-CAM needs a feature map [batch, height, width, channels]; layer {layer!r} of "
            f"{model.backbone_name} outputs shape {tuple(tensor.shape)}. Pass a convolutional "
            f"layer or a stage name ({', '.join(stages)}). Received: layer={layer!r}"
        )
    return label, tensor


class UnknownLayerError(ValueError):
    """A `layer` that is neither a stage nor a layer of the model's backbone.

    It keeps the model, the layer and the backbone's layer names, so that a
    caller that took the layer another way (`tfl explain --layer`) can say the
    same in its own terms (`named`).

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> error = UnknownLayerError(model, "conv_99", [l.name for l in model.backbone.layers])
    >>> str(error).endswith("or None for the last feature map. Received: layer='conv_99'")
    True
    >>> error.named("leave out --layer", "--layer conv_99").endswith(
    ...     "or leave out --layer for the last feature map. Received: --layer conv_99")
    True
    """

    def __init__(self, model, layer, names):
        self.model, self.layer, self.names = model, layer, list(names)
        super().__init__(self.named("None", f"layer={layer!r}"))

    def named(self, default, received):
        """The message with `default` for how to ask for the last feature map (e.g. "None") and
        `received` for how the layer was given (e.g. "layer='conv_99'")."""
        model, layer = self.model, self.layer
        close = difflib.get_close_matches(str(layer), self.names, n=3, cutoff=0.6)
        hint = f" Close layer names: {', '.join(close)}." if close else ""
        return (
            f"Unknown layer {layer!r}: {model.backbone_name} has no such stage or layer. "
            f"Stages: {', '.join(model.stage_layers())}.{hint} Pass a stage name, a layer name of "
            f"model.backbone (`[l.name for l in model.backbone.layers]`), or {default} for the last "
            f"feature map. Received: {received}"
        )


def grad_cam_model(model, layer=None):
    """A model from raw images to `[feature map, class scores]` for Grad-CAM.

    It runs `model`'s own layers (resizing, preprocessing, the backbone up to
    the target layer and on to its output, pooling, the head's scores
    before the activation), so its maps are the classifier's own.

    Args:
        model: a `tfl.ImageClassifier`, built by tfl or loaded from `.keras`.
        layer: the target feature map, see `target_layer`.

    Returns:
        A `keras.Model` with input `images` `[B, H, W, 3]` in [0, 255] and
        outputs `[feature map [B, h, w, k], scores [B, num_classes]]`;
        `.target` holds the target's label.

    Examples:

    >>> feature_map, scores = grad_cam_model(model)(images[:2])
    >>> feature_map.shape[0], scores.shape
    (2, TensorShape([2, 2]))
    """
    label, target = target_layer(model, layer)
    backbone = model.backbone
    inner = keras.Model(backbone.inputs, [target, backbone.output], name="backbone_to_target")
    images = keras.Input(shape=(None, None, 3), name="images")
    feature_map, output = inner(model.backbone_input_model()({"images": images}))
    scores = model.class_scores(model.pooler(output))
    explanation_model = keras.Model(images, [feature_map, scores], name="grad_cam")
    explanation_model.target = label
    return explanation_model


def class_activation_maps(feature_maps, gradients, method="grad_cam"):
    """Grad-CAM or Grad-CAM++ maps from feature maps and the class score's gradients.

    Args:
        feature_maps: `[B, h, w, k]`.
        gradients: d(score)/d(feature_maps), the same shape.
        method: "grad_cam" or "grad_cam_plus_plus".

    Returns:
        `[B, h, w]`: `ReLU(sum_k weight_k * A_k)`, not normalised.

    Examples:

    >>> maps = np.ones((1, 2, 2, 1), "float32")
    >>> float(class_activation_maps(maps, np.full_like(maps, -1.0)).numpy().max())  # all negative: ReLU
    0.0
    """
    check_method(method, METHODS, "images")
    feature_maps = tf.convert_to_tensor(feature_maps, tf.float32)
    gradients = tf.convert_to_tensor(gradients, tf.float32)
    if method == "grad_cam":
        weights = tf.reduce_mean(gradients, axis=[1, 2])
    else:
        squared = tf.square(gradients)
        total = tf.reduce_sum(feature_maps, axis=[1, 2], keepdims=True)
        denominator = 2.0 * squared + total * squared * gradients
        alphas = squared / tf.where(denominator != 0.0, denominator, tf.ones_like(denominator))
        weights = tf.reduce_sum(alphas * tf.nn.relu(gradients), axis=[1, 2])
    return tf.nn.relu(tf.einsum("bhwk,bk->bhw", feature_maps, weights))


class GradCam:
    """Batched Grad-CAM in graph mode over a model `inputs -> [feature map, scores]`.

    Args:
        explanation_model: a `keras.Model` with two outputs, the target
            feature map `[B, h, w, k]` and the class scores `[B, C]` (see
            `grad_cam_model`).
        method: "grad_cam" or "grad_cam_plus_plus".
        graph: trace one `tf.function` (its input shape relaxed: one trace
            for every batch); False runs eagerly, which costs less for one
            small batch (the few images of a run's top losses).

    Call arguments:
        inputs: a batch for `explanation_model`.
        class_indices: `[B]` ints, the class to explain per input; -1 (or
            None for all) for the highest-scoring class.

    Returns:
        `(maps, scores, classes)` as numpy: maps `[B, h, w]` (not
        normalised), the class scores `[B, C]`, the class explained `[B]`.

    Examples:

    >>> explainer = GradCam(grad_cam_model(model))
    >>> maps, scores, classes = explainer(images[:2].astype("float32"), [1, -1])
    >>> maps.shape[0], int(classes[0])
    (2, 1)
    """

    def __init__(self, explanation_model, method="grad_cam", graph=True):
        self.method = check_method(method, METHODS, "images")
        self.model = explanation_model
        image_spec = tf.TensorSpec([None, *explanation_model.inputs[0].shape[1:]], tf.float32)
        signature = [image_spec, tf.TensorSpec([None], tf.int32)]
        self.function = traced(self._explain, input_signature=signature) if graph else self._explain

    def __call__(self, inputs, class_indices=None):
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        batch = int(inputs.shape[0])
        if class_indices is None:
            class_indices = [-1] * batch
        class_indices = tf.convert_to_tensor(np.asarray(class_indices, dtype=np.int32).reshape(batch))
        maps, scores, classes = self.function(inputs, class_indices)
        return maps.numpy(), scores.numpy(), classes.numpy()

    def _explain(self, inputs, class_indices):
        with tf.GradientTape() as tape:
            tape.watch(inputs)  # records the path through frozen layers too
            feature_maps, scores = self.model(inputs, training=False)
            best = tf.argmax(scores, axis=-1, output_type=tf.int32)
            classes = tf.where(class_indices < 0, best, class_indices)
            score = tf.gather(scores, classes, axis=1, batch_dims=1)
        gradients = tape.gradient(score, feature_maps)
        return class_activation_maps(feature_maps, gradients, self.method), scores, classes


def normalize_map(heatmap):
    """A map scaled to [0, 1] by its maximum (all zeros stays zeros).

    Examples:

    >>> normalize_map(np.array([[0.0, 2.0], [1.0, 4.0]])).tolist()
    [[0.0, 0.5], [0.25, 1.0]]
    """
    heatmap = np.asarray(heatmap, dtype=np.float32)
    top = float(heatmap.max()) if heatmap.size else 0.0
    return heatmap / top if top > 0 else np.zeros_like(heatmap)


def map_to_image(heatmap, height, width, image_size, resize="crop"):
    """A low-resolution map resized onto an image of `height` x `width` pixels.

    With `resize="crop"` the model saw the centred crop of the image's
    aspect ratio (`tfl.data.image.pipeline.crop_box`): the map covers that
    box and is 0 outside it. With "stretch" it covers the whole image.

    Args:
        heatmap: `[h, w]`.
        height, width: the image's own size.
        image_size: `(height, width)` the model resizes to (`model.image_size`).
        resize: the model's `resize`.

    Returns:
        A float32 array `[height, width]` (bilinear).

    Examples:

    >>> map_to_image(np.ones((2, 2)), 4, 8, (4, 4)).tolist()[0]  # the centre 4x4 crop of 4x8
    [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """
    heatmap = tf.convert_to_tensor(np.asarray(heatmap, dtype=np.float32)[..., None])
    if resize == "stretch":
        return tf.image.resize(heatmap, (height, width), method="bilinear")[..., 0].numpy()
    top, left, rows, columns = (int(v) for v in crop_box(height, width, image_size))
    inside = tf.image.resize(heatmap, (rows, columns), method="bilinear")[..., 0].numpy()
    canvas = np.zeros((height, width), dtype=np.float32)
    canvas[top : top + rows, left : left + columns] = inside
    return canvas

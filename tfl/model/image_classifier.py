"""`ImageClassifier`: raw images -> resize -> augmentation -> preprocessing -> backbone -> head."""

import os

import keras
import numpy as np

from tfl import __version__
from tfl.backbones import get_backbone_spec
from tfl.backbones import stage_layers
from tfl.config.class_names import check_class_names
from tfl.config.data_config import check_resize
from tfl.data.image.pipeline import normalize_image_size
from tfl.data.load import load_images
from tfl.model.augmentation import build_augmentation
from tfl.model.classifier import FROZEN_HEAD_KEY
from tfl.model.classifier import Classifier
from tfl.model.dtype_policy import dtype_policy
from tfl.model.model_file import VERSION_KEY
from tfl.model.preprocessing import BackbonePreprocessing
from tfl.model.prototype_head import build_head
from tfl.model.prototype_head import check_head
from tfl.serialization import keras_serializable

POOLINGS = {"avg": keras.layers.GlobalAveragePooling2D, "max": keras.layers.GlobalMaxPooling2D}
INPUT_NAME = "images"


@keras_serializable
class ImageClassifier(Classifier):
    """A functional image classifier around a `keras.applications` backbone.

    Takes RGB images of any size with pixel values in [0, 255] (uint8 or
    float) under the input name `images`, and returns class probabilities
    (softmax, or one sigmoid per class when `multi_label`). The class names
    travel with the model, through `.keras` files included.

    Args:
        backbone: the headless backbone model (see `tfl.backbones.build_backbone`).
        class_names: the names of the classes, in output order.
        backbone_name: the backbone's registry name; gives its preprocessing
            and named stages.
        image_size: (height, width) the images are resized to.
        resize: "crop" centre-crops each image to the aspect ratio of
            `image_size` before resizing (`keras.layers.Resizing` with
            `crop_to_aspect_ratio=True`); "stretch" resizes the whole image.
            `tfl.data` crops by the same rule, so images it prepared pass
            the layer unchanged; give it this model's `resize`.
        pooling: "avg" or "max" pooling of the feature map.
        dropout: dropout rate before the output layer.
        multi_label: sigmoid outputs (several classes per image) instead of a
            softmax.
        augmentation: dict of `tfl.config.AugmentationConfig` fields, or None.
        seed: seed of the augmentation layers.
        head: "dense" (a softmax or sigmoid `Dense` layer) or "prototypes"
            (a `tfl.model.PrototypeHead`: distances to class prototypes,
            single-label only; new classes come with `add_classes`).
        prototype_metric: "cosine" or "euclidean" (prototype head only).
        prototype_temperature: the prototype head's temperature, or None
            for the metric's default (0.1 cosine, 1.0 euclidean).
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Examples:

    >>> backbone = tfl.backbones.build_backbone("resnet50", weights=None, image_size=64)
    >>> model = ImageClassifier(backbone, ["cat", "dog"], backbone_name="resnet50",
    ...                         image_size=(64, 64))
    >>> model.predict({"images": np.zeros((1, 100, 80, 3))}).shape
    (1, 2)
    """

    def __init__(
        self,
        backbone,
        class_names,
        backbone_name,
        image_size,
        resize="crop",
        pooling="avg",
        dropout=0.2,
        multi_label=False,
        augmentation=None,
        seed=None,
        head="dense",
        prototype_metric="cosine",
        prototype_temperature=None,
        **kwargs,
    ):
        class_names = check_class_names(class_names, multi_label=multi_label)
        head, prototype_metric, prototype_temperature = check_head(
            head, prototype_metric, prototype_temperature, multi_label=multi_label
        )
        if pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {pooling!r}. Known: {', '.join(POOLINGS)}.")
        spec = get_backbone_spec(backbone_name)
        image_size = normalize_image_size(image_size)
        check_resize(resize)

        # === Layers ===
        self.backbone = backbone
        self.resizing = keras.layers.Resizing(*image_size, crop_to_aspect_ratio=resize == "crop", name="resize")
        self.augmenter = build_augmentation(augmentation or {}, seed=seed)
        self.preprocessor = BackbonePreprocessing(spec.preprocessing, name="preprocessing")
        self.pooler = POOLINGS[pooling](name="pooling")
        self.head_dropout = keras.layers.Dropout(dropout, name="dropout")
        self.head = build_head(
            len(class_names),
            multi_label=multi_label,
            head=head,
            metric=prototype_metric,
            temperature=prototype_temperature,
        )

        # === Functional model ===
        images = keras.Input(shape=(None, None, 3), name=INPUT_NAME)
        x = self.resizing(images)
        if self.augmenter is not None:
            x = self.augmenter(x)
        x = self.preprocessor(x)
        features = self.backbone(x)
        pooled = self.pooler(features)
        outputs = self.head(self.head_dropout(pooled))
        super().__init__(inputs={INPUT_NAME: images}, outputs=outputs, **kwargs)

        # === Config ===
        self.class_names = class_names
        self.backbone_name = spec.name
        self.image_size = image_size
        self.resize = resize
        self.pooling = pooling
        self.dropout = dropout
        self.multi_label = multi_label
        self.augmentation = dict(augmentation) if augmentation else None
        self.seed = seed
        self.head_type = head
        self.prototype_metric = prototype_metric
        self.prototype_temperature = prototype_temperature

    task = "image"

    @property
    def features(self):
        return self.pooler.output

    def stage_layers(self):
        """The backbone's layers per named stage, from input to output."""
        return stage_layers(self.backbone, get_backbone_spec(self.backbone_name))

    def head_layers(self):
        """The layers after the backbone: they train in every stage."""
        return [self.pooler, self.head_dropout, self.head]

    def backbone_input_model(self):
        """A model from this model's inputs to the backbone's input (in inference
        mode: resized and preprocessed, not augmented)."""
        return keras.Model(self.inputs, self.preprocessor.output)

    def augmented_features(self, inputs):
        """Pooled features of randomly augmented images (the augmentation in
        training mode, the backbone in inference mode), for caching augmented
        views. Without augmentation, the same as `feature_model()`."""
        x = self.resizing(inputs[INPUT_NAME])
        if self.augmenter is not None:
            x = self.augmenter(x, training=True)
        return self.pooler(self.backbone(self.preprocessor(x), training=False))

    def _example_inputs(self, name, items):
        """Image file paths (loaded as `tfl.predict` does) or arrays `[N, H,
        W, 3]` / `[H, W, 3]` in [0, 255] -> input batches."""
        if isinstance(items, (str, os.PathLike)):
            items = [items]
        if isinstance(items, (list, tuple)) and items and all(isinstance(i, (str, os.PathLike)) for i in items):
            return [{INPUT_NAME: load_images(items, self.image_size, self.resize)}]
        arrays = [items] if isinstance(items, np.ndarray) and items.ndim == 4 else list(items)
        batches = []
        for array in arrays:
            array = np.asarray(array, dtype="float32")
            array = array[None] if array.ndim == 3 else array
            if array.ndim != 4 or array.shape[-1] != 3 or not len(array):
                raise ValueError(
                    f"The examples of class {name!r} must be image file paths or RGB arrays [N, height, width, 3] "
                    f"(or [height, width, 3]) in [0, 255]. Received: an array of shape {array.shape}"
                )
            batches.append({INPUT_NAME: array})
        if not batches:
            raise ValueError(f"Class {name!r} has no example. Give at least one image per new class.")
        return batches

    def get_config(self):
        return {
            "backbone": keras.layers.serialize(self.backbone),
            "class_names": self.class_names,
            "backbone_name": self.backbone_name,
            "image_size": list(self.image_size),
            "resize": self.resize,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "multi_label": self.multi_label,
            "augmentation": self.augmentation,
            "seed": self.seed,
            "head": self.head_type,
            "prototype_metric": self.prototype_metric,
            "prototype_temperature": self.prototype_temperature,
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,  # the mixed-precision policy its own layers were built under
            VERSION_KEY: __version__,
            FROZEN_HEAD_KEY: self.frozen_head_layer_names(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop(VERSION_KEY, None)
        frozen_head = config.pop(FROZEN_HEAD_KEY, ())
        # A model saved before `resize` existed was trained on stretched images.
        config.setdefault("resize", "stretch")
        with dtype_policy(config.pop("dtype", None)):
            config["backbone"] = keras.layers.deserialize(config["backbone"])
            model = cls(**config)
        model.freeze_head_layers(frozen_head)
        return model

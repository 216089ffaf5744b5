"""`FusionClassifier`: several branches (image backbones, a small CNN, a text encoder) fused before one head."""

import collections

import keras

from tfl import __version__
from tfl.backbones import get_backbone_spec
from tfl.backbones import stage_layers
from tfl.backbones.encoders import encoder_stages
from tfl.config.class_names import check_class_names
from tfl.config.data_config import check_resize
from tfl.model.classifier import FROZEN_HEAD_KEY
from tfl.model.classifier import Classifier
from tfl.model.dtype_policy import dtype_policy
from tfl.model.fusion import Fusion
from tfl.model.fusion_branches import check_branches
from tfl.model.model_file import VERSION_KEY
from tfl.model.preprocessing import BackbonePreprocessing
from tfl.model.small_cnn import SMALL_CNN_PREPROCESSING
from tfl.model.small_cnn import small_cnn_stages
from tfl.model.text_pooling import FirstTokenPooling
from tfl.model.text_pooling import MaskedMeanPooling
from tfl.serialization import keras_serializable

IMAGE_INPUT = "images"
TOKEN_INPUTS = ("token_ids", "segment_ids", "padding_mask")
IMAGE_POOLINGS = {"avg": keras.layers.GlobalAveragePooling2D, "max": keras.layers.GlobalMaxPooling2D}


class BranchBackbones:
    """The backbones of a `FusionClassifier`, seen as one backbone.

    What `tfl.train.apply_stage` needs of `model.backbone`: a settable
    `trainable` flag (set on every branch) and `layers` (every branch's
    layers, in branch order); and what `tfl.train.recalibrate_batchnorm`
    needs: `inputs`, the inputs of the image branches' backbones, in the
    order of `FusionClassifier.backbone_input_model()`'s outputs (text
    encoders have no BatchNorm). Index by branch name for one backbone.

    Args:
        backbones: {branch name: backbone model}, in branch order.

    Examples:

    >>> backbones = BranchBackbones({"source": model.backbone, "target": small_cnn()})
    >>> backbones["target"].name, len(backbones.layers) == len(model.backbone.layers) + len(small_cnn().layers)
    ('small_cnn', True)
    """

    def __init__(self, backbones, image_branches=()):
        self._backbones = collections.OrderedDict(backbones)
        self._image_branches = list(image_branches)

    def __getitem__(self, name):
        return self._backbones[name]

    def __iter__(self):
        return iter(self._backbones.values())

    def __len__(self):
        return len(self._backbones)

    def names(self):
        return list(self._backbones)

    @property
    def layers(self):
        return [layer for backbone in self for layer in backbone.layers]

    @property
    def inputs(self):
        return [self._backbones[name].input for name in self._image_branches]

    @property
    def trainable(self):
        return any(backbone.trainable for backbone in self)

    @trainable.setter
    def trainable(self, value):
        for backbone in self:
            backbone.trainable = value

    @property
    def weights(self):
        return [w for backbone in self for w in backbone.weights]

    @property
    def trainable_weights(self):
        return [w for backbone in self for w in backbone.trainable_weights]

    @property
    def non_trainable_weights(self):
        return [w for backbone in self for w in backbone.non_trainable_weights]


@keras_serializable
class FusionClassifier(Classifier):
    """A functional classifier with several branches fused before one head.

    Each branch is a backbone with its own preprocessing and pooling: a
    registered image backbone (`image_branch`), a small CNN (`cnn_branch`) or
    a KerasHub text encoder (`text_branch`). Image branches share the input
    `images` (RGB in [0, 255], any size; each branch resizes, by the model's
    `resize`, and preprocesses its own way); text branches share
    `token_ids`, `segment_ids` and `padding_mask`. The pooled features of the
    branches go through one `Fusion` layer, dropout and the output layer.

    Staged unfreezing works per branch: `stage_layers()` names each stage
    after its branch ("source/conv5", "target/block2", "text/layer_1"), so a
    `Stage(unfreeze="target/block1+target/block2")` trains those blocks only,
    and a branch made with `frozen=True` never trains. `"top N"` counts
    stages across branches in branch order (the last branch's top stages
    first); name stages to be explicit. `model.backbone` is a
    `BranchBackbones` over all branches.

    Args:
        branches: a list of branch dicts from `image_branch`, `cnn_branch` or
            `text_branch`, with unique names.
        class_names: the names of the classes, in output order.
        fusion: a `Fusion` mode ("weighted", "gated", "concat"), or a dict
            of `Fusion` arguments, e.g. `{"mode": "weighted", "learnable": True}`.
        dropout: dropout rate before the output layer.
        multi_label: sigmoid outputs instead of a softmax.
        resize: how each image branch brings images to its `image_size`:
            "crop" centre-crops them to its aspect ratio first
            (`keras.layers.Resizing` with `crop_to_aspect_ratio=True`, the
            rule `tfl.data` follows), "stretch" resizes the whole image.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Examples:

    >>> source = tfl.backbones.build_backbone("mobilenet_v3_small", weights=None, image_size=32)
    >>> model = FusionClassifier(
    ...     [image_branch("source", source, "mobilenet_v3_small", 32, frozen=True),
    ...      cnn_branch("target", small_cnn((32, 32)), 32)],
    ...     ["cat", "dog"], fusion={"mode": "weighted", "learnable": True})
    >>> list(model.stage_layers())
    ['target/block1', 'target/block2']
    >>> model.predict({"images": np.zeros((1, 50, 40, 3))}).shape
    (1, 2)
    """

    def __init__(
        self, branches, class_names, fusion="concat", dropout=0.2, multi_label=False, resize="crop", **kwargs
    ):
        class_names = check_class_names(class_names, multi_label=multi_label)
        branches = check_branches(branches)
        check_resize(resize)
        fusion = {"mode": fusion} if isinstance(fusion, str) else dict(fusion)

        # === Layers ===
        self.backbones = {b["name"]: b["backbone"] for b in branches}
        self.resizers = {}
        self.preprocessors = {}
        self.poolers = {}
        for b in branches:
            name = b["name"]
            if b["kind"] == "text":
                self.poolers[name] = _text_pooler(b, name=f"{name}_pooling")
                continue
            mode = (
                SMALL_CNN_PREPROCESSING if b["kind"] == "cnn" else get_backbone_spec(b["backbone_name"]).preprocessing
            )
            self.resizers[name] = keras.layers.Resizing(
                *b["image_size"], crop_to_aspect_ratio=resize == "crop", name=f"{name}_resize"
            )
            self.preprocessors[name] = BackbonePreprocessing(mode, name=f"{name}_preprocessing")
            self.poolers[name] = IMAGE_POOLINGS[b["pooling"]](name=f"{name}_pooling")
        self.fusion = Fusion(**fusion, name="fusion")
        self.head_dropout = keras.layers.Dropout(dropout, name="dropout")
        self.head = keras.layers.Dense(
            len(class_names),
            activation="sigmoid" if multi_label else "softmax",
            dtype="float32",
            name="predictions",
        )

        # === Functional model ===
        inputs = {}
        features = []
        for b in branches:
            name = b["name"]
            if b["kind"] == "text":
                names = [n for n in TOKEN_INPUTS if n in _input_names(b["backbone"])]
                for n in names:
                    inputs.setdefault(n, keras.Input(shape=(None,), dtype="int32", name=n))
                outputs = b["backbone"]({n: inputs[n] for n in names})
                features.append(_pool_text(self.poolers[name], b["pooling"], outputs, inputs["padding_mask"]))
                continue
            images = inputs.setdefault(IMAGE_INPUT, keras.Input(shape=(None, None, 3), name=IMAGE_INPUT))
            x = self.preprocessors[name](self.resizers[name](images))
            features.append(self.poolers[name](b["backbone"](x)))
        fused = self.fusion(features)
        outputs = self.head(self.head_dropout(fused))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.branches = [{k: v for k, v in b.items() if k not in ("backbone", "preprocessor")} for b in branches]
        self.text_preprocessor = next((b["preprocessor"] for b in branches if b.get("preprocessor") is not None), None)
        self._branch_preprocessors = {b["name"]: b.get("preprocessor") for b in branches}
        self.class_names = class_names
        self.fusion_config = fusion
        self.dropout = dropout
        self.multi_label = multi_label
        self.resize = resize

    @property
    def task(self):
        """"image" (image and CNN branches), "text" (text branches only) or
        "image_text"."""
        kinds = {"text" if b["kind"] == "text" else "image" for b in self.branches}
        return kinds.pop() if len(kinds) == 1 else "image_text"

    @property
    def features(self):
        return self.fusion.output

    @property
    def backbone(self):
        """Every branch's backbone as one `BranchBackbones` (for `apply_stage`)."""
        return BranchBackbones(self.backbones, [b["name"] for b in self.branches if b["kind"] != "text"])

    @property
    def image_size(self):
        """(height, width) to decode images to for a model whose branches all read
        images (the largest branch size; each branch resizes again): what
        `tfl predict`, `tfl evaluate` and the export read. Models with a text
        branch have none (AttributeError)."""
        sizes = [tuple(b["image_size"]) for b in self.branches if b["kind"] != "text"]
        if not sizes or len(sizes) != len(self.branches):
            raise AttributeError(
                f"{self.name!r} has a text branch: it takes token ids besides images, so it has no single image_size."
            )
        return max(sizes, key=lambda size: size[0] * size[1])

    @property
    def preprocessor(self):
        """The tokenizer of a model whose branches all read text (the text
        branches share the token inputs): `text_preprocessor`, what `tfl
        predict` and `tfl evaluate` read. Models with an image branch, or
        built without a preprocessor, have none (AttributeError)."""
        if self.task != "text" or self.text_preprocessor is None:
            reason = "has an image branch" if self.task != "text" else "was built without a text preprocessor"
            raise AttributeError(f"{self.name!r} {reason}, so it has no preprocessor for raw text.")
        return self.text_preprocessor

    @property
    def branch_names(self):
        return [b["name"] for b in self.branches]

    def stage_layers(self):
        """The layers per named stage, "branch/stage", branch by branch from
        input to output; branches built with `frozen=True` have none."""
        stages = collections.OrderedDict()
        for b in self.branches:
            if b["frozen"]:
                continue
            for stage, layers in _branch_stages(b, self.backbones[b["name"]]).items():
                stages[f"{b['name']}/{stage}"] = layers
        return stages

    def head_layers(self):
        """The layers after the backbones, trained in every stage: the
        poolings, the fusion layer, dropout and the output layer."""
        return [*self.poolers.values(), self.fusion, self.head_dropout, self.head]

    def backbone_input_model(self):
        """A model from this model's inputs to the input of each image
        branch's backbone (resized and preprocessed), a list in branch order."""
        return keras.Model(self.inputs, [self.preprocessors[name].output for name in self.preprocessors])

    def branch_feature_model(self):
        """A model from this model's inputs to each branch's pooled features
        ({branch name: features}), before fusion."""
        return keras.Model(self.inputs, {name: pooler.output for name, pooler in self.poolers.items()})

    def get_config(self):
        branches = []
        for b in self.branches:
            config = dict(b, backbone=keras.layers.serialize(self.backbones[b["name"]]))
            if b["kind"] == "text":
                preprocessor = self._branch_preprocessors[b["name"]]
                config["preprocessor"] = None if preprocessor is None else keras.layers.serialize(preprocessor)
            branches.append(config)
        return {
            "branches": branches,
            "class_names": self.class_names,
            "fusion": self.fusion_config,
            "dropout": self.dropout,
            "multi_label": self.multi_label,
            "resize": self.resize,
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,  # the mixed-precision policy its own layers were built under
            VERSION_KEY: __version__,
            # KerasHub backbones keep no per-layer `trainable` in their config;
            # without this a loaded model would train more variables than were
            # saved with the optimizer state.
            "frozen_layers": {
                b["name"]: [
                    layer.name for layer in self.backbones[b["name"]].layers if layer.weights and not layer.trainable
                ]
                for b in self.branches
            },
            FROZEN_HEAD_KEY: self.frozen_head_layer_names(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop(VERSION_KEY, None)
        frozen = config.pop("frozen_layers", {})
        frozen_head = config.pop(FROZEN_HEAD_KEY, ())
        # A model saved before `resize` existed was trained on stretched images.
        config.setdefault("resize", "stretch")
        with dtype_policy(config.pop("dtype", None)):
            config["branches"] = [_deserialized_branch(b) for b in config["branches"]]
            model = cls(**config)
        for name, layer_names in frozen.items():
            for layer in model.backbones[name].layers:
                if layer.name in layer_names:
                    layer.trainable = False
        model.freeze_head_layers(frozen_head)
        return model


def _deserialized_branch(b):
    with keras.name_scope(b["name"]):  # variable paths "<branch>/...", as build_fusion_model makes them
        b = dict(b, backbone=keras.layers.deserialize(b["backbone"]))
    if b.get("preprocessor") is not None:
        b["preprocessor"] = keras.layers.deserialize(b["preprocessor"])
    return b


def _branch_stages(branch, backbone):
    if branch["kind"] == "image":
        return stage_layers(backbone, get_backbone_spec(branch["backbone_name"]))
    if branch["kind"] == "cnn":
        return small_cnn_stages(backbone)
    stages = encoder_stages(backbone)
    if branch["pooling"] != "cls":
        stages.pop("pooler", None)  # unused: it stays frozen
    return stages


def _text_pooler(branch, name):
    if branch["pooling"] == "mean":
        return MaskedMeanPooling(name=name)
    if _has_pooler(branch["backbone"]):
        return keras.layers.Identity(name=name)
    return FirstTokenPooling(name=name)


def _pool_text(pooler, pooling, outputs, padding_mask):
    has_pooler = isinstance(outputs, dict) and "pooled_output" in outputs
    sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
    if pooling == "mean":
        return pooler(sequence, padding_mask)
    return pooler(outputs["pooled_output"] if has_pooler else sequence)


def _has_pooler(encoder):
    return isinstance(encoder.output, dict) and "pooled_output" in encoder.output


def _input_names(encoder):
    inputs = encoder.input
    return set(inputs) if isinstance(inputs, dict) else {"token_ids"}

"""`BackboneSpec`: everything tfl needs to know about one backbone, as plain data."""

import dataclasses
from collections.abc import Callable

PREPROCESSING_MODES = ("caffe", "tf", "torch", "none")


@dataclasses.dataclass(frozen=True)
class Boundary:
    """Where a named stage begins, found by a regular expression on layer names.

    `starts_at(pattern)`: the stage begins with the first layer (in the model's
    topological order) whose name matches; the previous stage ends at that
    layer's immediate dominator, the last layer every path to it goes through.
    This is the block input, whether or not that layer has a stable name
    (Inception's stem ends in an auto-named `max_pooling2d_1`).

    `starts_after(pattern)`: the previous stage ends with the last matching
    layer itself (for cells that read the two previous cells, as in NASNet).
    """

    pattern: str
    after: bool = False


def starts_at(pattern):
    """The boundary of a stage that begins with the first layer whose name
    matches the regular expression `pattern`.

    Examples:

    >>> starts_at("^conv4_block1_")
    Boundary(pattern='^conv4_block1_', after=False)
    """
    return Boundary(pattern)


def starts_after(pattern):
    """The boundary of a stage that begins after the last layer whose name
    matches `pattern` (for cells that read the two previous cells, as in NASNet).

    Examples:

    >>> starts_after("^normal_concat_4$")
    Boundary(pattern='^normal_concat_4$', after=True)
    """
    return Boundary(pattern, after=True)


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """A backbone of `keras.applications` (or one's own: `register_backbone`), described as data.

    Args:
        name: tfl's name for it, e.g. "resnet50".
        constructor: the Keras application function, e.g.
            `keras.applications.ResNet50`.
        module: the `keras.applications` module holding its
            `preprocess_input`, e.g. "resnet" ("" for one's own backbone:
            `preprocessing` says how its pixels are prepared).
        preprocessing: how raw pixels in [0, 255] are prepared: "caffe" (RGB
            to BGR, ImageNet mean subtracted), "tf" (scaled to [-1, 1]),
            "torch" (scaled to [0, 1], ImageNet mean and std), or "none" (the
            model has its own preprocessing layers).
        default_size: the input size its ImageNet weights were trained at.
        min_size: the smallest input height and width it accepts.
        feature_dim: channels of its last feature map (the pooled feature size).
        stages: names of its stages from input to output. The first is a name;
            each later one is `(name, Boundary)`. Every layer belongs to exactly
            one stage; layers after the last boundary belong to the last stage.
        family: the model family, for listing.
        kwargs: extra keyword arguments for `constructor`, e.g. the width
            multiplier `alpha` of a MobileNet variant.
        imagenet_sizes: the square input sizes Keras publishes ImageNet
            weights for, each trained at that size (MobileNet v1: 128, 160,
            192, 224). Empty: one file, trained at `default_size`, which
            Keras loads at any input size. See `imagenet_weights_size`.

    Examples:

    >>> spec = get_backbone_spec("resnet50_v2")
    >>> spec.preprocessing, spec.default_size, spec.min_size, spec.feature_dim
    ('tf', 224, 32, 2048)
    """

    name: str
    constructor: Callable
    module: str
    preprocessing: str
    default_size: int
    min_size: int
    feature_dim: int
    stages: tuple
    family: str
    kwargs: dict = dataclasses.field(default_factory=dict)
    imagenet_sizes: tuple = ()

    def __post_init__(self):
        if self.preprocessing not in PREPROCESSING_MODES:
            raise ValueError(f"{self.name}: unknown preprocessing {self.preprocessing!r}")

    @property
    def stage_names(self):
        return (self.stages[0],) + tuple(name for name, _ in self.stages[1:])

    @property
    def keras_name(self):
        return self.constructor.__name__

    @property
    def from_keras_applications(self):
        """True for the backbones of `keras.applications`; False for one
        added with `tfl.backbones.register_backbone`."""
        return self.constructor.__module__.split(".")[0] == "keras"

    def imagenet_weights_size(self, image_size):
        """The input size of the ImageNet weights `weights="imagenet"` loads
        for `image_size` (height, width).

        The rule, Keras' own (tfl keeps it so that a user with a network and
        one without get the same model): a square size Keras publishes
        weights for gets the weights trained at that size; any other size
        gets those trained at `default_size`. All layers are convolutional,
        so weights trained at one size run at any other.

        Examples:

        >>> from tfl.backbones import get_backbone_spec
        >>> spec = get_backbone_spec("mobilenet_025")
        >>> spec.imagenet_weights_size((160, 160)), spec.imagenet_weights_size((200, 200))
        (160, 224)
        """
        height, width = image_size
        if height == width and height in self.imagenet_sizes:
            return height
        return self.default_size

"""The backbones of the tests that check how tfl trains, saves and serves (stages,
resume, export...), not how well features transfer.

`SMALL_BACKBONE` is `tiny_stages_net`, registered here with
`tfl.backbones.register_backbone`: an 18-layer network with MobileNetV3Small's
stage names (stem, stride8, stride16, stride32), its output stride (32), its
built-in [-1, 1] rescaling and a BatchNormalization layer in every stage. Its
training step traces in about a fifth of the time of MobileNetV3Small's
minimalistic variant (one epoch at 32 px: about 1 s against 5 s, measured in
docs/performance.md), and with random weights its features are far from zero.

Registration lasts for the process: a test that runs tfl in another process
starts it with `tfl_command` (which registers the network first); the image
notebooks' tests import this module in the kernel.

Transfer itself is tested on the real ImageNet weights (tests marked `real_weights`).
"""

import sys
from pathlib import Path

import keras

from tfl.backbones import BackboneSpec
from tfl.backbones import get_backbone_spec
from tfl.backbones import register_backbone
from tfl.backbones import starts_at

FEATURES = 48
# (stage, its convolutions as (channels, kernel, stride)); BatchNorm follows the first of each.
_STAGES = (
    ("stem", ((8, 3, 2), (8, 3, 2))),
    ("stride8", ((16, 3, 2),)),
    ("stride16", ((24, 3, 2),)),
    ("stride32", ((32, 3, 2), (FEATURES, 1, 1))),
)


def tiny_stages_net(include_top=False, weights=None, input_shape=None, name="tiny_stages_net"):
    """A headless functional network in `keras.applications`' calling convention."""
    if include_top or weights is not None:
        raise ValueError(
            "tiny_stages_net is a random test network: no top, no pretrained weights. "
            f"Received: include_top={include_top}, weights={weights!r}"
        )
    images = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="rescaling")(images)
    for stage, channels in _STAGES:
        for i, (width, kernel, strides) in enumerate(channels):
            x = keras.layers.Conv2D(width, kernel, strides=strides, padding="same", use_bias=False, name=f"{stage}_conv{i}")(x)
            if i == 0:
                x = keras.layers.BatchNormalization(name=f"{stage}_bn")(x)
            x = keras.layers.ReLU(name=f"{stage}_relu{i}")(x)
    return keras.Model(images, x, name=name)


def _register():
    try:
        return get_backbone_spec("tiny_stages_net")
    except ValueError:
        return register_backbone(
            BackboneSpec(
                name="tiny_stages_net",
                constructor=tiny_stages_net,
                module="",
                preprocessing="none",
                default_size=32,
                min_size=32,
                feature_dim=FEATURES,
                stages=("stem",) + tuple((stage, starts_at(f"^{stage}_conv0$")) for stage, _ in _STAGES[1:]),
                family="tests",
            )
        )


SMALL_BACKBONE = _register().name


def tfl_command(*arguments):
    """The command line that runs `tfl ARGUMENTS` in a new Python process,
    with `SMALL_BACKBONE` registered there first."""
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
        "import tests.small_backbone; from tfl.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    return [sys.executable, "-c", code, *map(str, arguments)]

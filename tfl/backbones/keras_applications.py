"""Every image classification model of `keras.applications`, as `BackboneSpec`s.

Stages follow each family's own structure: the ResNet and DenseNet `conv2` ...
`conv5` groups, VGG and EfficientNet blocks, Inception mixed blocks, ConvNeXt
stages. Families without named groups (MobileNet, NASNet) are split where the
feature map shrinks, named by output stride (`stride8` = 1/8 of the input).

Families with a width multiplier have one entry per variant that Keras
publishes ImageNet weights for, named in timm's style: `mobilenet_025` is
MobileNet v1 with `alpha=0.25` (plain `mobilenet` is alpha 1.0),
`mobilenet_v2_140` MobileNetV2 with `alpha=1.4`, `mobilenet_v3_small_075` and
`mobilenet_v3_large_minimalistic` the MobileNetV3 variants.
"""

from keras import applications as apps

from tfl.backbones.spec import BackboneSpec
from tfl.backbones.spec import starts_after
from tfl.backbones.spec import starts_at


def _resnet_stages(v2):
    first = "preact_bn" if v2 else "1_conv"
    return ("stem",) + tuple(
        (f"conv{k}", starts_at(rf"^conv{k}_block1_{first}$")) for k in range(2, 6)
    )


def _resnet(name, constructor, module, v2):
    return BackboneSpec(
        name=name,
        constructor=constructor,
        module=module,
        preprocessing="tf" if v2 else "caffe",
        default_size=224,
        min_size=32,
        feature_dim=2048,
        stages=_resnet_stages(v2),
        family="ResNetV2" if v2 else "ResNet",
    )


def _vgg(name, constructor, module):
    return BackboneSpec(
        name=name,
        constructor=constructor,
        module=module,
        preprocessing="caffe",
        default_size=224,
        min_size=32,
        feature_dim=512,
        stages=("block1",) + tuple((f"block{k}", starts_at(rf"^block{k}_conv1$")) for k in range(2, 6)),
        family="VGG",
    )


def _densenet(name, constructor, feature_dim):
    return BackboneSpec(
        name=name,
        constructor=constructor,
        module="densenet",
        preprocessing="torch",
        default_size=224,
        min_size=32,
        feature_dim=feature_dim,
        stages=("stem",) + tuple((f"conv{k}", starts_at(rf"^conv{k}_block1_0_bn$")) for k in range(2, 6)),
        family="DenseNet",
    )


def _efficientnet(name, constructor, size, feature_dim):
    return BackboneSpec(
        name=name,
        constructor=constructor,
        module="efficientnet",
        preprocessing="none",
        default_size=size,
        min_size=32,
        feature_dim=feature_dim,
        stages=("stem",)
        + tuple((f"block{k}", starts_at(rf"^block{k}a_")) for k in range(1, 8))
        + (("top", starts_at(r"^top_conv$")),),
        family="EfficientNet",
    )


def _efficientnet_v2(name, constructor, size, feature_dim, blocks):
    return BackboneSpec(
        name=name,
        constructor=constructor,
        module="efficientnet_v2",
        preprocessing="none",
        default_size=size,
        min_size=32,
        feature_dim=feature_dim,
        stages=("stem",)
        + tuple((f"block{k}", starts_at(rf"^block{k}a_")) for k in range(1, blocks + 1))
        + (("top", starts_at(r"^top_conv$")),),
        family="EfficientNetV2",
        kwargs={"include_preprocessing": True},
    )


def _convnext(name, constructor, feature_dim):
    return BackboneSpec(
        name=name,
        constructor=constructor,
        module="convnext",
        preprocessing="none",
        default_size=224,
        min_size=32,
        feature_dim=feature_dim,
        stages=(
            "stem",
            ("stage_0", starts_at(r"^convnext_[a-z]+_stage_0_block_0_depthwise_conv$")),
            ("stage_1", starts_at(r"^convnext_[a-z]+_downsampling_block_0$")),
            ("stage_2", starts_at(r"^convnext_[a-z]+_downsampling_block_1$")),
            ("stage_3", starts_at(r"^convnext_[a-z]+_downsampling_block_2$")),
        ),
        family="ConvNeXt",
        kwargs={"include_preprocessing": True},
    )


def _nasnet(name, constructor, size, feature_dim, cells):
    return BackboneSpec(
        name=name,
        constructor=constructor,
        module="nasnet",
        preprocessing="tf",
        default_size=size,
        min_size=32,
        feature_dim=feature_dim,
        stages=(
            "stem",
            ("stride8", starts_after(r"^reduction_concat_stem_2$")),
            ("stride16", starts_after(rf"^normal_concat_{cells - 1}$")),
            ("stride32", starts_after(rf"^normal_concat_{2 * cells}$")),
        ),
        family="NASNet",
    )


def _width_kwargs(alpha, **extra):
    """Constructor arguments of a width variant: `alpha` only where it is not 1."""
    return ({} if alpha == 1.0 else {"alpha": alpha}) | extra


def _mobilenet(name, alpha):
    return _strided(
        name, apps.MobileNet, "mobilenet", "tf", int(1024 * alpha), "conv_pad_{}", (2, 4, 6, 12), "MobileNet",
        _width_kwargs(alpha), imagenet_sizes=(128, 160, 192, 224),
    )


def _mobilenet_v2(name, alpha):
    # The last 1x1 convolution keeps 1280 channels below alpha 1 and widens above it.
    feature_dim = 1280 if alpha <= 1.0 else _round_to_8(1280 * alpha)
    # Widths 1.3 and 1.4 were released at 224 only: Keras asks for a 1.4_96 file that does not
    # exist (HTTP 404; keras-team/keras#16452, keras-applications#169).
    sizes = (224,) if alpha > 1.0 else (96, 128, 160, 192, 224)
    return _strided(
        name, apps.MobileNetV2, "mobilenet_v2", "tf", feature_dim, "block_{}_expand", (1, 3, 6, 13), "MobileNetV2",
        _width_kwargs(alpha), imagenet_sizes=sizes,
    )


def _strided(name, constructor, module, preprocessing, feature_dim, first_layer, blocks, family, kwargs,
             imagenet_sizes=()):
    """A MobileNet in stages by output stride: after the stem, one stage per entry of
    `blocks` (the last ones of stride4 ... stride32), each beginning at the layer that
    `first_layer` names for its first block."""
    strides = ("stride4", "stride8", "stride16", "stride32")[-len(blocks):]
    return BackboneSpec(
        name=name,
        constructor=constructor,
        module=module,
        preprocessing=preprocessing,
        default_size=224,
        min_size=32,
        feature_dim=feature_dim,
        stages=("stem",)
        + tuple((stage, starts_at(f"^{first_layer.format(block)}$")) for stage, block in zip(strides, blocks)),
        family=family,
        kwargs=kwargs,
        imagenet_sizes=imagenet_sizes,
    )


def _round_to_8(value):
    """MobileNet's channel rounding: the nearest multiple of 8, never 10% below `value`."""
    rounded = max(8, int(value + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * value else rounded


_V3_SMALL = (1, 3, 8)
_V3_LARGE = (1, 3, 6, 12)


def _mobilenet_v3(name, constructor, feature_dim, first_blocks, alpha=1.0, minimalistic=False):
    kwargs = _width_kwargs(alpha, include_preprocessing=True) | ({"minimalistic": True} if minimalistic else {})
    return _strided(
        name, constructor, "mobilenet_v3", "none", feature_dim, "expanded_conv_{}_expand", first_blocks,
        "MobileNetV3", kwargs,
    )


SPECS = (
    _vgg("vgg16", apps.VGG16, "vgg16"),
    _vgg("vgg19", apps.VGG19, "vgg19"),
    _resnet("resnet50", apps.ResNet50, "resnet", v2=False),
    _resnet("resnet101", apps.ResNet101, "resnet", v2=False),
    _resnet("resnet152", apps.ResNet152, "resnet", v2=False),
    _resnet("resnet50_v2", apps.ResNet50V2, "resnet_v2", v2=True),
    _resnet("resnet101_v2", apps.ResNet101V2, "resnet_v2", v2=True),
    _resnet("resnet152_v2", apps.ResNet152V2, "resnet_v2", v2=True),
    BackboneSpec(
        name="xception",
        constructor=apps.Xception,
        module="xception",
        preprocessing="tf",
        default_size=299,
        min_size=71,
        feature_dim=2048,
        stages=(
            "block1",
            ("block2", starts_at(r"^block2_sepconv1$")),
            ("block3", starts_at(r"^block3_sepconv1_act$")),
            ("block4", starts_at(r"^block4_sepconv1_act$")),
            ("middle", starts_at(r"^block5_sepconv1_act$")),
            ("exit", starts_at(r"^block13_sepconv1_act$")),
        ),
        family="Xception",
    ),
    BackboneSpec(
        name="inception_v3",
        constructor=apps.InceptionV3,
        module="inception_v3",
        preprocessing="tf",
        default_size=299,
        min_size=75,
        feature_dim=2048,
        stages=("stem",) + tuple((f"mixed{k}", starts_at(rf"^mixed{k}$")) for k in range(11)),
        family="Inception",
    ),
    BackboneSpec(
        name="inception_resnet_v2",
        constructor=apps.InceptionResNetV2,
        module="inception_resnet_v2",
        preprocessing="tf",
        default_size=299,
        min_size=75,
        feature_dim=1536,
        stages=(
            "stem",
            ("block35", starts_at(r"^block35_1_mixed$")),
            ("mixed_6a", starts_at(r"^mixed_6a$")),
            ("block17", starts_at(r"^block17_1_mixed$")),
            ("mixed_7a", starts_at(r"^mixed_7a$")),
            ("block8", starts_at(r"^block8_1_mixed$")),
            ("conv_7b", starts_at(r"^conv_7b$")),
        ),
        family="Inception",
    ),
    _mobilenet("mobilenet", 1.0),
    _mobilenet("mobilenet_075", 0.75),
    _mobilenet("mobilenet_050", 0.5),
    _mobilenet("mobilenet_025", 0.25),
    _mobilenet_v2("mobilenet_v2", 1.0),
    _mobilenet_v2("mobilenet_v2_035", 0.35),
    _mobilenet_v2("mobilenet_v2_050", 0.5),
    _mobilenet_v2("mobilenet_v2_075", 0.75),
    _mobilenet_v2("mobilenet_v2_130", 1.3),
    _mobilenet_v2("mobilenet_v2_140", 1.4),
    _mobilenet_v3("mobilenet_v3_small", apps.MobileNetV3Small, 576, first_blocks=_V3_SMALL),
    _mobilenet_v3("mobilenet_v3_small_075", apps.MobileNetV3Small, 432, first_blocks=_V3_SMALL, alpha=0.75),
    _mobilenet_v3(
        "mobilenet_v3_small_minimalistic", apps.MobileNetV3Small, 576, first_blocks=_V3_SMALL, minimalistic=True
    ),
    _mobilenet_v3("mobilenet_v3_large", apps.MobileNetV3Large, 960, first_blocks=_V3_LARGE),
    _mobilenet_v3("mobilenet_v3_large_075", apps.MobileNetV3Large, 720, first_blocks=_V3_LARGE, alpha=0.75),
    _mobilenet_v3(
        "mobilenet_v3_large_minimalistic", apps.MobileNetV3Large, 960, first_blocks=_V3_LARGE, minimalistic=True
    ),
    _densenet("densenet121", apps.DenseNet121, 1024),
    _densenet("densenet169", apps.DenseNet169, 1664),
    _densenet("densenet201", apps.DenseNet201, 1920),
    _nasnet("nasnet_mobile", apps.NASNetMobile, 224, 1056, cells=4),
    _nasnet("nasnet_large", apps.NASNetLarge, 331, 4032, cells=6),
    _efficientnet("efficientnet_b0", apps.EfficientNetB0, 224, 1280),
    _efficientnet("efficientnet_b1", apps.EfficientNetB1, 240, 1280),
    _efficientnet("efficientnet_b2", apps.EfficientNetB2, 260, 1408),
    _efficientnet("efficientnet_b3", apps.EfficientNetB3, 300, 1536),
    _efficientnet("efficientnet_b4", apps.EfficientNetB4, 380, 1792),
    _efficientnet("efficientnet_b5", apps.EfficientNetB5, 456, 2048),
    _efficientnet("efficientnet_b6", apps.EfficientNetB6, 528, 2304),
    _efficientnet("efficientnet_b7", apps.EfficientNetB7, 600, 2560),
    _efficientnet_v2("efficientnet_v2_b0", apps.EfficientNetV2B0, 224, 1280, blocks=6),
    _efficientnet_v2("efficientnet_v2_b1", apps.EfficientNetV2B1, 240, 1280, blocks=6),
    _efficientnet_v2("efficientnet_v2_b2", apps.EfficientNetV2B2, 260, 1408, blocks=6),
    _efficientnet_v2("efficientnet_v2_b3", apps.EfficientNetV2B3, 300, 1536, blocks=6),
    _efficientnet_v2("efficientnet_v2_s", apps.EfficientNetV2S, 384, 1280, blocks=6),
    _efficientnet_v2("efficientnet_v2_m", apps.EfficientNetV2M, 480, 1280, blocks=7),
    _efficientnet_v2("efficientnet_v2_l", apps.EfficientNetV2L, 480, 1280, blocks=7),
    _convnext("convnext_tiny", apps.ConvNeXtTiny, 768),
    _convnext("convnext_small", apps.ConvNeXtSmall, 768),
    _convnext("convnext_base", apps.ConvNeXtBase, 1024),
    _convnext("convnext_large", apps.ConvNeXtLarge, 1536),
    _convnext("convnext_xlarge", apps.ConvNeXtXLarge, 2048),
)

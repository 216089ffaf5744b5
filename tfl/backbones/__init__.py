"""Backbones: every image model of `keras.applications` as registry entries, and KerasHub text encoders.

The only place that knows each model's preprocessing, sizes and named stages.
"""

from tfl.backbones.backbone import backbone_stages
from tfl.backbones.backbone import build_backbone
from tfl.backbones.backbone import resolve_image_size
from tfl.backbones.backbone import save_backbone
from tfl.backbones.encoders import build_encoder
from tfl.backbones.encoders import build_text_preprocessor
from tfl.backbones.encoders import save_encoder
from tfl.backbones.registry import backbone_names
from tfl.backbones.registry import get_backbone_spec
from tfl.backbones.registry import list_backbones
from tfl.backbones.registry import register_backbone
from tfl.backbones.spec import BackboneSpec
from tfl.backbones.spec import starts_after
from tfl.backbones.spec import starts_at
from tfl.backbones.stages import stage_layer_names
from tfl.backbones.stages import stage_layers
from tfl.backbones.weights import WeightsUnavailableError
from tfl.backbones.weights import keras_cache_dir

__all__ = [
    "BackboneSpec",
    "WeightsUnavailableError",
    "backbone_names",
    "backbone_stages",
    "build_backbone",
    "build_encoder",
    "build_text_preprocessor",
    "get_backbone_spec",
    "keras_cache_dir",
    "list_backbones",
    "register_backbone",
    "resolve_image_size",
    "save_backbone",
    "save_encoder",
    "stage_layer_names",
    "stage_layers",
    "starts_after",
    "starts_at",
]

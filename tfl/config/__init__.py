"""Configuration: frozen dataclasses loaded from YAML, and training stages."""

from tfl.config.config import (
    CONFIG_VERSION,
    AugmentationConfig,
    Config,
    DataConfig,
    ModelConfig,
    TrainConfig,
    migrate,
)
from tfl.config.stage import Stage, parse_stages

__all__ = [
    "CONFIG_VERSION",
    "AugmentationConfig",
    "Config",
    "DataConfig",
    "ModelConfig",
    "Stage",
    "TrainConfig",
    "migrate",
    "parse_stages",
]

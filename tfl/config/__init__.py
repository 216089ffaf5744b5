"""Configuration: frozen dataclasses loaded from YAML, and training stages."""

from tfl.config.config import CONFIG_VERSION
from tfl.config.config import AdaptationConfig
from tfl.config.config import AugmentationConfig
from tfl.config.config import Config
from tfl.config.config import DataConfig
from tfl.config.config import FusionConfig
from tfl.config.config import ModelConfig
from tfl.config.config import TrainConfig
from tfl.config.config import migrate
from tfl.config.stage import Stage
from tfl.config.stage import parse_stages

__all__ = [
    "CONFIG_VERSION",
    "AdaptationConfig",
    "AugmentationConfig",
    "Config",
    "DataConfig",
    "FusionConfig",
    "ModelConfig",
    "Stage",
    "TrainConfig",
    "migrate",
    "parse_stages",
]

"""Configuration: frozen dataclasses loaded from YAML, and training stages.

`CONFIG_VERSION` is the version written into every saved config; `migrate`
brings older ones to it.
"""

from tfl.config.config import CONFIG_VERSION
from tfl.config.config import Config
from tfl.config.config import migrate
from tfl.config.data_config import DataConfig
from tfl.config.model_config import AugmentationConfig
from tfl.config.model_config import FusionConfig
from tfl.config.model_config import ModelConfig
from tfl.config.stage import Stage
from tfl.config.stage import parse_stages
from tfl.config.train_config import AdaptationConfig
from tfl.config.train_config import SelfTrainingConfig
from tfl.config.train_config import TrainConfig
from tfl.config.value_error import ConfigValueError

__all__ = [
    "CONFIG_VERSION",
    "AdaptationConfig",
    "AugmentationConfig",
    "Config",
    "ConfigValueError",
    "DataConfig",
    "FusionConfig",
    "ModelConfig",
    "SelfTrainingConfig",
    "Stage",
    "TrainConfig",
    "migrate",
    "parse_stages",
]

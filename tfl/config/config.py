"""The experiment configuration: frozen dataclasses, loaded from and saved to YAML.

`Config` holds one section each of `DataConfig` (`tfl.config.data_config`),
`ModelConfig` (`tfl.config.model_config`) and `TrainConfig`
(`tfl.config.train_config`), and checks what spans sections.
Unknown keys are errors that name the key and its closest known spelling;
renamed keys are migrated in `migrate`, the only place that knows old names.
"""

import copy
import dataclasses
import difflib
import os
import types
import typing

import yaml

from tfl.config.data_config import DataConfig
from tfl.config.model_config import IMAGE_POOLINGS
from tfl.config.model_config import TASKS
from tfl.config.model_config import TEXT_POOLINGS
from tfl.config.model_config import ModelConfig
from tfl.config.stage import Stage
from tfl.config.train_config import ADAPTATION_METHODS
from tfl.config.train_config import TrainConfig
from tfl.config.value_error import ConfigValueError

CONFIG_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole experiment: task, data, model and training plan.

    Args:
        task: "image", "text", or None to detect it from `data.source` (a
            `.csv`, `.tsv` or `.jsonl` file or the demo's "tweets" is text; a
            TFDS data set is text when its features hold text).

    Examples:

    >>> config = Config.from_dict({"model": {"backbone": "resnet50", "weights": None}})
    >>> config.model.backbone
    'resnet50'
    """

    task: str | None = None
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    version: int = CONFIG_VERSION

    def __post_init__(self):
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"Unknown task {self.task!r}. Known: {', '.join(TASKS)} (or null to detect it).")
        if self.task is not None and self.model.pooling is not None:
            allowed = IMAGE_POOLINGS if self.task == "image" else TEXT_POOLINGS
            if self.model.pooling not in allowed:
                raise ValueError(
                    f"pooling {self.model.pooling!r} does not apply to task {self.task!r}. "
                    f"Known for {self.task}: {', '.join(allowed)}."
                )
        method = self.train.adaptation.method
        if method is not None and self.data.target_source is None:
            raise ValueError(
                f"train.adaptation.method is {method!r} but data.target_source is not set. "
                "Give the target images (--target-data FOLDER, or 'digits_recoloured'), or set the method to null."
            )
        if self.data.target_source is not None and method is None:
            raise ValueError(
                f"data.target_source is {self.data.target_source!r} but train.adaptation.method is not set. "
                f"Choose one of {', '.join(ADAPTATION_METHODS)} (--adapt METHOD), or remove the target data."
            )
        self_training = self.train.self_training.method
        if self_training is not None and self.data.unlabeled_source is None:
            raise ValueError(
                f"train.self_training.method is {self_training!r} but data.unlabeled_source is not set. Give the "
                "unlabelled examples (--unlabeled PATH: a folder of images or a text file), or set the method to null."
            )
        if self.data.unlabeled_source is not None and self_training is None:
            raise ValueError(
                f"data.unlabeled_source is {self.data.unlabeled_source!r} but train.self_training.method is not "
                "set. Set it to 'pseudo_label' (--unlabeled sets it), or remove the unlabelled data."
            )
        if self.task == "text" and self_training == "fixmatch":
            raise ValueError(
                "train.self_training.method 'fixmatch' augments images; this is a text task. "
                "Use method 'pseudo_label' (rounds of pseudo-labels) for text."
            )
        if self.task == "text" and (method is not None or self.model.fusion.mode is not None):
            raise ValueError(
                "model.fusion and train.adaptation apply to image tasks in the config; for text, use "
                "tfl.adapt.DomainAdaptation and tfl.model.build_fusion_model from Python."
            )

    @classmethod
    def from_dict(cls, raw):
        return _from_dict(cls, migrate(dict(raw or {})), "")

    @classmethod
    def from_yaml(cls, path, overrides=None):
        """Loads a YAML config file. Unknown keys and wrong types are errors.

        `overrides` ({dotted key: value}, as `replace` takes them; `tfl
        train`'s flags) are set in the file's mapping before it is read, so
        they win also where one key is read with another: a plan string of
        the file's `train.stages` without EPOCHS gets the overriding
        `train.epochs`. The file is checked on its own first; its errors
        name it.
        """
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Config file not found: {path}")
        with open(path, encoding="utf-8") as f:
            try:
                raw = yaml.safe_load(f)
            except yaml.YAMLError as e:
                raise ValueError(f"{path} is not valid YAML: {e}") from None
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f"{path} must hold a mapping of sections (data, model, train).")
        try:
            config = cls.from_dict(raw)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        return cls.from_dict(_with_dotted(migrate(dict(raw or {})), overrides)) if overrides else config

    def to_dict(self):
        return _to_plain(self)

    def to_yaml(self):
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **sections):
        """Returns a copy with fields replaced by dotted keys, e.g.
        `config.replace(**{"model.backbone": "resnet50"})`."""
        return Config.from_dict(_with_dotted(self.to_dict(), sections))


def migrate(raw):
    """Brings a config dict written by an older tfl to the current version.

    Every key rename goes here, with the version that made it, so old config
    files keep loading.

    Examples:

    >>> migrate({"version": 1, "model": {"backbone": "resnet50"}})["version"] == CONFIG_VERSION
    True
    """
    version = raw.get("version", CONFIG_VERSION)
    if not isinstance(version, int) or version > CONFIG_VERSION:
        raise ValueError(
            f"This config has version {version!r}, newer than this tfl understands ({CONFIG_VERSION}). Upgrade tfl."
        )
    raw["version"] = CONFIG_VERSION
    return raw


def _with_dotted(raw, values):
    """A copy of a config mapping with `values` ({dotted key: value}) set in it,
    sections made where it has none."""
    updated = copy.deepcopy(raw)
    for dotted, value in values.items():
        node = updated
        *parents, leaf = dotted.split(".")
        for key in parents:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[leaf] = _to_plain(value)
    return updated


def _from_dict(cls, raw, path):
    if not isinstance(raw, dict):
        raise ValueError(f"{path or 'config'} must be a mapping. Received: {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"Unknown config key {_join(path, key)!r}.{hint} "
                f"Known keys{' of ' + path if path else ''}: {', '.join(fields)}."
            )
    kwargs = {k: _coerce(v, hints[k], _join(path, k)) for k, v in raw.items()}
    try:
        return cls(**kwargs)
    except ConfigValueError as e:
        raise e.within(path) from None
    except ValueError as e:
        raise ValueError(f"{path + ': ' if path else ''}{e}") from None


def _coerce(value, annotation, path):
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(value, option, path)
            except ValueError as e:
                errors.append((str(e), typing.get_origin(option) is dict and isinstance(value, dict)))
        raise ValueError(next((error for error, matching in errors if matching), errors[0][0]))
    if annotation is Stage and isinstance(value, str):
        return value  # e.g. "probe" or "top2:3:1e-4": parsed by TrainConfig, with its epochs
    if dataclasses.is_dataclass(annotation):
        return _from_dict(annotation, value, path)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{path} must be a mapping. Received: {value!r}")
        return {_coerce(k, args[0], f"{path} key"): _coerce(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if origin is tuple:
        if isinstance(value, int) and args == (int, int):
            return value  # a square size, expanded by ModelConfig
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{path} must be a list. Received: {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{path} must have {len(args)} items. Received: {value!r}")
        return tuple(_coerce(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{path} must be true or false. Received: {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{path} must be an integer. Received: {value!r}")
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"{path} must be a number. Received: {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        if path.endswith("unfreeze") and isinstance(value, (int, list)):
            return value  # normalised by Stage
        raise ValueError(f"{path} must be a string. Received: {value!r}")
    raise TypeError(f"Unsupported config type {annotation!r} at {path}")  # a bug in tfl


def _to_plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    return value


def _join(path, key):
    return f"{path}.{key}" if path else str(key)

"""The config reference (docs/config.md), generated from the dataclasses.

Run `python -m tfl.config.reference > docs/config.md` after changing a config
class; a test fails while the file is stale.
"""

import dataclasses
import inspect
import re
import typing

from tfl.config.config import Config
from tfl.config.data_config import DataConfig
from tfl.config.model_config import AugmentationConfig
from tfl.config.model_config import FusionConfig
from tfl.config.model_config import ModelConfig
from tfl.config.stage import Stage
from tfl.config.train_config import AdaptationConfig
from tfl.config.train_config import SelfTrainingConfig
from tfl.config.train_config import TrainConfig

SECTIONS = (
    ("data", DataConfig),
    ("model", ModelConfig),
    ("model.augmentation", AugmentationConfig),
    ("model.fusion", FusionConfig),
    ("train", TrainConfig),
    ("train.stages[]", Stage),
    ("train.adaptation", AdaptationConfig),
    ("train.self_training", SelfTrainingConfig),
)


def _arg_docs(cls):
    """{argument: description} from the `Args:` section of a Google-style docstring."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    match = re.search(r"^Args:\n(.*?)(?:\n\S|\Z)", doc, re.S | re.M)
    if not match:
        return {}
    docs, name = {}, None
    for line in match.group(1).splitlines():
        head = re.match(r"^    (\w+): ?(.*)$", line)
        if head:
            name = head.group(1)
            docs[name] = head.group(2).strip()
        elif name and line.strip():
            docs[name] += " " + line.strip()
    return docs


def _type_name(annotation):
    text = str(annotation) if typing.get_origin(annotation) else annotation.__name__
    return text.replace("typing.", "").replace("tfl.config.stage.", "").replace("NoneType", "None")


def _default(field):
    if field.default is not dataclasses.MISSING:
        value = field.default
        return "see below" if dataclasses.is_dataclass(value) else repr(value)
    return "required"


def config_reference():
    """The markdown reference of every config key."""
    lines = [
        "# Config reference",
        "",
        "Generated from `tfl/config/` by `python -m tfl.config.reference > docs/config.md`;",
        "a test fails when this file is stale. Unknown keys are errors.",
        "",
        "```yaml",
        Config().to_yaml().rstrip(),
        "```",
        "",
        f"`version`: the config format, currently {Config().version}. Older files are migrated when loaded.",
    ]
    for section, cls in SECTIONS:
        hints = typing.get_type_hints(cls)
        docs = _arg_docs(cls)
        lines += ["", f"## `{section}`", "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for field in dataclasses.fields(cls):
            meaning = docs.get(field.name, "").replace("|", "\\|")
            kind = _type_name(hints[field.name]).replace("|", "\\|")
            lines.append(f"| `{field.name}` | `{kind}` | `{_default(field)}` | {meaning} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(config_reference(), end="")

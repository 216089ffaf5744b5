"""tfl: transfer learning for Keras 3 on TensorFlow.

The public API is imported lazily, so `tfl --help` and `import tfl` stay fast
and TensorFlow loads only when a function that needs it is first used.

Examples:

>>> import tfl
>>> data = tfl.data.from_directory("flowers/", image_size=(224, 224))
>>> model = tfl.build_model(tfl.ModelConfig(backbone="resnet50"), data.class_names)
>>> history = tfl.fit_stages(model, data, tfl.default_stages(weights="imagenet"))
>>> report = tfl.evaluate_model(model, data.validation, data.class_names)
>>> tfl.export_model(model, "flowers")     # saved_models/flowers/1, for TF Serving
"""

import importlib

__version__ = "0.1.0"

# Public name -> module that defines it.
_LAZY = {
    "Config": "tfl.config",
    "DataConfig": "tfl.config",
    "ModelConfig": "tfl.config",
    "TrainConfig": "tfl.config",
    "AugmentationConfig": "tfl.config",
    "Stage": "tfl.config",
    "parse_stages": "tfl.config",
    "ImageData": "tfl.data",
    "load_data": "tfl.data",
    "list_backbones": "tfl.backbones",
    "build_backbone": "tfl.backbones",
    "save_backbone": "tfl.backbones",
    "ImageClassifier": "tfl.model",
    "build_model": "tfl.model",
    "load_model": "tfl.model",
    "fit_stages": "tfl.train",
    "fine_tune": "tfl.train",
    "default_stages": "tfl.train",
    "find_learning_rate": "tfl.train",
    "LRFinderResult": "tfl.train",
    "evaluate_model": "tfl.evaluate",
    "classification_metrics": "tfl.evaluate",
    "interpret": "tfl.evaluate",
    "TextClassifier": "tfl.model",
    "TextData": "tfl.data",
    "load_text_data": "tfl.data",
    "export_model": "tfl.export",
    "predict": "tfl.prediction",
    "Predictions": "tfl.prediction",
    "Classifier": "tfl.model",
    "FitOptions": "tfl.train",
    "rank": "tfl.select",
    "RankResult": "tfl.select",
}
_SUBPACKAGES = ("config", "data", "backbones", "model", "train", "adapt", "evaluate", "export", "cli")


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"tfl.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))

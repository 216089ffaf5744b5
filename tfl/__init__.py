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

# The names promoted to the top level (`tfl.build_model`, ...), by the module
# that exports them. A subpackage's names come from its `__init__.py` `__all__`
# (the one list of its public API; tests/test_public_api.py checks the two
# agree); the top-level modules contribute their entry points.
_PROMOTED = {
    "tfl.config": ("Config", "DataConfig", "ModelConfig", "TrainConfig", "AugmentationConfig", "Stage", "parse_stages"),
    "tfl.data": ("ImageData", "TextData", "load_data", "load_text_data"),
    "tfl.backbones": ("list_backbones", "build_backbone", "save_backbone"),
    "tfl.model": ("Classifier", "ImageClassifier", "TextClassifier", "build_model", "load_model"),
    "tfl.train": ("fit_stages", "fine_tune", "default_stages", "find_learning_rate", "LRFinderResult", "FitOptions"),
    "tfl.evaluate": ("evaluate_model", "classification_metrics", "interpret"),
    "tfl.export": ("export_model",),
    "tfl.experiment": ("run_experiment",),
    "tfl.prediction": ("predict", "Predictions"),
    "tfl.explanation": ("explain", "Explanations"),
    "tfl.run_plan": ("plan_run",),
    "tfl.select": ("rank", "RankResult"),
    "tfl.cross_validation": ("cross_validate",),
    "tfl.tuning": ("tune", "TuneResult"),
    "tfl.few_shot": ("evaluate_few_shot", "evaluate_few_shot_features", "FewShotResult"),
}
# Public name -> module that defines it, read by `__getattr__`.
_LAZY = {name: module for module, names in _PROMOTED.items() for name in names}
_SUBPACKAGES = (
    "config", "data", "backbones", "model", "train", "adapt", "evaluate", "attribution", "select", "export", "cli"
)


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"tfl.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))

"""Models: the image classifier, its preprocessing and augmentation layers."""

from tfl.model.augmentation import build_augmentation
from tfl.model.batchnorm import batchnorm_layers
from tfl.model.batchnorm import freeze_batchnorm
from tfl.model.builder import build_model
from tfl.model.builder import load_model
from tfl.model.image_classifier import INPUT_NAME
from tfl.model.image_classifier import ImageClassifier
from tfl.model.preprocessing import BackbonePreprocessing

__all__ = [
    "INPUT_NAME",
    "BackbonePreprocessing",
    "ImageClassifier",
    "batchnorm_layers",
    "build_augmentation",
    "build_model",
    "freeze_batchnorm",
    "load_model",
]

"""Models: the image and text classifiers, their preprocessing, augmentation and pooling layers."""

from tfl.model.augmentation import build_augmentation
from tfl.model.batchnorm import batchnorm_layers
from tfl.model.batchnorm import freeze_batchnorm
from tfl.model.builder import build_model
from tfl.model.builder import load_model
from tfl.model.image_classifier import INPUT_NAME
from tfl.model.image_classifier import ImageClassifier
from tfl.model.preprocessing import BackbonePreprocessing
from tfl.model.text_classifier import TextClassifier
from tfl.model.text_pooling import BidirectionalLSTMPooling
from tfl.model.text_pooling import FirstTokenPooling
from tfl.model.text_pooling import MaskedMeanPooling

__all__ = [
    "INPUT_NAME",
    "BackbonePreprocessing",
    "BidirectionalLSTMPooling",
    "FirstTokenPooling",
    "ImageClassifier",
    "MaskedMeanPooling",
    "TextClassifier",
    "batchnorm_layers",
    "build_augmentation",
    "build_model",
    "freeze_batchnorm",
    "load_model",
]

"""Models: the image, text and fusion classifiers, their preprocessing, augmentation, pooling and fusion layers."""

from tfl.model.augmentation import build_augmentation
from tfl.model.batchnorm import batchnorm_layers
from tfl.model.batchnorm import freeze_batchnorm
from tfl.model.builder import UnsafeModelError
from tfl.model.builder import build_model
from tfl.model.builder import load_model
from tfl.model.fusion import Fusion
from tfl.model.fusion_builder import build_fusion_model
from tfl.model.fusion_classifier import BranchBackbones
from tfl.model.fusion_classifier import FusionClassifier
from tfl.model.fusion_classifier import cnn_branch
from tfl.model.fusion_classifier import image_branch
from tfl.model.fusion_classifier import text_branch
from tfl.model.image_classifier import INPUT_NAME
from tfl.model.image_classifier import ImageClassifier
from tfl.model.model_file import ModelFileError
from tfl.model.preprocessing import BackbonePreprocessing
from tfl.model.small_cnn import small_cnn
from tfl.model.small_cnn import small_cnn_stages
from tfl.model.text_classifier import TextClassifier
from tfl.model.text_pooling import BidirectionalLSTMPooling
from tfl.model.text_pooling import FirstTokenPooling
from tfl.model.text_pooling import MaskedMeanPooling

__all__ = [
    "INPUT_NAME",
    "BackbonePreprocessing",
    "BidirectionalLSTMPooling",
    "BranchBackbones",
    "FirstTokenPooling",
    "Fusion",
    "FusionClassifier",
    "ImageClassifier",
    "MaskedMeanPooling",
    "ModelFileError",
    "TextClassifier",
    "UnsafeModelError",
    "batchnorm_layers",
    "build_augmentation",
    "build_fusion_model",
    "build_model",
    "cnn_branch",
    "freeze_batchnorm",
    "image_branch",
    "load_model",
    "small_cnn",
    "small_cnn_stages",
    "text_branch",
]

"""Models: the image, text and fusion classifiers, their preprocessing, augmentation, pooling and fusion layers.

`INPUT_NAME` ("images") is the name of an image classifier's input, the
same in the tf.data element and the export signature.
"""

from tfl.model.augmentation import build_augmentation
from tfl.model.batchnorm import batchnorm_layers
from tfl.model.batchnorm import freeze_batchnorm
from tfl.model.builder import UnsafeModelError
from tfl.model.builder import build_model
from tfl.model.builder import load_model
from tfl.model.classifier import Classifier
from tfl.model.classifier import TrainingOptions
from tfl.model.fusion import Fusion
from tfl.model.fusion_branches import cnn_branch
from tfl.model.fusion_branches import image_branch
from tfl.model.fusion_branches import text_branch
from tfl.model.fusion_builder import build_fusion_model
from tfl.model.fusion_classifier import BranchBackbones
from tfl.model.fusion_classifier import FusionClassifier
from tfl.model.image_classifier import INPUT_NAME
from tfl.model.image_classifier import ImageClassifier
from tfl.model.losses import HeadAccuracy
from tfl.model.losses import HeadLoss
from tfl.model.losses import balanced_class_weights
from tfl.model.losses import head_loss
from tfl.model.losses import head_metrics
from tfl.model.model_file import ModelFileError
from tfl.model.prebuild import prebuild_optimizer
from tfl.model.preprocessing import BackbonePreprocessing
from tfl.model.prototype_head import PrototypeHead
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
    "Classifier",
    "FirstTokenPooling",
    "Fusion",
    "FusionClassifier",
    "HeadAccuracy",
    "HeadLoss",
    "ImageClassifier",
    "MaskedMeanPooling",
    "ModelFileError",
    "PrototypeHead",
    "TextClassifier",
    "TrainingOptions",
    "UnsafeModelError",
    "balanced_class_weights",
    "batchnorm_layers",
    "build_augmentation",
    "build_fusion_model",
    "build_model",
    "cnn_branch",
    "freeze_batchnorm",
    "head_loss",
    "head_metrics",
    "image_branch",
    "load_model",
    "prebuild_optimizer",
    "small_cnn",
    "small_cnn_stages",
    "text_branch",
]

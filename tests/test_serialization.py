"""`keras_serializable` registers tfl's Keras classes under `tfl>ClassName`, and nothing else."""

import dataclasses

import keras
import pytest

from tfl import adapt
from tfl import model
from tfl import train
from tfl.serialization import keras_serializable

REGISTERED = [
    (adapt, "DomainAdaptation"),
    (adapt, "GradientReversal"),
    (model, "BackbonePreprocessing"),
    (model, "BidirectionalLSTMPooling"),
    (model, "Classifier"),
    (model, "FirstTokenPooling"),
    (model, "Fusion"),
    (model, "FusionClassifier"),
    (model, "HeadLoss"),
    (model, "ImageClassifier"),
    (model, "MaskedMeanPooling"),
    (model, "TextClassifier"),
    (train, "ScaledUpdates"),
    (train, "StageSchedule"),
]


@pytest.mark.parametrize("package, name", REGISTERED, ids=[name for _, name in REGISTERED])
def test_a_keras_class_keeps_its_registered_name(package, name):
    cls = getattr(package, name)
    assert keras.saving.get_registered_name(cls) == f"tfl>{name}"
    assert keras.saving.get_registered_object(f"tfl>{name}") is cls
    assert not hasattr(cls, "__tfl_public__")


def test_a_callback_is_not_registered():
    assert keras.saving.get_registered_name(adapt.UnsupervisedScores) != "tfl>UnsupervisedScores"


def test_a_function_is_refused_with_the_accepted_bases():
    with pytest.raises(TypeError, match=r"keras\.layers\.Layer.*Received: <function"):
        keras_serializable(lambda: None)


def test_a_dataclass_is_refused():
    @dataclasses.dataclass
    class Record:
        value: int

    with pytest.raises(TypeError, match="Received: <class"):
        keras_serializable(Record)

"""`transfer_check`: frozen features against a random copy's, by a
cross-validated linear probe on the training examples only."""

import types

import numpy as np

from tests.small_backbone import SMALL_BACKBONE
from tests.train.helpers import tiny_image_data
from tfl.config import ModelConfig
from tfl.model import build_model
from tfl.train import transfer_check


def _model():
    return build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32, dropout=0.0),
                       ["dark", "bright"])


def test_features_that_lost_the_input_do_not_beat_a_random_copy():
    model = _model()
    for variable in model.backbone.trainable_weights:  # a backbone whose output ignores its input
        variable.assign(np.zeros(variable.shape, "float32"))

    check = transfer_check(model, tiny_image_data(n=40))

    assert check is not None and not check.features_transfer
    assert check.pretrained_accuracy == 0.5 and check.pretrained_log_loss >= check.random_log_loss
    assert check.examples == 40 and check.folds == 5
    assert check.to_dict()["features_transfer"] is False
    assert "do not beat random features" in str(check)


def test_repeated_examples_count_once_and_too_few_give_no_verdict():
    data = tiny_image_data(n=40)
    repeated = types.SimpleNamespace(**{**vars(data), "train": data.train.repeat(3), "num_train": 120})
    assert transfer_check(_model(), repeated).examples == 40  # no copies across folds

    assert transfer_check(_model(), tiny_image_data(n=6)) is None  # 3 a class: fewer than 2 a fold

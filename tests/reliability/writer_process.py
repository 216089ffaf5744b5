"""Writes tfl's results over and over until killed: `model.keras` (two
models in turn), `report.json` and TF Serving versions. Used by
test_atomic_writes.py, which kills it with SIGKILL at random moments.

    python -m tests.reliability.writer_process FOLDER
"""

import os
import sys

import keras

from tests.small_backbone import SMALL_BACKBONE
from tfl.config import ModelConfig
from tfl.evaluate import write_json
from tfl.export import export_model
from tfl.io import save_keras as save_model
from tfl.model import build_model

MAX_VERSIONS = 3


def main(folder):
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(backbone=SMALL_BACKBONE, weights=None, image_size=32), ["a", "b"])
    model(keras.ops.zeros((1, 32, 32, 3)))
    bias = model.head.bias
    payload = list(range(1_000_000))  # a report of a few MB: its write takes a while
    version = 0
    for round_ in range(10_000):
        bias.assign([float(round_ % 2), float(round_ % 2)])  # which of the two models a file holds
        save_model(model, os.path.join(folder, "model.keras"))
        write_json(os.path.join(folder, "report.json"), {"round": round_, "payload": payload, "end": True})
        if version < MAX_VERSIONS:
            version += 1
            export_model(model, "m", base=os.path.join(folder, "saved_models"), version=version)
        with open(os.path.join(folder, "rounds"), "w") as file:
            file.write(str(round_ + 1))


if __name__ == "__main__":
    main(sys.argv[1])

"""The fixed cost of recomputing BatchNorm statistics (`recalibrate_batchnorm`).

Stages that train BatchNorm end with a pass that recomputes the moving
statistics, and `tfl.explain`'s sanity checks recompute them after each
randomised stage, so a program calls it once per model or more. This script
builds `--models` fresh MobileNetV3Small networks (random weights) at
`--size` px and recalibrates each on the same `--images` random images in
batches of `--batch-size` (a short last batch included), timing each call, and
says whether TensorFlow logged its "triggered tf.function retracing" warning.

    python bench/recalibration.py [--models 6] [--images 10] [--batch-size 4] [--size 64]

About 20 seconds on 2 CPU cores. To compare with another version of tfl, run it
with `PYTHONPATH` pointing at that checkout.
"""

import argparse
import io
import logging
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

import tfl
from tfl.config import ModelConfig
from tfl.evaluate import format_table
from tfl.model import batchnorm_layers
from tfl.model import build_model
from tfl.train import recalibrate_batchnorm


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    log = io.StringIO()
    tf.get_logger().addHandler(logging.StreamHandler(log))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (args.images, args.size, args.size, 3)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices((images, np.arange(args.images) % 2)).batch(args.batch_size)
    rows = []
    for index in range(args.models):
        config = ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=args.size)
        model = build_model(config, ["a", "b"], task="image")
        start = time.perf_counter()
        recalibrate_batchnorm(model, dataset, batchnorm_layers(model.backbone))
        rows.append({"model": index, "seconds": time.perf_counter() - start})
    print(f"tfl from {os.path.dirname(tfl.__file__)}")
    print(format_table(rows, ["model", "seconds"]))
    print(
        f"median {np.median([r['seconds'] for r in rows]):.2f} s a call; "
        f"retracing warning logged: {'retracing' in log.getvalue()}"
    )


if __name__ == "__main__":
    main()

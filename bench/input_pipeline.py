"""Training images per second from JPEG files in class folders vs the same images in memory.

Writes the embedded digits (`tfl.data.load_digits`, 1,797 images, upscaled to
`--source-size` RGB) as JPEG files in one sub-folder per class, decodes them
back to a numpy array, and trains the same small model (MobileNetV3Small,
random weights, every layer trainable, Adam) on three pipelines of the same
pixels: `from_directory` on the folder (decoded once, then cached in memory),
the same without the cache (decoded every epoch), and `from_arrays` on the
decoded array. One model trains on all three, so its training step is traced
once, on a warm-up batch, before any timing. Epochs of the three pipelines are
interleaved (one epoch of each in turn, the order rotating each round) so the
load from other processes falls on all of them alike. The first epoch of each
(which decodes the files, or resizes the array, and fills the cache) is
reported apart from the steady-state epochs; `steady_vs_memory` is the median
over rounds of the ratio to the memory pipeline's epoch in the same round,
`medians_vs_memory` the ratio of the median epochs and `fastest_vs_memory` of
the fastest ones (the least disturbed by other processes' bursts).
The pipeline alone (iterating the training batches without a model) is timed
too: it is the ceiling the model's step must stay under.

    python bench/input_pipeline.py [--image-size 96] [--epochs 8] [--batch-size 32]
        [--json bench/input_pipeline.json]

Prints a table and writes JSON.
"""

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.data import from_directory
from tfl.data import load_digits
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import make_optimizer
from tfl.train.freezing import apply_stage

VARIANTS = ("folder (cached)", "folder (no cache)", "memory (from_arrays)")


def write_jpegs(folder, size):
    """Writes the digits as `size` x `size` RGB JPEGs in class folders; returns
    the decoded images (as a training pipeline would read them) and labels."""
    images, labels = load_digits()
    paths = []
    for index, (image, label) in enumerate(zip(images, labels)):
        large = tf.image.resize(image[..., None].astype(np.float32), (size, size), method="bilinear")
        rgb = tf.cast(tf.round(tf.repeat(large, 3, axis=-1)), tf.uint8)
        class_folder = os.path.join(folder, str(label))
        os.makedirs(class_folder, exist_ok=True)
        path = os.path.join(class_folder, f"{index:04d}.jpg")
        tf.io.write_file(path, tf.io.encode_jpeg(rgb, quality=90))
        paths.append(path)
    decoded = np.stack([tf.io.decode_jpeg(tf.io.read_file(p), channels=3).numpy() for p in paths])
    return decoded, labels


def pipeline_rate(dataset, count):
    """Images per second of iterating `dataset` once, without a model."""
    start = time.perf_counter()
    for _ in dataset:
        pass
    return count / (time.perf_counter() - start)


def make_model(image_size, class_names, warm_up):
    """The model, its training step traced on `warm_up` batches."""
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=image_size), class_names)
    stage = Stage("all", learning_rate=1e-3, train_batchnorm=True)
    apply_stage(model, stage)
    model.compile(make_optimizer(stage, steps=1))
    model.fit(warm_up, epochs=1, verbose=0, shuffle=False)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-size", type=int, default=160, help="side of the JPEG files in pixels")
    parser.add_argument("--image-size", type=int, default=96, help="side the pipelines resize to")
    parser.add_argument("--epochs", type=int, default=8, help="epochs per pipeline, the first apart")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "input_pipeline.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()
    folder = tempfile.mkdtemp(prefix="tfl-bench-jpegs-")
    try:
        decoded, labels = write_jpegs(folder, args.source_size)
        jpeg_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)
        common = dict(image_size=args.image_size, batch_size=args.batch_size, validation_split=0.2, seed=1)
        sources = {
            VARIANTS[0]: from_directory(folder, cache=True, **common),
            VARIANTS[1]: from_directory(folder, cache=False, **common),
            VARIANTS[2]: from_arrays(decoded, labels, cache=True, **common),
        }
        num_train = sources[VARIANTS[0]].num_train
        assert all(data.num_train == num_train for data in sources.values())

        # The pipelines alone, on fresh copies (so the models' caches start empty).
        alone = {name: {"first": [], "steady": []} for name in VARIANTS}
        copies = {
            VARIANTS[0]: from_directory(folder, cache=True, **common),
            VARIANTS[1]: from_directory(folder, cache=False, **common),
            VARIANTS[2]: from_arrays(decoded, labels, cache=True, **common),
        }
        for epoch in range(args.epochs):
            for name in VARIANTS:
                rate = pipeline_rate(copies[name].train, num_train)
                alone[name]["first" if epoch == 0 else "steady"].append(rate)

        warm_up = from_arrays(decoded[:64], labels[:64], cache=False, **common).train
        model = make_model(args.image_size, sources[VARIANTS[0]].class_names, warm_up)
        seconds = {name: [] for name in VARIANTS}
        for epoch in range(args.epochs):
            shift = epoch % len(VARIANTS)
            for name in VARIANTS[shift:] + VARIANTS[:shift]:  # interleaved, rotating order
                start = time.perf_counter()
                model.fit(sources[name].train, epochs=1, verbose=0, shuffle=False)
                seconds[name].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    memory = seconds[VARIANTS[2]]
    rows = []
    for name in VARIANTS:
        ratios = [m / s for m, s in zip(memory[1:], seconds[name][1:])]
        rows.append(
            {
                "pipeline": name,
                "first_epoch_img_s": round(num_train / seconds[name][0], 1),
                "steady_img_s": round(num_train / statistics.median(seconds[name][1:]), 1),
                "steady_vs_memory": f"{statistics.median(ratios):.3f}",
                "medians_vs_memory": f"{statistics.median(memory[1:]) / statistics.median(seconds[name][1:]):.3f}",
                "fastest_vs_memory": f"{min(memory[1:]) / min(seconds[name][1:]):.3f}",
                "alone_first_img_s": round(alone[name]["first"][0]),
                "alone_steady_img_s": round(statistics.median(alone[name]["steady"])),
            }
        )
    print(
        f"MobileNetV3Small (random weights, all layers training), {args.image_size}x{args.image_size}, "
        f"batch {args.batch_size}, {num_train} training images ({args.source_size}x{args.source_size} "
        f"JPEGs, {jpeg_bytes / 1e6:.1f} MB), {os.cpu_count()} CPU cores; steady = median of epochs "
        f"2-{args.epochs}; alone = the pipeline iterated without a model:"
    )
    print(format_table(rows, list(rows[0])))
    write_json(
        args.json,
        {
            "model": "mobilenet_v3_small",
            "weights": None,
            "image_size": args.image_size,
            "source_size": args.source_size,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "num_train": num_train,
            "jpeg_bytes": jpeg_bytes,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "seconds": round(time.perf_counter() - started, 1),
            "epoch_seconds": {name: [round(s, 3) for s in seconds[name]] for name in VARIANTS},
            "pipeline_alone_img_s": {k: {p: [round(r) for r in v] for p, v in d.items()} for k, d in alone.items()},
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()

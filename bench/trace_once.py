"""Two fixed costs that were paid twice: the first training step and the export.

- `fit`: without a `tf.distribute` strategy, Keras builds the optimizer inside
  the first traced training step, and TensorFlow traces a function whose first
  call created variables a second time. tfl builds it first
  (`tfl.model.prebuild_optimizer`, called by `Classifier.fit` and every stage).
- export: `keras.export.ExportArchive` traces each serving signature, then
  `tf.saved_model.save` traces it again (in a save, the cache key of a
  function holds the save's variable policy). `tfl.export_model` now saves a
  `tf.Module` of the signatures and weights, traced once, by the save.

For each backbone, prints the seconds of one `fit` epoch with every layer but
BatchNorm trainable (16 random 32 px images, batches of 4) with Keras' lazy
optimizer build and with `prebuild_optimizer`, and of one export through
`ExportArchive` and through `tfl.export_model`. Each measurement builds a
fresh model; a warm-up runs first so that TensorFlow's one-time start-up is
not counted.

    python bench/trace_once.py [--backbones mobilenet_v3_small,mobilenet_025] [--repeats 2] [--json bench/trace_once.json]

About 3 minutes on 2 CPU cores.
"""

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.export import export_model
from tfl.export.signatures import serving_signatures
from tfl.model import build_model
from tfl.model import prebuild_optimizer
from tfl.train import apply_stage


def _data():
    images = np.random.default_rng(0).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    return from_arrays(images, np.array([0, 1] * 8), class_names=["a", "b"], image_size=32, batch_size=4, seed=0)


def _model(backbone):
    keras.utils.set_random_seed(0)
    return build_model(ModelConfig(backbone=backbone, weights=None, image_size=32, dropout=0.0), ["a", "b"])


def fit_seconds(backbone, data, prebuild):
    model = _model(backbone)
    apply_stage(model, Stage("all"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = time.perf_counter()
    if prebuild:
        prebuild_optimizer(model)
    keras.Model.fit(model, data.train, epochs=1, verbose=0, shuffle=False)  # Keras' own fit, not Classifier.fit
    return time.perf_counter() - start


def export_seconds(backbone, archive, folder):
    model = _model(backbone)
    start = time.perf_counter()
    if archive:
        exported = keras.export.ExportArchive()
        for name, function in serving_signatures(model).items():
            exported.add_endpoint(name, function)
        exported.write_out(os.path.join(folder, f"archive-{time.monotonic_ns()}"), verbose=False)
    else:
        export_model(model, f"tfl-{time.monotonic_ns()}", base=folder)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", default="mobilenet_v3_small,mobilenet_025")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    data = _data()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        fit_seconds("mobilenet_025", data, prebuild=True)  # warm-up
        for backbone in args.backbones.split(","):
            for what, before, after in (
                ("fit, 1 epoch", lambda: fit_seconds(backbone, data, False), lambda: fit_seconds(backbone, data, True)),
                ("export", lambda: export_seconds(backbone, True, folder), lambda: export_seconds(backbone, False, folder)),
            ):
                old = [before() for _ in range(args.repeats)]
                new = [after() for _ in range(args.repeats)]
                rows.append({
                    "backbone": backbone,
                    "what": what,
                    "before_s": round(float(np.median(old)), 2),
                    "after_s": round(float(np.median(new)), 2),
                    "saved": f"{1 - np.median(new) / np.median(old):.0%}",
                })
                print(format_table(rows[-1:], list(rows[-1])), flush=True)
    print()
    print(f"{platform.node()}: {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print(format_table(rows, list(rows[0])))
    if args.json:
        write_json(args.json, {"machine": f"{os.cpu_count()} CPUs", "rows": rows})


if __name__ == "__main__":
    main()

"""Runs an export's signature in a fresh Python process that imports TensorFlow only.

    python serving_process.py EXPORT_DIR SIGNATURE INPUTS.npz OUTPUTS.npz [--text]

Reads the inputs (one array per signature input), calls the signature with
them at the batch sizes in the npz's `batch_sizes` (each a prefix of the
inputs), and writes every output per batch size plus the tfl and KerasHub
modules the process imported (there must be none).
"""

import sys

import numpy as np
import tensorflow as tf

if "--text" in sys.argv:
    import tensorflow_text  # noqa: F401  (registers the tokenizer's ops)

export_dir, signature, inputs_path, outputs_path = sys.argv[1:5]
arrays = dict(np.load(inputs_path, allow_pickle=False))
batch_sizes = [int(b) for b in arrays.pop("batch_sizes")]
function = tf.saved_model.load(export_dir).signatures[signature]
results = {}
for size in batch_sizes:
    outputs = function(**{name: tf.constant(value[:size]) for name, value in arrays.items()})
    for key, value in outputs.items():
        value = value.numpy()
        results[f"{size}/{key}"] = value.astype(str) if value.dtype == object else value
imported = sorted({name.split(".")[0] for name in sys.modules} & {"tfl", "keras_hub"})
results["imported"] = np.array(imported or ["none"])
np.savez(outputs_path, **results)

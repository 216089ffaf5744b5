"""What tfl's export adds at serving time: its SavedModel signatures vs a bare `tf.function`.

In one process, times the same Keras model on the same inputs called three
ways: a bare `tf.function` of the model (`model(inputs, training=False)`), the
serving function that `tfl.export` builds, called before export (the same
graph: input checks, the empty-batch `tf.cond`, top-k outputs), and that
signature of the exported SavedModel, loaded back with
`tf.saved_model.load(...).signatures[...]` (how TF Serving and a Python client
call it).

- Image: MobileNetV3Small (random weights) at 224x224, float pixels in
  (`serving_pixels`). A diagnostic row traces the bare function with the
  signature's input shape `[None, None, None, 3]`. A separate row times `serving_default`, which takes the
  same images as JPEG bytes: its extra cost is decoding and resizing.
- Text: MiniLM at sequence length 128, raw strings in (`serving_default`),
  against a `tf.function` of the preprocessor then the model.

Latency is the median over calls at batch 1, throughput the median over calls
at batch 64; the variants are called in turn (interleaved) after a warm-up
call each, so other processes' load falls on all alike. `vs_bare` is the
median over rounds of each call's time divided by the bare call's time in the
same round.

    python bench/serving_overhead.py [--calls 60] [--batch-calls 24] [--json bench/serving_overhead.json]

Prints a table and writes JSON.
"""

import argparse
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (the TF Text ops of the exported tokenizer)

from tfl.config import ModelConfig
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.export import export_model
from tfl.export.signatures import serving_signatures
from tfl.model import build_model

BATCH_SIZES = (1, 64)


def smooth_images(count, size, seed=0):
    """uint8 images that look more like photos than noise (JPEG sizes alike)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (count, size // 16, size // 16, 3)).astype(np.float32)
    return tf.cast(tf.image.resize(small, (size, size), method="bicubic"), tf.uint8).numpy().clip(0, 255)


def interleaved(variants, inputs, rounds):
    """{name: [seconds per call]}, calling each variant once per round, in turn."""
    for call, key in variants.values():
        call(inputs[key])  # warm-up: traces, or builds the loaded function's kernels
    seconds = {name: [] for name in variants}
    for index in range(rounds):
        names = list(variants)
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            call, key = variants[name]
            start = time.perf_counter()
            call(inputs[key])
            seconds[name].append(time.perf_counter() - start)
    return seconds


def rows_for(model_name, variants, inputs_by_batch, rounds_by_batch, baseline):
    rows = []
    for batch_size, inputs in inputs_by_batch.items():
        seconds = interleaved(variants, inputs, rounds_by_batch[batch_size])
        for name, times in seconds.items():
            ratios = [t / b for t, b in zip(times, seconds[baseline])]
            median = statistics.median(times)
            rows.append(
                {
                    "model": model_name,
                    "batch": batch_size,
                    "call": name,
                    "median_ms": f"{median * 1000:.1f}",
                    "per_second": round(batch_size / median, 1),
                    "vs_bare": f"{statistics.median(ratios):.3f}",
                    "calls": len(times),
                }
            )
    return rows


def image_rows(base, calls, batch_calls):
    model = build_model(ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=224), ["a", "b", "c"])
    functions = serving_signatures(model)
    loaded = tf.saved_model.load(export_model(model, "image", base=base).path)
    pixels_signature = loaded.signatures["serving_pixels"]
    bytes_signature = loaded.signatures["serving_default"]
    bare = tf.function(lambda images: model({"images": images}, training=False))
    # The signature's input shape, [None, None, None, 3]: the same function
    # traced once for any height and width, as the export must.
    dynamic = tf.function(
        lambda images: model({"images": images}, training=False),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
    )

    variants = {
        "bare tf.function(model)": (lambda x: bare(x).numpy(), "pixels"),
        "bare, input_signature [None,None,None,3]": (lambda x: dynamic(x).numpy(), "pixels"),
        "tfl signature fn, not exported": (lambda x: functions["serving_pixels"](x)["probabilities"].numpy(), "pixels"),
        "exported serving_pixels": (lambda x: pixels_signature(images=x)["probabilities"].numpy(), "pixels"),
        "exported serving_default (JPEG)": (lambda x: bytes_signature(images=x)["probabilities"].numpy(), "jpegs"),
    }
    inputs_by_batch = {}
    for batch_size in BATCH_SIZES:
        images = smooth_images(batch_size, 224)
        inputs_by_batch[batch_size] = {
            "pixels": tf.constant(images.astype(np.float32)),
            "jpegs": tf.constant([tf.io.encode_jpeg(image, quality=90).numpy() for image in images]),
        }
    rounds = {1: calls, 64: batch_calls}
    return rows_for("MobileNetV3Small 224", variants, inputs_by_batch, rounds, "bare tf.function(model)")


def text_rows(base, calls, batch_calls):
    model = build_model(
        ModelConfig(encoder="all_minilm_l6_v2", sequence_length=128), ["neg", "neu", "pos"], task="text"
    )
    functions = serving_signatures(model)
    loaded = tf.saved_model.load(export_model(model, "text", base=base).path)
    signature = loaded.signatures["serving_default"]
    bare = tf.function(lambda text: model(model.preprocessor(text), training=False))

    variants = {
        "bare tf.function(preprocessor, model)": (lambda x: bare(x).numpy(), "text"),
        "tfl signature fn, not exported": (lambda x: functions["serving_default"](x)["probabilities"].numpy(), "text"),
        "exported serving_default": (lambda x: signature(text=x)["probabilities"].numpy(), "text"),
    }
    sentences = [
        "My flight was delayed for three hours and nobody told us why.",
        "Great crew, thank you! The best landing I have had in years.",
        "Is the 7pm to Boston still on time?",
    ]
    inputs_by_batch = {b: {"text": tf.constant((sentences * b)[:b])} for b in BATCH_SIZES}
    rounds = {1: calls, 64: max(3, batch_calls // 2)}
    return rows_for("MiniLM seq 128", variants, inputs_by_batch, rounds, "bare tf.function(preprocessor, model)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60, help="timed calls per variant at batch 1")
    parser.add_argument("--batch-calls", type=int, default=24, help="timed calls per variant at batch 64")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "serving_overhead.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()
    base = tempfile.mkdtemp(prefix="tfl-bench-")
    rows = image_rows(base, args.calls, args.batch_calls) + text_rows(base, args.calls, args.batch_calls)
    print(
        f"{os.cpu_count()} CPU cores; median time per call, interleaved; vs_bare = median ratio "
        "to the bare tf.function in the same round (target <= 1.1):"
    )
    print(format_table(rows, ["model", "batch", "call", "median_ms", "per_second", "vs_bare", "calls"]))
    write_json(
        args.json,
        {
            "calls": args.calls,
            "batch_calls": args.batch_calls,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "seconds": round(time.perf_counter() - started, 1),
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()

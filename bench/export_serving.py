"""Export size, load time and serving latency of an image and a text export.

Exports a MobileNetV3Small image classifier (224x224, random weights: the
mechanics and speed do not depend on the weights) and the MiniLM text
classifier (sequence length 128), then, in a fresh Python process that imports
TensorFlow only (and tensorflow_text for the text model), loads each export and
times its `serving_default` signature on batches of encoded JPEGs or raw
sentences. Latency is the median of `--repeats` calls after a warm-up call.

    python bench/export_serving.py [--repeats 10] [--batch-sizes 1,8,32] [--json bench/export_serving.json]

Prints a table and writes JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

from tfl.config import ModelConfig
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.export import export_model
from tfl.model import build_model

_TIMER = r"""
import json, statistics, sys, time
start = time.perf_counter()
import tensorflow as tf
if sys.argv[2] == "text":
    import tensorflow_text  # noqa: F401
function = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
load_seconds = time.perf_counter() - start
examples = json.load(open(sys.argv[3]))
name = "text" if sys.argv[2] == "text" else "images"
values = [bytes.fromhex(v) for v in examples] if name == "images" else examples
latency = {}
for size in [int(b) for b in sys.argv[4].split(",")]:
    batch = tf.constant((values * size)[:size])
    function(**{name: batch})  # warm-up
    times = []
    for _ in range(int(sys.argv[5])):
        t = time.perf_counter()
        function(**{name: batch})["probabilities"].numpy()
        times.append(time.perf_counter() - t)
    latency[size] = statistics.median(times) * 1000
print(json.dumps({"load_seconds": load_seconds, "latency_ms": latency}))
"""


def _jpegs(count):
    rng = np.random.default_rng(0)
    return [
        tf.io.encode_jpeg(rng.integers(0, 256, (rng.integers(200, 480), rng.integers(200, 640), 3), dtype=np.uint8))
        .numpy()
        .hex()
        for _ in range(count)
    ]


def measure(model, kind, examples, base, batch_sizes, repeats):
    result = export_model(model, kind, base=base)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(examples, f)
    timer = subprocess.run(
        [sys.executable, "-c", _TIMER, result.path, kind, f.name, batch_sizes, str(repeats)],
        capture_output=True, text=True, check=True,
    )
    timings = json.loads(timer.stdout.strip().splitlines()[-1])
    row = {
        "model": kind,
        "weights_mb": f"{result.weights_bytes / 1e6:.1f}",
        "export_mb": f"{result.size_bytes / 1e6:.1f}",
        "export_vs_weights": f"{100 * (result.size_bytes / result.weights_bytes - 1):+.1f}%",
        "export_seconds": round(result.seconds, 1),
        "load_seconds": round(timings["load_seconds"], 1),
    }
    for size, milliseconds in timings["latency_ms"].items():
        row[f"batch_{size}_ms"] = f"{milliseconds:.1f}"
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "export_serving.json"))
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="tfl-bench-")
    image = build_model(ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=224), ["a", "b", "c"])
    text = build_model(ModelConfig(encoder="all_minilm_l6_v2", sequence_length=128), ["neg", "pos"], task="text")
    sentences = ["My flight was delayed for three hours and nobody told us why.", "Great crew, thank you!"]
    rows = [
        measure(image, "image", _jpegs(8), base, args.batch_sizes, args.repeats),
        measure(text, "text", sentences, base, args.batch_sizes, args.repeats),
    ]
    columns = ["model", "weights_mb", "export_mb", "export_vs_weights", "export_seconds", "load_seconds"]
    columns += [f"batch_{b}_ms" for b in args.batch_sizes.split(",")]
    print(f"{os.cpu_count()} CPU cores; image: MobileNetV3Small 224x224 from JPEG bytes (200-480 x 200-640 px); "
          "text: MiniLM, sequence length 128, from raw strings")
    print(format_table(rows, columns))
    write_json(args.json, {"batch_sizes": args.batch_sizes, "repeats": args.repeats, "rows": rows})


if __name__ == "__main__":
    main()

"""This machine's float32 matmul GFLOP/s, and how much of it each backbone's forward pass reaches.

The ceiling: square float32 matmuls (`tf.matmul` in a `tf.function`, sizes
`--sizes`), median GFLOP/s over `--repeats` calls, 2 n^3 FLOPs each; the
`--ceiling-size` matmul is the ceiling (large enough that one call takes a
quarter second, so call overhead and others' load average out). Each backbone (headless `keras.applications` model as
tfl builds it, random weights, 224x224, inference mode) runs a forward pass on
a batch of `--batch-size` images in a `tf.function`.

FLOPs are counted by walking the layers: 2 x the multiply-accumulates of
Conv2D, DepthwiseConv2D, SeparableConv2D and Dense layers (from their input and
output shapes); batch norm, activations, pooling, additions and the
squeeze-excite multiplications are left out, so the count is the work the
convolutions and matrix products must do. A second count, from TensorFlow's
profiler (`tf.compat.v1.profiler`, float operations of the frozen concrete
function graph at batch 1), also counts the element-wise ops it has a FLOP
rule for (bias additions, batch norm, activations), and cross-checks the first.
The published figures are multiply-accumulates with the 1000-class top;
Keras' ResNet50 is the original v1 (stride 2 in the first 1x1 convolution of a
block, 3.8 G in He et al. 2016), the 4.1 G often quoted is torchvision's v1.5
(stride 2 in the 3x3 convolution).

Rounds are interleaved (in each round the ceiling matmul, then each backbone,
once), and the fraction of the ceiling is the median over rounds of the
backbone's GFLOP/s divided by the matmul's in the same round.

    python bench/compute_ceiling.py [--sizes 1024,2048,4096] [--batch-size 32] [--repeats 5]
        [--json bench/compute_ceiling.json]

Prints two tables and writes JSON.
"""

import argparse
import math
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from tfl.backbones import build_backbone
from tfl.evaluate import format_table
from tfl.evaluate import write_json

BACKBONES = ("mobilenet_v3_small", "resnet50", "efficientnet_b0")
# Published multiply-accumulates at 224x224 with the 1000-class top: ResNet50
# 3.8 G (He et al. 2016, v1; torchvision's v1.5: 4.1 G); MobileNetV3-Small 56 M
# (Howard et al. 2019); EfficientNet-B0 0.39 G (Tan and Le 2019).
PUBLISHED_GMACS = {"mobilenet_v3_small": "0.056", "resnet50": "3.8 (v1.5: 4.1)", "efficientnet_b0": "0.39"}


def layer_macs(layer):
    """Multiply-accumulates of one call of `layer` on one example; 0 for other layers."""
    if not isinstance(
        layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D, keras.layers.Dense)
    ):
        return 0
    in_shape, out_shape = layer.input.shape, layer.output.shape
    positions = math.prod(out_shape[1:-1])  # output pixels (or 1 for a flat Dense)
    if isinstance(layer, keras.layers.Dense):
        return positions * in_shape[-1] * out_shape[-1]
    kernel = math.prod(layer.kernel_size)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return positions * out_shape[-1] * kernel
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise = positions * in_shape[-1] * layer.depth_multiplier * kernel
        return depthwise + positions * in_shape[-1] * layer.depth_multiplier * out_shape[-1]
    return positions * out_shape[-1] * kernel * in_shape[-1] // layer.groups


def walk_macs(model):
    macs = 0
    for layer in model.layers:
        macs += walk_macs(layer) if isinstance(layer, keras.Model) else layer_macs(layer)
    return macs


def profiler_flops(model, image_size):
    """Float operations of one forward pass at batch 1, by TensorFlow's profiler."""
    function = tf.function(lambda x: model(x, training=False), autograph=False)
    concrete = function.get_concrete_function(tf.TensorSpec([1, image_size, image_size, 3], tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options)
    return profile.total_float_ops


def timed(function, *inputs):
    start = time.perf_counter()
    function(*inputs).numpy()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1024,2048,4096")
    parser.add_argument("--ceiling-size", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "compute_ceiling.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()

    @tf.function(autograph=False)
    def matmul(a, b):
        return tf.reduce_sum(tf.matmul(a, b))  # the sum (n^2) keeps the output small

    matmul_rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        a = tf.random.normal([n, n], seed=1)
        b = tf.random.normal([n, n], seed=2)
        timed(matmul, a, b)  # warm-up: traces
        seconds = statistics.median(timed(matmul, a, b) for _ in range(args.repeats))
        matmul_rows.append(
            {"size": n, "median_ms": f"{seconds * 1000:.1f}", "gflop_s": round(2 * n**3 / seconds / 1e9, 1)}
        )
    best = args.ceiling_size
    a, b = tf.random.normal([best, best], seed=1), tf.random.normal([best, best], seed=2)

    images = tf.random.uniform([args.batch_size, args.image_size, args.image_size, 3], 0, 255, seed=3)
    backbones, counts = {}, {}
    for name in BACKBONES:
        model = build_backbone(name, weights=None, image_size=args.image_size)
        counts[name] = {"walk_flops": 2 * walk_macs(model), "profiler_flops": profiler_flops(model, args.image_size)}
        backbones[name] = tf.function(lambda x, model=model: tf.reduce_sum(model(x, training=False)), autograph=False)
        timed(backbones[name], images)  # warm-up: traces

    seconds = {name: [] for name in ("matmul", *BACKBONES)}
    for _ in range(args.repeats):
        seconds["matmul"].append(timed(matmul, a, b))
        for name in BACKBONES:
            seconds[name].append(timed(backbones[name], images))
    ceiling = [2 * best**3 / s / 1e9 for s in seconds["matmul"]]
    rows = [
        {
            "backbone": f"matmul {best}x{best} (ceiling)",
            "gmacs_per_image": "",
            "gflops_per_image": "",
            "profiler_gflops": "",
            "published_gmacs": "",
            "batch_ms": f"{statistics.median(seconds['matmul']) * 1000:.0f}",
            "images_s": "",
            "gflop_s": round(statistics.median(ceiling), 1),
            "of_ceiling": "1.000",
        }
    ]
    for name in BACKBONES:
        flops = counts[name]["walk_flops"]
        rates = [flops * args.batch_size / s / 1e9 for s in seconds[name]]
        rows.append(
            {
                "backbone": name,
                "gmacs_per_image": f"{flops / 2e9:.3f}",
                "gflops_per_image": f"{flops / 1e9:.3f}",
                "profiler_gflops": f"{counts[name]['profiler_flops'] / 1e9:.3f}",
                "published_gmacs": PUBLISHED_GMACS[name],
                "batch_ms": f"{statistics.median(seconds[name]) * 1000:.0f}",
                "images_s": round(args.batch_size / statistics.median(seconds[name]), 1),
                "gflop_s": round(statistics.median(rates), 1),
                "of_ceiling": f"{statistics.median(r / c for r, c in zip(rates, ceiling)):.3f}",
            }
        )
    print(f"float32 matmul, {os.cpu_count()} CPU cores, median of {args.repeats} calls:")
    print(format_table(matmul_rows, ["size", "median_ms", "gflop_s"]))
    print(
        f"\nForward pass, batch {args.batch_size}, {args.image_size}x{args.image_size}, inference mode, "
        "random weights; FLOPs = 2 x MACs of Conv2D/DepthwiseConv2D/Dense (layer walk); "
        "of_ceiling = median per-round ratio to the matmul:"
    )
    print(format_table(rows, list(rows[0])))
    write_json(
        args.json,
        {
            "batch_size": args.batch_size,
            "image_size": args.image_size,
            "repeats": args.repeats,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "seconds": round(time.perf_counter() - started, 1),
            "matmul": matmul_rows,
            "counts": counts,
            "rows": rows,
            "round_seconds": {k: [round(s, 4) for s in v] for k, v in seconds.items()},
        },
    )


if __name__ == "__main__":
    main()

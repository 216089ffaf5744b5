"""float32 against mixed_bfloat16 on this CPU: fine-tuning and inference, images and text.

The same runs under both dtype policies (`ModelConfig(mixed_precision=
"mixed_bfloat16")`: bfloat16 computation, float32 weights, a float32 output
layer), same seeds:

- images: the ImageNet MobileNet 0.25 of `../shared/data` at 224 px on the
  ants-vs-bees photos: the linear probe then the top 2 stages for 5 epochs
  (tfl's default plan) on the 244 training images, scored on the 153 held-out
  ones; and inference over all 397 images (a `tf.function` over the batches);
- text: MiniLM (sequence length 64) fine-tuned whole for 2 epochs on 256 of
  the demo's tweets, scored on 64 held-out ones; and inference over all 320.

Prints per task and policy: held-out accuracy, the fine-tuning's steady step
time (median) and total seconds, and inference examples per second (median
of 3 passes after a warm-up).

    python bench/bfloat16.py [--seeds 0,1] [--tasks image,text] [--json bench/bfloat16.json]

About 4 minutes on 2 CPU cores.
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from fixed_costs import StepTimes
from fixed_costs import image_task
from fixed_costs import text_task
from tfl.config import ModelConfig
from tfl.config import parse_stages
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import fit_stages

POLICIES = (None, "mixed_bfloat16")
PLANS = {"image": "probe,top2:5:1e-4", "text": "all:2:5e-5"}


def _accuracy(model, dataset):
    labels = np.concatenate([np.asarray(y) for _, y in dataset])
    probabilities = _predict(model, dataset)
    return float(np.mean(np.argmax(probabilities, axis=1) == labels.reshape(-1)))


def _predict(model, dataset):
    function = tf.function(lambda x: model(x, training=False))
    return np.concatenate([np.asarray(function(x), dtype="float32") for x, _ in dataset])


def _inference_rate(model, dataset, repeats=3):
    count = sum(int(np.shape(y)[0]) for _, y in dataset)
    function = tf.function(lambda x: model(x, training=False))
    for x, _ in dataset:  # warm-up: traces
        function(x)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for x, _ in dataset:
            function(x)
        seconds.append(time.perf_counter() - start)
    return count / statistics.median(seconds)


def run(task, data, config, policy, seed):
    keras.utils.set_random_seed(seed)
    model = build_model(
        ModelConfig(**{**config, "mixed_precision": policy}), list(data.class_names), task=task, seed=seed
    )
    model.compile()
    times = StepTimes()
    start = time.perf_counter()
    fit_stages(model, data, parse_stages(PLANS[task]), verbose=0, callbacks=[times], seed=seed)
    seconds = time.perf_counter() - start
    both = data.train.concatenate(data.validation)
    return {
        "task": task,
        "policy": policy or "float32",
        "seed": seed,
        "accuracy": _accuracy(model, data.validation),
        "steady_step_s": float(np.median([fit["steady_step"] for fit in times.fits])),
        "fine_tune_s": seconds,
        "inference_per_s": _inference_rate(model, both),
    }


def summarize(runs):
    rows = []
    for task in dict.fromkeys(r["task"] for r in runs):
        for policy in dict.fromkeys(r["policy"] for r in runs):
            mine = [r for r in runs if r["task"] == task and r["policy"] == policy]
            rows.append(
                {
                    "task": task,
                    "policy": policy,
                    "accuracy": float(np.mean([r["accuracy"] for r in mine])),
                    "per_seed": " / ".join(f"{r['accuracy']:.3f}" for r in mine),
                    "steady_step_s": float(np.mean([r["steady_step_s"] for r in mine])),
                    "fine_tune_s": float(np.mean([r["fine_tune_s"] for r in mine])),
                    "inference_per_s": float(np.mean([r["inference_per_s"] for r in mine])),
                }
            )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--tasks", default="image,text")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "bfloat16.json"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    for task in args.tasks.split(","):
        if task == "image":
            data, _ = image_task()
            config = {"backbone": "mobilenet_025", "weights": "imagenet", "image_size": 224}
        else:
            data, _ = text_task(sentences=320)
            config = {"encoder": "all_minilm_l6_v2", "sequence_length": 64}
        for seed in seeds:
            for policy in POLICIES:
                runs.append(run(task, data, config, policy, seed))
                print(format_table(runs[-1:], list(runs[-1])), flush=True)
    rows = summarize(runs)
    print()
    print(format_table(rows, list(rows[0])))
    write_json(args.json, {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", "rows": rows, "runs": runs})


if __name__ == "__main__":
    main()

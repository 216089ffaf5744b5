"""Fixed costs of a plan: tracing per stage against one plain Keras `fit`.

For a 1-, 2- and 3-stage plan that trains the whole model (no feature cache,
so every stage runs `fit` on the model), on

- images: the ants-vs-bees photos of `../shared/data` (244 training, 153
  held-out images at 224 px) with the real ImageNet MobileNet 0.25;
- text: 320 of the demo's tweets (64 held out) with MiniLM (sequence length 64),

prints each stage's time to its first finished training step (tracing
included), its steady step time (median), and the plan's total, for tfl's
per-stage compile (`shared_trace="off"`, tfl before it shared a trace) and
the default (`"auto"`), next to one plain Keras `fit` of the same model, data
and number of epochs (compiled once, everything but BatchNorm trainable), in
the same process. Each run starts from the same freshly built model and seed;
a warm-up fit runs first so that the first measured run does not pay
TensorFlow's one-time start-up.

    python bench/fixed_costs.py [--tasks image,text] [--json bench/fixed_costs.json]

About 7 minutes on 2 CPU cores.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from real_transfer import SHARED_DATA
from real_transfer import keras_home_with_weights
from tfl.config import DataConfig
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.config import parse_stages
from tfl.data import from_texts
from tfl.data import load_data
from tfl.data import load_tweets
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import apply_stage
from tfl.train import fit_stages

PLANS = {
    "image": ("top2:6:1e-4", "none:3:1e-3,top2:3:1e-4", "none:2:1e-3,top2:2:1e-4,all:2:1e-5"),
    "text": ("all:3:5e-5", "none:1:1e-3,all:2:5e-5", "none:1:1e-3,top2:1:5e-5,all:1:3e-5"),
}


class StepTimes(keras.callbacks.Callback):
    """Per `fit`: seconds to the first finished training step, and the later steps' times."""

    def __init__(self):
        super().__init__()
        self.fits = []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())

    def on_train_end(self, logs=None):
        steps = np.diff(self.ends)
        self.fits.append(
            {
                "first_step": self.ends[0] - self.start,
                "steady_step": float(np.median(steps)) if len(steps) else float("nan"),
                "seconds": time.perf_counter() - self.start,
            }
        )


def image_task():
    keras_home_with_weights()
    folder = os.path.join(SHARED_DATA, "hymenoptera")
    data = load_data(
        DataConfig(source=os.path.join(folder, "train"), validation_source=os.path.join(folder, "val"), seed=0),
        (224, 224),
    )
    return data, lambda: build_model(ModelConfig(backbone="mobilenet_025", weights="imagenet", image_size=224), data.class_names)


def text_task(sentences=320):
    tweets = load_tweets(min_confidence=0.6)
    config = ModelConfig(encoder="all_minilm_l6_v2", sequence_length=64)
    preprocessor = build_model(config, ["negative", "neutral", "positive"], task="text").preprocessor
    pick = np.random.RandomState(0).permutation(len(tweets.texts))[:sentences]  # the file is sorted by label
    texts, labels = tweets.texts[pick], tweets.labels[pick]
    data = from_texts(texts, labels, preprocessor=preprocessor, validation_split=0.2, seed=0)
    return data, lambda: build_model(config, list(data.class_names), task="text")


def run_plan(make_model, data, plan, shared_trace):
    keras.utils.set_random_seed(0)
    model = make_model()
    model.compile()
    times = StepTimes()
    start = time.perf_counter()
    fit_stages(model, data, parse_stages(plan), verbose=0, feature_cache="off", shared_trace=shared_trace, callbacks=[times])
    return time.perf_counter() - start, times.fits


def run_plain_fit(make_model, data, epochs):
    """One Keras `fit` of the same model: compiled once, backbone trainable (BatchNorm frozen)."""
    keras.utils.set_random_seed(0)
    model = make_model()
    apply_stage(model, Stage("all"))
    times = StepTimes()
    start = time.perf_counter()
    keras.Model.compile(
        model, optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    keras.Model.fit(model, data.train, validation_data=data.validation, epochs=epochs, verbose=0, callbacks=[times], shuffle=False)
    return time.perf_counter() - start, times.fits


def measure(task, make_model, data):
    rows = []
    run_plain_fit(make_model, data, 1)  # warm-up: TensorFlow's one-time start-up
    for plan in PLANS[task]:
        epochs = sum(stage.epochs for stage in parse_stages(plan))
        plain_seconds, plain_fits = run_plain_fit(make_model, data, epochs)
        rows.append(_row(task, f"keras fit ({epochs} epochs)", "-", plain_seconds, plain_fits, plain_seconds))
        for mode in ("off", "auto"):
            seconds, fits = run_plan(make_model, data, plan, mode)
            rows.append(_row(task, plan, mode, seconds, fits, plain_seconds))
            print(format_table(rows[-2:] if mode == "off" else rows[-1:], list(rows[-1])), flush=True)
    return rows


def _row(task, plan, mode, seconds, fits, plain_seconds):
    first = [fit["first_step"] for fit in fits]
    return {
        "task": task,
        "plan": plan,
        "shared_trace": mode,
        "first_step_s": " / ".join(f"{value:.2f}" for value in first),
        "later_first_vs_first": max(first[1:]) / first[0] if len(first) > 1 else None,
        "steady_step_s": " / ".join(f"{fit['steady_step']:.3f}" for fit in fits),
        "total_s": seconds,
        "vs_keras_fit": seconds / plain_seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="image,text")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixed_costs.json"))
    args = parser.parse_args()
    rows = []
    for task in args.tasks.split(","):
        data, make_model = {"image": image_task, "text": text_task}[task]()
        rows += measure(task, make_model, data)
    print()
    print(format_table(rows, list(rows[0])))
    write_json(args.json, {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", "rows": rows})


if __name__ == "__main__":
    main()

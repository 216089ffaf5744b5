"""Sentences per second of a text encoder on this machine: tokenizing, inference, fine-tuning.

Steady state, after a warm-up: the first call of a `tf.function` traces the
graph, which small runs (like the demo's few-label fine-tuning) include.
Each number is the median of `--repeats` timed passes.

    python bench/text_throughput.py [--encoder all_minilm_l6_v2] [--sequence-lengths 32,64,128]
        [--batch-size 32] [--sentences 256] [--repeats 3] [--json bench/text_throughput.json]

Prints a table and writes JSON.
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

from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import load_tweets
from tfl.data.text.pipeline import build_text_pipeline
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import make_optimizer
from tfl.train.freezing import apply_stage


def _median_rate(count, run, repeats):
    run()  # warm-up: traces and builds
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return count / statistics.median(seconds)


def measure(encoder, sequence_length, texts, batch_size, repeats):
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(encoder=encoder, sequence_length=sequence_length), ["a", "b", "c"], task="text")
    labels = np.arange(len(texts), dtype=np.int32) % 3
    strings = tf.constant(texts)

    def tokenize():
        for start in range(0, len(texts), 256):
            model.preprocessor(strings[start : start + 256])

    batches = build_text_pipeline(
        texts, None, labels, model.preprocessor, batch_size=batch_size, seed=0, cache=True, shuffle=False
    )
    batches = batches.cache()
    for _ in batches:  # tokenized once, in memory
        pass

    @tf.function
    def forward(inputs):
        return model(inputs, training=False)

    def infer():
        for inputs, _ in batches:
            forward(inputs)

    apply_stage(model, Stage("all"))  # every layer trains, as in the demo's fine-tuning
    model.compile(make_optimizer(Stage("all", learning_rate=5e-5, optimizer="adamw"), steps=1))

    def train():
        model.fit(batches, epochs=1, verbose=0)

    return {
        "sequence_length": sequence_length,
        "tokenize": round(_median_rate(len(texts), tokenize, repeats)),
        "inference": round(_median_rate(len(texts), infer, repeats)),
        "fine_tuning": round(_median_rate(len(texts), train, repeats)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="all_minilm_l6_v2")
    parser.add_argument("--sequence-lengths", default="32,64,128")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "text_throughput.json"))
    args = parser.parse_args()
    texts = [str(t) for t in load_tweets(min_confidence=0.9).texts[: args.sentences]]
    rows = [
        measure(args.encoder, int(length), texts, args.batch_size, args.repeats)
        for length in args.sequence_lengths.split(",")
    ]
    print(f"{args.encoder}, batch {args.batch_size}, {len(texts)} tweets, {os.cpu_count()} CPU cores "
          "(sentences per second, median of steady-state passes):")
    print(format_table(rows, ["sequence_length", "tokenize", "inference", "fine_tuning"]))
    write_json(args.json, {
        "encoder": args.encoder, "batch_size": args.batch_size, "sentences": len(texts),
        "cpu_count": os.cpu_count(), "machine": platform.machine(), "rows": rows,
    })


if __name__ == "__main__":
    main()

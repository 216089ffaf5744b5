"""Few-shot episodes on real text: MiniLM features of the demo tweets, 3-way, 1, 8 and 32 shots.

The head-level question behind issue 19's text target: is a prototype
classifier (or a head started from it and trained on the support features) a
better start than the linear probe that the default plan fits? Episodes give
a much tighter answer than a few label draws: 600 episodes per shot count,
30 queries per class, seed 0.

Data: 200 tweets per class (negative, neutral, positive) of annotator
confidence >= 0.9, drawn with seed 0 from the demo tweets, written to a CSV
file in a temporary folder and read by `tfl.evaluate_few_shot` as a user's
file would be. Encoder: all_minilm_l6_v2 at sequence length 64, mean pooled.

    python bench/few_shot_text.py [--episodes 600] [--json bench/few_shot_text.json]

About 2.5 minutes on 2 busy CPU cores (extraction of 600 tweets dominates).
"""

import argparse
import csv
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import tfl
from tfl.data import load_tweets
from tfl.io import write_json

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = ("negative", "neutral", "positive")
PER_CLASS = 200
MIN_CONFIDENCE = 0.9


def tweets_file(folder, seed=0):
    """Writes the balanced, confident tweet sample to `folder/tweets.csv`."""
    tweets = load_tweets()
    labels = np.asarray(tweets.labels)
    confidences = np.asarray(tweets.confidences, dtype=float)
    rng = np.random.default_rng(seed)
    rows = []
    for name in CLASSES:
        members = np.flatnonzero((labels == name) & (confidences >= MIN_CONFIDENCE))
        rows += [(tweets.texts[i], name) for i in rng.choice(members, PER_CLASS, replace=False)]
    path = os.path.join(folder, "tweets.csv")
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--json", default=os.path.join(HERE, "few_shot_text.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = tfl.evaluate_few_shot(
            tweets_file(folder), encoder="all_minilm_l6_v2", sequence_length=64,
            ways=3, shots=(1, 8, 32), queries=30, episodes=args.episodes, seed=0,
        )
    print(f"3-way tweet episodes, MiniLM: {result.settings['examples']} tweets, "
          f"extraction {result.settings['extraction_seconds']:.1f} s, episodes {result.seconds:.1f} s, "
          f"wall {time.perf_counter() - start:.1f} s")
    print(result.table())
    write_json(args.json, {"data": f"demo tweets, {PER_CLASS} per class, confidence >= {MIN_CONFIDENCE}",
                           "encoder": "all_minilm_l6_v2", "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                           "result": result.to_dict()})
    print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()

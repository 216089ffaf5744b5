"""Does fine-tuning from the prototype-initialised head beat the default text plan at 8 labels per class?

MiniLM (`all_minilm_l6_v2`, sequence length 64) on the demo tweets (3
classes: negative, neutral, positive; annotator confidence >= 0.9), K
labelled tweets per class drawn from a pool of 300 per class, 3 draws, the
same held-out set of 100 tweets per class for every run. Rows:

- "default plan": `tfl.train.default_stages(task="text")`, what `tfl train`
  runs: a linear probe (L-BFGS on the frozen features), then the whole
  encoder at 5e-5 with AdamW for 5 epochs (LP-FT);
- "prototype init + fine-tune": the same plan with the probe replaced by
  `head_init="prototypes"` on its first trained stage: the dense head starts
  as the euclidean prototype classifier of the training features (Snell et
  al. 2017, 2.4; temperature: the one that maximises its leave-one-out
  log-likelihood on the training features), then the same fine-tuning stage;
- "euclidean prototypes (no training)": `head="prototypes",
  prototype_metric="euclidean"` fitted by the probe stage: the classifier the
  row above starts from (same argmax at any temperature);
- "prototype head (no training)": `head="prototypes"` (cosine, temperature
  0.1), fitted by the probe stage as class means, nothing else;
- "prototype head + fine-tune": the same, then the fine-tuning stage
  (the prototypes train as a cosine classifier's weights, Baseline++).

    nice python bench/prototype_init.py [--draws 3] [--labels-per-class 8] [--json bench/prototype_init.json]

Prints the table (mean, min, max accuracy over draws) and the per-draw
accuracies, and writes JSON. About 11 minutes on 2 busy CPU cores.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dataclasses

import keras
import numpy as np

from tfl.backbones.encoders import MINILM
from tfl.config import ModelConfig
from tfl.config import TrainConfig
from tfl.data import from_texts
from tfl.data import load_tweets
from tfl.demo.text import _balanced_split
from tfl.demo.text import _nested_draw
from tfl.evaluate import evaluate_model
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import default_stages
from tfl.train import fit_stages

CLASSES = ("negative", "neutral", "positive")
METHODS = {
    "default plan": ("dense", "cosine"),
    "prototype init + fine-tune": ("dense", "cosine"),
    "euclidean prototypes (no training)": ("prototypes", "euclidean"),
    "prototype head (no training)": ("prototypes", "cosine"),
    "prototype head + fine-tune": ("prototypes", "cosine"),
}


def plan_for(method, epochs):
    """The stages of a row: the default text plan, or its variant."""
    probe, fine_tune = default_stages(task="text", epochs=epochs)
    if method == "prototype init + fine-tune":
        return (dataclasses.replace(fine_tune, head_init="prototypes"),)
    if method.endswith("(no training)"):
        return (probe,)
    return (probe, fine_tune)


def run(method, texts, labels, test_texts, test_labels, draw, epochs):
    """Held-out accuracy of one row on one draw."""
    keras.utils.set_random_seed(draw)
    head, metric = METHODS[method]
    config = ModelConfig(encoder=MINILM, sequence_length=64, head=head, prototype_metric=metric)
    model = build_model(config, CLASSES, task="text")
    data = from_texts(
        texts, labels, class_names=CLASSES, validation_data=(test_texts, test_labels),
        preprocessor=model.preprocessor, seed=draw,
    )
    history = fit_stages(model, data, plan_for(method, epochs), verbose=0, seed=draw)
    start = [s.prototypes for s in history.stages if s.prototypes]
    accuracy = evaluate_model(model, data.validation, CLASSES)["accuracy"]
    return accuracy, (start[0] if start else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--labels-per-class", type=int, default=8)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "prototype_init.json"))
    args = parser.parse_args()
    epochs = TrainConfig().epochs
    tweets = load_tweets(min_confidence=0.9)
    pool, test = _balanced_split(tweets.labels, CLASSES, 300, args.test_per_class, seed=0)
    test_texts, test_labels = list(tweets.texts[test]), list(tweets.labels[test])
    runs = []
    for draw in range(args.draws):
        chosen = _nested_draw(tweets.labels[pool], CLASSES, args.labels_per_class, seed=1000 + draw)
        texts, labels = list(tweets.texts[pool][chosen]), list(tweets.labels[pool][chosen])
        for method in METHODS:
            start = time.perf_counter()
            accuracy, prototypes = run(method, texts, labels, test_texts, test_labels, draw, epochs)
            seconds = time.perf_counter() - start
            runs.append({"method": method, "draw": draw, "accuracy": accuracy, "seconds": seconds,
                         "temperature": prototypes and prototypes["temperature"],
                         "mean_max_probability": prototypes and prototypes.get("mean_max_probability")})
            print(f"draw {draw}: {method}: accuracy {accuracy:.4f} ({seconds:.0f} s)", flush=True)
    rows = []
    for method in METHODS:
        values = [r["accuracy"] for r in runs if r["method"] == method]
        rows.append({
            "method": method, "mean": float(np.mean(values)), "min": float(np.min(values)),
            "max": float(np.max(values)), "per_draw": " ".join(f"{v:.4f}" for v in values),
        })
    print(format_table(rows, ["method", "mean", "min", "max", "per_draw"]))
    write_json(args.json, {
        "settings": {**vars(args), "json": os.path.basename(args.json), "encoder": MINILM, "sequence_length": 64,
                     "epochs": epochs, "pool_per_class": 300},
        "test_tweets": len(test), "rows": rows, "runs": runs,
    })


if __name__ == "__main__":
    main()

"""LP-FT against head-epochs-then-fine-tune, with the pretrained MiniLM encoder.

Kumar et al. 2022 ("Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution") fit the linear head to convergence (LP)
before fine-tuning (FT). tfl's default plan does that: a linear probe on the
frozen encoder's cached features, then the whole encoder at 5e-5. The usual
Keras recipe instead trains the head for a few epochs at 1e-3 and then
fine-tunes. Both plans run through `tfl.train.fit_stages` here, from the same
pretrained all-MiniLM-L6-v2 weights, on the same K labelled tweets per class
(3 classes, several random draws), with the same fine-tuning stage, and are
scored on the text demo's 900 held-out test tweets.

    python bench/lp_ft.py [--labels-per-class 8,32] [--draws 3] [--head-epochs 5] [--fine-tune-epochs 4]

Prints a table (mean, min and max test accuracy over draws, after the head
stage and after fine-tuning, and how many draws LP-FT won or tied) and writes
JSON. About 6 minutes on 2 CPU cores.
"""

import argparse
import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_texts
from tfl.data import load_tweets
from tfl.data.text.pipeline import build_text_pipeline
from tfl.demo.text import TextDemoSettings
from tfl.demo.text import _balanced_split
from tfl.demo.text import _nested_draw
from tfl.evaluate import evaluate_model
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.model import build_model
from tfl.train import fit_stages

CLASSES = ("negative", "neutral", "positive")
BATCH_SIZE = 8


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels-per-class", default="8,32")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--head-epochs", type=int, default=5)
    parser.add_argument("--fine-tune-epochs", type=int, default=4)
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "lp_ft.json"))
    args = parser.parse_args()
    s = TextDemoSettings()
    tweets = load_tweets(min_confidence=s.min_confidence)
    pool, test = _balanced_split(tweets.labels, CLASSES, s.pool_per_class, s.test_per_class, s.seed)
    keras.utils.set_random_seed(0)
    model = build_model(
        ModelConfig(encoder=s.encoder, sequence_length=s.sequence_length, dropout=0.1), CLASSES, task="text"
    )
    pretrained = [keras.ops.convert_to_numpy(w) for w in model.weights]
    test_y = np.searchsorted(CLASSES, tweets.labels[test]).astype(np.int32)
    test_batches = build_text_pipeline(
        list(tweets.texts[test]), None, test_y, model.preprocessor, batch_size=64, seed=0, cache=True, shuffle=False
    )
    fine_tune = Stage("all", epochs=args.fine_tune_epochs, learning_rate=5e-5, optimizer="adamw")
    plans = {
        "LP-FT (tfl default)": [Stage(linear_probe=True), fine_tune],
        f"head {args.head_epochs} epochs at 1e-3, then FT": [
            Stage("none", epochs=args.head_epochs, learning_rate=1e-3),
            fine_tune,
        ],
    }
    runs = []
    for per_class in (int(k) for k in args.labels_per_class.split(",")):
        for draw in range(args.draws):
            chosen = _nested_draw(tweets.labels[pool], CLASSES, per_class, seed=2000 + draw)
            data = from_texts(
                tweets.texts[pool][chosen],
                tweets.labels[pool][chosen],
                class_names=CLASSES,
                validation_data=(tweets.texts[test], tweets.labels[test]),
                preprocessor=model.preprocessor,
                batch_size=BATCH_SIZE,
                seed=draw,
            )
            data = dataclasses.replace(data, validation=None)  # scored once per stage list, below
            for name, stages in plans.items():
                for variable, value in zip(model.weights, pretrained):
                    variable.assign(value)
                keras.utils.set_random_seed(draw)
                start = time.perf_counter()
                head_only = fit_stages(model, data, stages[:1], verbose=0)
                after_head = evaluate_model(model, test_batches, CLASSES)["accuracy"]
                fit_stages(model, data, stages[1:], verbose=0)
                seconds = time.perf_counter() - start
                accuracy = evaluate_model(model, test_batches, CLASSES)["accuracy"]
                runs.append(
                    {
                        "labels_per_class": per_class,
                        "draw": draw,
                        "plan": name,
                        "after_head": after_head,
                        "after_fine_tune": accuracy,
                        "head_seconds": head_only.seconds,
                        "seconds": seconds,
                    }
                )
                print(
                    f"K={per_class} draw {draw} {name}: head {after_head:.4f}, "
                    f"fine-tuned {accuracy:.4f} ({seconds:.0f} s)",
                    flush=True,
                )
    rows = []
    lp_name = next(iter(plans))
    for per_class in sorted({r["labels_per_class"] for r in runs}):
        mine = [r for r in runs if r["labels_per_class"] == per_class]
        for name in plans:
            values = [r["after_fine_tune"] for r in mine if r["plan"] == name]
            wins = ""
            if name == lp_name:
                pairs = [
                    (a["after_fine_tune"], b["after_fine_tune"])
                    for a in mine
                    for b in mine
                    if a["draw"] == b["draw"] and a["plan"] == lp_name and b["plan"] != lp_name
                ]
                wins = f"{sum(a >= b for a, b in pairs)}/{len(pairs)}"
            rows.append(
                {
                    "labels_per_class": per_class,
                    "plan": name,
                    "head_accuracy": float(np.mean([r["after_head"] for r in mine if r["plan"] == name])),
                    "head_seconds": float(np.mean([r["head_seconds"] for r in mine if r["plan"] == name])),
                    "fine_tuned_mean": float(np.mean(values)),
                    "min": float(np.min(values)),
                    "max": float(np.max(values)),
                    "lp_ft_won_or_tied": wins,
                }
            )
    columns = [
        "labels_per_class",
        "plan",
        "head_accuracy",
        "head_seconds",
        "fine_tuned_mean",
        "min",
        "max",
        "lp_ft_won_or_tied",
    ]
    print(format_table(rows, columns))
    write_json(args.json, {"settings": vars(args), "test_tweets": len(test), "rows": rows, "runs": runs})


if __name__ == "__main__":
    main()

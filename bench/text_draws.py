"""Does transfer beat scratch on the demo's tweets for every draw of the labels?

The text demo (`tfl demo --part text`) makes one draw of K labelled tweets per
class. This repeats the comparison over several random draws at several K:
a softmax head on frozen MiniLM features (computed once, cached) against the
demo's scratch model (TextVectorization + word embedding), both scored on
the demo's 900 held-out test tweets. Fine-tuning is left out: it costs about
a minute a run on 2 CPU cores (see the demo's table for it).

    python bench/text_draws.py [--draws 5] [--labels-per-class 8,16,32] [--json bench/text_draws.json]

Prints a table (mean, min and max accuracy over draws, and how many draws
transfer won) and writes JSON. About 3 minutes on 2 CPU cores.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from tfl.config import ModelConfig
from tfl.data import from_texts
from tfl.data import load_tweets
from tfl.data.text.pipeline import build_text_pipeline
from tfl.demo.text import TextDemoSettings
from tfl.demo.text import _balanced_split
from tfl.demo.text import _nested_draw
from tfl.demo.text import _repeated
from tfl.demo.text import _train_head
from tfl.evaluate import evaluate_model
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.evaluate.predict import predict_dataset
from tfl.model import build_model
from tfl.model.text_baseline import build_scratch_text_model
from tfl.model import head_loss
from tfl.model import head_metrics

CLASSES = ("negative", "neutral", "positive")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--labels-per-class", default="8,16,32")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "text_draws.json"))
    args = parser.parse_args()
    s = TextDemoSettings()
    tweets = load_tweets(min_confidence=s.min_confidence)
    pool, test = _balanced_split(tweets.labels, CLASSES, s.pool_per_class, s.test_per_class, s.seed)
    model = build_model(
        ModelConfig(encoder=s.encoder, sequence_length=s.sequence_length, dropout=0.0), CLASSES, task="text"
    )
    features_of = model.feature_model()

    def features(index):
        labels = np.searchsorted(CLASSES, tweets.labels[index]).astype(np.int32)
        batches = build_text_pipeline(
            list(tweets.texts[index]), None, labels, model.preprocessor,
            batch_size=64, seed=0, cache=False, shuffle=False,
        )
        return predict_dataset(features_of, batches)

    pool_y, pool_x = features(pool)
    test_y, test_x = features(test)
    runs = []
    for per_class in (int(k) for k in args.labels_per_class.split(",")):
        for draw in range(args.draws):
            chosen = _nested_draw(tweets.labels[pool], CLASSES, per_class, seed=1000 + draw)
            head = _train_head(pool_x[chosen], pool_y[chosen], len(CLASSES), s.head_steps, s.seed)
            transfer = float((head.predict(test_x, verbose=0).argmax(axis=1) == test_y).mean())
            texts, labels = tweets.texts[pool][chosen], tweets.labels[pool][chosen]
            raw = from_texts(texts, labels, validation_data=(tweets.texts[test], tweets.labels[test]),
                             class_names=CLASSES, batch_size=s.batch_size, seed=draw)
            keras.utils.set_random_seed(draw)
            scratch = build_scratch_text_model(texts, CLASSES, sequence_length=s.sequence_length)
            scratch.compile(keras.optimizers.Adam(5e-3), loss=head_loss(False), metrics=head_metrics(False))
            per_epoch = -(-raw.num_train // s.batch_size)
            train, _ = _repeated(raw.train, max(s.scratch_steps, 10 * per_epoch), per_epoch)
            scratch.fit(train, epochs=1, verbose=0)
            baseline = evaluate_model(scratch, raw.validation, CLASSES)["accuracy"]
            runs.append({"labels_per_class": per_class, "draw": draw, "transfer": transfer, "scratch": baseline})
            print(f"K={per_class} draw {draw}: transfer (head only) {transfer:.4f}, scratch {baseline:.4f}", flush=True)
    rows = []
    for per_class in sorted({r["labels_per_class"] for r in runs}):
        mine = [r for r in runs if r["labels_per_class"] == per_class]
        for method in ("transfer", "scratch"):
            values = [r[method] for r in mine]
            rows.append({
                "labels_per_class": per_class, "method": "transfer, head only" if method == "transfer" else method,
                "mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values)),
                "transfer_wins": f"{sum(r['transfer'] > r['scratch'] for r in mine)}/{len(mine)}"
                if method == "transfer" else "",
            })
    print(format_table(rows, ["labels_per_class", "method", "mean", "min", "max", "transfer_wins"]))
    write_json(args.json, {"settings": vars(args), "test_tweets": len(test), "rows": rows, "runs": runs})


if __name__ == "__main__":
    main()

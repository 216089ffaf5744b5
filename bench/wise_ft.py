"""Averaging the probe's and the fine-tuned weights (WiSE-FT) on real ImageNet weights.

Wortsman et al. 2022 ("Robust fine-tuning of zero-shot models") interpolate
the weights before and after fine-tuning, `(1 - a) * w_start + a * w_tuned`,
and often beat both ends. tfl's default image plan starts fine-tuning from a
converged linear probe (LP-FT), so the question is whether an interpolation
between the probe's model and the default plan's model scores higher than
either. Asked on the 6 stratified 70/30 splits of the ants-vs-bees `train/`
folder that `bench/resolution.py` makes (never on `val/`), `mobilenet_025`
with its genuine Keras ImageNet weights (`../shared/data`, PROVENANCE.md).

    python bench/wise_ft.py

About 3 minutes on 2 CPU cores. Prints the accuracy at a = 0, 0.25, 0.5,
0.75, 1 per split and their means, and writes JSON.
"""

import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import real_transfer
import resolution

from tfl.evaluate import evaluate_held_out
from tfl.evaluate import format_table
from tfl.evaluate import write_json

HERE = os.path.dirname(os.path.abspath(__file__))
FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)


def interpolation_scores(train, held):
    """Held-out accuracy of the interpolations between the probe's and the default plan's weights."""
    results = {plan: resolution.run(plan, train, held) for plan in ("probe", "default")}
    start, tuned = results["probe"].model.get_weights(), results["default"].model.get_weights()
    model, validation = results["default"].model, results["default"].data.validation
    scores = []
    for fraction in FRACTIONS:
        model.set_weights([(1 - fraction) * a + fraction * b for a, b in zip(start, tuned)])
        scores.append(evaluate_held_out(model, validation).report["accuracy"])
    return scores


def main():
    data = os.path.join(real_transfer.SHARED_DATA, "hymenoptera")
    real_transfer.real_photos_and_weights(data)
    rows = []
    scratch = tempfile.mkdtemp(prefix="tfl_wise_")
    try:
        for index in range(resolution.NUM_SPLITS):
            root = resolution.training_folder_split(
                os.path.join(data, "train"), index, os.path.join(scratch, str(index))
            )
            scores = interpolation_scores(os.path.join(root, "train"), os.path.join(root, "held"))
            rows.append({"split": str(index), **{f"a={f}": s for f, s in zip(FRACTIONS, scores)}})
            print(f"split {index}: " + ", ".join(f"{s:.3f}" for s in scores), flush=True)
    finally:
        shutil.rmtree(scratch)
    columns = [f"a={f}" for f in FRACTIONS]
    rows.append({"split": "mean", **{c: float(np.mean([r[c] for r in rows])) for c in columns}})
    print()
    print(format_table(rows, ["split", *columns]))
    path = os.path.join(HERE, "wise_ft.json")
    write_json(path, {"backbone": real_transfer.BACKBONE, "fractions": FRACTIONS, "rows": rows})
    print(f"\nWrote {path}")


if __name__ == "__main__":
    main()

"""Input resolution on real ImageNet weights: does a larger `image_size` transfer better?

Networks trained on ImageNet with random-resized crops see objects larger than a
centre crop at the same resolution shows them, so they often score higher when
tested at a higher resolution than they were trained at (Touvron et al. 2019,
"Fixing the train-test resolution discrepancy"; timm's `test_input_size`; BiT
fine-tunes at 480 px). This script asks whether that holds for transfer with
tfl's `mobilenet_025` (genuine Keras ImageNet weights, trained at 224) on the
ants-vs-bees photos of `../shared/data` (PROVENANCE.md), in two steps:

1. Choose on the training folder only: 6 stratified 70/30 splits of `train/`
   (171 photos to train, 73 to score; the split's seed shuffles each class's
   sorted file names), `--stages probe` and the default plan at each size.
2. Report on `val/` (153 photos), 3 seeds, the default plan and the probe at
   224 and the size the splits chose.

    python bench/resolution.py [--sizes 224,256,288,320,384] [--default-sizes 224,320] [--val-sizes 224,320]

About 8 minutes on 2 CPU cores. Prints both tables and writes JSON. Photos are
linked (not copied) into a temporary folder, removed at the end.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import real_transfer

from tfl.config import Config
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.experiment import run_experiment

HERE = os.path.dirname(os.path.abspath(__file__))
NUM_SPLITS = 6
HELD_OUT = 0.3


def split_files(train_folder, index):
    """Split `index` of `train_folder`: `{"held": {class: files}, "train": {class: files}}`,
    a stratified 70/30 split (the seed `index` shuffles each class's sorted file names)."""
    rng = random.Random(index)
    parts = {"held": {}, "train": {}}
    for name in sorted(os.listdir(train_folder)):
        files = sorted(os.listdir(os.path.join(train_folder, name)))
        rng.shuffle(files)
        held = round(len(files) * HELD_OUT)
        parts["held"][name], parts["train"][name] = files[:held], files[held:]
    return parts


def training_folder_split(train_folder, index, root):
    """Link split `index` of `train_folder` (`split_files`) into `root/{train,held}/<class>/`."""
    for part, classes in split_files(train_folder, index).items():
        for name, files in classes.items():
            folder = os.path.join(root, part, name)
            os.makedirs(folder)
            for file in files:
                os.symlink(os.path.join(train_folder, name, file), os.path.join(folder, file))
    return root


def run(plan, train, held, size=None, seed=0):
    """`real_transfer`'s tfl plan trained on `train` and scored on `held`, at `size` px (None: the default)."""
    config = real_transfer.tfl_config(plan, ".", seed, None, 5).to_dict()
    config["data"].update(source=train, validation_source=held)
    config["model"]["image_size"] = size
    return run_experiment(Config.from_dict(config), verbose=0)


def score(plan, train, held, size, seed):
    return run(plan, train, held, size, seed).report["accuracy"]


def sizes_arg(text):
    return [int(s) for s in text.split(",") if s.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes_arg, default=[224, 256, 288, 320, 384], help="probe on the splits")
    parser.add_argument("--default-sizes", type=sizes_arg, default=[224, 320], help="default plan on the splits")
    parser.add_argument("--val-sizes", type=sizes_arg, default=[224, 320], help="both plans on val/, 3 seeds")
    parser.add_argument("--data", default=os.path.join(real_transfer.SHARED_DATA, "hymenoptera"))
    parser.add_argument("--json", default=os.path.join(HERE, "resolution.json"))
    args = parser.parse_args()
    real_transfer.real_photos_and_weights(args.data)

    splits = []
    scratch = tempfile.mkdtemp(prefix="tfl_resolution_")
    try:
        for index in range(NUM_SPLITS):
            root = training_folder_split(os.path.join(args.data, "train"), index, os.path.join(scratch, str(index)))
            for plan, sizes in (("probe", args.sizes), ("default", args.default_sizes)):
                for size in sizes:
                    accuracy = score(plan, os.path.join(root, "train"), os.path.join(root, "held"), size, seed=0)
                    splits.append({"split": index, "plan": plan, "image_size": size, "accuracy": accuracy})
                    print(f"split {index} {plan:<8} {size} px  accuracy {accuracy:.3f}", flush=True)
    finally:
        shutil.rmtree(scratch)

    val = []
    for plan in ("default", "probe"):
        for size in args.val_sizes:
            for seed in (0, 1, 2):
                train, held = os.path.join(args.data, "train"), os.path.join(args.data, "val")
                accuracy = score(plan, train, held, size, seed)
                val.append({"seed": seed, "plan": plan, "image_size": size, "accuracy": accuracy})
                print(f"val seed {seed} {plan:<8} {size} px  accuracy {accuracy:.3f}", flush=True)

    def rows(runs, where):
        keys = sorted({(r["plan"], r["image_size"]) for r in runs})
        out = []
        for plan, size in keys:
            mine = [r["accuracy"] for r in runs if (r["plan"], r["image_size"]) == (plan, size)]
            out.append(
                {
                    "where": where,
                    "plan": plan,
                    "image_size": size,
                    "accuracy": float(np.mean(mine)),
                    "each": ", ".join(f"{a:.3f}" for a in mine),
                }
            )
        return out

    table = rows(splits, f"{NUM_SPLITS} training-folder splits") + rows(val, "val/, seeds 0-2")
    print()
    print(format_table(table, ["where", "plan", "image_size", "accuracy", "each"]))
    write_json(args.json, {"backbone": real_transfer.BACKBONE, "summary": table, "splits": splits, "val": val})
    print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()

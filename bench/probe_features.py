"""Which frozen features of the ImageNet MobileNet 0.25 does a linear probe read best?

Issue 17's target (0.90 on the 153 `val/` photos of ants vs bees) sits above
what tfl's linear probe reads from `mobilenet_025`'s pooled features (0.889).
This script asks whether other features of the same frozen network, or the
same features from a differently resized photo, carry more: each variant
below is scored by tfl's own probe (`fit_linear_probe`, its cross-validated
L2) on the 6 stratified 70/30 splits of `train/` that `bench/resolution.py`
and `bench/wise_ft.py` use (choose on these), then trained on all of `train/`
and scored on `val/` (report only).

- `crop, avg` (tfl's features): centre-crop to the square, bilinear resize to
  224 (`tfl.data.image.pipeline.fit_to_size`), global average pooling;
- resizing: bilinear with antialiasing (as PIL and torchvision resize), area
  averaging, and the whole photo padded to a square (letterbox) instead of
  cropped;
- pooling: global max, average and max concatenated (fastai's
  AdaptiveConcatPool2d), generalised mean with p = 3 (GeM);
- more layers: the average-pooled output of stage 4 (`conv_pw_11_relu`,
  14x14x128) and of stage 3 (`conv_pw_5_relu`, 28x28x64) appended (as Head2Toe, Evci et
  al. 2022, reads intermediate layers);
- flips: the training features of the mirrored photos added as extra rows
  (feature-level augmentation), or every photo's features averaged with its
  mirror's, for training and scoring;
- the probe's L2: fixed at k / N instead of the cross-validated choice.

    python bench/probe_features.py [--data ../shared/data/hymenoptera] [--json bench/probe_features.json]

About a minute on 2 CPU cores (the network runs over the 397 photos once per
resize and once mirrored; each probe is an L-BFGS fit of well under a second). Prints the table and
writes JSON.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import real_transfer
import resolution

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = (real_transfer.IMAGE_SIZE, real_transfer.IMAGE_SIZE)
LAYERS = ("conv_pw_13_relu", "conv_pw_11_relu", "conv_pw_5_relu")  # the output, stage 4, stage 3
FIXED_L2 = (1, 10, 100, 1000)  # multiples of 1 / N


def photos(folder):
    """`[(path, class id, class name, file name)]` of a folder of class folders, sorted."""
    out = []
    for label, name in enumerate(sorted(os.listdir(folder))):
        for file in sorted(os.listdir(os.path.join(folder, name))):
            out.append((os.path.join(folder, name, file), label, name, file))
    return out


def load(items, resize, flip=False):
    """The photos as a float32 `[N, 224, 224, 3]` batch in [0, 255], resized by `resize`."""
    import tensorflow as tf

    from tfl.data.image.pipeline import crop_to_aspect_ratio
    from tfl.data.image.pipeline import decode_image
    from tfl.data.image.pipeline import fit_to_size

    images = []
    for path, *_ in items:
        image = decode_image(tf.io.read_file(path))
        if resize == "crop":
            image = fit_to_size(image, SIZE, "crop")
        elif resize == "pad":
            image = tf.image.resize_with_pad(image, *SIZE, method="bilinear")
        else:  # "antialias" or "area": the crop, then another resampling
            method = "bilinear" if resize == "antialias" else "area"
            image = tf.image.resize(crop_to_aspect_ratio(image, SIZE), SIZE, method=method, antialias=True)
        images.append(tf.clip_by_value(tf.round(image), 0.0, 255.0))  # the pipeline's uint8 rounding
    batch = tf.stack(images)
    return batch[:, :, ::-1] if flip else batch


def feature_maps(network, items, resize, flip=False):
    """The maps of `LAYERS`, float64, for the photos."""
    import keras

    x = keras.applications.mobilenet.preprocess_input(load(items, resize, flip))
    return [np.asarray(m, np.float64) for m in network.predict(x, batch_size=32, verbose=0)]


def pooled(maps, pooling="avg", layers=1):
    """Pooled features of the first `layers` maps, concatenated."""

    def pool(m):
        if pooling == "avg":
            return m.mean(axis=(1, 2))
        if pooling == "max":
            return m.max(axis=(1, 2))
        if pooling == "avgmax":
            return np.concatenate([m.mean(axis=(1, 2)), m.max(axis=(1, 2))], axis=1)
        return (np.maximum(m, 0.0) ** 3).mean(axis=(1, 2)) ** (1 / 3)  # "gem"

    return np.concatenate([pool(m) for m in maps[:layers]], axis=1)


def probe_accuracy(train, train_labels, test, test_labels, l2="cv"):
    from tfl.train import fit_linear_probe

    probe = fit_linear_probe(train, train_labels, 2, l2=l2 if l2 == "cv" else l2 / len(train))
    return float(np.mean((test @ probe.kernel + probe.bias).argmax(axis=1) == test_labels))


def split_indices(train_items, train_folder):
    """Row indices of `resolution.split_files`' 6 splits, as `(train rows, held rows)`."""
    row = {(name, file): i for i, (_, _, name, file) in enumerate(train_items)}
    splits = []
    for index in range(resolution.NUM_SPLITS):
        parts = resolution.split_files(train_folder, index)
        splits.append(
            tuple(
                np.array([row[(name, file)] for name, files in parts[part].items() for file in files])
                for part in ("train", "held")
            )
        )
    return splits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(real_transfer.SHARED_DATA, "hymenoptera"))
    parser.add_argument("--json", default=os.path.join(HERE, "probe_features.json"))
    args = parser.parse_args()
    real_transfer.real_photos_and_weights(args.data)
    import keras

    from tfl.evaluate import format_table
    from tfl.evaluate import write_json

    base = keras.applications.MobileNet(alpha=0.25, include_top=False, weights="imagenet", input_shape=(*SIZE, 3))
    network = keras.Model(base.input, [base.get_layer(name).output for name in LAYERS])
    train_items, val_items = photos(os.path.join(args.data, "train")), photos(os.path.join(args.data, "val"))
    y_train = np.array([item[1] for item in train_items])
    y_val = np.array([item[1] for item in val_items])
    splits = split_indices(train_items, os.path.join(args.data, "train"))

    maps = {}
    for resize in ("crop", "antialias", "area", "pad"):
        maps[resize] = (feature_maps(network, train_items, resize), feature_maps(network, val_items, resize))
    flipped = (feature_maps(network, train_items, "crop", True), feature_maps(network, val_items, "crop", True))

    def variant(name, train, val, l2="cv", extra_train=None):
        """One row: the probe on the splits (with `extra_train` rows added to
        each split's training part, and to all of train/) and on val/."""
        scores = []
        for rows, held in splits:
            x, y = train[rows], y_train[rows]
            if extra_train is not None:
                x, y = np.concatenate([x, extra_train[rows]]), np.concatenate([y, y])
            scores.append(probe_accuracy(x, y, train[held], y_train[held], l2))
        x, y = train, y_train
        if extra_train is not None:
            x, y = np.concatenate([x, extra_train]), np.concatenate([y, y])
        row = {
            "features": name,
            "splits": float(np.mean(scores)),
            "each split": " ".join(f"{s:.3f}" for s in scores),
            "val": probe_accuracy(x, y, val, y_val, l2),
            "width": train.shape[1],
        }
        print(f"{name:<40} splits {row['splits']:.3f}  val {row['val']:.3f}", flush=True)
        return row

    crop_train, crop_val = (pooled(m) for m in maps["crop"])
    rows = [variant("crop, avg (tfl's features)", crop_train, crop_val)]
    for resize, label in (
        ("antialias", "bilinear with antialiasing"),
        ("area", "area averaging"),
        ("pad", "padded to a square, not cropped"),
    ):
        rows.append(variant(f"resize: {label}", *(pooled(m) for m in maps[resize])))
    for pooling, label in (("max", "max"), ("avgmax", "avg and max (concat pooling)"), ("gem", "GeM, p = 3")):
        rows.append(variant(f"pooling: {label}", *(pooled(m, pooling) for m in maps["crop"])))
    for layers, label in ((2, "+ stage 4"), (3, "+ stage 4 + stage 3")):
        rows.append(variant(f"layers: output {label}", *(pooled(m, layers=layers) for m in maps["crop"])))
    flip_train, flip_val = (pooled(m) for m in flipped)
    rows.append(variant("flips: mirrored photos as extra rows", crop_train, crop_val, extra_train=flip_train))
    rows.append(variant("flips: averaged with the mirror", (crop_train + flip_train) / 2, (crop_val + flip_val) / 2))
    for k in FIXED_L2:
        rows.append(variant(f"probe L2 fixed at {k} / N", crop_train, crop_val, l2=k))

    print()
    print(format_table(rows, ["features", "width", "splits", "each split", "val"]))
    write_json(args.json, {"backbone": real_transfer.BACKBONE, "image_size": SIZE[0], "rows": rows})
    print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()

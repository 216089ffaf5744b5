"""`tfl rank` on real data: does LogME (and the probe) pick the ImageNet backbone, and how fast?

Four candidates at 224 px: the genuine Keras ImageNet weights of
`MobileNet(alpha=0.25)` (`mobilenet_025:imagenet`, from `../shared/data`, see
its PROVENANCE.md), the same network with random weights, and two other
random-weight backbones (`mobilenet_v3_small:none`, `mobilenet_v2_035:none`),
ranked on three real image sets:

- `hymenoptera`: the ants-vs-bees photos' `train/` folder (244 images; rank
  scores the 195 of its training split, the other 20% being the split tfl
  holds out and rank never reads);
- `digits`: the UCI handwritten digits embedded in scikit-learn (1797 8x8
  images upscaled to 224; the first 1000 of a shuffled pass over the
  training split);
- `faces`: faces against non-faces, the LFW subset that scikit-image ships
  in its wheel (`skimage.data.lfw_subset()`: 100 grey 25x25 crops of faces
  from Labeled Faces in the Wild and 100 of other things, upscaled to 224;
  rank scores the 160 of the training split). It needs scikit-image
  (`pip install -e ".[bench]"`); the images are written as PNG files to a
  temporary folder, never into the repository.

Each data set runs `tfl.rank` once, in this process, timed from reading the
data to the result (data decoding and resizing, model building, extraction,
LogME and the 5-fold probes). Prints a table per data set and writes JSON.

    python bench/rank.py [--sets hymenoptera,digits,faces] [--image-size 224] [--max-examples 1000]
"""

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from real_transfer import SHARED_DATA
from real_transfer import keras_home_with_weights

import tfl
from tfl.io import write_json

HERE = os.path.dirname(os.path.abspath(__file__))
CANDIDATES = "mobilenet_025:imagenet,mobilenet_025:none,mobilenet_v3_small:none,mobilenet_v2_035:none"
SETS = {"hymenoptera": os.path.join(SHARED_DATA, "hymenoptera", "train"), "digits": "digits", "faces": None}


def write_faces(folder):
    """scikit-image's LFW subset as a folder of class folders: `face/` (the
    first 100 images) and `non_face/` (the other 100), 8-bit grey PNG files."""
    try:
        from skimage.data import lfw_subset
    except ImportError as error:
        raise SystemExit(
            "The faces set is scikit-image's LFW subset; scikit-image is not installed. "
            'Install it (pip install scikit-image, or pip install -e ".[bench]"), or leave faces out of --sets.'
        ) from error
    import numpy as np
    import tensorflow as tf

    images = lfw_subset()
    for i, image in enumerate(images):
        class_folder = os.path.join(folder, "face" if i < len(images) // 2 else "non_face")
        os.makedirs(class_folder, exist_ok=True)
        pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)[..., None]
        tf.io.write_file(os.path.join(class_folder, f"{i:03d}.png"), tf.io.encode_png(pixels))
    return folder


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--candidates", default=CANDIDATES)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--max-examples", type=int, default=1000)
    parser.add_argument("--json", default=os.path.join(HERE, "rank.json"))
    args = parser.parse_args()
    keras_home_with_weights()
    results = {}
    temporary = tempfile.TemporaryDirectory(prefix="tfl-rank-")
    for name in args.sets.split(","):
        if name not in SETS:
            raise SystemExit(f"Unknown set {name!r} in --sets. Known: {', '.join(SETS)}.")
        data = SETS[name] or write_faces(os.path.join(temporary.name, name))
        start = time.perf_counter()
        result = tfl.rank(args.candidates, data, image_size=args.image_size, max_examples=args.max_examples)
        seconds = time.perf_counter() - start
        print(f"\n== {name}: {result.examples} training examples at {args.image_size} px, "
              f"{len(result.candidates)} candidates ranked in {seconds:.1f} s ==")
        print(result.table(), flush=True)
        results[name] = {**result.to_dict(), "wall_seconds": seconds}
    write_json(
        args.json,
        {
            "candidates": args.candidates.split(","),
            "image_size": args.image_size,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "results": results,
        },
    )
    temporary.cleanup()
    print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()

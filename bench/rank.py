"""`tfl rank` on real data: does LogME (and the probe) pick the ImageNet backbone, and how fast?

Four candidates at 224 px: the genuine Keras ImageNet weights of
`MobileNet(alpha=0.25)` (`mobilenet_025:imagenet`, from `../shared/data`, see
its PROVENANCE.md), the same network with random weights, and two other
random-weight backbones (`mobilenet_v3_small:none`, `mobilenet_v2_035:none`),
ranked on two real image sets:

- `hymenoptera`: the ants-vs-bees photos' `train/` folder (244 images; rank
  scores the 195 of its training split, the other 20% being the split tfl
  holds out and rank never reads);
- `digits`: the UCI handwritten digits embedded in scikit-learn (1797 8x8
  images upscaled to 224; the first 1000 of a shuffled pass over the
  training split).

Each data set runs `tfl.rank` once, in this process, timed from reading the
data to the result (data decoding and resizing, model building, extraction,
LogME and the 5-fold probes). Prints a table per data set and writes JSON.

    python bench/rank.py [--sets hymenoptera,digits] [--image-size 224] [--max-examples 1000]
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from real_transfer import SHARED_DATA
from real_transfer import keras_home_with_weights

import tfl
from tfl.io import write_json

HERE = os.path.dirname(os.path.abspath(__file__))
CANDIDATES = "mobilenet_025:imagenet,mobilenet_025:none,mobilenet_v3_small:none,mobilenet_v2_035:none"
SETS = {"hymenoptera": os.path.join(SHARED_DATA, "hymenoptera", "train"), "digits": "digits"}


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
    for name in args.sets.split(","):
        start = time.perf_counter()
        result = tfl.rank(args.candidates, SETS[name], image_size=args.image_size, max_examples=args.max_examples)
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
    print(f"\nWrote {args.json}")


if __name__ == "__main__":
    main()

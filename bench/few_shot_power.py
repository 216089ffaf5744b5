"""Few-shot episodes with a power transform of the features (tried, not adopted).

Hu et al. 2021 ("Leveraging the Feature Distribution in Transfer-based
Few-Shot Learning") and Yang et al. 2021 ("Free Lunch for Few-Shot Learning":
Tukey's ladder of powers) raise non-negative features to a power below 1
(here the square root) before the few-shot classifier: it makes skewed
post-ReLU features closer to Gaussian. The same episodes as
`bench/few_shot.py` (600 per shot count, seed 0, 15 queries per class), the
ImageNet MobileNet 0.25 from `../shared/data`, on the digits at 96 and 224 px
(5-way) and the ants-vs-bees photos at 224 px (2-way); prototypes and the
linear probe of `tfl.train.episode_classifiers` on the raw and on the
square-rooted features (both then scaled to a mean squared norm of 1, as
`tfl.evaluate_few_shot_features` does), and prototypes of features centred on
each episode's support mean (SimpleShot's CL2N). Prints the table and writes
JSON.

    python bench/few_shot_power.py
"""

import os
import platform

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from real_transfer import SHARED_DATA
from real_transfer import keras_home_with_weights

from tfl.data import sample_episodes
from tfl.few_shot import frozen_features
from tfl.io import write_json
from tfl.train import episode_classifiers

HERE = os.path.dirname(os.path.abspath(__file__))
SETS = {
    "digits, 96 px, 5-way": ("digits", 96, 5),
    "digits, 224 px, 5-way": ("digits", 224, 5),
    "ants vs bees, 224 px, 2-way": (os.path.join(SHARED_DATA, "hymenoptera", "train"), 224, 2),
}
TRANSFORMS = {"raw": lambda f: f, "sqrt": lambda f: np.sqrt(np.maximum(f, 0.0))}


def main():
    keras_home_with_weights()
    rows = []
    for name, (data, size, ways) in SETS.items():
        features, labels, _ = frozen_features(
            data, backbone="mobilenet_025", weights="imagenet", image_size=size, encoder=None,
            sequence_length=None, text_column=None, label_column=None, batch_size=64, seed=0,
        )
        assert features.min() >= 0.0, "the power transform needs non-negative (post-ReLU) features"
        for transform, apply in TRANSFORMS.items():
            f = apply(features.astype(np.float64))
            f /= np.sqrt(np.mean(np.sum(f**2, axis=1)))
            row = {"set": name, "features": transform}
            for shots in (1, 5):
                drawn = sample_episodes(labels, ways=ways, shots=shots, queries=15, episodes=600, seed=0)
                support = f[drawn.support.reshape(len(drawn), -1)]
                query = f[drawn.query.reshape(len(drawn), -1)]
                truth = drawn.query_labels()
                for method, predict in (("prototypes", episode_classifiers.prototype_predictions),
                                        ("probe", episode_classifiers.probe_predictions)):
                    row[f"{method}_{shots}"] = 100 * float(np.mean(predict(support, drawn.support_labels(), query, ways) == truth))
                # SimpleShot's CL2N: centred on the episode's support mean before the cosine.
                mean = support.mean(axis=1, keepdims=True)
                centred = episode_classifiers.prototype_predictions(support - mean, drawn.support_labels(), query - mean, ways)
                row[f"centred_prototypes_{shots}"] = 100 * float(np.mean(centred == truth))
            rows.append(row)
            print(f"{name:<30}{transform:<6}" + "".join(f"{k} {v:6.2f}  " for k, v in row.items() if k[-1].isdigit()),
                  flush=True)
    write_json(os.path.join(HERE, "few_shot_power.json"),
               {"rows": rows, "episodes": 600, "seed": 0, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"})


if __name__ == "__main__":
    main()

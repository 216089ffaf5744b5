"""Heads fitted from class prototypes of the frozen features, without a gradient step.

Two uses, both on the training split's cached features (`FeatureCache`):

- `fit_prototypes`: a prototype head (`head="prototypes"`) gets the class
  means of the features, in its metric (means of L2-normalised features for
  "cosine", plain means for "euclidean"). This is how the linear-probe stage
  of a plan fits a prototype head (route "prototypes" of
  `tfl.train.fit_stage.choose_route`); stages that train with gradients
  afterwards train the prototypes as a cosine classifier's weights
  ("Baseline++", Chen et al. 2019).
- `init_head_from_prototypes`: `Stage(head_init="prototypes")`. A dense head
  gets the kernel and bias of the euclidean prototype classifier
  (`tfl.model.prototypes.dense_from_prototypes`; Snell et al. 2017, section
  2.4): its softmax equals `softmax(-||f - p_k||^2 / t)`. The temperature `t`
  maximises the classifier's leave-one-out log-likelihood on the training
  features (`leave_one_out_temperature`, kept within ten times the features'
  mean squared distance to their own class mean): the head starts as sure as
  the prototypes are on examples they have not seen, as the probe's L2 is
  chosen by cross-validated log-loss, so fine-tuning starts neither from
  saturated logits nor from a nearly uniform guess. A prototype head gets its
  class means, as `fit_prototypes`.
"""

import time

import numpy as np

from tfl.model.prototypes import class_prototypes
from tfl.model.prototypes import dense_from_prototypes
from tfl.model.prototypes import leave_one_out_temperature


def fit_prototypes(model, features):
    """Sets a prototype head's prototypes to the class means of the training features.

    Args:
        model: a tfl classifier with `head="prototypes"`.
        features: the stage's `CachedFeatures` (training features and labels).

    Returns:
        A dict for the stage record: head, metric, temperature, examples per
        class, seconds.

    Examples:

    >>> config = tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32, head="prototypes")
    >>> prototype_model = tfl.build_model(config, ["cat", "dog"])
    >>> info = fit_prototypes(prototype_model, FeatureCache(prototype_model).get(data))
    >>> info["head"], info["metric"]
    ('prototypes', 'cosine')
    """
    if not model.prototype_head:
        raise ValueError(
            "fit_prototypes fits a prototype head; this model's head is dense. Build it with "
            "head='prototypes', or use Stage(head_init='prototypes') to start a dense head from the prototypes."
        )
    start = time.perf_counter()
    labels = _class_ids(model, features)
    head = model.head
    head.prototypes.assign(
        class_prototypes(features.train_features, labels, model.num_classes, metric=head.metric)
    )
    return _info("prototypes", head.metric, head.effective_temperature, labels, model, start)


def init_head_from_prototypes(model, features):
    """Starts the head from the prototype classifier of the training features
    (`Stage(head_init="prototypes")`).

    Dense head: kernel `2 p_k / t` and bias `-||p_k||^2 / t` from the
    euclidean class means `p_k`, with `t` the leave-one-out temperature of
    the training features (`leave_one_out_temperature`); its softmax then
    equals the euclidean prototype classifier's at temperature `t`. Prototype head: the
    class means in its own metric (`fit_prototypes`).

    Args:
        model: a tfl classifier (single-label).
        features: the stage's `CachedFeatures`.

    Returns:
        A dict for the stage record: head, metric, temperature, examples per
        class, seconds; for a dense head also `mean_max_probability`, the
        mean top probability on the training features at the start (near
        1: saturated logits).

    Examples:

    >>> config = tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32)
    >>> dense_model = tfl.build_model(config, ["cat", "dog"])
    >>> info = init_head_from_prototypes(dense_model, FeatureCache(dense_model).get(data))
    >>> info["head"], info["metric"], info["temperature"] > 0
    ('dense', 'euclidean', True)
    """
    if model.prototype_head:
        return fit_prototypes(model, features)
    start = time.perf_counter()
    labels = _class_ids(model, features)
    prototypes = class_prototypes(features.train_features, labels, model.num_classes, metric="euclidean")
    temperature = leave_one_out_temperature(features.train_features, labels, prototypes)
    kernel, bias = dense_from_prototypes(prototypes, temperature=temperature)
    model.head.set_weights([kernel, bias])
    info = _info("dense", "euclidean", temperature, labels, model, start)
    logits = np.asarray(features.train_features, np.float64) @ kernel + bias
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    info["mean_max_probability"] = float(probabilities.max(axis=1).mean())
    return info


def init_stage_head(model, data, stage, cache, verbose=0):
    """`Stage.head_init` before the stage trains: the head started from the
    prototypes of `cache.get(data)` (the plan's `FeatureCache`); returns the
    info for the stage record, or None when the stage sets no `head_init`.
    `fit_stage` skips it for a stage resumed midway (its head has trained since)."""
    if stage.head_init is None:
        return None
    info = init_head_from_prototypes(model, cache.get(data))
    if verbose:
        print(
            f"  Head initialised from the class means of the training features ({info['head']} head, "
            f"{info['metric']}, temperature {info['temperature']:.4g})"
        )
    return info


def _class_ids(model, features):
    if model.multi_label:
        raise ValueError(
            "Prototypes are class means for single-label data (one class per example); this model is "
            "multi-label. Received: multi_label=True. Train its dense head instead (no head_init)."
        )
    return np.asarray(features.train_labels).astype(np.int64).reshape(-1)


def _info(head, metric, temperature, labels, model, start):
    counts = np.bincount(labels, minlength=model.num_classes)
    return {
        "head": head,
        "metric": metric,
        "temperature": float(temperature),
        "examples_per_class": dict(zip(model.class_names, (int(c) for c in counts))),
        "seconds": time.perf_counter() - start,
    }

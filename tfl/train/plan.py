"""Planning: which stages to run. Pure functions of the model, the data's size and the choices made.

- `default_stages`: the plan of `tfl train` without `--plan`, from the task,
  the weights and the augmentation.
- `fine_tune_stages`: the plan of `fine_tune` (fastai's `Learner.fine_tune`
  with LP-FT where the features transfer). Whether an image backbone's
  features transfer is measured by `tfl.train.transfer_check`, a separate,
  explicit step whose answer is passed in as `pretrained`.
"""

import dataclasses
import math

from tfl.config.stage import Stage
from tfl.train.batchnorm import steps_per_epoch
from tfl.train.feature_cache import cache_decision

IMAGE_BASE_LR = 2e-3
TEXT_BASE_LR = 5e-5
IMAGE_LR_MULT = 100.0
TEXT_EPOCHS = 3
# BiT hyper-rule: (fewer training examples than this, steps).
BIT_STEPS = ((20_000, 500), (500_000, 10_000), (math.inf, 20_000))


def head_can_be_probed(model_config, task):
    """Whether the default plan may start with a linear probe for a model of
    `model_config`: not where a layer with weights sits between the backbone
    and the head, which a probe on cached features cannot train (a fusion
    model's fusion layer: mixing weights, projections or a gate; a text
    model's LSTM pooling).

    Examples:

    >>> head_can_be_probed(ModelConfig(pooling="lstm"), "text")
    False
    """
    if model_config.fusion.mode is not None:
        return False
    return not (task == "text" and model_config.pooling == "lstm")


def default_stages(weights="imagenet", epochs=5, task="image", augmentation=False, probe=True):
    """The default plan for a task and a backbone with `weights`.

    Pretrained images and text start with LP-FT (Kumar et al. 2022): a linear
    probe fitted to convergence on the frozen backbone's cached features, then
    fine-tuning. With image augmentation the cached features would miss it,
    and with `probe=False` (`head_can_be_probed`) layers after the backbone
    must train with the head, so the head trains for `epochs` epochs at 1e-3
    instead.

    - Images with pretrained weights: the probe (or the head stage), then the
      top 2 backbone stages at 1e-4 for `epochs` (BatchNorm frozen throughout).
    - Images with `weights=None`: a head on random features learns little, so
      one stage trains the whole network at 1e-3, BatchNorm included, with its
      statistics recomputed at the end.
    - Text (`weights` is ignored: encoders come pretrained): the probe, then
      the whole encoder at 5e-5 with AdamW for `epochs`, the usual rate for
      fine-tuning BERT (Devlin et al. 2019 searched 2e-5 to 5e-5).

    Examples:

    >>> [(stage.unfreeze, stage.epochs, stage.learning_rate) for stage in default_stages("imagenet", epochs=3)]
    [('none', 1, 0.001), ('top 2', 3, 0.0001)]
    >>> default_stages(None, epochs=3)[0].train_batchnorm
    True
    """
    head = Stage(unfreeze="none", linear_probe=True)
    if not probe or (augmentation and task == "image"):
        head = Stage(unfreeze="none", epochs=epochs, learning_rate=1e-3)
    if task == "text":
        return (head, Stage(unfreeze="all", epochs=epochs, learning_rate=5e-5, optimizer="adamw"))
    if weights is None:
        return (Stage(unfreeze="all", epochs=epochs, learning_rate=1e-3, train_batchnorm=True),)
    return (head, Stage(unfreeze="top 2", epochs=epochs, learning_rate=1e-4))


def bit_epochs(num_train, steps_in_an_epoch):
    """Epochs that make the BiT hyper-rule's number of steps for `num_train` examples.

    Examples:

    >>> bit_epochs(1_000, 32)   # 500 steps of 32 batches an epoch
    16
    """
    steps = next(steps for limit, steps in BIT_STEPS if num_train < limit)
    return max(1, math.ceil(steps / max(1, steps_in_an_epoch)))


def fine_tune_stages(
    model,
    data,
    *,
    epochs=None,
    freeze_epochs=1,
    base_lr=None,
    lr_mult=None,
    pretrained=None,
    train_batchnorm=False,
    schedule=None,
    linear_probe=None,
):
    """The stages `fine_tune` runs, without running them (see `tfl.train.fine_tune`).

    Args: as `fine_tune`, except `pretrained`: for an image model it must be
        decided, True or False, e.g. from `transfer_check(model, data)`; None
        is accepted for text (encoders come pretrained).

    Returns:
        A tuple of `Stage`.

    Examples:

    >>> [stage.unfreeze for stage in fine_tune_stages(model, data, pretrained=True)]
    ['none', 'all']
    """
    check_one_kind_of_branch(model)
    text = model.task == "text"
    _check_arguments(epochs, freeze_epochs, base_lr, lr_mult)
    if text and pretrained is False:
        raise ValueError("Text encoders come pretrained: leave pretrained=None or True for a text model.")
    if pretrained is None and not text:
        raise ValueError(
            "fine_tune_stages needs pretrained=True or False for an image model: whether its features "
            "transfer. Measure it first: check = tfl.train.transfer_check(model, data), then "
            "pretrained=check.features_transfer (fine_tune(model, data) does both). Received: pretrained=None"
        )
    if epochs is None:
        epochs = TEXT_EPOCHS if text else bit_epochs(data.num_train, steps_per_epoch(data.train, data.num_train))
    if pretrained is False:
        return (Stage("all", epochs + freeze_epochs, base_lr or 1e-3, train_batchnorm=True),)
    stages = []
    if freeze_epochs:
        stages.append(_frozen_stage(model, text, freeze_epochs, base_lr, linear_probe))
    num_stages = len(model.stage_layers())
    if text:
        decay = _decay(lr_mult, num_stages) if lr_mult else None
        rate = base_lr or TEXT_BASE_LR
        stages.append(Stage("all", epochs, rate, optimizer="adamw", schedule=schedule or "constant", lr_decay=decay))
    else:
        rate = (base_lr or IMAGE_BASE_LR) / 2
        decay = _decay(IMAGE_LR_MULT if lr_mult is None else lr_mult, num_stages)
        stages.append(
            Stage("all", epochs, rate, schedule=schedule or "one_cycle", lr_decay=decay, train_batchnorm=train_batchnorm)
        )
    return tuple(stages)


def check_one_kind_of_branch(model):
    """Raises for a model of image and text branches: `fine_tune`'s plan is
    an image plan (one-cycle from 1e-3, every stage, a transfer check that may
    choose training from scratch) or a text plan (5e-5, constant), and either
    applied to the other kind of branch undoes its pretraining."""
    if model.task not in ("image", "text"):
        raise ValueError(
            f"fine_tune plans for image models or for text models; this {type(model).__name__} has "
            f"image and text branches (task {model.task!r}), and the image plan's rates (up to 1e-3) would "
            "undo its text encoder's pretraining. Give the stages yourself, each branch at its own rate, e.g. "
            "tfl.fit_stages(model, data, 'none:3:1e-3,image/<stage>:3:1e-4,text/<layer>:3:5e-5') "
            "(model.stage_layers() lists the stage names)."
        )


def _frozen_stage(model, text, freeze_epochs, base_lr, linear_probe):
    """The frozen-backbone stage: a linear probe where asked (by default: the
    features transfer) and the cache allows it, else head epochs."""
    if linear_probe is None:  # LP-FT: here the features transfer
        linear_probe = True
    if linear_probe and cache_decision(model, Stage("none")).use:  # frozen and not augmented
        return Stage("none", linear_probe=True)
    head_lr = base_lr or (TEXT_BASE_LR if text else IMAGE_BASE_LR)
    return Stage("none", freeze_epochs, head_lr, schedule="constant" if text else "one_cycle")


def _decay(lr_mult, num_stages):
    """The per-stage factor whose `num_stages`-th power is `1 / lr_mult`."""
    return float(lr_mult) ** (-1.0 / max(1, num_stages))


def _check_arguments(epochs, freeze_epochs, base_lr, lr_mult):
    _check_count(epochs, "epochs", minimum=1)
    _check_count(freeze_epochs, "freeze_epochs", minimum=0)
    if base_lr is not None and not (isinstance(base_lr, (int, float)) and base_lr > 0):
        raise ValueError(f"base_lr must be a number > 0, e.g. 2e-3. Received: base_lr={base_lr!r}")
    if lr_mult is not None and not (isinstance(lr_mult, (int, float)) and lr_mult >= 1):
        raise ValueError(
            "lr_mult is how many times slower the lowest backbone stage trains than the head, >= 1 "
            f"(1: one rate for all). Received: lr_mult={lr_mult!r}"
        )


def _check_count(value, name, minimum):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}. Received: {name}={value!r}")


def with_early_stopping(stages, patience):
    """`stages` with `early_stopping=patience` where a stage sets none (linear
    probes, which have nothing to stop, keep None); `patience=None` changes
    nothing.

    Examples:

    >>> probe, top2 = with_early_stopping(parse_stages("probe,top2:10:1e-4"), 3)
    >>> probe.early_stopping, top2.early_stopping
    (None, 3)
    """
    if patience is None:
        return tuple(stages)
    return tuple(
        stage
        if stage.linear_probe or stage.early_stopping is not None
        else dataclasses.replace(stage, early_stopping=patience)
        for stage in stages
    )

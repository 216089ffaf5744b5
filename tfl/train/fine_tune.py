"""`fine_tune`: the whole transfer recipe in one call, fastai-style.

`fine_tune(model, data)` runs two stages through `fit_stages`:

1. Frozen backbone: where the features are known to transfer (text
   encoders; image backbones that passed the transfer check below, or
   `pretrained=True`) and the feature cache is valid, a linear probe fitted
   to convergence on the cached features (LP-FT, Kumar et al. 2022: a
   converged head does not distort the features it is fine-tuned with);
   otherwise the head alone, `freeze_epochs` epochs at `base_lr` on a
   one-cycle (fastai). `linear_probe=` chooses. On real ImageNet weights
   (MobileNet 0.25, ants vs bees, bench/real_transfer.py) the probe first
   raised fine_tune from 0.81 to 0.85 on held-out parts of the training
   folder (3 splits; docs/performance.md); on the image demo's narrow source
   the check chooses the other plan.
2. Everything unfrozen for `epochs` epochs, with discriminative rates: the
   head at `base_lr / 2` and each lower backbone stage a constant factor
   slower, so that the lowest stage trains at `base_lr / 2 / lr_mult`
   (fastai's `fine_tune`: `slice(base_lr / lr_mult, base_lr)` after halving
   `base_lr`), on a one-cycle schedule.

Defaults, and where they come from:

- images: `base_lr=2e-3` with Adam, `lr_mult=100`, one-cycle (fastai's
  `Learner.fine_tune` defaults). `epochs` from the data size, by the BiT
  hyper-rule (Kolesnikov et al. 2020, "Big Transfer"): 500 steps below
  20,000 training examples, 10,000 steps below 500,000, 20,000 above,
  turned into epochs of the data's batches. BatchNorm layers stay in
  inference mode, as everywhere in tfl (`train_batchnorm=True` trains
  them, as fastai does).
- text: `base_lr=5e-5` with AdamW at a constant rate, for 3 epochs, one
  rate for all layers (Devlin et al. 2019 fine-tune BERT for 2 to 4 epochs
  at 2e-5 to 5e-5); `lr_mult` gives layer-wise decay if set.
- `pretrained=False` (images from random weights): one stage that trains
  everything at 1e-3, BatchNorm included, as `default_stages(weights=None)`.
- `pretrained=None` (the default) for images: `transfer_check` scores the
  backbone's frozen features against random copies' with a cross-validated
  linear probe on the training examples. Where a random copy's features
  score better (accuracy and log-loss), the weights are a starting point,
  not features worth protecting: the plan is then the `pretrained=False`
  one (everything at 1e-3 with BatchNorm, `epochs + freeze_epochs` epochs)
  started from them.
  On the image demo this is the case, and that plan beats fastai's by 7
  points (docs/demo.md). Text encoders always get the plan above.

Every default is an argument, and `stages=` replaces the plan altogether.
"""

from tfl.train.loop import fit_stages
from tfl.train.plan import check_one_kind_of_branch
from tfl.train.plan import fine_tune_stages
from tfl.train.transfer_check import transfer_check


def fine_tune(
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
    stages=None,
    **fit_options,
):
    """Fine-tunes a pretrained tfl classifier in one call (see the module doc).

    Args:
        model: a tfl classifier from `tfl.model.build_model` (image or text;
            a fusion model of image and text branches is refused: give it
            stages at each branch's own rate).
        data: a `tfl.data.ImageData` or `tfl.data.TextData`.
        epochs: epochs with everything unfrozen. None: 3 for text; for
            images the BiT hyper-rule's steps for the data's size.
        freeze_epochs: head epochs on the frozen backbone first, where a
            linear probe cannot replace them; 0 skips the frozen stage.
        base_lr: the head's rate in the frozen stage (2e-3 images, 5e-5 text).
        lr_mult: the head trains `lr_mult` times faster than the lowest
            backbone stage (100 for images, 1 for text).
        pretrained: False for an image backbone with random weights: one
            stage trains everything, BatchNorm included. True: fastai's plan
            above. None: for images, `transfer_check` chooses between the
            two (fastai's unless a random copy's features score better);
            for text, True.
        train_batchnorm: train BatchNorm layers when unfrozen (fastai does);
            tfl keeps them in inference mode by default.
        schedule: the unfrozen stage's schedule (one-cycle for images,
            constant for text).
        linear_probe: fit the frozen stage's head as a linear probe (where the
            feature cache is valid) instead of `freeze_epochs` head epochs.
            None: for text and for images whose features transfer
            (`pretrained=True`, or the transfer check found so); head epochs
            otherwise.
        stages: an explicit plan that replaces the defaults.
        **fit_options: passed to `fit_stages` (callbacks, verbose,
            feature_cache, cache_dir, augmented_views, jit_compile, seed).

    Returns:
        The `TrainingHistory`; `history.plan` holds the stages that ran and
        `history.transfer_check` the check that chose them (a dict), if any.

    Examples:

    >>> history = tfl.fine_tune(model, data, epochs=1, base_lr=1e-3, verbose=0)
    >>> [s.unfreeze for s in history.plan]
    ['none', 'all']
    """
    check = None
    if stages is None:
        pretrained, linear_probe, check = decide_pretrained(model, data, pretrained, linear_probe)
        stages = fine_tune_stages(
            model,
            data,
            epochs=epochs,
            freeze_epochs=freeze_epochs,
            base_lr=base_lr,
            lr_mult=lr_mult,
            pretrained=pretrained,
            train_batchnorm=train_batchnorm,
            schedule=schedule,
            linear_probe=linear_probe,
        )
    history = fit_stages(model, data, stages, **fit_options)
    history.transfer_check = None if check is None else check.to_dict()
    return history


def decide_pretrained(model, data, pretrained=None, linear_probe=None):
    """Runs `transfer_check` where `fine_tune` needs it (an image model and
    `pretrained=None`) and turns its answer into `fine_tune_stages` arguments.

    Returns:
        `(pretrained, linear_probe, check)`: `check` is the `TransferCheck`,
        or None where none ran or it could not say (then fastai's plan with
        head epochs first, as before the check existed).
    """
    check_one_kind_of_branch(model)  # before the transfer check trains anything
    if pretrained is not None or model.task == "text":
        return pretrained, linear_probe, None
    check = transfer_check(model, data)
    if check is None:
        return True, False if linear_probe is None else linear_probe, None
    return check.features_transfer, linear_probe, check


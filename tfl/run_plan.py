"""`plan_run`: a `Config` in, every decision of a run out, before any data is read.

`run_experiment` executes a `RunPlan` and never re-decides. The decisions and
their one owner:

- the task: the config's, or the one its data source implies
  (`tfl.data.detect_task`);
- the backbone and image size: the registry entry and its default size
  (`tfl.backbones.resolve_image_size`);
- the stages: the config's own, the default plan of the task
  (`tfl.train.default_stages`; head epochs instead of the linear probe where
  the model's head cannot be probed, `tfl.train.head_can_be_probed`), or `--plan fine_tune`'s, which depends on the
  built model (its stages) and, for images, on the transfer check over the
  training data: `RunPlan.fine_tune` says it is decided by
  `tfl.train.fine_tune_stages` once the model exists, and nothing else.
"""

import dataclasses

from tfl.backbones import get_backbone_spec
from tfl.backbones import resolve_image_size
from tfl.data import detect_task
from tfl.train import default_stages
from tfl.train import head_can_be_probed
from tfl.train import resolve_unfreeze


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """The resolved decisions of a run.

    Attributes:
        requested: the `Config` as given (what a resumed run must match).
        config: the `Config` with the task, backbone name, image size and
            stages filled in (stages None while `fine_tune` decides them).
        task: "image" or "text".
        image_size: (height, width) for images, None for text.
        stages: the tuple of `Stage` to run, or None for `fine_tune`.
        fine_tune: the stages come from `tfl.train.fine_tune_stages` once the
            model is built.
        pretrained: for `fine_tune`: False for an image backbone without
            weights (no transfer check), None to run the check (images) or
            nothing to check (text).
        adapt: whether a domain-adaptation phase follows the stages.
        self_training: whether the stages run in self-training rounds with
            `data.unlabeled_source` (`tfl.train.self_training`).
    """

    requested: object
    config: object
    task: str
    image_size: tuple | None
    stages: tuple | None
    fine_tune: bool
    pretrained: bool | None
    adapt: bool
    self_training: bool = False


def plan_run(config):
    """Resolves `config` into a `RunPlan`, validating what can be validated
    without data: the backbone name, image size and stage names (image
    backbones; text and fusion stages are named by the built model).

    Args:
        config: a `tfl.config.Config`.

    Returns:
        A `RunPlan`.

    Examples:

    >>> plan = plan_run(Config.from_dict({"data": {"source": "digits"},
    ...     "model": {"backbone": "mobilenet_v3_small", "weights": None, "image_size": 32}}))
    >>> plan.task, plan.image_size, [(stage.unfreeze, stage.epochs) for stage in plan.stages]
    ('image', (32, 32), [('all', 5)])
    """
    task = config.task or detect_task(config.data.source, tfds_data_dir=config.data.tfds_data_dir)
    fine_tune = config.train.stages is None and config.train.plan == "fine_tune"
    stages = None if fine_tune else _stages(config, task)
    updates = {"task": task, "train.stages": stages}
    image_size = None
    if task == "image":
        spec = get_backbone_spec(config.model.backbone)
        image_size = resolve_image_size(spec, config.model.image_size)
        if config.model.fusion.mode is None:
            for stage in stages or ():  # a stage name the backbone lacks fails now, not after loading data
                resolve_unfreeze(stage.unfreeze, spec.stage_names)
        updates.update({"model.backbone": spec.name, "model.image_size": list(image_size)})
    return RunPlan(
        requested=config,
        config=config.replace(**updates),
        task=task,
        image_size=image_size,
        stages=stages,
        fine_tune=fine_tune,
        pretrained=None if task == "text" or config.model.weights is not None else False,
        adapt=config.train.adaptation.method is not None,
        self_training=config.train.self_training.method is not None,
    )


def _stages(config, task):
    """The config's stages, or the default plan for its task, weights and augmentation."""
    return config.train.stages or default_stages(
        config.model.weights,
        config.train.epochs,
        task=task,
        augmentation=task == "image" and config.model.augmentation.enabled,
        probe=head_can_be_probed(config.model, task),
    )

"""Setting `trainable` flags for a stage: which named backbone stages train.

Two facts of Keras 3 shape this module (both checked by tests):
- a `trainable` change after `compile()` is ignored until the next `compile()`,
  so the stage loop compiles after calling `apply_stage`;
- `fit` passes `training=True` through a functional model, overriding
  `backbone(x, training=False)`, so a BatchNorm layer keeps its statistics
  only when it is itself `trainable=False`; `apply_stage` sets that per layer.
"""

import dataclasses

import keras

from tfl.config.stage import Stage

_BATCHNORM = keras.layers.BatchNormalization


@dataclasses.dataclass(frozen=True)
class StagePlan:
    """What a stage trains, as applied to one model.

    Attributes:
        trainable_stages: backbone stage names that train, from input to output.
        frozen_stages: backbone stage names that stay frozen.
        batchnorm_layers: BatchNorm layers that train (update their statistics).
        lr_multipliers: {variable path: learning-rate multiplier} for
            discriminative rates; empty when all train at the stage's rate.
        trainable_params: number of trainable parameters.

    Examples:

    >>> plan = apply_stage(model, Stage("top 1"))
    >>> plan.trainable_stages, plan.frozen_stages, plan.batchnorm_layers
    (('stride32',), ('stem', 'stride8', 'stride16'), ())
    """

    trainable_stages: tuple
    frozen_stages: tuple
    batchnorm_layers: tuple
    lr_multipliers: dict
    trainable_params: int


def resolve_unfreeze(unfreeze, stage_names):
    """Returns the stage names an `unfreeze` value selects, from input to output.

    Raises:
        ValueError: for a stage name the backbone does not have, or a `top N`
            larger than the number of stages, naming the backbone's stages.

    Examples:

    >>> resolve_unfreeze("top 2", ["stem", "stride8", "stride16", "stride32"])
    ['stride16', 'stride32']
    """
    stage_names = list(stage_names)
    unfreeze = Stage(unfreeze=unfreeze).unfreeze
    if unfreeze == "none":
        return []
    if unfreeze == "all":
        return stage_names
    if unfreeze.startswith("top "):
        k = int(unfreeze.split()[1])
        if k > len(stage_names):
            raise ValueError(
                f"unfreeze='top {k}' asks for more stages than the backbone has ({len(stage_names)}: "
                f"{', '.join(stage_names)}). Use 'all' or 'top {len(stage_names)}' or fewer."
            )
        return stage_names[-k:]
    wanted = unfreeze.split("+")
    unknown = [name for name in wanted if name not in stage_names]
    if unknown:
        raise ValueError(
            f"Unknown backbone stage {unknown[0]!r}. This backbone's stages are: "
            f"{', '.join(stage_names)} (or 'none', 'all', 'top N'). Received: unfreeze={unfreeze!r}"
        )
    return [name for name in stage_names if name in wanted]


def apply_stage(model, stage):
    """Sets the `trainable` flags of `model` for `stage`; returns a `StagePlan`.

    The head always trains. Backbone layers train when their named stage is
    selected; layers in no stage never train. BatchNorm layers train only in selected stages and only when
    `stage.train_batchnorm`; otherwise they stay frozen in inference mode.
    Compile the model after this call: Keras ignores the change until then.

    Args:
        model: a tfl classifier (it has `backbone`, `stage_layers()` and
            `head_layers()`).
        stage: a `tfl.config.Stage`.

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> plan = apply_stage(model, Stage("top 1", epochs=1, learning_rate=1e-4))
    >>> plan.trainable_stages, plan.trainable_params
    (('stride32',), 730154)
    >>> model.backbone.get_layer("expanded_conv_8_expand").trainable
    True
    """
    stages = model.stage_layers()
    selected = resolve_unfreeze(stage.unfreeze, stages)
    model.trainable = True
    model.backbone.trainable = True
    trained_batchnorm = []
    in_a_stage = set()
    for name, layers in stages.items():
        for layer in layers:
            train = name in selected
            _set_trainable(layer, train, stage.train_batchnorm, trained_batchnorm)
            in_a_stage.add(id(layer))
    for layer in model.backbone.layers:  # e.g. a text encoder's pooler the pooling does not use
        if id(layer) not in in_a_stage:
            layer.trainable = False
    for layer in model.head_layers():
        layer.trainable = True
    return StagePlan(
        trainable_stages=tuple(selected),
        frozen_stages=tuple(name for name in stages if name not in selected),
        batchnorm_layers=tuple(trained_batchnorm),
        lr_multipliers=_lr_multipliers(stages, selected, stage.lr_decay, type(model).__name__),
        trainable_params=sum(int(keras.ops.size(w)) for w in model.trainable_weights),
    )


def _set_trainable(layer, train, train_batchnorm, trained_batchnorm):
    if isinstance(layer, _BATCHNORM):
        layer.trainable = train and train_batchnorm
        if layer.trainable:
            trained_batchnorm.append(layer)
        return
    layer.trainable = train
    if train and isinstance(layer, keras.Model):  # nested blocks (ConvNeXt): BN inside stays frozen too
        for inner in layer.layers:
            _set_trainable(inner, train, train_batchnorm, trained_batchnorm)


def _lr_multipliers(stages, selected, lr_decay, kind):
    """Top selected stage gets lr_decay, the next lower lr_decay**2, ...
    (keyed by variable path, which `ScaledUpdates` keeps when saved)."""
    if lr_decay is None or lr_decay == 1 or not selected:
        return {}
    multipliers = {}
    stage_of = {}
    for depth, name in enumerate(reversed(selected), start=1):
        for layer in stages[name]:
            for variable in layer.trainable_weights:
                if variable.path in multipliers:
                    raise ValueError(_shared_path_message(kind, variable.path, stage_of[variable.path], name))
                multipliers[variable.path] = lr_decay**depth
                stage_of[variable.path] = name
    return multipliers


def _shared_path_message(kind, path, first, second):
    branch = second.split("/")[0]
    return (
        f"lr_decay gives each variable its rate by its path, and two variables of this {kind} share the path "
        f"{path!r} (stages {first!r} and {second!r}: branches of one architecture, built apart). Build the "
        "model with tfl.model.build_fusion_model (or tfl.build_model), which builds each branch inside "
        f"keras.name_scope(branch name), or build each backbone yourself inside "
        f"`with keras.name_scope({branch!r}):`; or set lr_decay=None."
    )

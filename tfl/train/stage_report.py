"""`StageReport`: what a stage will train, shown before it runs.

One row per named backbone stage, then the head: whether it trains, its
parameters, its BatchNorm mode and its learning rate, read from the model
after `apply_stage` set the flags (so it shows what Keras will train, not
what the plan meant). Warnings flag the plans that usually are mistakes: a
stage that unfreezes backbone stages without a weight to train, and one that
trains the whole backbone without saying "all".
"""

import dataclasses

import keras

from tfl.train.freezing import resolve_unfreeze

HEAD = "head"
UNSTAGED = "(in no stage)"


@dataclasses.dataclass(frozen=True)
class StageReport:
    """The rows and warnings of one stage's report.

    Attributes:
        index: position of the stage in the plan (0-based).
        count: number of stages in the plan.
        description: the stage in words.
        rows: one dict per part of the model, input to output: `part`,
            `status` ("trainable" or "frozen"), `params`, `trainable_params`,
            `batchnorm` ("training", "inference" or "none"), `learning_rate`
            (None when frozen).
        warnings: plain-language warnings, empty when all looks intended.

    Examples:

    >>> stage = Stage("top 1", learning_rate=1e-4)
    >>> report = stage_report(model, stage, apply_stage(model, stage))
    >>> report.description, report.warnings
    ("unfreeze='top 1' for 1 epoch(s) at 0.0001 (adam, constant)", ())
    >>> report.rows[-1]["part"], report.rows[-1]["status"]
    ('head', 'trainable')
    """

    index: int
    count: int
    description: str
    rows: tuple
    warnings: tuple

    @property
    def trainable_params(self):
        return sum(row["trainable_params"] for row in self.rows)

    def to_dict(self):
        return {
            "index": self.index,
            "description": self.description,
            "rows": [dict(row) for row in self.rows],
            "trainable_params": self.trainable_params,
            "warnings": list(self.warnings),
        }

    def format(self):
        """The report as a text table."""
        header = ("part", "status", "params", "trainable", "BatchNorm", "learning rate")
        lines = [
            (
                row["part"],
                row["status"],
                f"{row['params']:,}",
                f"{row['trainable_params']:,}",
                row["batchnorm"],
                "-" if row["learning_rate"] is None else f"{row['learning_rate']:.3g}",
            )
            for row in self.rows
        ]
        widths = [max(len(str(c)) for c in column) for column in zip(header, *lines)]
        text = [f"Stage {self.index + 1}/{self.count}: {self.description}"]
        for cells in (header, *lines):
            text.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())
        text += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(text)


def stage_report(model, stage, plan, *, index=0, count=1):
    """The report of `stage` as `apply_stage` applied it to `model`.

    Args:
        model: a tfl classifier (with `stage_layers()`, `head_layers()`,
            `backbone`), after `apply_stage(model, stage)`.
        stage: the `tfl.config.Stage`.
        plan: the `StagePlan` that `apply_stage` returned.
        index: the stage's position in the plan, for the title.
        count: the number of stages in the plan.

    Returns:
        A `StageReport`.

    Examples:

    >>> model = tfl.build_model(tfl.ModelConfig(backbone="mobilenet_v3_small", weights=None, image_size=32), ["cat", "dog"])
    >>> stage = Stage("top 1", epochs=2, learning_rate=1e-4)
    >>> print(stage_report(model, stage, apply_stage(model, stage)).format())
    Stage 1/1: unfreeze='top 1' for 2 epoch(s) at 0.0001 (adam, constant)
      part      status     params   trainable  BatchNorm  learning rate
      stem      frozen     1,304    0          inference  -
      stride8   frozen     10,016   0          inference  -
      stride16  frozen     183,824  0          inference  -
      stride32  trainable  743,976  729,000    inference  0.0001
      head      trainable  1,154    1,154      none       0.0001
    """
    stages = model.stage_layers()
    trained_batchnorm = {id(layer) for layer in plan.batchnorm_layers}
    parts = list(stages.items())
    # Backbone layers in no stage never train; e.g. a text encoder's pooler
    # that mean pooling does not use. They get a row of their own.
    in_a_stage = {id(layer) for layers in stages.values() for layer in layers}
    unstaged = [layer for layer in model.backbone.layers if id(layer) not in in_a_stage and layer.weights]
    if unstaged:
        parts.insert(0, (UNSTAGED, unstaged))
    parts.append((HEAD, list(model.head_layers())))

    rows = []
    for name, layers in parts:
        params = _count(_unique(w for layer in layers for w in layer.weights))
        trainable = _unique(w for layer in layers for w in layer.trainable_weights)
        batchnorm = [layer for layer in layers for layer in _batchnorm_in(layer)]
        rows.append(
            {
                "part": name,
                "status": "trainable" if trainable else "frozen",
                "params": params,
                "trainable_params": _count(trainable),
                "batchnorm": _batchnorm_mode(batchnorm, trained_batchnorm),
                "learning_rate": _rate(stage, plan, trainable) if trainable else None,
            }
        )
    return StageReport(
        index=index,
        count=count,
        description=describe_stage(stage, prototypes=model.prototype_head),
        rows=tuple(rows),
        warnings=tuple(_warnings(stage, stages, rows)),
    )


def describe_stage(stage, prototypes=False):
    if stage.linear_probe and prototypes:
        return "prototypes (each class's mean of the frozen backbone's features; no gradient step)"
    if stage.linear_probe:
        return "linear probe (the head fitted to convergence on the frozen backbone)"
    extra = f", lr_decay {stage.lr_decay}" if stage.lr_decay else ""
    extra += ", head started from the class prototypes" if stage.head_init == "prototypes" else ""
    return (
        f"unfreeze={stage.unfreeze!r} for {stage.epochs} epoch(s) at {stage.learning_rate:g} "
        f"({stage.optimizer}, {stage.schedule}{extra})"
    )


def _warnings(stage, stages, rows):
    warnings = []
    selected = resolve_unfreeze(stage.unfreeze, stages)
    by_part = {row["part"]: row for row in rows}
    empty = [name for name in selected if not by_part[name]["trainable_params"]]
    if empty:
        warnings.append(
            f"unfreeze={stage.unfreeze!r} selects {', '.join(empty)}, which has no weight to train "
            "(only frozen BatchNorm, or no weights at all). Pick other stages, or set "
            "train_batchnorm=True to train the BatchNorm layers."
        )
    if selected and stage.unfreeze != "all" and len(selected) == len(stages):
        warnings.append(
            f"unfreeze={stage.unfreeze!r} selects every backbone stage: the whole backbone trains, "
            f"at a learning rate of {stage.learning_rate:g}. Write 'all' if that is meant, or fewer stages."
        )
    return warnings


def _rate(stage, plan, trainable):
    if stage.linear_probe:
        return None
    multipliers = {plan.lr_multipliers.get(w.path, 1.0) for w in trainable}
    return stage.learning_rate * max(multipliers)


def _batchnorm_in(layer):
    if isinstance(layer, keras.layers.BatchNormalization):
        return [layer]
    if isinstance(layer, keras.Model):
        return [inner for sub in layer.layers for inner in _batchnorm_in(sub)]
    return []


def _batchnorm_mode(layers, trained):
    if not layers:
        return "none"
    return "training" if any(id(layer) in trained for layer in layers) else "inference"


def _unique(variables):
    seen = {}
    for variable in variables:
        seen.setdefault(id(variable), variable)
    return list(seen.values())


def _count(variables):
    return sum(int(keras.ops.size(v)) for v in variables)

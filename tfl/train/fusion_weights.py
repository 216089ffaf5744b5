"""`FusionWeightLogger`: the learned mixing weights of a weighted `Fusion` layer, logged each epoch."""

import keras
import numpy as np

LOG_PREFIX = "fusion_weight_"


class FusionWeightLogger(keras.callbacks.Callback):
    """Writes each input's mixing weight of a "weighted" `Fusion` layer into the epoch logs.

    The keys are `fusion_weight_<name>` (e.g. `fusion_weight_source`, the `a`
    of `a * F_source + (1 - a) * F_target`; the mean over channels with
    `per_channel`), so they land in the `History` and in `report.json` next to
    the loss, and `tfl.evaluate.plot_fusion_weights` draws them across
    stages. Put it before callbacks that read them.

    Args:
        fusion: the `Fusion` layer (mode "weighted"), e.g. `model.fusion` of a
            `FusionClassifier`. It is read directly, so the callback works
            whichever model `fit` trains.
        names: one name per fused input, e.g. `model.branch_names`.

    Examples:

    >>> config = tfl.ModelConfig(weights=None, image_size=32, fusion=tfl.config.FusionConfig(mode="weighted"))
    >>> fused = build_model(config, ["cat", "dog"])
    >>> logger = FusionWeightLogger(fused.fusion, fused.branch_names)
    >>> history = fit_stages(fused, data, [Stage("none", epochs=1)], callbacks=[logger], verbose=0)
    >>> history.stages[0].history["fusion_weight_source"]
    [0.5...]
    """

    def __init__(self, fusion, names):
        super().__init__()
        if fusion.mode != "weighted":
            raise ValueError(
                f"FusionWeightLogger reads the mixing weights of mode='weighted'; this layer has "
                f"mode={fusion.mode!r}. Received: fusion={fusion.name!r}"
            )
        self.fusion = fusion
        self.names = list(names)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        weights = self.fusion.mixing_weights()
        if len(weights) != len(self.names):
            raise ValueError(f"{len(self.names)} names for {len(weights)} fused inputs: {self.names}")
        for name, weight in zip(self.names, weights):
            logs[LOG_PREFIX + name] = float(np.mean(weight))

"""`BestEpoch`: early stopping within one stage, ending on the stage's best weights.

One instance per stage and per `fit`: nothing of an earlier stage (its best
loss, its weights, its patience count) reaches the next one, the trap of
keeping one `keras.callbacks.EarlyStopping(restore_best_weights=True)` across
two `fit` calls (keras-team/keras#13488, #12511).
"""

import keras
import numpy as np

MONITOR = "val_loss"


class BestEpoch(keras.callbacks.Callback):
    """Stops `fit` after `patience` epochs without a lower `val_loss`, and
    sets the weights of the best epoch at the end of `fit` (stopped or not).

    Args:
        patience: epochs without improvement before the stage stops.
        planned_epochs: the stage's epochs, for the record.
        first_epoch: the global index of the stage's first epoch.
        earlier: the stage's `val_loss` per epoch before a resume. Their
            patience count goes on, but only the last one's weights were
            saved: the weights kept are the best of that epoch and the ones
            after it.
    """

    def __init__(self, patience, planned_epochs, first_epoch=0, earlier=()):
        super().__init__()
        self.patience = patience
        self.planned_epochs = planned_epochs
        self.first_epoch = first_epoch
        self.losses = [float(value) for value in earlier]
        self.epochs = []
        self.best = None  # (global epoch, val_loss, weights)
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.epochs = []
        if self.losses:  # resumed: the model holds the last saved epoch's weights
            self.best = (self.first_epoch + len(self.losses) - 1, self.losses[-1], self.model.get_weights())

    def on_epoch_end(self, epoch, logs=None):
        if MONITOR not in (logs or {}):
            raise ValueError(
                f"Early stopping watches {MONITOR!r}, which fit did not report. Received: logs with "
                f"{sorted(logs or {})}. Give the stage validation data."
            )
        loss = float(logs[MONITOR])
        self.losses.append(loss)
        self.epochs.append(epoch)
        if self.best is None or loss < self.best[1] or np.isnan(self.best[1]):
            self.best = (epoch, loss, self.model.get_weights())
        if len(self.losses) - 1 - best_index(self.losses) >= self.patience:
            self.stopped = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best is not None:
            self.model.set_weights(self.best[2])

    def describe(self):
        """One line for the stage's output."""
        summary = self.summary()
        stopped = summary["stopped_epoch"]
        ran = f"stopped after epoch {stopped + 1}" if stopped is not None else "ran every epoch"
        if summary["best_epoch"] is None:
            return f"Early stopping: {ran}; no epoch reported {MONITOR}"
        return (
            f"Early stopping (patience {self.patience}): {ran}; weights of epoch {summary['best_epoch'] + 1} "
            f"({MONITOR} {summary['best_val_loss']:.4f})"
        )

    def summary(self):
        """What the stage's record keeps: patience, planned epochs, the epoch
        it stopped after (None: it ran them all), the epoch whose weights it
        ended with (global indices; None: the epoch restored by a resume) and
        that epoch's `val_loss`."""
        return {
            "monitor": MONITOR,
            "patience": self.patience,
            "planned_epochs": self.planned_epochs,
            "stopped_epoch": self.epochs[-1] if self.stopped and self.epochs else None,
            "best_epoch": None if self.best is None else self.best[0],
            "best_val_loss": None if self.best is None else self.best[1],
        }


def best_index(losses):
    """The index of the first lowest loss; a NaN (a diverged epoch) is never the best."""
    finite = [(loss, index) for index, loss in enumerate(losses) if not np.isnan(loss)]
    return min(finite)[1] if finite else 0

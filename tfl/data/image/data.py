"""`ImageData`: what every source returns, the training and held-out pipelines."""

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True, eq=False)
class ImageData:
    """Batched image pipelines with their class names and sizes.

    Each batch is `({"images": float32 [B, H, W, 3] in [0, 255]}, labels)`:
    int32 class ids `[B]`, or float32 multi-hot `[B, C]` when `multi_label`.

    Args:
        train: shuffled with the seed, in a new order each epoch, prefetched.
        validation: the held-out examples in a fixed order, prefetched.
        class_names: the class names; a label `i` means `class_names[i]`.
        num_train: examples in `train`.
        num_validation: examples in `validation`.
        image_size: `(height, width)` of every image.
        multi_label: labels are multi-hot vectors instead of class ids.
        validation_labels: the labels of `validation`, in its order (numpy).
        skipped_files: bad files skipped with `skip_bad_files=True`.

    Examples:

    >>> data = from_directory("flowers/", image_size=(224, 224))
    >>> data.class_names
    ('daisy', 'roses', 'tulips')
    >>> images, labels = next(iter(data.train))
    >>> images["images"].shape[1:], labels.dtype
    (TensorShape([224, 224, 3]), tf.int32)
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    class_names: tuple[str, ...]
    num_train: int
    num_validation: int
    image_size: tuple[int, int]
    multi_label: bool
    validation_labels: np.ndarray
    skipped_files: tuple[str, ...] = ()

    @property
    def num_classes(self):
        return len(self.class_names)

    def __repr__(self):
        return (
            f"ImageData({self.num_classes} classes, {self.num_train} train, "
            f"{self.num_validation} validation, image_size={self.image_size}, "
            f"multi_label={self.multi_label})"
        )

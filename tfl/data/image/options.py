"""`ImageOptions`: the pipeline settings every image source shares."""

import dataclasses

from tfl.config.data_config import check_resize
from tfl.data.image.pipeline import normalize_image_size
from tfl.data.options import PipelineOptions


@dataclasses.dataclass(frozen=True)
class ImageOptions(PipelineOptions):
    """`PipelineOptions` plus how images are sized and which files are skipped.

    Args:
        batch_size: examples per batch (the last batch may be smaller).
        validation_split: fraction of each class held out when a source has no
            held-out data of its own (stratified, seeded, deterministic;
            multi-hot examples per label).
        seed: seed of the split and of the shuffle, a whole number in
            [0, 2**32).
        cache: keep the decoded, resized images (uint8) in memory.
        balanced_sampling: draw training images with every class equally
            often, an epoch keeping the data's size (single-label only).
        image_size: `(height, width)` the images are resized to (bilinear), or
            one int for a square. Required: every image source needs it.
        resize: "crop" (the default) centre-crops each image to the aspect
            ratio of `image_size` before resizing; "stretch" resizes the whole
            image. Give the model's `resize`.
        skip_bad_files: skip (and log) unreadable image files instead of
            raising an error naming them (folder sources).

    Examples:

    >>> ImageOptions(image_size=32, batch_size=16).image_size
    (32, 32)
    """

    image_size: tuple[int, int] | None = None
    resize: str = "crop"
    skip_bad_files: bool = False

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "image_size", normalize_image_size(self.image_size))
        check_resize(self.resize)

"""Image data as tf.data pipelines: folders, numpy arrays, TFDS and the demo digits.

Every source returns an `ImageData` whose batches are
`({"images": float32 [B, H, W, 3] in [0, 255]}, labels)`.

Examples:

>>> from tfl.data import from_directory
>>> data = from_directory("flowers/", image_size=(224, 224))
>>> data.num_train, data.class_names
"""

from tfl.data.arrays import from_arrays
from tfl.data.digits import load_digits
from tfl.data.directory import from_directory, from_directory_for_evaluation
from tfl.data.image_data import ImageData
from tfl.data.image_files import IMAGE_EXTENSIONS, list_image_files
from tfl.data.load import load_data, load_images
from tfl.data.split import stratified_split
from tfl.data.tfds_source import from_tfds

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageData",
    "from_arrays",
    "from_directory",
    "from_directory_for_evaluation",
    "from_tfds",
    "list_image_files",
    "load_data",
    "load_digits",
    "load_images",
    "stratified_split",
]

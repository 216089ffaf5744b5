"""Image sources: class folders, numpy arrays, TFDS, the demo digits, target-domain images."""

from tfl.data.image.arrays import from_arrays
from tfl.data.image.data import ImageData
from tfl.data.image.digits import load_digits
from tfl.data.image.digits import recolour_digits
from tfl.data.image.directory import from_directory
from tfl.data.image.directory import from_directory_for_evaluation
from tfl.data.image.files import IMAGE_EXTENSIONS
from tfl.data.image.files import list_image_files
from tfl.data.image.options import ImageOptions
from tfl.data.image.target import TargetData
from tfl.data.image.target import load_target_images
from tfl.data.image.tfds import from_tfds

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageData",
    "ImageOptions",
    "TargetData",
    "from_arrays",
    "from_directory",
    "from_directory_for_evaluation",
    "from_tfds",
    "list_image_files",
    "load_digits",
    "load_target_images",
    "recolour_digits",
]

"""Image and text data as tf.data pipelines.

Image sources (folders, numpy arrays, TFDS, the demo digits) return an
`ImageData` whose batches are `({"images": float32 [B, H, W, 3] in [0, 255]},
labels)`. Text sources (lists and arrays, data frames, CSV/TSV/JSONL files,
TFDS, the demo tweets) return a `TextData` whose batches are the given
preprocessor's `{"token_ids", "segment_ids", "padding_mask"}` (or raw strings
`{"text"}` without one) and the labels.

Examples:

>>> from tfl.data import from_directory
>>> data = from_directory("flowers/", image_size=(224, 224))
>>> data.num_train, data.class_names
"""

from tfl.data.arrays import from_arrays
from tfl.data.digits import load_digits
from tfl.data.directory import from_directory
from tfl.data.directory import from_directory_for_evaluation
from tfl.data.image_data import ImageData
from tfl.data.image_files import IMAGE_EXTENSIONS
from tfl.data.image_files import list_image_files
from tfl.data.load import detect_task
from tfl.data.load import load_data
from tfl.data.load import load_images
from tfl.data.load import load_text_data
from tfl.data.split import stratified_split
from tfl.data.text_arrays import from_dataframe
from tfl.data.text_arrays import from_texts
from tfl.data.text_data import TextData
from tfl.data.text_file import TEXT_FILE_EXTENSIONS
from tfl.data.text_file import from_text_file
from tfl.data.text_tfds import from_tfds_text
from tfl.data.tfds_source import from_tfds
from tfl.data.tweets import Tweets
from tfl.data.tweets import load_tweets

__all__ = [
    "IMAGE_EXTENSIONS",
    "TEXT_FILE_EXTENSIONS",
    "ImageData",
    "TextData",
    "Tweets",
    "detect_task",
    "from_arrays",
    "from_dataframe",
    "from_directory",
    "from_directory_for_evaluation",
    "from_text_file",
    "from_texts",
    "from_tfds",
    "from_tfds_text",
    "list_image_files",
    "load_data",
    "load_digits",
    "load_images",
    "load_text_data",
    "load_tweets",
    "stratified_split",
]

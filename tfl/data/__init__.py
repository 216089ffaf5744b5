"""Image and text data as tf.data pipelines.

Image sources (folders, numpy arrays, TFDS, the demo digits) return an
`ImageData` whose batches are `({"images": float32 [B, H, W, 3] in [0, 255]},
labels)`. Text sources (lists and arrays, data frames, CSV/TSV/JSONL files,
TFDS, the demo tweets) return a `TextData` whose batches are the given
preprocessor's `{"token_ids", "segment_ids", "padding_mask"}` (or raw strings
`{"text"}` without one) and the labels.

Image sources live in `tfl.data.image`, text sources in `tfl.data.text`; what
both use (the config entry points in `load`, the held-out `split`, the epoch
`order`, the `PipelineOptions`, the `class_names` check and the TFDS
`tfds_builder`) sits here. `IMAGE_EXTENSIONS` and `TEXT_FILE_EXTENSIONS`
are the file endings the image folders and the text files may have.

Examples:

>>> from tfl.data import from_directory
>>> data = from_directory("flowers/", image_size=(224, 224))
>>> data.num_train, data.class_names

Every source takes its own arguments, `options` (an `ImageOptions` or
`TextOptions`: batch size, split, seed, cache, ...) and keyword overrides of
those options' fields; the two calls below are the same:

>>> from_directory("flowers/", image_size=224, batch_size=16)
>>> from_directory("flowers/", options=ImageOptions(image_size=224, batch_size=16))
"""

from tfl.data.episodes import Episodes
from tfl.data.episodes import sample_episodes
from tfl.data.image import IMAGE_EXTENSIONS
from tfl.data.image import ImageData
from tfl.data.image import ImageOptions
from tfl.data.image import from_arrays
from tfl.data.image import from_directory
from tfl.data.image import from_directory_for_evaluation
from tfl.data.image import from_tfds
from tfl.data.image import list_image_files
from tfl.data.image import load_digits
from tfl.data.load import detect_task
from tfl.data.load import load_data
from tfl.data.load import load_images
from tfl.data.load import load_text_data
from tfl.data.options import PipelineOptions
from tfl.data.split import stratified_split
from tfl.data.text import TEXT_FILE_EXTENSIONS
from tfl.data.text import TextData
from tfl.data.text import TextOptions
from tfl.data.text import Tweets
from tfl.data.text import from_dataframe
from tfl.data.text import from_text_file
from tfl.data.text import from_text_file_for_evaluation
from tfl.data.text import from_texts
from tfl.data.text import from_tfds_text
from tfl.data.text import load_tweets
from tfl.data.unlabeled import UnlabeledData
from tfl.data.unlabeled import load_unlabeled
from tfl.data.unlabeled import unlabeled_images
from tfl.data.unlabeled import unlabeled_texts

__all__ = [
    "IMAGE_EXTENSIONS",
    "TEXT_FILE_EXTENSIONS",
    "Episodes",
    "ImageData",
    "ImageOptions",
    "PipelineOptions",
    "TextData",
    "TextOptions",
    "Tweets",
    "UnlabeledData",
    "detect_task",
    "from_arrays",
    "from_dataframe",
    "from_directory",
    "from_directory_for_evaluation",
    "from_text_file",
    "from_text_file_for_evaluation",
    "from_texts",
    "from_tfds",
    "from_tfds_text",
    "list_image_files",
    "load_data",
    "load_digits",
    "load_images",
    "load_text_data",
    "load_tweets",
    "load_unlabeled",
    "sample_episodes",
    "stratified_split",
    "unlabeled_images",
    "unlabeled_texts",
]

"""Text sources: lists and arrays, data frames, CSV/TSV/JSONL files, TFDS, the demo tweets."""

from tfl.data.text.arrays import from_dataframe
from tfl.data.text.arrays import from_texts
from tfl.data.text.data import TextData
from tfl.data.text.file import TEXT_FILE_EXTENSIONS
from tfl.data.text.file import from_text_file
from tfl.data.text.file import from_text_file_for_evaluation
from tfl.data.text.options import TextOptions
from tfl.data.text.tfds import from_tfds_text
from tfl.data.text.tweets import Tweets
from tfl.data.text.tweets import load_tweets

__all__ = [
    "TEXT_FILE_EXTENSIONS",
    "TextData",
    "TextOptions",
    "Tweets",
    "from_dataframe",
    "from_text_file",
    "from_text_file_for_evaluation",
    "from_texts",
    "from_tfds_text",
    "load_tweets",
]

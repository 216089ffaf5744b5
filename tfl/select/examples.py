"""`ScoredExamples`: the training examples every candidate is scored on, as each candidate reads them.

Images are decoded and resized once and shared by every candidate (each
model preprocesses them its own way). Text is tokenized by each encoder's own
preprocessor, so a text source is read again per candidate; the first epoch's
order of the same seed gives the same examples in the same order, which is
checked.
"""

import os

import numpy as np

from tfl.backbones.encoders import build_text_preprocessor
from tfl.config import DataConfig
from tfl.config import ModelConfig
from tfl.data import ImageData
from tfl.data import TextData
from tfl.data import detect_task
from tfl.data import load_data
from tfl.data import load_text_data
from tfl.data.image.pipeline import normalize_image_size
from tfl.data.order import next_pass
from tfl.data.order import set_epoch

DEFAULT_IMAGE_SIZE = 224


class ScoredExamples:
    """Up to `max_examples` examples of the training split of `data`.

    Args:
        data: an `ImageData`, or a source: a folder of class folders,
            "digits", "tfds:NAME" (images); a .csv/.tsv/.jsonl file, "tweets"
            or "tfds:NAME" (text).
        image_size: images: the size every candidate runs at; None:
            `data.image_size` for an `ImageData`, else 224.
        max_examples: the most examples to keep (a shuffled pass, cut there).
        batch_size: examples per batch.
        sequence_length: text: tokens per example.

    Attributes:
        task: "image" or "text".
        labels: int class ids of the kept examples (text: after the first
            candidate has read them).
        class_names: the class names (text: likewise).
        image_size: `(height, width)`, or None for text.
    """

    def __init__(self, data, *, image_size=None, max_examples=1000, batch_size=32, sequence_length=128):
        self.max_examples = max_examples
        self.batch_size = batch_size
        self.sequence_length = sequence_length
        self.task, self._source = _task_of(data)
        self.labels = self.class_names = self.image_size = None
        self._inputs, self._text_pairs = None, False
        if self.task == "image":
            images = _image_data(data, image_size, batch_size)
            self.image_size, self.class_names = tuple(images.image_size), images.class_names
            self._inputs, self.labels = collect_examples(images.train, max_examples)

    def model_config(self, candidate):
        """The `ModelConfig` that builds `candidate` for these examples."""
        if self.task == "text":
            return ModelConfig(encoder=candidate.backbone, sequence_length=self.sequence_length)
        return ModelConfig(backbone=candidate.backbone, weights=candidate.weights, image_size=self.image_size)

    @property
    def text_pairs(self):
        return self._text_pairs

    def inputs_for(self, candidate):
        """The model inputs of the examples for `candidate`: shared images, or its own tokens."""
        if self.task == "image":
            return self._inputs
        config = DataConfig(source=self._source, batch_size=self.batch_size, trim_padding=False)
        text = load_text_data(config, build_text_preprocessor(candidate.backbone, self.sequence_length))
        inputs, labels = collect_examples(text.train, self.max_examples)
        if self.labels is None:
            self.labels, self.class_names, self._text_pairs = labels, text.class_names, text.text_pairs
        elif not np.array_equal(labels, self.labels):
            raise ValueError(
                f"Encoder {candidate.backbone!r} read other training examples than the first candidate: "
                "the text source changed while ranking. Rank again."
            )
        return inputs


def _task_of(data):
    """`(task, source)` of `data`: an `ImageData` or a source name."""
    if isinstance(data, ImageData):
        return "image", None
    if isinstance(data, TextData):
        raise ValueError(
            "Text is tokenized by each candidate encoder's own preprocessor, so rank reads a text source, "
            "not a TextData: pass the file, 'tweets' or 'tfds:NAME'. Received: data=TextData(...)"
        )
    if not isinstance(data, (str, os.PathLike)):
        raise ValueError(
            "data is an ImageData or a source: a folder of class folders, 'digits', a .csv/.tsv/.jsonl "
            f"file, 'tweets' or 'tfds:NAME'. Received: data of type {type(data).__name__}"
        )
    return detect_task(os.fspath(data)), os.fspath(data)


def _image_data(data, image_size, batch_size):
    """An `ImageData` at `image_size`: `data` itself, or the source it names, loaded."""
    if isinstance(data, ImageData):
        if image_size is not None and normalize_image_size(image_size) != tuple(data.image_size):
            raise ValueError(
                f"image_size {image_size!r} differs from the data's {tuple(data.image_size)}: load the data "
                f"at the size to rank at, or leave image_size out. Received: image_size={image_size!r}"
            )
        return data
    size = normalize_image_size(DEFAULT_IMAGE_SIZE if image_size is None else image_size)
    return load_data(DataConfig(source=os.fspath(data), batch_size=batch_size), size)


def collect_examples(dataset, limit):
    """`(inputs, labels)` of the first `limit` examples of one pass over `dataset`.

    The pass is the first epoch's order of a training pipeline
    (`tfl.data.order`), whatever passes ran before, so a source read again
    gives the same examples in the same order. Images, float32 in [0, 255]
    and whole numbers by the `ImageData` contract, are kept as uint8 (a
    quarter of the memory).
    """
    parts, labels, seen = [], [], 0
    epoch = next_pass()
    set_epoch(0)
    try:
        for batch_inputs, batch_labels in dataset:
            parts.append({key: value.numpy() for key, value in batch_inputs.items()})
            labels.append(np.asarray(batch_labels))
            seen += len(labels[-1])
            if seen >= limit:
                break
    finally:
        set_epoch(epoch)
    if not labels:
        raise ValueError("The training data is empty: there are no examples to score the candidates on.")
    inputs = {key: np.concatenate([part[key] for part in parts])[:limit] for key in parts[0]}
    if "images" in inputs:
        inputs["images"] = np.round(inputs["images"]).astype(np.uint8)
    return inputs, np.concatenate(labels)[:limit]

"""The pipeline options: defaults, checks, and how a source merges options with keywords."""

import numpy as np
import pytest

from tfl.data import ImageOptions
from tfl.data import PipelineOptions
from tfl.data import TextOptions
from tfl.data.options import resolve_options


def test_defaults_are_those_the_sources_had():
    image = ImageOptions(image_size=8)
    text = TextOptions()

    assert (image.batch_size, image.validation_split, image.seed, image.cache) == (32, 0.2, 1337, True)
    assert (image.resize, image.skip_bad_files) == ("crop", False)
    assert (text.preprocessor, text.skip_bad_rows, text.group_by_length, text.trim_padding) == (
        None, False, False, True)


def test_image_size_is_normalized_to_height_and_width():
    assert ImageOptions(image_size=8).image_size == (8, 8)
    assert ImageOptions(image_size=(8, 6)).image_size == (8, 6)


BAD = {
    "batch_size_zero": (PipelineOptions, {"batch_size": 0}, ValueError,
                        r"batch_size must be an int >= 1\. Received: batch_size=0"),
    "batch_size_float": (TextOptions, {"batch_size": 2.0}, ValueError, r"Received: batch_size=2\.0"),
    "validation_split_one": (PipelineOptions, {"validation_split": 1}, ValueError,
                             r"validation_split is the held-out fraction.*Received: validation_split=1"),
    "no_image_size": (ImageOptions, {}, ValueError, r"image_size is \(height, width\).*Received: image_size=None"),
    "bad_resize": (ImageOptions, {"image_size": 8, "resize": "squash"}, ValueError, "squash"),
    "bad_preprocessor": (TextOptions, {"preprocessor": "bert"}, TypeError,
                         "preprocessor is a KerasHub TextClassifierPreprocessor"),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_a_bad_value_is_a_clear_error(case):
    options_class, fields, error, message = case
    with pytest.raises(error, match=message):
        options_class(**fields)


def test_overrides_replace_fields_of_the_options():
    options = resolve_options(ImageOptions, ImageOptions(image_size=8, seed=3), {"batch_size": 4}, "f")
    assert (options.image_size, options.seed, options.batch_size) == ((8, 8), 3, 4)


def test_overrides_are_checked_like_fields():
    with pytest.raises(ValueError, match="Received: batch_size=-1"):
        resolve_options(TextOptions, TextOptions(), {"batch_size": -1}, "from_texts")


def test_an_unknown_keyword_names_the_accepted_ones():
    message = (r"from_texts\(\) got an unexpected keyword argument 'shufle'\. Accepted, besides the "
               r"source's own arguments: options, batch_size, validation_split, seed, cache, balanced_sampling, "
               r"preprocessor, skip_bad_rows, group_by_length, trim_padding\. Received: shufle=True")
    with pytest.raises(TypeError, match=message):
        resolve_options(TextOptions, None, {"shufle": True}, "from_texts")


def test_options_of_the_other_modality_are_an_error():
    with pytest.raises(TypeError, match=r"from_texts\(\) takes options=TextOptions\(\.\.\.\).*"
                                        r"Received: options of type ImageOptions"):
        resolve_options(TextOptions, ImageOptions(image_size=8), {}, "from_texts")


BAD_SEEDS = {"none": None, "string": "1", "fraction": 1.5, "negative": -1, "too_large": 2**62, "bool": True}


@pytest.mark.parametrize("seed", BAD_SEEDS.values(), ids=BAD_SEEDS.keys())
def test_a_seed_that_cannot_seed_a_run_is_refused_naming_it(seed):
    # Before, these failed later: a TypeError inside the split, or an OverflowError in the traced shuffle.
    with pytest.raises(ValueError, match=rf"seed is a whole number from 0 to 2\*\*32 - 1.*Received: seed={seed!r}"):
        TextOptions(seed=seed)


def test_a_numpy_integer_seed_is_taken():
    assert ImageOptions(image_size=8, seed=np.int64(7)).seed == 7

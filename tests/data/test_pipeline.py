import numpy as np
import pytest
import tensorflow as tf

from tests.data import fakes
from tfl.data.order import set_epoch
from tfl.data.pipeline import build_pipeline
from tfl.data.pipeline import decode_image
from tfl.data.pipeline import load_image_file
from tfl.data.pipeline import normalize_image_size

RGB = fakes.noise(0, (5, 7, 3))
GREY = fakes.noise(1, (5, 7, 1))
ALPHA = fakes.noise(2, (5, 7, 1))
WIDE = np.random.default_rng(3).integers(0, 65536, (5, 7, 3), dtype=np.uint16)


def _rgb_of_grey(grey):
    return np.repeat(grey, 3, axis=-1)


# (encoded bytes, expected uint8 RGB, tolerance)
DECODE_CASES = {
    "png_rgb": (fakes.png(RGB), RGB, 0),
    "png_grey": (fakes.png(GREY), _rgb_of_grey(GREY), 0),
    "png_grey_alpha": (fakes.png(np.concatenate([GREY, ALPHA], -1)), _rgb_of_grey(GREY), 0),
    "png_rgba_drops_alpha": (fakes.png(np.concatenate([RGB, ALPHA], -1)), RGB, 0),
    "png_16bit_rgb": (fakes.png(WIDE), np.round(WIDE / 257).astype(np.uint8), 0),
    "png_16bit_grey": (
        fakes.png(WIDE[..., :1]),
        _rgb_of_grey(np.round(WIDE[..., :1] / 257).astype(np.uint8)),
        0,
    ),
    "jpeg_rgb_flat": (fakes.jpeg(np.full((8, 8, 3), (200, 40, 90), np.uint8)),
                      np.full((8, 8, 3), (200, 40, 90), np.uint8), 3),
    "jpeg_grey": (fakes.jpeg(np.full((8, 8, 1), 77, np.uint8)), np.full((8, 8, 3), 77), 1),
    "bmp_rgb": (fakes.bmp(RGB), RGB, 0),
    "gif_grey": (fakes.gif(GREY[..., 0]), _rgb_of_grey(GREY), 0),
}


@pytest.mark.parametrize("case", DECODE_CASES.values(), ids=DECODE_CASES.keys())
def test_every_format_decodes_to_uint8_rgb_with_the_file_values(case, tmp_path):
    data, expected, tolerance = case
    path = fakes.write(tmp_path / "image", data)

    image = load_image_file(path, expected.shape[:2]).numpy()  # same size: no resampling

    assert image.dtype == np.uint8
    assert image.shape == expected.shape
    np.testing.assert_allclose(image.astype(int), expected.astype(int), atol=tolerance)


def test_16bit_png_rounds_instead_of_keeping_the_high_byte():
    # decode_png(dtype=uint8) keeps the high byte: 255 -> 0 and 65279 -> 254.
    values = np.array([255, 383, 65279], np.uint16).reshape(1, 3, 1)

    decoded = decode_image(fakes.png(values)).numpy()[0, :, 0]

    np.testing.assert_allclose(decoded, values.ravel() / 257, rtol=1e-5)


def test_resize_is_bilinear_with_half_pixel_centres(tmp_path):
    path = fakes.write(tmp_path / "ramp.png", fakes.png(np.array([[[0], [255]]], np.uint8)))

    row = load_image_file(path, (1, 4)).numpy()[0, :, 0]

    np.testing.assert_array_equal(row, [0, 64, 191, 255])  # nearest would give 0, 0, 255, 255


@pytest.mark.parametrize(
    "size, expected",
    [(8, (8, 8)), ((8, 12), (8, 12)), ([3, 5], (3, 5))],
    ids=["int", "tuple", "list"],
)
def test_image_size_accepts_an_int_or_a_pair(size, expected):
    assert normalize_image_size(size) == expected


@pytest.mark.parametrize("size", [0, (8,), (8, 0), (8.5, 8), "224", True], ids=str)
def test_bad_image_size_is_an_error_naming_it(size):
    with pytest.raises(ValueError, match=r"image_size is \(height, width\).*Received"):
        normalize_image_size(size)


def _numbered_pipeline(count, *, seed=7, cache=True, shuffle=True, batch_size=4, calls=None):
    """A pipeline whose image i is a constant image of value i."""

    def load(i):
        if calls is not None:
            i = tf.numpy_function(lambda v: calls.append(int(v)) or v, [i], tf.int64)
            i = tf.ensure_shape(i, [])
        return tf.fill([2, 3, 3], tf.cast(i, tf.uint8))

    pairs = tf.data.Dataset.from_tensor_slices((np.arange(count), np.arange(count, dtype=np.int32)))
    return build_pipeline(
        pairs,
        load,
        num_examples=count,
        batch_size=batch_size,
        seed=seed,
        cache=cache,
        shuffle=shuffle,
    )


def _order(dataset):
    return [int(v) for x, _ in dataset for v in x["images"][:, 0, 0, 0].numpy()]


def test_elements_are_a_dict_of_float32_images_and_int32_labels():
    dataset = _numbered_pipeline(10)

    features, labels = dataset.element_spec

    assert set(features) == {"images"}
    assert features["images"].dtype == tf.float32
    assert features["images"].shape.as_list() == [None, 2, 3, 3]
    assert labels.dtype == tf.int32


@pytest.mark.parametrize("cache", [True, False], ids=["cached", "uncached"])
def test_training_order_is_seeded_and_new_each_epoch(cache):
    dataset = _numbered_pipeline(40, cache=cache)
    set_epoch(0)
    first, second = _order(dataset), _order(dataset)

    assert sorted(first) == list(range(40))
    assert first != list(range(40))
    assert first != second  # reshuffled each epoch
    set_epoch(0)
    assert _order(_numbered_pipeline(40, cache=cache)) == first  # same seed and epoch, same order
    set_epoch(0)
    assert _order(_numbered_pipeline(40, cache=cache, seed=8)) != first


@pytest.mark.parametrize("cache", [True, False], ids=["cached", "uncached"])
def test_unshuffled_order_is_the_input_order_every_time(cache):
    dataset = _numbered_pipeline(10, cache=cache, shuffle=False)

    assert _order(dataset) == list(range(10))
    assert _order(dataset) == list(range(10))


@pytest.mark.parametrize("cache, loads", [(True, 6), (False, 12)], ids=["cached", "uncached"])
def test_cache_decodes_each_image_once(cache, loads):
    calls = []
    dataset = _numbered_pipeline(6, cache=cache, calls=calls)

    _order(dataset)
    _order(dataset)

    assert len(calls) == loads

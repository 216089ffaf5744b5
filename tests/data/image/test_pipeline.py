import numpy as np
import pytest
import tensorflow as tf

from tests.data import fakes
from tfl.data import from_arrays
from tfl.data import from_directory
from tfl.data import load_images
from tfl.data.image.pipeline import build_pipeline
from tfl.data.image.pipeline import crop_box
from tfl.data.image.pipeline import decode_image
from tfl.data.image.pipeline import decode_resized
from tfl.data.image.pipeline import load_image_file
from tfl.data.image.pipeline import normalize_image_size
from tfl.data.order import set_epoch

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


def _thirds(height, width, axis):
    """A noise image whose first and last quarters along `axis` are flat red and
    flat blue: the centre half is the centred square of a 1:2 image."""
    image = fakes.noise(4, (height, width, 3))
    quarter = image.shape[axis] // 4
    first = [slice(None)] * 3
    last = [slice(None)] * 3
    first[axis], last[axis] = slice(0, quarter), slice(image.shape[axis] - quarter, None)
    image[tuple(first)] = (255, 0, 0)
    image[tuple(last)] = (0, 0, 255)
    return image


def _resized(image, size):
    """uint8 bilinear resize of the whole image: what "stretch" gives."""
    resized = tf.image.resize(image.astype(np.float32), size, method="bilinear")
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


WIDE = _thirds(40, 80, axis=1)  # 40x80: the centre 40x40 is columns 20..59
TALL = _thirds(80, 40, axis=0)
CROP_CASES = {
    "wide_png": (fakes.png(WIDE), WIDE, WIDE[:, 20:60]),
    "tall_png": (fakes.png(TALL), TALL, TALL[20:60]),
    "wide_png_16bit": (fakes.png(WIDE.astype(np.uint16) * 257), WIDE, WIDE[:, 20:60]),
    "wide_bmp": (fakes.bmp(WIDE), WIDE, WIDE[:, 20:60]),
}


@pytest.mark.parametrize("case", CROP_CASES.values(), ids=CROP_CASES.keys())
def test_crop_takes_the_centred_square_then_resizes_and_stretch_resizes_it_all(case):
    contents, whole, centre = case

    cropped = decode_resized(contents, (16, 16)).numpy()
    stretched = decode_resized(contents, (16, 16), resize="stretch").numpy()

    np.testing.assert_array_equal(cropped, _resized(centre, (16, 16)))
    np.testing.assert_array_equal(stretched, _resized(whole, (16, 16)))  # the old pixels
    assert not (cropped == [255, 0, 0]).all(axis=-1).any()  # nothing of the flat ends
    assert not (cropped == [0, 0, 255]).all(axis=-1).any()


def test_arrays_are_cropped_like_files():
    x = np.stack([WIDE, WIDE[:, ::-1]])

    data = from_arrays(x, [0, 1], validation_data=(x, [0, 1]), image_size=16, cache=False)
    stretched = from_arrays(x, [0, 1], validation_data=(x, [0, 1]), image_size=16, resize="stretch", cache=False)

    images = next(iter(data.validation))[0]["images"].numpy()
    np.testing.assert_array_equal(images[0], _resized(WIDE[:, 20:60], (16, 16)))
    images = next(iter(stretched.validation))[0]["images"].numpy()
    np.testing.assert_array_equal(images[0], _resized(WIDE, (16, 16)))


@pytest.mark.parametrize(
    "shape, size",
    [((48, 48, 3), (16, 16)), ((20, 40, 3), (16, 32)), ((30, 10, 1), (12, 4)), ((16, 16, 3), (16, 16))],
    ids=["square", "same_ratio_wide", "same_ratio_tall_grey", "same_size"],
)
def test_crop_leaves_an_image_of_the_target_aspect_ratio_as_stretch_does(shape, size):
    contents = fakes.png(fakes.noise(5, shape))

    cropped = decode_resized(contents, size).numpy()

    np.testing.assert_array_equal(cropped, decode_resized(contents, size, resize="stretch").numpy())


@pytest.mark.parametrize(
    "height, width, size, box",
    [
        (40, 80, (32, 32), (0, 20, 40, 40)),
        (81, 40, (32, 32), (20, 0, 40, 40)),  # (81 - 40) / 2 rounds down
        (24, 30, (16, 32), (4, 0, 15, 30)),
        (1, 2, (1, 4), (0, 0, 1, 2)),  # too flat for the ratio: the whole image
        (300, 2, (2, 300), (149, 0, 1, 2)),  # never less than one row: the centre one
        (48, 48, (16, 16), (0, 0, 48, 48)),
    ],
)
def test_crop_box_is_the_largest_centred_box_of_the_target_ratio(height, width, size, box):
    assert tuple(int(v) for v in crop_box(height, width, size)) == box


def test_a_folder_and_load_images_crop_alike(tmp_path):
    for root in ("train", "val"):
        fakes.write(tmp_path / root / "a" / "0.png", fakes.png(WIDE))
        fakes.write(tmp_path / root / "b" / "0.png", fakes.png(WIDE[:, ::-1]))

    data = from_directory(tmp_path / "train", validation_path=tmp_path / "val", image_size=16)
    held_out = np.concatenate([x["images"].numpy() for x, _ in data.validation])
    predicted = load_images([tmp_path / "val" / "a" / "0.png", tmp_path / "val" / "b" / "0.png"], 16).numpy()

    expected = [_resized(WIDE[:, 20:60], (16, 16)), _resized(WIDE[:, 20:60][:, ::-1], (16, 16))]
    np.testing.assert_array_equal(held_out, expected)
    np.testing.assert_array_equal(predicted, expected)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: decode_resized(fakes.png(WIDE), (8, 8), resize="pad"), id="decode_resized"),
        pytest.param(lambda: from_arrays(np.stack([WIDE, WIDE]), [0, 1], image_size=8, resize="Crop"), id="from_arrays"),
        pytest.param(lambda: load_images([], 8, resize=None), id="load_images"),
    ],
)
def test_an_unknown_resize_names_it_and_the_known_ones(call):
    with pytest.raises(ValueError, match=r"Unknown resize .*Known: crop .*stretch .*Received: resize="):
        call()


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

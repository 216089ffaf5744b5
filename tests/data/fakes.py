"""Tiny image files written by the tests themselves: PNG, JPEG, BMP, GIF, broken ones."""

import os
import struct

import numpy as np
import tensorflow as tf


def png(pixels):
    """PNG bytes of a uint8 or uint16 array (H, W, C), C = 1..4."""
    return tf.io.encode_png(tf.constant(pixels)).numpy()


def jpeg(pixels):
    return tf.io.encode_jpeg(tf.constant(pixels), quality=100).numpy()


def bmp(rgb):
    """An uncompressed 24-bit BMP: bottom-up rows of BGR, each padded to 4 bytes."""
    height, width, _ = rgb.shape
    padding = b"\0" * (-width * 3 % 4)
    rows = [rgb[y, :, ::-1].tobytes() + padding for y in range(height - 1, -1, -1)]
    pixels = b"".join(rows)
    file_header = struct.pack("<2sIHHI", b"BM", 14 + 40 + len(pixels), 0, 0, 14 + 40)
    info_header = struct.pack(
        "<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0
    )
    return file_header + info_header + pixels


def gif(grey):
    """A GIF with a grey palette (index i is grey i), LZW codes of 9 bits only.

    A clear code before every 250 pixels keeps the code table, and so the
    code width, from growing.
    """
    height, width = grey.shape
    palette = bytes(np.repeat(np.arange(256, dtype=np.uint8), 3))
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF7, 0, 0) + palette
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    clear, end = 256, 257
    codes = []
    for i, value in enumerate(grey.ravel()):
        if i % 250 == 0:
            codes.append(clear)
        codes.append(int(value))
    codes.append(end)
    bits = "".join(format(code, "09b")[::-1] for code in codes)  # least significant bit first
    bits += "0" * (-len(bits) % 8)
    data = bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
    blocks = b"".join(bytes([len(chunk)]) + chunk for chunk in chunks)
    return screen + descriptor + bytes([8]) + blocks + b"\0;"


def truncated(data):
    """The first half of an encoded image: a valid header, then nothing."""
    return data[: len(data) // 2]


def noise(seed, shape=(16, 16, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def write_id_images(root, counts, start=0):
    """Writes constant 4x4 PNGs whose grey value is a unique id (3 * index).

    Args:
        root: the folder of class folders.
        counts: {class name: number of images}.
        start: the first id.

    Returns:
        {id: class name}.
    """
    owners = {}
    next_id = start
    for name, count in counts.items():
        for i in range(count):
            value = 3 * next_id
            image = png(np.full((4, 4, 1), value, np.uint8))
            write(os.path.join(root, name, f"{i:03d}.png"), image)
            owners[value] = name
            next_id += 1
    return owners


def ids_and_labels(dataset):
    """The id (the grey value of the top-left pixel) and label of every example, in order."""
    ids, labels = [], []
    for features, batch_labels in dataset:
        ids.extend(int(v) for v in features["images"][:, 0, 0, 0].numpy())
        labels.extend(batch_labels.numpy().tolist())
    return ids, labels

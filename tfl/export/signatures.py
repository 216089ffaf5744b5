"""Serving signatures: what clients send in, probabilities and top-k classes out.

Every signature is a `tf.function` with named `tf.TensorSpec` inputs (the
names clients send) and the same outputs:

- `probabilities`: float32 `[batch, classes]`;
- `class_ids`: int32 `[batch, k]`, the k most probable classes, best first;
- `class_names`: string `[batch, k]`, their names (baked in as a constant);
- `scores`: float32 `[batch, k]`, their probabilities.

Images: `serving_default` takes encoded image bytes (`images`, a batch of
JPEG/PNG/BMP/GIF strings of any size, grey or colour) and decodes and resizes
them in the graph exactly as `tfl.data` does for training (by the model's
`resize`: cropped to the aspect ratio of its `image_size`, or stretched);
`serving_pixels` takes float pixels in [0, 255] (`images`, `[batch, height,
width, 3]`), which the model's own resizing layer brings to its size by the
same rule.
Text: `serving_default` takes raw strings (`text`), or for a model trained on
sentence pairs, pairs of strings (`text`, `text_pair`); the encoder's own
tokenizer runs in the graph.
"""

import tensorflow as tf

from tfl.data.image.files import IMAGE_MAGIC
from tfl.data.image.pipeline import decode_resized
from tfl.model.classifier import Classifier
from tfl.model.text_classifier import TextClassifier

DEFAULT_TOP_K = 5
OUTPUTS = ("probabilities", "class_ids", "class_names", "scores")
# Every signature name an export of tfl may have.
SIGNATURE_NAMES = ("serving_default", "serving_pixels")


def _classify_nonempty(classify, batch_size, class_names, top_k):
    """`classify()`, or empty outputs for an empty batch (some backbones'
    kernels fail on a batch of 0 images)."""
    k = min(top_k, len(class_names))

    def empty():
        return {
            "probabilities": tf.zeros([0, len(class_names)], tf.float32),
            "class_ids": tf.zeros([0, k], tf.int32),
            "class_names": tf.zeros([0, k], tf.string),
            "scores": tf.zeros([0, k], tf.float32),
        }

    return tf.cond(batch_size > 0, classify, empty)


def _top_k_outputs(probabilities, class_names, top_k):
    k = min(top_k, len(class_names))
    top = tf.math.top_k(probabilities, k=k)
    return {
        "probabilities": probabilities,
        "class_ids": top.indices,
        "class_names": tf.gather(tf.constant(class_names), top.indices),
        "scores": top.values,
    }


def _is_encoded_image(contents):
    return tf.reduce_any(
        [tf.strings.substr(contents, 0, len(magic)) == magic for magic, _ in IMAGE_MAGIC]
    )


def _bmp_with_colour_palette(contents):
    """Whether `contents` is an 8-bit BMP whose palette is not the grey ramp: TensorFlow's
    decoder reads its palette indices as grey levels (wrong colours, silently). The in-graph
    form of the check `tfl.data` makes on files (an 8-bit grey BMP, entry i = (i, i, i), passes)."""
    length = tf.strings.length(contents)

    def read(position, count, dtype):
        return tf.io.decode_raw(tf.strings.substr(contents, position, count), dtype)[0]

    def colour_table():
        header_size = read(14, 4, tf.int32)
        count = read(46, 4, tf.int32)  # 0: 2**bits entries
        count = tf.where((count <= 0) | (count > 256), 256, count)

        def not_grey():
            start = 14 + header_size
            table = tf.io.decode_raw(tf.strings.substr(contents, start, tf.minimum(4 * count, length - start)), tf.uint8)
            entries = tf.shape(table)[0] // 4
            colours = tf.reshape(table[: 4 * entries], [entries, 4])[:, :3]  # BGRX
            return tf.reduce_any(colours != tf.cast(tf.range(entries), tf.uint8)[:, None])

        eight_bits = (header_size >= 40) & (header_size <= length - 14) & (read(28, 2, tf.uint16) == 8)
        return tf.cond(eight_bits, not_grey, lambda: tf.constant(False))

    is_bmp = (tf.strings.substr(contents, 0, 2) == b"BM") & (length >= 50)
    return tf.cond(is_bmp, colour_table, lambda: tf.constant(False))


def image_signatures(model, top_k=DEFAULT_TOP_K):
    """The serving functions of an image classifier (an `ImageClassifier`, or a
    `FusionClassifier` whose branches all read images): {signature name: tf.function}.

    Examples:

    >>> signatures = image_signatures(model, top_k=1)
    >>> outputs = signatures["serving_pixels"](tf.zeros([1, 32, 32, 3]))
    >>> sorted(outputs), outputs["class_names"].shape
    (['class_ids', 'class_names', 'probabilities', 'scores'], TensorShape([1, 1]))
    """
    class_names = list(model.class_names)
    height, width = model.image_size
    resize = model.resize

    def decode(element):
        contents, index = element
        check = tf.debugging.Assert(
            _is_encoded_image(contents),
            [tf.strings.format("images[{}] is not an encoded JPEG, PNG, BMP or GIF image", index)],
        )
        palette = tf.debugging.Assert(
            tf.logical_not(_bmp_with_colour_palette(contents)),
            [tf.strings.format(
                "images[{}] is an 8-bit BMP with a colour palette, which TensorFlow decodes as grey levels "
                "(wrong colours); send it as PNG or JPEG", index
            )],
        )
        with tf.control_dependencies([check, palette]):
            image = decode_resized(contents, (height, width), resize)
        return tf.cast(image, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve_image_bytes(images):
        def classify():
            pixels = tf.map_fn(
                decode,
                (images, tf.range(tf.shape(images)[0])),
                fn_output_signature=tf.TensorSpec([height, width, 3], tf.float32),
            )
            return _top_k_outputs(model({"images": pixels}, training=False), class_names, top_k)

        return _classify_nonempty(classify, tf.shape(images)[0], class_names, top_k)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_pixels(images):
        def classify():
            return _top_k_outputs(model({"images": images}, training=False), class_names, top_k)

        return _classify_nonempty(classify, tf.shape(images)[0], class_names, top_k)

    return {"serving_default": serve_image_bytes, "serving_pixels": serve_pixels}


def text_signatures(model, top_k=DEFAULT_TOP_K):
    """The serving functions of a `TextClassifier`: {signature name: tf.function}.

    Examples:

    >>> text_model = tfl.TextClassifier(encoder, preprocessor, ["negative", "positive"], encoder_name="tiny_bert")
    >>> serve = text_signatures(text_model)["serving_default"]
    >>> serve(tf.constant(["a good movie"]))["class_names"].numpy().tolist()
    [[b'...', b'...']]
    """
    class_names = list(model.class_names)
    preprocessor = model.preprocessor
    input_names = list(model.input)

    def classify(tokens):
        inputs = {name: tokens[name] for name in input_names}
        return _top_k_outputs(model(inputs, training=False), class_names, top_k)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(text):
        return classify(preprocessor(text))

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="text"),
            tf.TensorSpec([None], tf.string, name="text_pair"),
        ]
    )
    def serve_text_pairs(text, text_pair):
        # Unequal batches reach the tokenizer's packer unchecked: it drops the extra pairs, reads
        # out-of-range token ids, or aborts the serving process.
        sizes = tf.shape(text)[0], tf.shape(text_pair)[0]
        check = tf.debugging.Assert(
            tf.equal(*sizes),
            [tf.strings.format(
                "text holds {} strings and text_pair {}: send one text_pair per text (the same batch size)", sizes
            )],
        )
        with tf.control_dependencies([check]):
            text, text_pair = tf.identity(text), tf.identity(text_pair)
        return classify(preprocessor(x=(text, text_pair)))

    # One signature: each copy of the tokenizer's graph adds ~3 MB to saved_model.pb.
    return {"serving_default": serve_text_pairs if model.text_pairs else serve_text}


def serving_signatures(model, top_k=DEFAULT_TOP_K):
    """The serving functions of a tfl classifier, image or text.

    Examples:

    >>> list(serving_signatures(model))
    ['serving_default', 'serving_pixels']
    """
    if isinstance(model, TextClassifier):
        return text_signatures(model, top_k)
    if isinstance(model, Classifier) and model.task == "image":
        return image_signatures(model, top_k)
    if isinstance(model, Classifier):
        raise ValueError(
            f"Cannot export this {type(model).__name__} (task {model.task!r}): its branches read text, and tfl's "
            "serving signatures take encoded image bytes (ImageClassifier, FusionClassifier with image branches "
            "only) or raw strings (TextClassifier, one encoder). Serve it from Python instead: save it with "
            "tfl.io.save_keras and answer requests with tfl.predict (tfl.load_model on the server), or train "
            "a TextClassifier (--encoder) to export."
        )
    raise ValueError(
        f"Cannot export a {type(model).__name__}: tfl exports its own classifiers "
        "(ImageClassifier, TextClassifier, FusionClassifier with image branches only), "
        "e.g. from tfl.load_model('runs/x/model.keras')."
    )

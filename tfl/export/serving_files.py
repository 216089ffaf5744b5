"""`write_serving_files`: what a TF Serving user needs, beside the versions of an export.

`export_model` writes `<base>/<name>/<version>/`; this writes next to the
versions, in `<base>/<name>/`:

- `models.config`: a TF Serving model config file for this model;
- `README.md`: what the model is, its signatures, the `docker run` and `curl`
  commands for this folder, and how to load it in Python;
- `requests/<signature>.json`: an example REST request body per signature.

Everything is read from the SavedModel of the highest version (the one TF
Serving serves): signature names, input names, dtypes and shapes come from its
`saved_model.pb`, not from what tfl meant to write. TF Serving ignores entries
of the base folder that are not integers, so these files never look like a
version.
"""

import base64
import contextlib
import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tfl.export.layout import check_export_name
from tfl.export.layout import versions
from tfl.export.signatures import SIGNATURE_NAMES
from tfl.io import write_text

DOCKER_IMAGE = "tensorflow/serving"
REST_PORT = 8501
CONFIG_FILE = "models.config"
README_FILE = "README.md"
REQUESTS_FOLDER = "requests"
# In a version folder: the class names, for the README. TF Serving does not load `assets.extra/`.
CLASS_NAMES_FILE = os.path.join("assets.extra", "class_names.json")
# In a version folder: how to read its outputs ({"multi_label": bool, "threshold": float}), for the README.
OUTPUTS_FILE = os.path.join("assets.extra", "outputs.json")
EXAMPLE_TEXTS = ("a good movie with great acting", "the plot was boring")
EXAMPLE_TEXT_PAIRS = (("a man is playing a guitar", "someone plays music"), ("the cat sat on the mat", "it is raining"))


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One input or output of a signature, as the SavedModel declares it."""

    dtype: str
    shape: tuple  # None for an unknown dimension

    def describe(self):
        return f"{self.dtype} [{', '.join('None' if d is None else str(d) for d in self.shape)}]"


@dataclasses.dataclass(frozen=True)
class Signature:
    """A serving signature: its named inputs and outputs."""

    name: str
    inputs: dict
    outputs: dict


@dataclasses.dataclass(frozen=True)
class ServingFiles:
    """What `write_serving_files` wrote.

    Attributes:
        config: the path of `models.config`.
        readme: the path of `README.md`.
        requests: {signature name: path of its example request body}.
        version: the version the files describe (the highest).
        docker_command: the `docker run` command that serves the folder.

    Examples:

    >>> files = write_serving_files("saved_models/tiny", "tiny", class_names=model.class_names)
    >>> files.config, files.version, sorted(files.requests)
    ('saved_models/tiny/models.config', 1, ['serving_default', 'serving_pixels'])
    """

    config: str
    readme: str
    requests: dict
    version: int
    docker_command: str


def _meta_graph(version_dir):
    path = os.path.join(version_dir, "saved_model.pb")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No SavedModel at {version_dir}: {path} is missing.")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model.meta_graphs[0]


def _tensor_info(proto):
    shape = tuple(None if d.size < 0 else int(d.size) for d in proto.tensor_shape.dim)
    return TensorInfo(dtype=tf.dtypes.as_dtype(proto.dtype).name, shape=shape)


def read_signatures(version_dir):
    """The serving signatures of a SavedModel, read from its `saved_model.pb`.

    Returns:
        {signature name: `Signature`}, `serving_default` first.

    Examples:

    >>> signatures = read_signatures("saved_models/tiny/1")
    >>> list(signatures), signatures["serving_default"].inputs
    (['serving_default', 'serving_pixels'], {'images': TensorInfo(dtype='string', shape=(None,))})
    """
    meta_graph = _meta_graph(version_dir)
    signatures = {}
    for name in sorted(meta_graph.signature_def, key=lambda n: (n != "serving_default", n)):
        if name.startswith("__"):  # __saved_model_init_op: not callable by clients
            continue
        definition = meta_graph.signature_def[name]
        signatures[name] = Signature(
            name=name,
            inputs={key: _tensor_info(definition.inputs[key]) for key in sorted(definition.inputs)},
            outputs={key: _tensor_info(definition.outputs[key]) for key in sorted(definition.outputs)},
        )
    return signatures


def read_class_names(version_dir):
    """The class names `export_model` stored in a version (`assets.extra/class_names.json`),
    or None for a version without them."""
    return _read_extra(version_dir, CLASS_NAMES_FILE)


def read_outputs(version_dir):
    """How `export_model` said a version's outputs read (`assets.extra/outputs.json`:
    `multi_label`, `threshold`), or None for a version without it."""
    return _read_extra(version_dir, OUTPUTS_FILE)


def _read_extra(version_dir, name):
    """The JSON file `name` of a version folder, or None where the version has none."""
    path = os.path.join(version_dir, name)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def custom_ops(version_dir):
    """Op types of the SavedModel's graph that core TensorFlow lacks, e.g. TF Text's
    `CaseFoldUTF8`: a Python process must register them (`import tensorflow_text`)
    before `tf.saved_model.load`."""
    graph = _meta_graph(version_dir).graph_def
    functions = {f.signature.name for f in graph.library.function}
    ops = {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}
    return sorted(op for op in ops - functions if not hasattr(tf.raw_ops, op))


def docker_command(model_dir, name, config_file=False):
    """The `docker run` command that serves `model_dir` (`<base>/<name>`) on port 8501.

    A relative `model_dir` is written as `$(pwd)/model_dir`: run the command in
    the folder the export was made from.
    """
    source = model_dir if os.path.isabs(model_dir) else f"$(pwd)/{model_dir}"
    mount = f"--mount type=bind,source={source},target=/models/{name}"
    command = f"docker run -p {REST_PORT}:{REST_PORT} {mount}"
    if config_file:
        return f"{command} -t {DOCKER_IMAGE} --model_config_file=/models/{name}/{CONFIG_FILE}"
    return f"{command} -e MODEL_NAME={name} -t {DOCKER_IMAGE}"


def model_config(name):
    """TF Serving's model config file (text protobuf) serving `/models/<name>`."""
    return (
        "model_config_list {\n"
        "  config {\n"
        f'    name: "{name}"\n'
        f'    base_path: "/models/{name}"\n'
        '    model_platform: "tensorflow"\n'
        "  }\n"
        "}\n"
    )


def _example_pngs(count):
    """Small, distinct PNG images (8x8 colour gradients), deterministic."""
    ramp = np.linspace(0, 255, 8, dtype=np.float32)
    images = []
    for i in range(count):
        pixels = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], np.full((8, 8), 60.0 + 120 * i)), -1)
        images.append(tf.io.encode_png(pixels.astype(np.uint8)).numpy())
    return images


def _cycle(values, count):
    return [values[i % len(values)] for i in range(count)]


def _example_values(name, signature, count):
    """`count` example values of one input, as TF Serving's JSON expects them."""
    info = signature.inputs[name]
    rank = len(info.shape)
    if info.dtype == "string" and rank == 1 and name == "images":
        return [{"b64": base64.b64encode(png).decode("ascii")} for png in _example_pngs(count)]
    if info.dtype == "string" and rank == 1 and "text_pair" in signature.inputs:
        return _cycle([pair[name == "text_pair"] for pair in EXAMPLE_TEXT_PAIRS], count)
    if info.dtype == "string" and rank == 1:
        return _cycle(EXAMPLE_TEXTS, count)
    if info.dtype.startswith("float") and rank == 4 and info.shape[-1] == 3:
        return [np.full((4, 4, 3), 64.0 * (i % 3 + 1)).tolist() for i in range(count)]
    raise ValueError(f"No example value for input {name!r} ({info.describe()}) of signature {signature.name!r}.")


def example_request(signature, count=2):
    """A REST request body for `signature` in TF Serving's row format.

    One input: `instances` are its values (`{"b64": ...}` for binary strings
    such as encoded images). Several: each instance names them.
    """
    columns = {name: _example_values(name, signature, count) for name in signature.inputs}
    if len(columns) == 1:
        instances = next(iter(columns.values()))
    else:
        instances = [{name: values[i] for name, values in columns.items()} for i in range(count)]
    return {"signature_name": signature.name, "instances": instances}


def request_json(body):
    """A request body as JSON text, one instance a line."""
    instances = ",\n".join(f"  {json.dumps(instance)}" for instance in body["instances"])
    return f'{{"signature_name": {json.dumps(body["signature_name"])},\n "instances": [\n{instances}\n]}}\n'


def write_serving_files(model_dir, name=None, *, class_names=None):
    """Writes `models.config`, `README.md` and `requests/*.json` into `model_dir`.

    Call it after each export: it describes the highest version present. Each
    file is replaced atomically; the request body tfl wrote for a signature
    this version lacks (`serving_pixels.json` after an image version, when a
    text version is the highest) is removed. Other files in `requests/` are
    the user's own bodies and stay.

    Args:
        model_dir: `<base>/<name>`, the folder that holds the versions.
        name: the model's name in TF Serving (the URL's `/v1/models/<name>`);
            default: the folder's name.
        class_names: the class names of the highest version, for the README,
            when that version does not store them itself (`export_model`
            writes them to `assets.extra/class_names.json`, which wins);
            without either it gives their number.

    Returns:
        A `ServingFiles`.

    Examples:

    >>> files = write_serving_files("saved_models/tiny", "tiny", class_names=model.class_names)
    >>> print(files.docker_command)
    docker run -p 8501:8501 --mount type=bind,source=$(pwd)/saved_models/tiny,target=/models/tiny -e MODEL_NAME=tiny -t tensorflow/serving
    """
    model_dir = os.fspath(model_dir)
    name = check_export_name(os.path.basename(os.path.normpath(model_dir)) if name is None else name)
    present = versions(model_dir)
    if not present:
        raise FileNotFoundError(f"No versions in {model_dir}: export one first (tfl export RUN --name {name}).")
    version = present[-1]
    version_dir = os.path.join(model_dir, str(version))
    signatures = read_signatures(version_dir)
    class_names = read_class_names(version_dir) or class_names
    if not signatures:
        raise ValueError(f"{version_dir} has no serving signatures.")

    requests_dir = os.path.join(model_dir, REQUESTS_FOLDER)
    os.makedirs(requests_dir, exist_ok=True)
    requests = {}
    for signature in signatures.values():
        requests[signature.name] = os.path.join(requests_dir, f"{signature.name}.json")
        write_text(requests[signature.name], request_json(example_request(signature)))
    for stale in set(SIGNATURE_NAMES) - set(signatures):  # tfl's body of a signature this version lacks
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(requests_dir, f"{stale}.json"))

    config = os.path.join(model_dir, CONFIG_FILE)
    write_text(config, model_config(name))
    readme = os.path.join(model_dir, README_FILE)
    text = readme_text(model_dir, name, version, present, signatures, custom_ops(version_dir), class_names,
                       outputs=read_outputs(version_dir))
    write_text(readme, text)
    return ServingFiles(config, readme, requests, version, docker_command(model_dir, name))


def describe_task(signatures):
    """'image', 'text' or 'text pairs', from the default signature's inputs."""
    inputs = set(next(iter(signatures.values())).inputs)
    if "images" in inputs:
        return "image"
    return "text pairs" if "text_pair" in inputs else "text"


def _python_call(signature):
    arguments = []
    for name, info in signature.inputs.items():
        if name == "images" and info.dtype == "string":
            arguments.append('images=tf.constant([open("photo.jpg", "rb").read()])')
        elif info.dtype == "string":
            text = EXAMPLE_TEXT_PAIRS[0][name == "text_pair"] if "text_pair" in signature.inputs else EXAMPLE_TEXTS[0]
            arguments.append(f"{name}=tf.constant([{text!r}])")
        else:
            arguments.append(f"{name}=tf.zeros([1, 64, 64, 3])")
    return ", ".join(arguments)


def _curl_example(name, signature):
    url = f"http://localhost:{REST_PORT}/v1/models/{name}:predict"
    if "images" in signature.inputs and signature.inputs["images"].dtype == "string":
        return (
            "# an image file of your own (macOS: base64 -i photo.jpg)\n"
            f"echo '{{\"instances\": [{{\"b64\": \"'\"$(base64 -w0 photo.jpg)\"'\"}}]}}' > photo.json\n"
            f"curl -d @photo.json {url}"
        )
    if set(signature.inputs) == {"text"}:
        return f"curl -d '{{\"instances\": [\"{EXAMPLE_TEXTS[0]}\"]}}' {url}"
    if set(signature.inputs) == {"text", "text_pair"}:
        first, second = EXAMPLE_TEXT_PAIRS[0]
        return f"curl -d '{{\"instances\": [{{\"text\": \"{first}\", \"text_pair\": \"{second}\"}}]}}' {url}"
    return None


def readme_text(model_dir, name, version, present, signatures, ops, class_names=None, outputs=None):
    """The README of an export folder, section by section.

    Args:
        model_dir: `<base>/<name>`, as the commands should name it.
        name: the model's name in TF Serving.
        version: the version described (the highest).
        present: every version in `model_dir`, ascending.
        signatures: {name: `Signature`}, `serving_default` first.
        ops: the TF Text ops the graph needs (`custom_ops`), or empty.
        class_names: the class names, or None to give their number.
        outputs: how the outputs read (`read_outputs`: `multi_label`,
            `threshold`), or None when the version does not say.

    Returns:
        The Markdown text.
    """
    default = signatures["serving_default"] if "serving_default" in signatures else next(iter(signatures.values()))
    lines = [
        *_readme_heading(model_dir, name, version, present, signatures, default, class_names),
        *_readme_signatures(signatures, default, outputs),
        *_readme_docker(model_dir, name, signatures, default),
        *_readme_python(model_dir, version, default, ops),
    ]
    return "\n".join(lines)


def _num_classes(signature):
    return signature.outputs["probabilities"].shape[-1] if "probabilities" in signature.outputs else None


def _readme_heading(model_dir, name, version, present, signatures, default, class_names):
    """The title, what the model is, its versions, and the folder's layout."""
    if class_names is not None:
        classes = f"{len(class_names)} classes: " + ", ".join(f"`{c}`" for c in class_names)
    else:
        classes = f"{_num_classes(default)} classes (their names come back in `class_names`)"
    return [
        f"# {name}",
        "",
        f"A tfl {describe_task(signatures)} classifier, {classes}; exported as a SavedModel for TF Serving.",
        f"Versions here: {', '.join(map(str, present))}. TF Serving serves the highest, **{version}**,",
        "which this file describes (it is rewritten by each `tfl export`).",
        "",
        "## Layout",
        "",
        "```",
        f"{model_dir}/",
        *(f"  {v}/{' ' * (20 - len(str(v)))}a version: saved_model.pb, variables/, assets/" for v in present),
        f"  {CONFIG_FILE}          TF Serving model config file",
        f"  {REQUESTS_FOLDER}/              example REST request bodies, one per signature",
        f"  {README_FILE}              this file",
        "```",
        "",
    ]


def _readme_signatures(signatures, default, outputs=None):
    """A table of inputs and outputs per signature, then what the inputs take and the outputs give."""
    lines = [
        "## Signatures",
        "",
        "Read from the SavedModel. `None` is any size; the first dimension is the batch.",
        "",
    ]
    for signature in signatures.values():
        lines += [f"### `{signature.name}`", "", "| | name | dtype and shape |", "|---|---|---|"]
        lines += [f"| input | `{n}` | {i.describe()} |" for n, i in signature.inputs.items()]
        lines += [f"| output | `{n}` | {i.describe()} |" for n, i in signature.outputs.items()]
        lines.append("")
    if describe_task(signatures) == "image":
        lines += [
            "`images` of `serving_default` are encoded JPEG, PNG, BMP or GIF files of any size (grey or",
            "colour), sent as `{\"b64\": \"...\"}`; decoding and resizing run in the graph. `serving_pixels`",
            "takes float RGB pixels in [0, 255] of any size.",
        ]
    else:
        lines += ["Raw strings in; the encoder's tokenizer runs in the graph."]
    if "class_ids" in default.outputs:
        top_k = default.outputs["class_ids"].shape[-1]
        lines += [
            f"Outputs: `probabilities` of all {_num_classes(default)} classes, and the {top_k} most probable classes, best",
            "first: `class_ids`, `class_names` and their `scores`.",
        ]
    if outputs is not None and outputs.get("multi_label"):
        lines += [
            "",
            "**Multi-label.** Each class's probability is its own sigmoid: they do not sum to 1, and the",
            f"model predicts every class whose probability is at least {outputs['threshold']} (as `tfl predict` and",
            f"`tfl evaluate` do), however many that is. Cut `probabilities` (or `scores`) at {outputs['threshold']}",
            "on the client: the top classes alone are not the prediction.",
        ]
    return lines


def _readme_docker(model_dir, name, signatures, default):
    """The `docker run` commands, and `curl` requests to the served model."""
    url = f"http://localhost:{REST_PORT}/v1/models/{name}"
    lines = [
        "",
        "## Serve it with Docker",
        "",
        *(["In the folder the export was made from (the one holding this folder's base):", ""] if not os.path.isabs(model_dir) else []),
        "```bash",
        docker_command(model_dir, name),
        "```",
        "",
        f"or with the model config file `{CONFIG_FILE}` (several models, version policies):",
        "",
        "```bash",
        docker_command(model_dir, name, config_file=True),
        "```",
        "",
        "Then (here in this folder):",
        "",
        "```bash",
        f"curl {url}            # version status",
        f"curl {url}/metadata   # signatures",
        *(f"curl -d @{REQUESTS_FOLDER}/{signature.name}.json {url}:predict" for signature in signatures.values()),
    ]
    example = _curl_example(name, default)
    if example:
        lines += [example]
    return lines + [
        "```",
        "",
        'The answer is `{"predictions": [{"probabilities": [...], "class_ids": [...], "class_names": [...],',
        '"scores": [...]}, ...]}`, one object per instance. Other signatures are chosen by',
        '`"signature_name"` in the body.',
        "",
    ]


def _readme_python(model_dir, version, default, ops):
    """Loading the version in Python (TF Text first when the graph needs it), and `tfl serve-check`."""
    lines = [
        "## Load it in Python",
        "",
        "```python",
        "import tensorflow as tf",
        *(["import tensorflow_text  # noqa: F401  registers the tokenizer's ops; before loading"] if ops else []),
        "",
        f'serve = tf.saved_model.load("{model_dir}/{version}").signatures["{default.name}"]',
        f"outputs = serve({_python_call(default)})",
        'print(outputs["class_names"], outputs["scores"])',
        "```",
        "",
    ]
    if ops:
        lines += [
            f"This model uses TF Text ops ({', '.join(ops)}):",
            "a Python process must `import tensorflow_text` before `tf.saved_model.load`, or loading",
            "fails with `Op type not registered`. TF Serving's model server links these ops itself.",
            "",
        ]
    return lines + [
        "Check it without Docker (loads it in a fresh Python process, sends the example requests,",
        "times them):",
        "",
        "```bash",
        f"tfl serve-check {model_dir}",
        "```",
        "",
    ]

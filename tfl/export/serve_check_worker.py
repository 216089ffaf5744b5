"""The process `serve_check` starts: TensorFlow only, as a serving host has it.

Run as a script, never imported by tfl: it loads a SavedModel version with
`tf.saved_model.load` (after `import tensorflow_text` when the graph has TF
Text ops), turns each REST request body into tensors the way TF Serving does,
calls the body's signature, times it, and writes a JSON report.

    python serve_check_worker.py VERSION_DIR REQUEST.json [...] --output REPORT.json
"""

import argparse
import base64
import json
import statistics
import sys
import time


def rest_to_tensors(body, input_specs):
    """The inputs of a TF Serving REST predict body, as tensors of the signature's dtypes.

    Row format (`instances`): a list of values of the only input, or of objects
    naming each input. Columnar format (`inputs`): the only input's batch, or
    an object of batches. `{"b64": "..."}` is a binary string.
    """
    import tensorflow as tf

    names = sorted(input_specs)
    if ("instances" in body) == ("inputs" in body):
        raise ValueError('A request body has either "instances" (rows) or "inputs" (columns).')
    if "instances" in body:
        rows = body["instances"]
        named = len(names) > 1 or any(isinstance(r, dict) and set(r) != {"b64"} for r in rows)
        columns = {name: [row[name] for row in rows] for name in names} if named else {names[0]: rows}
    else:
        inputs = body["inputs"]
        named = isinstance(inputs, dict) and set(inputs) != {"b64"}
        columns = {name: inputs[name] for name in names} if named else {names[0]: inputs}
    return {name: tf.constant(_decode_b64(values), dtype=input_specs[name].dtype) for name, values in columns.items()}


def _decode_b64(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode_b64(v) for v in value]
    return value


def _batch(body, size):
    """The body with `size` instances: its own, repeated."""
    key = "instances" if "instances" in body else "inputs"
    values = body[key]
    if key == "inputs" and isinstance(values, dict) and set(values) != {"b64"}:
        return {key: {n: [v[i % len(v)] for i in range(size)] for n, v in values.items()}}
    return {key: [values[i % len(values)] for i in range(size)]}


def _to_json(outputs):
    """Per-instance predictions, as TF Serving's row format returns them."""
    arrays = {name: tensor.numpy() for name, tensor in outputs.items()}
    rows = len(next(iter(arrays.values()))) if arrays else 0
    predictions = []
    for i in range(rows):
        row = {}
        for name, array in sorted(arrays.items()):
            value = array[i].tolist()
            row[name] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value] if isinstance(value, list) else value
        predictions.append(row)
    return predictions


def custom_ops(version_dir):
    """Op types of the graph that core TensorFlow lacks (TF Text's, for a text model)."""
    import os

    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(version_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    graph = saved_model.meta_graphs[0].graph_def
    functions = {f.signature.name for f in graph.library.function}
    ops = {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}
    return sorted(op for op in ops - functions if not hasattr(tf.raw_ops, op))


def check(version_dir, request_files, batch_sizes, repeats):
    start = time.perf_counter()
    import tensorflow as tf

    report = {"import_seconds": time.perf_counter() - start, "tensorflow_version": tf.__version__}
    report["custom_ops"] = custom_ops(version_dir)
    report["tensorflow_text"] = bool(report["custom_ops"])
    if report["tensorflow_text"]:
        import tensorflow_text  # noqa: F401  registers the tokenizer's ops

    start = time.perf_counter()
    loaded = tf.saved_model.load(version_dir)
    report["load_seconds"] = time.perf_counter() - start
    report["requests"] = []
    for path in request_files:
        with open(path, encoding="utf-8") as f:
            body = json.load(f)
        name = body.get("signature_name", "serving_default")
        if name not in loaded.signatures:
            raise ValueError(f"{path}: no signature {name!r}. The SavedModel has: {', '.join(loaded.signatures)}.")
        function = loaded.signatures[name]
        specs = function.structured_input_signature[1]
        start = time.perf_counter()
        outputs = function(**rest_to_tensors(body, specs))
        result = {
            "file": path,
            "signature_name": name,
            "first_call_seconds": time.perf_counter() - start,
            "predictions": _to_json(outputs),
            "latency_ms": {},
        }
        for size in batch_sizes:
            inputs = rest_to_tensors(_batch(body, size), specs)
            function(**inputs)  # warm-up, not timed
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                function(**inputs)
                times.append(time.perf_counter() - start)
            result["latency_ms"][str(size)] = 1000 * statistics.median(times)
        report["requests"].append(result)
    report["imported"] = sorted(m for m in sys.modules if m.split(".")[0] in ("tfl", "keras_hub"))
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("version_dir")
    parser.add_argument("requests", nargs="+")
    parser.add_argument("--output", required=True)
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    report = check(args.version_dir, args.requests, [int(b) for b in args.batch_sizes.split(",")], args.repeats)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()

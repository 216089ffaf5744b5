"""`serve_check`: load an export as a serving host would, send its example requests, time them.

The check runs in a fresh Python process that imports TensorFlow only (and
`tensorflow_text` when the graph has TF Text ops), never tfl, Keras code of
tfl or KerasHub: an export that passes needs nothing of the training
environment. The process reports the modules of tfl and KerasHub it ended up
with, so a test can hold that true.
"""

import json
import os
import pathlib
import subprocess
import sys
import tempfile

from tfl.export.layout import versions
from tfl.export.serving_files import REQUESTS_FOLDER
from tfl.export.serving_files import example_request
from tfl.export.serving_files import read_signatures
from tfl.export.serving_files import request_json

WORKER = pathlib.Path(__file__).with_name("serve_check_worker.py")
# `python -c`, not `python WORKER`: a script's folder (tfl/export) would go first on sys.path.
_RUN_WORKER = "import sys; path = sys.argv.pop(1); exec(compile(open(path).read(), path, 'exec'))"


class ServeCheckError(RuntimeError):
    """The export failed to load or to answer its example requests.

    Examples:

    >>> issubclass(ServeCheckError, RuntimeError)
    True
    """


def _version_dir(model_dir, version):
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"No export folder {model_dir}. Give <base>/<name>, e.g. saved_models/flowers.")
    present = versions(model_dir)
    if not present:
        raise FileNotFoundError(
            f"{model_dir} has no versions (integer folders). Export one with `tfl export RUN --name NAME`."
        )
    if version is None:
        return present[-1]
    if version not in present:
        raise FileNotFoundError(
            f"{model_dir} has no version {version}. Present: {', '.join(map(str, present))}."
        )
    return version


def serve_check(model_dir, version=None, *, batch_sizes=(1, 8), repeats=10, timeout=600):
    """Loads a version of an export in a fresh process and sends it `requests/*.json`.

    `requests/` describes the highest version, the one TF Serving serves. An
    older version may take other inputs, so it is sent example bodies made
    from its own signatures instead (`request_bodies` in the report says
    which).

    Args:
        model_dir: `<base>/<name>`, the folder of the versions and of
            `requests/` (from `write_serving_files`).
        version: the version to check; None checks the highest.
        batch_sizes: each request's instances are repeated to these batch
            sizes and timed.
        repeats: timed calls per batch size (after one warm-up call); the
            median is reported.
        timeout: seconds the process may take.

    Returns:
        A JSON-serialisable dict: `version`, `path`, `load_seconds`,
        `import_seconds` (TensorFlow's), `custom_ops` and `tensorflow_text`
        (whether it had to be imported), `imported` (the tfl and KerasHub
        modules the process imported: none), and `requests`: per request body,
        its `signature_name`, `predictions` (TF Serving's row format) and
        `latency_ms` {batch size: median milliseconds a call}.

    Examples:

    >>> report = serve_check("saved_models/tiny")
    >>> report["version"], report["imported"], sorted(report["requests"][0]["latency_ms"])
    (1, [], ['1', '8'])
    >>> sorted(report["requests"][0]["predictions"][0]["class_names"])
    ['cat', 'dog']
    """
    model_dir = os.fspath(model_dir)
    version = _version_dir(model_dir, version)
    highest = version == versions(model_dir)[-1]
    requests_dir = os.path.join(model_dir, REQUESTS_FOLDER)
    version_dir = os.path.join(model_dir, str(version))
    with tempfile.TemporaryDirectory() as folder:
        # requests/ describes the highest version; an older one may take other inputs (an image model
        # before a text one), so it gets example bodies made from its own signatures.
        request_files = _request_files(requests_dir, model_dir) if highest else _own_examples(version_dir, folder)
        output = os.path.join(folder, "report.json")
        command = [
            sys.executable, "-c", _RUN_WORKER, str(WORKER), version_dir, *request_files,
            "--output", output, "--batch-sizes", ",".join(map(str, batch_sizes)), "--repeats", str(repeats),
        ]
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        try:
            process = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)
        except subprocess.TimeoutExpired:
            raise ServeCheckError(f"Checking {version_dir} took over {timeout} s.") from None
        if process.returncode != 0:
            raise ServeCheckError(f"Checking {version_dir} failed:\n{_error_lines(process.stderr)}")
        with open(output, encoding="utf-8") as f:
            report = json.load(f)
    requests = "requests/" if highest else f"example requests made from version {version}'s signatures"
    return {"model_dir": model_dir, "version": version, "path": version_dir, "request_bodies": requests, **report}


def _request_files(requests_dir, model_dir):
    """The request bodies in `requests/` (tfl's and the user's own)."""
    request_files = sorted(
        os.path.join(requests_dir, entry) for entry in os.listdir(requests_dir) if entry.endswith(".json")
    ) if os.path.isdir(requests_dir) else []
    if not request_files:
        raise FileNotFoundError(
            f"No request bodies in {requests_dir}. Export the model again (tfl export RUN --name NAME "
            f"--base BASE writes them), or write them from Python: tfl.export.write_serving_files({model_dir!r})."
        )
    return request_files


def _own_examples(version_dir, folder):
    """Example request bodies for each signature of `version_dir`, written into `folder`."""
    files = []
    for signature in read_signatures(version_dir).values():
        path = os.path.join(folder, f"{signature.name}.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(request_json(example_request(signature)))
        files.append(path)
    return files


def _error_lines(stderr, count=15):
    """The end of the process's traceback, without TensorFlow's log lines."""
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(("I0000", "W0000", "E0000"))]
    return "\n".join(lines[-count:])

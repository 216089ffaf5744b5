"""TensorFlow's start-up, without its C++ start-up lines on the terminal.

Importing TensorFlow prints lines such as `oneDNN custom operations are on`,
`Could not find cuda drivers` and, when it first looks for devices,
`E0000 ... failed call to cuInit`, which reads as a failure on every machine
without a GPU. The first ones come from C++ before TensorFlow reads
`TF_CPP_MIN_LOG_LEVEL`, so the variable alone cannot hide them: `start_tensorflow`
imports TensorFlow and lists its devices with the process's standard error
(file descriptor 2) redirected to a temporary file, then writes back every
line that the log level does not hide. Python warnings and tracebacks pass
through unchanged.

The log level a user set in `TF_CPP_MIN_LOG_LEVEL` wins; without one, tfl
uses 3 (TensorFlow's C++ information, warnings and errors hidden: on a CPU its
errors are harmless lines, and real failures raise Python exceptions) and also
hides the cuInit line of a machine without a GPU driver. `tfl --verbose-tensorflow` shows everything.
"""

import contextlib
import functools
import os
import re
import sys
import tempfile

LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
# 3: TensorFlow also logs harmless C++ lines at ERROR level on a CPU (loading MiniLM:
# "oneDNN supports DT_INT64 only on platforms with AVX-512"); real failures raise in Python.
DEFAULT_LOG_LEVEL = "3"
# An absl log line: severity letter, MMDD, time, thread, file:line] message
# (`I0000 00:00:1796302602.902954   15020 port.cc:153] oneDNN ...`).
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d+:\d+:\d+\.\d+\s+\d+ \S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_NO_GPU_DRIVER = "failed call to cuInit"


def start_tensorflow(verbose=False):
    """Imports TensorFlow (and finds its devices) without its start-up lines.

    Does nothing more than set the log level when TensorFlow is already
    imported: its start-up lines are out by then.

    Args:
        verbose: show every start-up line (`TF_CPP_MIN_LOG_LEVEL=0` unless
            the user set it).
    """
    hidden = startup_filter(verbose, os.environ)
    if hidden is None or "tensorflow" in sys.modules:
        return
    with filtered_stderr(hidden):
        import tensorflow as tf

        tf.config.list_physical_devices()  # the cuInit line comes when devices are first listed


def startup_filter(verbose, environ):
    """The start-up lines to hide, as a predicate on a line, or None to show them all.

    Sets `TF_CPP_MIN_LOG_LEVEL` in `environ` unless the user did: 0 with
    `verbose`, else 3. Lines below the level are hidden, and with tfl's own
    level the cuInit error of a machine without a GPU driver too.
    """
    user_level = environ.get(LOG_LEVEL)
    environ.setdefault(LOG_LEVEL, "0" if verbose else DEFAULT_LOG_LEVEL)
    level = _parse_level(environ[LOG_LEVEL])
    if level <= 0:
        return None
    return functools.partial(hidden_line, level=level, hide_no_gpu_driver=user_level is None)


def hidden_line(line, level, hide_no_gpu_driver=True):
    """Whether a start-up line of TensorFlow is hidden at log level `level`.

    Examples:

    >>> hidden_line("I0000 00:00:1796302602.902954   15020 port.cc:153] oneDNN custom operations are on.", 2)
    True
    >>> hidden_line("E0000 00:00:1796302604.258114   15020 cuda_platform.cc:52] failed call to cuInit: ...", 2)
    True
    >>> hidden_line("UserWarning: something Python said", 3)
    False
    """
    if line.startswith(_ABSL_PREAMBLE):
        return level >= 1
    match = _ABSL_LINE.match(line)
    if match is None:
        return False
    if hide_no_gpu_driver and _NO_GPU_DRIVER in line:
        return True
    return _SEVERITY[match.group(1)] < level


@contextlib.contextmanager
def filtered_stderr(hidden):
    """Redirects file descriptor 2 (C++ and Python alike) to a temporary file
    while the block runs, then writes its lines that `hidden(line)` rejects
    to the real standard error, in order; an exception still propagates."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to filter (a closed descriptor 2)
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not hidden(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _parse_level(text):
    """TensorFlow's reading of the variable: an integer, anything else 0."""
    try:
        return int(text)
    except ValueError:
        return 0

"""The `tfl` command starts without TensorFlow's C++ start-up lines, unless asked for them."""

import doctest
import os
import pathlib
import subprocess
import sys

import pytest

from tfl.cli import startup
from tfl.cli.startup import filtered_stderr
from tfl.cli.startup import hidden_line
from tfl.cli.startup import startup_filter

ROOT = pathlib.Path(__file__).resolve().parents[2]

# What TensorFlow 2.21 printed on import on a CPU machine, before `tfl` hid it.
PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = "I0000 00:00:1796302602.902954   15020 port.cc:153] oneDNN custom operations are on."
NO_CUDA = "I0000 00:00:1796302602.903346   15020 cudart_stub.cc:31] Could not find cuda drivers on your machine."
CU_INIT = "E0000 00:00:1796302604.258114   15020 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)"
A_WARNING = "W0000 00:00:1796302604.258114   15020 some_op.cc:12] a warning of the C++ runtime"
AN_ERROR = "E0000 00:00:1796302604.258114   15020 some_op.cc:12] an error of the C++ runtime"
START_UP_MARKS = ("absl::InitializeLog", "port.cc", "cudart_stub.cc", "cuInit", "I0000", "W0000", "E0000")


def _environment_without_log_level():
    environment = {key: value for key, value in os.environ.items() if key != startup.LOG_LEVEL}
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")])
    return environment


def test_the_cli_prints_no_tensorflow_start_up_lines():
    process = subprocess.run(
        [sys.executable, "-m", "tfl", "backbones"],
        capture_output=True, text=True, env=_environment_without_log_level(), timeout=300, cwd=ROOT,
    )
    assert process.returncode == 0, process.stderr
    assert "mobilenet_v3_small" in process.stdout
    assert not [line for line in process.stderr.splitlines() if any(mark in line for mark in START_UP_MARKS)]


@pytest.mark.parametrize(
    "line, level, hidden",
    [
        pytest.param(PREAMBLE, 2, True, id="absl-preamble"),
        pytest.param(ONEDNN, 2, True, id="info"),
        pytest.param(NO_CUDA, 1, True, id="info-at-level-1"),
        pytest.param(A_WARNING, 2, True, id="warning"),
        pytest.param(A_WARNING, 1, False, id="warning-at-level-1"),
        pytest.param(AN_ERROR, 2, False, id="error"),
        pytest.param(AN_ERROR, 3, True, id="error-at-level-3"),
        pytest.param(CU_INIT, 2, True, id="no-gpu-driver"),
        pytest.param("UserWarning: a Python warning", 3, False, id="python"),
        pytest.param("Traceback (most recent call last):", 3, False, id="traceback"),
    ],
)
def test_a_start_up_line_is_hidden_below_the_log_level(line, level, hidden):
    assert hidden_line(line, level) is hidden


@pytest.mark.parametrize(
    "verbose, environ, level, shown",
    [
        pytest.param(False, {}, "3", (), id="tfl-default"),
        pytest.param(False, {"TF_CPP_MIN_LOG_LEVEL": "2"}, "2", (AN_ERROR, CU_INIT), id="user-level-2"),
        pytest.param(False, {"TF_CPP_MIN_LOG_LEVEL": "1"}, "1", (AN_ERROR, CU_INIT, A_WARNING), id="user-level-1"),
        pytest.param(True, {}, "0", "all", id="verbose-tensorflow"),
        pytest.param(True, {"TF_CPP_MIN_LOG_LEVEL": "3"}, "3", (), id="user-level-wins-over-the-flag"),
        pytest.param(False, {"TF_CPP_MIN_LOG_LEVEL": "0"}, "0", "all", id="user-level-0"),
    ],
)
def test_a_log_level_the_user_set_wins(verbose, environ, level, shown):
    hidden = startup_filter(verbose, environ)
    assert environ == {"TF_CPP_MIN_LOG_LEVEL": level}
    lines = (PREAMBLE, ONEDNN, NO_CUDA, A_WARNING, AN_ERROR, CU_INIT)
    if shown == "all":
        assert hidden is None
    else:
        assert [line for line in lines if not hidden(line)] == [line for line in lines if line in shown]


def test_filtered_stderr_passes_on_python_and_other_lines_in_order():
    script = f"""
import os, sys, warnings
from tfl.cli.startup import filtered_stderr, hidden_line
with filtered_stderr(lambda line: hidden_line(line, 2)):
    os.write(2, {PREAMBLE + chr(10) + ONEDNN + chr(10)!r}.encode())
    print("a line of Python", file=sys.stderr, flush=True)
    os.write(2, {CU_INIT + chr(10)!r}.encode())
    warnings.warn("a Python warning")
print("after the block", file=sys.stderr)
"""
    process = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_environment_without_log_level(), cwd=ROOT
    )
    assert process.returncode == 0, process.stderr
    lines = process.stderr.splitlines()
    assert lines[0] == "a line of Python" and lines[-1] == "after the block"
    assert "UserWarning: a Python warning" in lines[1]
    assert not [line for line in lines if any(mark in line for mark in START_UP_MARKS)]


def test_filtered_stderr_restores_standard_error_after_an_exception(capfd):
    with pytest.raises(ImportError, match="no such module"), filtered_stderr(lambda line: False):
        print("said before failing", file=sys.stderr)
        raise ImportError("no such module")
    print("said after", file=sys.stderr)
    assert capfd.readouterr().err == "said before failing\nsaid after\n"


def test_the_examples_of_the_module_run():
    assert doctest.testmod(startup, optionflags=doctest.ELLIPSIS).failed == 0

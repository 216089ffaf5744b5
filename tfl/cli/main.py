"""The `tfl` command: one subcommand per module, TensorFlow imported only when needed."""

import argparse
import importlib
import os
import sys

from tfl import __version__

SUBCOMMANDS = ("train", "cv", "tune", "evaluate", "predict", "export", "serve_check", "backbones", "rank", "demo")

# Errors that mean "fix your input": shown as one message, without a traceback.
_USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="tfl",
        description="Transfer learning for Keras 3: train, evaluate and predict with pretrained backbones.",
    )
    parser.add_argument("--version", action="version", version=f"tfl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"tfl.cli.{name}").add_parser(subparsers)
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except _USER_ERRORS + _weights_error() as error:
        print(f"tfl {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tfl {args.command}: interrupted", file=sys.stderr)
        return 130


def _weights_error():
    errors = ()
    if "tfl.backbones" in sys.modules:
        errors += (sys.modules["tfl.backbones"].WeightsUnavailableError,)
    if "tfl.backbones.encoders" in sys.modules:
        errors += (sys.modules["tfl.backbones.encoders"].EncoderUnavailableError,)
    return errors


if __name__ == "__main__":
    sys.exit(main())

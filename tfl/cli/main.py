"""The `tfl` command: one subcommand per module, TensorFlow imported only when needed."""

import argparse
import difflib
import importlib
import re
import sys

from tfl import __version__
from tfl.cli.startup import start_tensorflow

SUBCOMMANDS = ("train", "cv", "tune", "evaluate", "predict", "explain", "export", "serve_check", "backbones", "rank", "fewshot", "demo")

# Errors that mean "fix your input": shown as one message, without a traceback.
_USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError)

# The library's advice on weights, in Python syntax, and the same advice as flags.
_WEIGHTS_IN_FLAG_SYNTAX = (
    (re.compile(r"(?<![\w.])weights='imagenet'"), "--weights imagenet"),
    (re.compile(r"(?<![\w.])weights=None"), "--weights none"),
    (re.compile(r"(?<![\w.])weights=PATH"), "--weights PATH"),
)

_VERBOSE_TENSORFLOW_HELP = "show TensorFlow's C++ start-up and log lines (also: set TF_CPP_MIN_LOG_LEVEL yourself)"


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` without prefix matching (`--weight` is not taken for
    `--weights`), whose error for an unknown option names the close ones.
    `add_subparsers` makes its subcommands' parsers of this class too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_args(self, args=None, namespace=None):
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            parser = self._chosen_subcommand(parsed) or self
            parser.error(unknown_arguments_message(unknown, parser))
        return parsed

    def _chosen_subcommand(self, parsed):
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices.get(getattr(parsed, action.dest, None))
        return None


def unknown_arguments_message(unknown, parser):
    """'unrecognized arguments: --weight none (did you mean --weights?)'."""
    known = [option for action in parser._actions for option in action.option_strings]
    hints = []
    for argument in unknown:
        if argument.startswith("-"):
            option = argument.split("=", 1)[0]
            close = difflib.get_close_matches(option, known, n=3, cutoff=0.6)
            if close:
                alternatives = ", ".join(close[:-1]) + " or " + close[-1] if len(close) > 1 else close[0]
                hints.append(f"{option}: did you mean {alternatives}?")
    message = f"unrecognized arguments: {' '.join(unknown)}"
    return f"{message} ({'; '.join(hints)})" if hints else message


def build_parser():
    parser = Parser(
        prog="tfl",
        description="Transfer learning for Keras 3: train, evaluate and predict with pretrained backbones.",
    )
    parser.add_argument("--version", action="version", version=f"tfl {__version__}")
    parser.add_argument("--verbose-tensorflow", action="store_true", help=_VERBOSE_TENSORFLOW_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        subcommand = importlib.import_module(f"tfl.cli.{name}").add_parser(subparsers)
        subcommand.add_argument(  # after the subcommand too; it keeps the value given before it otherwise
            "--verbose-tensorflow", action="store_true", default=argparse.SUPPRESS, help=_VERBOSE_TENSORFLOW_HELP
        )
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        start_tensorflow(verbose=args.verbose_tensorflow)
        return args.run(args) or 0
    except _USER_ERRORS + _weights_error() as error:
        print(f"tfl {args.command}: error: {in_flag_syntax(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tfl {args.command}: interrupted", file=sys.stderr)
        return 130


def in_flag_syntax(message):
    """An error message with the library's weights advice spelled as flags.

    Examples:

    >>> in_flag_syntax("Pass weights='imagenet', weights=None, or the path of a weights file.")
    'Pass --weights imagenet, --weights none, or the path of a weights file.'
    """
    for python, flag in _WEIGHTS_IN_FLAG_SYNTAX:
        message = python.sub(flag, message)
    return message


def _weights_error():
    errors = ()
    if "tfl.backbones" in sys.modules:
        errors += (sys.modules["tfl.backbones"].WeightsUnavailableError,)
    if "tfl.backbones.encoders" in sys.modules:
        errors += (sys.modules["tfl.backbones.encoders"].EncoderUnavailableError,)
    return errors


if __name__ == "__main__":
    sys.exit(main())

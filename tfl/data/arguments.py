"""How the data paths are named in messages.

The loaders are shared by Python (`from_directory(path, validation_path=...)`),
config files (`data.source`, `data.validation_source`) and the commands
(`--data`, `--val-data`, `tfl evaluate RUN DATA`), so a message about a path
names it all the ways a user may have given it.
"""

_GIVEN_AS = {
    "path": "data.source in a config, --data with `tfl train`",
    "validation_path": "data.validation_source in a config, --val-data with `tfl train`",
    "evaluation_path": "DATA with `tfl evaluate`",
    "data.unlabeled_source": "--unlabeled with `tfl train`",
    "data.target_source": "--target-data with `tfl train`",
}


def path_argument(argument, value=None):
    """Names a path argument for a message, e.g. "validation_path='val/' (data.validation_source
    in a config, --val-data with `tfl train`)".

    Args:
        argument: "path", "validation_path", "evaluation_path" (the `path` of
            the evaluation loaders), "data.unlabeled_source" or "data.target_source".
        value: the path given, shown after the argument; None for the
            argument alone.

    Examples:

    >>> path_argument("path", "flowers/")
    "path='flowers/' (data.source in a config, --data with `tfl train`)"
    """
    name = "path" if argument == "evaluation_path" else argument
    shown = name if value is None else f"{name}={value!r}"
    given_as = _GIVEN_AS.get(argument)
    return shown if given_as is None else f"{shown} ({given_as})"

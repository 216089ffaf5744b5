"""`ConfigValueError`: a value that one config key does not take, with the key, the value and why."""


class ConfigValueError(ValueError):
    """A value that one config key does not take, whatever the other keys hold.

    It reads as `"KEY REASON Received: KEY=VALUE"` (or as REASON with the key
    where it says `{key}`) and keeps the key, the value and the reason apart,
    so that a caller that set the key another way (a flag of `tfl train`) can
    say the same in its own terms (`named`). Checks that span several keys
    raise a plain `ValueError`.

    Args:
        key: the key's name in its section, e.g. "alpha".
        value: the value received.
        reason: what the key takes, read after its name ("is a mixing
            weight in [0, 1]."), or a sentence that says `{key}` where the
            name goes ("Unknown {key} 'median'. Known: avg, max.").
        section: the key's dotted section, e.g. "train.adaptation" (set by
            `within`); "" for a top-level key or a dataclass built from
            Python.

    Examples:

    >>> error = ConfigValueError("alpha", 2.0, "is a mixing weight in [0, 1].")
    >>> str(error)
    'alpha is a mixing weight in [0, 1]. Received: alpha=2.0'
    >>> error = error.within("train.adaptation")
    >>> error.path, str(error)
    ('train.adaptation.alpha', 'train.adaptation: alpha is a mixing weight in [0, 1]. Received: alpha=2.0')
    >>> error.named("--adapt-alpha", "--adapt-alpha 2")
    '--adapt-alpha is a mixing weight in [0, 1]. Received: --adapt-alpha 2'
    """

    def __init__(self, key, value, reason, section=""):
        self.key = key
        self.value = value
        self.reason = reason
        self.section = section
        message = self.named(key, f"{key}={value!r}")
        super().__init__(f"{section}: {message}" if section else message)

    @property
    def path(self):
        """The dotted key, e.g. "train.adaptation.alpha"."""
        return f"{self.section}.{self.key}" if self.section else self.key

    def within(self, section):
        """The same error, its key in `section` (a dotted path; "" for the top level)."""
        if not section:
            return self
        inner = f"{section}.{self.section}" if self.section else section
        return ConfigValueError(self.key, self.value, self.reason, inner)

    def named(self, name, received):
        """The message with the key called `name` and the value shown as `received`."""
        text = self.reason.replace("{key}", name) if "{key}" in self.reason else f"{name} {self.reason}"
        return f"{text} Received: {received}"

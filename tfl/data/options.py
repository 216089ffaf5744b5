"""`PipelineOptions`: the pipeline settings every source shares, defined and checked once.

Image sources take an `ImageOptions` (`tfl.data.image.options`), text sources
a `TextOptions` (`tfl.data.text.options`); both extend `PipelineOptions`. A
source takes its own arguments, `options=None` and `**overrides` naming
fields of its options, so `from_directory("flowers/", image_size=224,
batch_size=16)` and `from_directory("flowers/", options=ImageOptions(
image_size=224, batch_size=16))` are the same call.
"""

import dataclasses
import numbers

from tfl.data.split import check_validation_split

# The seeds a run takes: `keras.utils.set_random_seed` (NumPy's) accepts 0 <= seed < 2**32,
# and the shuffle seeds made from it (`tfl.data.order`) must fit in an int64.
SEED_LIMIT = 2**32


@dataclasses.dataclass(frozen=True)
class PipelineOptions:
    """How a source splits, batches, shuffles and caches its examples.

    Args:
        batch_size: examples per batch (the last batch may be smaller).
        validation_split: fraction of each class held out when a source has no
            held-out data of its own (stratified, seeded, deterministic;
            multi-label examples per label, by iterative stratification). Sources with their own
            held-out split (TFDS) do not use it.
        seed: seed of the split and of the shuffle, a whole number in
            [0, 2**32).
        cache: keep the prepared examples (resized uint8 images, token ids) in
            memory after the first pass.
        balanced_sampling: draw training examples with every class equally
            often (`tfl.data.order.balanced_each_epoch`: per-class streams,
            reshuffled and repeated, sampled with equal weights, seeded); an
            epoch keeps the training data's size. Single-label data only.

    Examples:

    >>> PipelineOptions(batch_size=16).validation_split
    0.2
    """

    batch_size: int = 32
    validation_split: float = 0.2
    seed: int = 1337
    cache: bool = True
    balanced_sampling: bool = False

    def __post_init__(self):
        batch_size = self.batch_size
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1. Received: batch_size={batch_size!r}")
        check_validation_split(self.validation_split)
        check_seed(self.seed)
        if not isinstance(self.balanced_sampling, bool):
            raise ValueError(
                f"balanced_sampling is True or False. Received: balanced_sampling={self.balanced_sampling!r}"
            )


def check_seed(seed):
    """Refuses a seed that is not a whole number in [0, 2**32), naming it.

    Examples:

    >>> check_seed(1337)
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < SEED_LIMIT:
        raise ValueError(
            "seed is a whole number from 0 to 2**32 - 1 (4294967295), as keras.utils.set_random_seed "
            f"takes. Received: seed={seed!r}"
        )


def resolve_options(options_class, options, overrides, caller):
    """The options a source runs with: `options` (or the defaults) with `overrides` applied.

    Args:
        options_class: the options class the source takes, e.g. `ImageOptions`.
        options: an instance of `options_class`, or None for its defaults.
        overrides: a dict of fields of `options_class` that replace those of
            `options`; each value is checked like a field given to the class.
        caller: the source's name, for messages.

    Returns:
        An instance of `options_class`.

    Raises:
        TypeError: naming an unknown keyword and the accepted ones, or an
            `options` of another class.

    Examples:

    >>> resolve_options(PipelineOptions, None, {"batch_size": 8}, "from_texts").batch_size
    8
    """
    accepted = [field.name for field in dataclasses.fields(options_class)]
    unknown = sorted(set(overrides) - set(accepted))
    if unknown:
        raise TypeError(
            f"{caller}() got an unexpected keyword argument {unknown[0]!r}. Accepted, besides "
            f"the source's own arguments: options, {', '.join(accepted)}. "
            f"Received: {', '.join(f'{k}={overrides[k]!r}' for k in unknown)}"
        )
    if options is None:
        return options_class(**overrides)
    if not isinstance(options, options_class):
        raise TypeError(
            f"{caller}() takes options={options_class.__name__}(...), or None for the defaults. "
            f"Received: options of type {type(options).__name__}"
        )
    return dataclasses.replace(options, **overrides)

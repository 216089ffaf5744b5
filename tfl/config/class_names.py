"""`check_class_names`: the one rule for class names, wherever they are given."""


def check_class_names(class_names, *, multi_label=None, strings_only=False):
    """Returns `class_names` as a list of str, or raises naming the problem.

    Names must be a list (not one string) of distinct names. With
    `multi_label` given, a single-label classifier needs 2 or more classes and
    a multi-label one 1 or more. Names that are not strings (e.g. int labels)
    become strings, unless `strings_only`: then they are refused, as where a
    caller names the classes of its own labels.

    Args:
        class_names: the names, in class order.
        multi_label: None (no count rule), True or False.
        strings_only: refuse names that are not strings.

    Examples:

    >>> check_class_names([0, 1], multi_label=False)
    ['0', '1']
    >>> check_class_names(["cat", "cat"])
    Traceback (most recent call last):
    ValueError: Class names must be unique; repeated: cat. Received: class_names=['cat', 'cat']
    """
    if isinstance(class_names, str) or (strings_only and not all(isinstance(n, str) for n in class_names)):
        raise ValueError(
            f"class_names must be a list of strings, not one string or other values. Received: class_names={class_names!r}"
        )
    names = [str(name) for name in class_names]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"Class names must be unique; repeated: {', '.join(duplicates)}. Received: class_names={names!r}")
    if multi_label is not None and len(names) < (1 if multi_label else 2):
        raise ValueError(
            f"A {'multi' if multi_label else 'single'}-label classifier needs at least "
            f"{1 if multi_label else 2} classes. Received: class_names={names!r}"
        )
    return names

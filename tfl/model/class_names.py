"""The class names every tfl classifier carries: checked once, here."""


def check_class_names(class_names, multi_label=False):
    """Returns the class names as a list of str, or raises naming the problem.

    A single-label classifier needs 2 or more classes, a multi-label one 1 or
    more; names must be unique.

    Examples:

    >>> check_class_names([0, 1])
    ['0', '1']
    """
    names = [str(name) for name in class_names]
    if len(names) < (1 if multi_label else 2):
        raise ValueError(
            f"A {'multi' if multi_label else 'single'}-label classifier needs at least "
            f"{1 if multi_label else 2} classes. Received: class_names={names!r}"
        )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(
            f"Class names must be unique; repeated: {', '.join(duplicates)}. Received: class_names={names!r}"
        )
    return names

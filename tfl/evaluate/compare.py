"""Side-by-side comparisons (transfer vs scratch) as a plain-text table."""


def format_table(rows, columns):
    """Formats dict rows as an aligned text table; floats get 4 decimals (seconds 1).

    Examples:

    >>> print(format_table([{"method": "transfer", "accuracy": 0.91234}], ["method", "accuracy"]))
    method    accuracy
    transfer  0.9123
    """

    def cell(column, value):
        if isinstance(value, float):
            return f"{value:.1f}" if column.endswith("seconds") else f"{value:.4f}"
        return str(value)

    cells = [[cell(c, row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)

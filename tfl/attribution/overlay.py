"""What `tfl explain` writes: a heatmap over each photo (PNG), and texts with shaded words (HTML).

The PNG shows the photo at its own aspect ratio (downscaled to at most
`MAX_SIDE` pixels a side), the map over it, and the class explained with its
probability in the title. The HTML file is one page without external assets:
each word's background is red for attributions towards the class explained
and blue against it, its strength the attribution over the text's largest
absolute one; hovering a word shows its value.
"""

import html
import os

import numpy as np
from matplotlib.figure import Figure

from tfl.evaluate.heatmap import draw_heatmap
from tfl.evaluate.plots import save_figure
from tfl.io import write_text

MAX_SIDE = 640
_POSITIVE = (214, 39, 40)
_NEGATIVE = (31, 119, 180)


def overlay_figure(image, heatmap, title):
    """A figure of `image` with `heatmap` over it and `title` above.

    Args:
        image: `[H, W, 3]` with values in [0, 255].
        heatmap: `[H, W]` (or any size: stretched to the image) in [0, 1].
        title: e.g. "bees 0.93 (grad_cam)".

    Returns:
        A matplotlib `Figure` (no pyplot).

    Examples:

    >>> figure = overlay_figure(np.zeros((40, 60, 3)), np.eye(40, 60), "cat 0.91")
    >>> figure.axes[0].get_title()
    'cat 0.91'
    """
    pixels = np.clip(np.asarray(image, dtype=np.float64), 0, 255).astype(np.uint8)
    height, width = pixels.shape[:2]
    step = max(1, int(np.ceil(max(height, width) / MAX_SIDE)))
    shown = pixels[::step, ::step]
    scale = 4.0 / max(shown.shape[:2])
    figure = Figure(figsize=(max(2.0, shown.shape[1] * scale), shown.shape[0] * scale + 0.4), layout="constrained")
    ax = figure.subplots()
    ax.imshow(shown)
    heatmap = np.asarray(heatmap, dtype=np.float64)
    draw_heatmap(ax, heatmap[::step, ::step] if heatmap.shape == (height, width) else heatmap, shown.shape)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return figure


def write_overlay(path, image, heatmap, title):
    """Writes `overlay_figure(image, heatmap, title)` as a PNG file, atomically; returns `path`.

    Examples:

    >>> write_overlay("explained/cat.png", np.zeros((40, 60, 3)), np.eye(40, 60), "cat 0.91")
    'explained/cat.png'
    """
    return save_figure(overlay_figure(image, heatmap, title), os.fspath(path))


def _shade(value, scale):
    strength = 0.0 if scale <= 0 else min(1.0, abs(value) / scale)
    red, green, blue = _POSITIVE if value >= 0 else _NEGATIVE
    return f"rgba({red}, {green}, {blue}, {0.85 * strength:.3f})"


def text_html(rows, title="tfl explain"):
    """One HTML page of texts whose words are shaded by their attributions.

    Args:
        rows: dicts with `words`, `attributions` (one number per word), and
            `heading` (e.g. "pos 0.93, integrated gradients, completeness
            gap 0.001").
        title: the page title.

    Returns:
        The page, a str (UTF-8, inline styles only).

    Examples:

    >>> page = text_html([{"words": ["a", "<b>"], "attributions": [0.5, -1.0], "heading": "pos 0.9"}])
    >>> "&lt;b&gt;" in page, "rgba(31, 119, 180, 0.850)" in page
    (True, True)
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:2}"
        "h2{font-size:1em;margin:1.5em 0 0.2em}span.w{padding:0.15em 0.2em;border-radius:0.2em}"
        ".legend{color:#555;font-size:0.9em}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<p class="legend">Each word\'s background: <span class="w" style="background:'
        f'{_shade(1, 1)}">towards the class explained</span> or <span class="w" style="background:'
        f'{_shade(-1, 1)}">against it</span>, as strong as its attribution relative to the '
        "text's largest. Hover over a word for its value.</p>",
    ]
    for row in rows:
        values = [float(v) for v in row["attributions"]]
        scale = max((abs(v) for v in values), default=0.0)
        words = " ".join(
            f'<span class="w" style="background:{_shade(v, scale)}" title="{v:+.4f}">{html.escape(str(w))}</span>'
            for w, v in zip(row["words"], values)
        )
        parts.append(f"<h2>{html.escape(str(row['heading']))}</h2><p>{words}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_text_html(path, rows, title="tfl explain"):
    """Writes `text_html(rows, title)` to `path`, atomically; returns `path`.

    Examples:

    >>> write_text_html("explained/texts.html", [{"words": ["fine"], "attributions": [1.0], "heading": "pos"}])
    'explained/texts.html'
    """
    path = os.fspath(path)
    write_text(path, text_html(rows, title))
    return path

"""A heatmap drawn over an image: top losses (`top_losses.png`) and `tfl explain` share its look."""

import numpy as np

HEATMAP_GID = "heatmap"
HEATMAP_CMAP = "jet"
HEATMAP_ALPHA = 0.45


def draw_heatmap(ax, heatmap, shape):
    """Draws a [0, 1] heatmap over the image already shown on `ax`, stretched
    to the image's `(height, width)` (`shape`), half transparent, as an image
    with gid "heatmap"."""
    height, width = shape[:2]
    ax.imshow(np.asarray(heatmap, dtype=np.float64), cmap=HEATMAP_CMAP, alpha=HEATMAP_ALPHA, vmin=0.0, vmax=1.0,
              extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="bilinear", gid=HEATMAP_GID)

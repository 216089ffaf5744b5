"""A heatmap drawn over an image: top losses (`top_losses.png`) and `tfl explain` share its look."""

import numpy as np

HEATMAP_GID = "heatmap"
HEATMAP_CMAP = "jet"
# The opacity of the heatmap where it is 1; lower values are more transparent (alpha grows with
# the square root of the value), so an empty map leaves the photo as it is.
HEATMAP_ALPHA = 0.6


def draw_heatmap(ax, heatmap, shape):
    """Draws a [0, 1] heatmap over the image already shown on `ax`, stretched
    to the image's `(height, width)` (`shape`), as an image with gid
    "heatmap": coloured by `HEATMAP_CMAP`, transparent where it is 0."""
    height, width = shape[:2]
    values = np.clip(np.asarray(heatmap, dtype=np.float64), 0.0, 1.0)
    ax.imshow(values, cmap=HEATMAP_CMAP, alpha=HEATMAP_ALPHA * np.sqrt(values), vmin=0.0, vmax=1.0,
              extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="bilinear", gid=HEATMAP_GID)

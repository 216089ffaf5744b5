"""Attribution: Grad-CAM maps for images, token attributions for texts, their figures and sanity checks.

`tfl.explain` (in `tfl.explanation`) is the entry point; these are its parts.
"""

from tfl.attribution.grad_cam import GradCam
from tfl.attribution.grad_cam import class_activation_maps
from tfl.attribution.grad_cam import grad_cam_model
from tfl.attribution.grad_cam import map_to_image
from tfl.attribution.grad_cam import normalize_map
from tfl.attribution.grad_cam import target_layer
from tfl.attribution.overlay import overlay_figure
from tfl.attribution.overlay import text_html
from tfl.attribution.overlay import write_overlay
from tfl.attribution.overlay import write_text_html
from tfl.attribution.sanity import image_deletion_curves
from tfl.attribution.sanity import randomized
from tfl.attribution.sanity import rank_correlation
from tfl.attribution.sanity import text_deletion_curves
from tfl.attribution.token_attributions import TokenAttributor
from tfl.attribution.token_attributions import merge_word_pieces

__all__ = [
    "GradCam",
    "TokenAttributor",
    "class_activation_maps",
    "grad_cam_model",
    "image_deletion_curves",
    "map_to_image",
    "merge_word_pieces",
    "normalize_map",
    "overlay_figure",
    "randomized",
    "rank_correlation",
    "target_layer",
    "text_deletion_curves",
    "text_html",
    "write_overlay",
    "write_text_html",
]

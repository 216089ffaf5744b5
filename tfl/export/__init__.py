"""Export for TF Serving: raw-input signatures in a versioned, atomically published layout.

`DEFAULT_BASE` ("saved_models") is TF Serving's base folder when none is
given; `OUTPUTS` names every signature's outputs, in order.
"""

from tfl.export.export import ExportResult
from tfl.export.export import export_model
from tfl.export.layout import DEFAULT_BASE
from tfl.export.layout import check_export
from tfl.export.layout import check_export_name
from tfl.export.layout import next_version
from tfl.export.layout import versions
from tfl.export.serve_check import ServeCheckError
from tfl.export.serve_check import serve_check
from tfl.export.serving_files import ServingFiles
from tfl.export.serving_files import read_signatures
from tfl.export.serving_files import write_serving_files
from tfl.export.signatures import OUTPUTS
from tfl.export.signatures import image_signatures
from tfl.export.signatures import serving_signatures
from tfl.export.signatures import text_signatures

__all__ = [
    "DEFAULT_BASE",
    "OUTPUTS",
    "ExportResult",
    "ServeCheckError",
    "ServingFiles",
    "check_export",
    "check_export_name",
    "export_model",
    "image_signatures",
    "next_version",
    "read_signatures",
    "serve_check",
    "serving_signatures",
    "text_signatures",
    "versions",
    "write_serving_files",
]

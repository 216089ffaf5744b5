"""Every notebook runs top to bottom with small parameters; each ends with an assertion."""

import glob
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import shared_data
from tests.small_backbone import SMALL_BACKBONE

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "notebooks", "*.ipynb")))
SMALL = {
    "EPOCHS": "3", "LABELS_PER_CLASS": "(8,)", "POOL_PER_CLASS": "40", "TEST_PER_CLASS": "60",
    # The notebooks that train a backbone from scratch on digits: the tests' small network
    # (tests/small_backbone.py), registered in the kernel by REGISTER.
    "BACKBONE": repr(SMALL_BACKBONE),
}
REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGISTER = f"import sys; sys.path.insert(0, {REPOSITORY!r}); import tests.small_backbone  # added by the test"
# Cut to what each notebook's own assertion checks: the text demo's fine-tuning (skipped here,
# FINE_TUNE = False) and step counts are covered by tests/test_demo.py, the alignment falling by 2 epochs.
SMALLER = {
    "03_fusion_and_domain_adaptation.ipynb": {"ADAPT_EPOCHS": "2"},
    "05_transfer_vs_scratch.ipynb": {"HEAD_STEPS": "100", "SCRATCH_STEPS": "100", "FINE_TUNE": "False"},
    "06_explain.ipynb": {"TRAIN_PER_CLASS": "16", "HELD_OUT_PER_CLASS": "12", "TOP_LOSSES": "4"},
    "07_few_shot.ipynb": {"PER_CLASS": "20", "EPISODES": "100"},
}
# Notebooks on the real weights and photos of ../shared/data (skipped without them, as the tests are).
REAL_WEIGHTS = {"06_explain.ipynb", "07_few_shot.ipynb"}
# Two groups of about equal run time: with `pytest -n 2 --dist loadscope` each class runs in
# its own worker, so the notebooks do not queue behind each other in one process.
GROUPS = {
    "image": ["01_image_transfer.ipynb", "03_fusion_and_domain_adaptation.ipynb", "06_explain.ipynb", "07_few_shot.ipynb"],
    "text": ["02_text_transfer_bert.ipynb", "04_serving.ipynb", "05_transfer_vs_scratch.ipynb"],
}


def _with_small_parameters(notebook, name):
    small = {**SMALL, **SMALLER.get(name, {})}
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            lines = [REGISTER] if any(line.startswith("BACKBONE") for line in cell.source.splitlines()) else []
            for line in cell.source.splitlines():
                parameter = line.split("=")[0].strip()
                lines.append(f"{parameter} = {small[parameter]}" if parameter in small else line)
            cell.source = "\n".join(lines)
            return notebook
    raise AssertionError("the notebook has no cell tagged 'parameters'")


def test_notebooks_are_found():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_outputs_are_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") and not cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code")


def test_every_notebook_is_in_one_group():
    grouped = sorted(name for names in GROUPS.values() for name in names)
    assert grouped == sorted(os.path.basename(path) for path in NOTEBOOKS)


def _cases(names):
    return [pytest.param(name, marks=pytest.mark.real_weights) if name in REAL_WEIGHTS else name for name in names]


def _run(name, tmp_path):
    if name in REAL_WEIGHTS:
        shared_data("hymenoptera")
        shared_data("weights")
    path = os.path.join(os.path.dirname(NOTEBOOKS[0]), name)
    notebook = _with_small_parameters(nbformat.read(path, as_version=4), name)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()


@pytest.mark.slow
class TestImageNotebooks:
    @pytest.mark.parametrize("name", _cases(GROUPS["image"]))
    def test_runs_top_to_bottom(self, name, tmp_path):
        _run(name, tmp_path)


@pytest.mark.slow
class TestTextNotebooks:
    @pytest.mark.parametrize("name", _cases(GROUPS["text"]))
    def test_runs_top_to_bottom(self, name, tmp_path):
        _run(name, tmp_path)

"""The walkthrough notebook (notebooks/01_jinsha_walkthrough.ipynb) runs and shows the Jinsha GEP.

The notebook is executed top to bottom with nbclient in a kernel of *this* interpreter (a
``python3`` kernelspec written into a temporary JUPYTER_PATH, so that no other installed kernel
is picked up), with a temporary working directory.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import ipykernel  # noqa: F401  (the kernel runs in this interpreter)
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_jinsha_walkthrough.ipynb"

# what the notebook prints (README: before 68.25, after 1212.56 x 10^4 yuan) and Xu et al.'s totals
EXPECTED = {"before": "68.25", "after": "1212.56"}
PAPER = {"before": 68.20, "after": 1212.90}


def _kernel_here(root: Path) -> None:
    """A ``python3`` kernelspec running this interpreter (needs ipykernel installed in it)."""
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test)", "language": "python",
    }))


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    root = tmp_path_factory.mktemp("jupyter")
    _kernel_here(root)
    work = tmp_path_factory.mktemp("cwd")
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(root))          # searched before user and system kernels
    mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    mp.setenv("MPLCONFIGDIR", str(root / "mpl"))
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(work)}}).execute()
    finally:
        mp.undo()
    return nb, work


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"cell {cell.get('id')} has stored outputs; clear them before committing")


def test_notebook_runs_and_prints_the_jinsha_gep(executed):
    nb, work = executed
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = _text(nb)
    for scenario, expected in EXPECTED.items():
        m = re.search(rf"GEP {scenario}: (\d+\.\d\d) x 10\^4 yuan a-1", text)
        assert m, f"the notebook did not print the GEP {scenario}"
        assert m.group(1) == expected
        assert abs(float(m.group(1)) / PAPER[scenario] - 1) < 0.005
    # the figures were drawn: land use, GEP maps, bar chart
    images = [o for c in nb.cells for o in c.get("outputs", [])
              if "data" in o and "image/png" in o.data]
    assert len(images) >= 3
    # the transition matrix was shown, and nothing was left in the working directory
    assert "before \\ after" in text
    assert list(work.iterdir()) == []

"""The notebooks run top to bottom (their cells assert their own results) and are stored clean."""

from __future__ import annotations

import pytest

from notebook_runs import NOTEBOOKS, executed
from symgraph import render

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_the_seven_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_backprop_by_hand.ipynb", "02_mlp.ipynb", "03_hessian_vector_products.ipynb",
        "04_higher_order.ipynb", "05_gaussian_process.ipynb", "06_sparse_derivatives.ipynb",
        "07_loops.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"{path.name}: strip outputs before committing"


@pytest.mark.skipif(not render.dot_available(),
                    reason="the notebooks draw graphs, which needs Graphviz's dot")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = executed(path)  # raises CellExecutionError, with the cell and traceback, on failure
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    pictures = [o for c in nb.cells for o in c.get("outputs", [])
                if "image/svg+xml" in o.get("data", {})]
    assert pictures, "every notebook draws at least one graph"

"""The notebooks run top to bottom (their cells assert their own results), print no warnings,
use only the public API and are stored clean."""

from __future__ import annotations

import ast
import re
import tomllib
import types

import pytest

import symgraph as sg
from notebook_runs import NOTEBOOKS, ROOT, executed, run
from symgraph import render

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

#: Submodules a notebook may import or reach as ``sg.<name>``: the public modules.
PUBLIC_MODULES = {n for n in sg.__all__ if isinstance(getattr(sg, n), types.ModuleType)}


def private_uses(source: str) -> list[str]:
    """What a code cell reaches beyond the public API: imports of symgraph's internal
    modules or of names outside ``sg.__all__``, ``getattr``/``hasattr`` on the package
    (feature probing), and ``sg._name`` or ``sg.<internal module>``."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top, _, sub = alias.name.partition(".")
                if top == "symgraph" and sub and sub.split(".")[0] not in PUBLIC_MODULES:
                    found.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "symgraph":
            sub = node.module.partition(".")[2]
            module = sg if not sub else getattr(sg, sub, None) if sub in PUBLIC_MODULES else None
            for alias in node.names:
                if module is None or alias.name not in getattr(module, "__all__", ()):
                    found.append(f"from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "hasattr") and node.args \
                and isinstance(node.args[0], ast.Name) and node.args[0].id in ("sg", "symgraph"):
            found.append(f"{node.func.id}({node.args[0].id}, ...)")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in ("sg", "symgraph"):
            value = getattr(sg, node.attr, None)
            if node.attr.startswith("_") or (isinstance(value, types.ModuleType)
                                             and node.attr not in PUBLIC_MODULES):
                found.append(f"{node.value.id}.{node.attr}")
    return found


def leaked_warnings(nb) -> list[str]:
    """Text on stderr that mentions a warning, from the outputs of an executed notebook."""
    return [o.text for c in nb.cells for o in c.get("outputs", [])
            if o.output_type == "stream" and o.name == "stderr" and "Warning" in o.text]


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


PRIVATE = [  # a cell, what private_uses must report
    ("from symgraph.traversal import ancestors", ["from symgraph.traversal import ancestors"]),
    ("import symgraph.autodiff as ad", ["import symgraph.autodiff"]),
    ("from symgraph import render", ["from symgraph import render"]),
    ("from symgraph.linalg import _private", ["from symgraph.linalg import _private"]),
    ('hvp = getattr(sg, "hvp", None)', ["getattr(sg, ...)"]),
    ('if hasattr(sg, "jvp"):\n    pass', ["hasattr(sg, ...)"]),
    ("n = sg.traversal.ancestors([f])", ["sg.traversal"]),
    ("g = sg._default", ["sg._default"]),
    ("%matplotlib inline\nimport symgraph as sg\nfrom symgraph import grad, linalg\n"
     "import symgraph.linalg\nfrom symgraph.linalg import solve\nsg.linalg.cholesky\n"
     "sg.optimize\ng = getattr(obj, 'x')", []),
]


@pytest.mark.parametrize("source, want", PRIVATE, ids=[s.split("\n")[0] for s, _ in PRIVATE])
def test_private_uses_finds_what_is_not_public(source, want):
    assert private_uses(source) == want


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_uses_only_the_public_api(path):
    nb = nbformat.read(path, as_version=4)
    found = [f"cell {k}: {use}" for k, c in enumerate(nb.cells) if c.cell_type == "code"
             for use in private_uses(c.source)]
    assert not found, f"{path.name} goes beyond the public API: {found}"


def test_notebooks_extra_has_jupyterlab_and_the_readme_says_how_to_open_them():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(re.match(r"jupyterlab\b", r) for r in extras["notebooks"])
    assert not any("jupyterlab" in r for r in extras["dev"])  # the test install stays lean
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[notebooks]"' in readme and "jupyter lab notebooks/" in readme


def test_leaked_warnings_sees_a_numpy_warning(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\nnp.log(-1.0)"),
        nbformat.v4.new_code_cell("import sys\nprint('fine', file=sys.stderr)")])
    run(nb, tmp_path)
    found = leaked_warnings(nb)
    assert len(found) == 1 and "RuntimeWarning: invalid value encountered in log" in found[0]


@pytest.mark.skipif(not render.dot_available(),
                    reason="the notebooks draw graphs, which needs Graphviz's dot")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = executed(path)  # raises CellExecutionError, with the cell and traceback, on failure
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert not leaked_warnings(nb), f"{path.name} prints warnings: {leaked_warnings(nb)}"
    pictures = [o for c in nb.cells for o in c.get("outputs", [])
                if "image/svg+xml" in o.get("data", {})]
    assert pictures, "every notebook draws at least one graph"

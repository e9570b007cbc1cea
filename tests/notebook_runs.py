"""The notebooks, each executed at most once per test run.

``tests/test_notebooks.py`` checks the executed notebooks and
``tests/test_docs.py`` renders the same ones on the documentation site, so the
slowest part of both (running the notebooks) is paid once.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: matplotlib's backend in a Jupyter kernel: figures are PNG outputs of their cell
INLINE = "module://matplotlib_inline.backend_inline"


@functools.cache
def executed(path: Path):
    """The notebook at ``path`` run top to bottom in a fresh kernel, with its outputs.

    Its cells assert their own results; a failing cell raises nbclient's
    ``CellExecutionError`` with the cell and the traceback.  The kernel imports
    this checkout's symgraph, and its figures are outputs (the inline backend).
    The result is shared: read it, do not change it.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    run(nb, path.parent)
    return nb


def run(nb, directory: Path) -> None:
    """Execute ``nb`` in place in a fresh kernel started in ``directory``, with this
    checkout's symgraph and matplotlib's inline backend."""
    import nbclient

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", INLINE)  # figures become outputs, as in Jupyter; no display
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get(
            "PYTHONPATH")])))
        client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                         resources={"metadata": {"path": str(directory)}})
        client.execute()

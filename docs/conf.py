"""Sphinx configuration of symgraph's documentation site.

Build it from the repository root (``tests/test_docs.py`` does the same in a
temporary directory)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API reference is the docstrings (numpydoc sections, rendered by autodoc),
the notebooks are executed during the build so that their pictures are on the
pages, and any warning -- a broken reference, bad markup, a notebook cell that
raises -- fails the build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Document (and run the notebooks with) the checkout these pages sit in, not
# some other installed copy: autodoc imports from sys.path, and the notebook
# kernels are child processes that read PYTHONPATH.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
# Figures are outputs of their cells, as in Jupyter, whatever backend the shell chose.
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

import symgraph  # noqa: E402

project = "symgraph"
author = "the symgraph authors"
copyright = "the symgraph authors"
version = release = symgraph.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",
    "api_family",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "jupyter_execute"]

# -- references: every one must resolve --------------------------------------
# nitpicky turns a reference to a name that is not documented into a warning
# (and so, with -W, into a failed build).  There is no network at build time, so
# other projects' inventories (intersphinx) are not loaded: names of numpy,
# scipy and the like are accepted unlinked (Sphinx itself accepts Python's builtins).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|scipy|sympy|networkx|nx|graphviz|dask|jax|matplotlib|torch|"
               r"collections|typing|contextvars|decimal|os|pathlib)(\..*)?"),
]

# -- API reference -----------------------------------------------------------
autodoc_typehints = "none"          # the numpydoc Parameters sections give the types
autodoc_member_order = "bysource"
autodoc_default_options = {"exclude-members": "__init__, __new__"}
autosummary_generate = False        # the api-family directive writes the entries itself
numpydoc_show_class_members = False  # autodoc's :members: lists them instead
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# Docstring mistakes numpydoc can see, reported as warnings (so they fail the build): an
# unknown or misplaced section ("Example", "Note"), a documented parameter the function
# does not have, "x: int" (numpydoc needs "x : int").
numpydoc_validation_checks = {"GL06", "GL07", "PR02", "PR10"}

# -- notebooks and markdown --------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "force"          # the stored notebooks have no outputs
nb_execution_timeout = 300           # seconds per cell
nb_execution_raise_on_error = True   # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"symgraph {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 5,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
html_static_path: list[str] = []

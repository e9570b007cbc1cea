"""Every public name is documented with an example, and every example runs.

The examples are the docstrings' ``Examples`` sections (numpydoc style), run
here as doctests with ``sg`` and ``np`` already imported, each in a fresh
default graph.  The API reference renders the same sections.
"""

from __future__ import annotations

import doctest
import types

import numpy as np
import pytest

import symgraph as sg

#: Public names that are plain values (no docstring of their own to carry an example).
VALUES = {"pi", "e", "inf", "nan", "newaxis"}


def public_objects() -> dict[str, object]:
    """``sg.X`` for every name in ``sg.__all__`` and ``sg.linalg.X`` for ``sg.linalg.__all__``;
    public modules contribute their own ``__all__``."""
    found: dict[str, object] = {}
    for prefix, module in (("sg", sg), ("sg.linalg", sg.linalg)):
        for name in module.__all__:
            if name in VALUES:
                continue
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                for sub in getattr(obj, "__all__", ()):
                    found[f"{prefix}.{name}.{sub}"] = getattr(obj, sub)
                continue
            found[f"{prefix}.{name}"] = obj
    return found


PUBLIC = public_objects()


def examples(name: str, obj: object) -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(recurse=False, exclude_empty=True)
    return finder.find(obj, name, globs={"sg": sg, "np": np})


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_name_has_an_example_that_runs(name):
    obj = PUBLIC[name]
    doc = getattr(obj, "__doc__", None) or ""
    assert "Examples\n" in doc and ">>>" in doc, f"{name}: its docstring needs an Examples section"
    tests = examples(name, obj)
    assert tests and any(t.examples for t in tests), f"{name}: no doctest found"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        sg.reset_default_graph()
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{name}: {result.failed} example(s) failed (output above)"

"""The ``api-family`` directive: one family of public names, as a summary table and their entries.

Each API page lists its names once::

    .. api-family:: symgraph

       grad
       vjp

and gets autosummary's table (name and first line, linking down the page) followed by
the autodoc entry of each name (``autofunction``, ``autoclass`` with its documented
members, or ``autoexception``), so the table and the entries can never disagree.
"""

from __future__ import annotations

import importlib

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

import symgraph


def autodoc_lines(module: str, name: str) -> list[str]:
    """The autodoc directive documenting ``module.name``, chosen by what the object is.

    A class that ``symgraph`` also exports (``sg.testing.GradientCheckError`` is
    ``sg.GradientCheckError``) gets a short entry pointing there: autodoc would
    describe the class twice under its one canonical name, which Sphinx refuses.
    """
    obj = getattr(importlib.import_module(module), name)
    if isinstance(obj, type) and module != "symgraph" and getattr(symgraph, name, None) is obj:
        kind, role = ("exception", "exc") if issubclass(obj, BaseException) else ("class", "class")
        return [f".. py:{kind}:: {name}", "", f"   The same class as :py:{role}:`symgraph.{name}`."]
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return [f".. autoexception:: {name}", "   :show-inheritance:"]
    if isinstance(obj, type):
        return [f".. autoclass:: {name}", "   :members:"]
    if callable(obj):
        return [f".. autofunction:: {name}"]
    return [f".. autodata:: {name}", "   :no-value:"]


class ApiFamily(SphinxDirective):
    """``.. api-family:: MODULE`` with one public name of MODULE per content line."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        module = self.arguments[0]
        names = [line.strip() for line in self.content if line.strip()]
        lines = [f".. currentmodule:: {module}", "", ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in names]
        for name in names:
            lines += ["", *autodoc_lines(module, name)]
        source = self.get_source_info()[0]
        content = StringList(lines, source=source)
        container = nodes.container()
        self.state.nested_parse(content, self.content_offset, container)
        return container.children


def resolve_sg(app: Sphinx, env, node, contnode):
    """``sg.grad`` in a docstring (``:func:`` or See Also) is ``symgraph.grad``, as in the code."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("sg."):
        return None
    return env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                             "symgraph." + target[3:], node, contnode)


def setup(app: Sphinx) -> dict:
    app.add_directive("api-family", ApiFamily)
    app.connect("missing-reference", resolve_sg)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

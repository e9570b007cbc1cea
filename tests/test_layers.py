"""Imports in symgraph/ run one way: down the layers below, never up, never to a private name.

``LAYERS`` is the architecture of the package, lowest layer first (the
source ``docs/architecture.md`` describes).  A module may import modules of
its own layer or of a lower one; importing a higher layer fails this test,
wherever the import is written (module level or inside a function: a lazy
import is still a dependency).  Where a lower layer needs something from a
higher one, the higher one registers it on import instead (``symgraph.ops``
hands its builders to ``graph.register_builders`` for ``x + y``; ``render``
gives ``graph.register_display`` the Jupyter view; the runners give
``fpwarn.watch`` the frames that name a node).

Only imports under ``if TYPE_CHECKING:`` are exempt: they never run (every
module has ``from __future__ import annotations``), so they make no
import-time dependency and no cycle; they only name types in annotations
(``graph.py`` annotates ``Node.op`` with ``ops.base.Op``).

A name with a leading underscore is private to its module: ``from X import
_name`` and ``X._name`` (X a symgraph module) fail across modules.  A name
another module needs is public.

Every module of the package must appear in ``LAYERS`` (a new module is
placed deliberately), and every exception listed below must still be needed.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symgraph"

#: (layer, modules, what the layer is), lowest first.  Modules are named
#: relative to ``symgraph``; a package name covers the package and all its
#: submodules; ``__init__`` is ``symgraph`` itself.
LAYERS: list[tuple[int, tuple[str, ...], str]] = [
    (0, ("errors", "structure", "backend", "dask_backend", "kernels"),
     "foundations: exceptions, nested outputs, array families; no nodes"),
    # dask_backend is backend's dask plugin: it imports only backend, and backend
    # loads it by name (importlib, _LOADERS) the first time a dask array is fed, so
    # the two share a layer.  kernels (shared numerics such as the stable
    # softmax that ops and codegen both use) lives here.
    (1, ("graph", "traversal"),
     "the DAG: Graph, Node, contexts; ancestors, pruned subgraph"),
    (2, ("ops", "linalg"),
     "Op base and one module per op family; builders; the sg.linalg namespace"),
    (3, ("autodiff", "derivatives", "transforms", "flow"),
     "differentiation: build_grad, jvp; hvp, jacobian, hessian; substitute, vectorize, sparsity; "
     "control flow (scan, while_loop, cond), whose rules are built with them"),
    (4, ("rewrite",),
     "simplify: registered rewrite rules"),
    (5, ("runtime", "diagnostics", "fpwarn"),
     "running one node: feeds, errors, non-finite checks, numpy warnings"),
    # fpwarn imports no symgraph module: evaluate, runtime and compile register
    # the frames it reads with fpwarn.watch.
    (6, ("evaluate", "codegen", "compile"),
     "runners: the Evaluator; sg.function (codegen)"),
    (7, ("serialize", "sympy_bridge", "render", "parse", "cli", "optimize", "testing", "models", "sparse",
         "render_flow", "render_gprime", "render_layout", "__init__", "__main__"),
     "tools on top, and the package's public face"),
]

#: Imports allowed against the rules, each with the reason, as
#: (importing module, imported module, private name or None for a layer exception).
EXCEPTIONS: dict[tuple[str, str, str | None], str] = {}


def layer_of(module: str) -> int | None:
    """The layer of ``module`` (relative dotted name), from its longest listed prefix."""
    best, found = -1, None
    for layer, names, _ in LAYERS:
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), layer
    return found


def package_modules() -> dict[str, Path]:
    """Every module of the package by relative dotted name (``__init__`` for the package)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts != ["__init__"] and parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST):
    """Every AST node except those under ``if TYPE_CHECKING:`` (iteratively)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports(module: str, source: str, modules: set[str]) -> list[tuple[int, str, str | None]]:
    """What ``module`` imports from symgraph: (line, module imported, name or None).

    ``from . import x`` imports the module ``x`` when there is one, else the name
    ``x`` of the package.  ``X._name`` attribute reads count as importing ``_name``.
    """
    is_package = module == "__init__" or (PACKAGE / module.replace(".", "/")).is_dir()
    here = [] if module == "__init__" else module.split(".")
    package = here if is_package else here[:-1]
    found: list[tuple[int, str, str | None]] = []
    aliases: dict[str, str] = {}  # local name -> symgraph module it is bound to

    def rel(dotted: str) -> str | None:
        """``symgraph.a.b`` as ``a.b`` (``__init__`` for the package), None if not ours."""
        if dotted == "symgraph":
            return "__init__"
        return dotted[len("symgraph."):] if dotted.startswith("symgraph.") else None

    tree = ast.parse(source)
    nodes = list(_runtime_nodes(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                target = rel(a.name)
                if target is not None:
                    found.append((node.lineno, target, None))
                    aliases[a.asname or a.name.split(".")[0]] = target if a.asname else "__init__"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                parts = base + (node.module.split(".") if node.module else [])
                target = ".".join(parts) or "__init__"
            else:
                target = rel(node.module or "")
                if target is None:
                    continue
            for a in node.names:
                sub = a.name if target == "__init__" else f"{target}.{a.name}"
                if sub in modules:  # ``from pkg import submodule``
                    found.append((node.lineno, sub, None))
                    aliases[a.asname or a.name] = sub
                else:
                    found.append((node.lineno, target, a.name))
    for node in nodes:
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases):
            found.append((node.lineno, aliases[node.value.id], node.attr))
    return found


def _private(name: str | None) -> bool:
    return name is not None and name.startswith("_") and not name.endswith("__")


def violations(module: str, source: str, modules: set[str]) -> list[tuple[str, tuple]]:
    """Broken rules in one module's source: (message, exception key)."""
    own = layer_of(module)
    out = []
    for line, target, name in imports(module, source, modules):
        where = f"symgraph/{module.replace('.', '/')}.py:{line}"
        theirs = layer_of(target)
        if own is not None and theirs is not None and theirs > own:
            out.append((f"{where}: {module} (layer {own}) imports {target} (layer {theirs})",
                        (module, target, None)))
        if _private(name) and target != module:
            out.append((f"{where}: {module} uses private {target}.{name}",
                        (module, target, name)))
    return out


def check_package() -> tuple[list[str], set[tuple]]:
    """All violations not excused, and the exception keys that were used."""
    files = package_modules()
    modules = set(files)
    problems, used = [], set()
    for module, path in files.items():
        for message, key in violations(module, path.read_text(encoding="utf-8"), modules):
            if key in EXCEPTIONS:
                used.add(key)
            else:
                problems.append(message)
    return sorted(problems), used


def test_every_module_has_a_layer():
    unplaced = [m for m in package_modules() if layer_of(m) is None]
    assert not unplaced, f"place these modules in a layer of tests/test_layers.py LAYERS: {unplaced}"


def test_imports_run_down_the_layers_and_never_to_private_names():
    problems, _ = check_package()
    assert not problems, ("imports against the layering (a lower layer must not import a higher "
                          "one; private names stay in their module):\n  " + "\n  ".join(problems))


def test_every_exception_is_still_needed():
    _, used = check_package()
    stale = [k for k in EXCEPTIONS if k not in used]
    assert not stale, f"these exceptions in tests/test_layers.py are no longer needed: {stale}"


def test_the_checker_sees_upward_lazy_and_private_imports():
    modules = set(package_modules())
    cases = {
        "from .render import draw\n": "imports render (layer 7)",
        "def f():\n    from . import evaluate\n    return evaluate\n": "imports evaluate (layer 6)",
        "import symgraph.ops.base\n": "imports ops.base (layer 2)",
        "from .errors import _hidden\n": "uses private errors._hidden",
        "from . import errors\nerrors._hidden\n": "uses private errors._hidden",
    }
    for source, expected in cases.items():
        found = [m for m, _ in violations("graph", source, modules)]
        assert any(expected in m for m in found), (source, found)
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .ops.base import Op\n"
    assert violations("graph", typing_only, modules) == []
    assert violations("ops.shape", "from .elementwise import add\nfrom ..graph import Node\n",
                      modules) == []
    assert violations("ops.nn", "from . import _self_helper\n", modules) != []

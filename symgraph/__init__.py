"""symgraph: symbol-to-symbol automatic differentiation of numpy array programs.

Build a graph of array operations, insert derivative nodes into the same
graph with ``grad``/``jvp``/``hvp``, and evaluate any node on numpy::

    import symgraph as sg
    w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    f = (w * x - y) ** 2
    dw, dx = sg.grad(f, [w, x])
    sg.evaluate([f, dw, dx], {"w": 1.0, "x": 2.0, "y": 3.0})
"""

from numpy import e, inf, nan, newaxis, pi  # numpy's constants, so numpy code ports name for name

from . import linalg, optimize
from .autodiff import build_grad, grad, jvp, vjp
from .derivatives import hessian, hvp, jacobian
from .flow import cond, scan, while_loop
from .transforms import hessian_sparsity, sparsity, substitute, vectorize
from .compile import CompiledFunction, function
from .diagnostics import NonFiniteError
from .errors import (BackendError, DTypeError, EvaluationError, GradientCheckError, GraphMismatchError,
                     MissingInputError, SerializationError, ShapeError, SymgraphError,
                     UndefinedGradientError, UnknownInputError)
from .evaluate import Evaluator, evaluate
from .graph import Graph, Node, get_default_graph, reset_default_graph
from .ops import *  # noqa: F401,F403 - the op builders are the public API
from .ops import __all__ as _ops_all
# building blocks of rules and tests, importable but not part of ``__all__``
from .ops import add_n, getitem, sum_to  # noqa: F401
from .serialize import load, register_op, save
from . import testing  # noqa: E402 - sg.testing.check_grads
from .parse import ParseError, parse_expression
from .render import Drawing, RenderError, draw, to_dot
from .rewrite import simplify
from .sparse import SparseDerivative, sparse_hessian, sparse_jacobian

__version__ = "0.1.0"

__all__ = [
    "Graph", "Node", "get_default_graph", "reset_default_graph",
    "grad", "vjp", "jvp", "hvp", "jacobian", "hessian", "optimize", "linalg",
    "scan", "while_loop", "cond",
    "substitute", "vectorize", "sparsity", "hessian_sparsity", "sparse_jacobian",
    "sparse_hessian", "SparseDerivative",
    "evaluate", "Evaluator",
    "simplify", "to_sympy", "from_sympy",
    "function", "CompiledFunction",
    "SymgraphError", "ShapeError", "DTypeError", "GraphMismatchError", "MissingInputError",
    "UnknownInputError", "UndefinedGradientError", "EvaluationError", "NonFiniteError",
    "SerializationError", "GradientCheckError", "save", "load", "register_op", "testing",
    "to_dot", "draw", "Drawing", "RenderError", "parse_expression", "ParseError",
    "BackendError", "pi", "e", "inf", "nan", "newaxis",
    *_ops_all,
]


def __getattr__(name: str):
    """``to_sympy``/``from_sympy`` load sympy (a quarter second) only when first used."""
    if name in ("to_sympy", "from_sympy"):
        from . import sympy_bridge

        return getattr(sympy_bridge, name)
    raise AttributeError(f"module 'symgraph' has no attribute {name!r}")

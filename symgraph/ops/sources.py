"""Nodes without inputs: variables (fed at run time), constants and fills."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError, SymgraphError
from ..graph import Graph, Node, get_default_graph
from .base import ARRAY, DTYPE, NAME, SCALAR, SHAPE, Op, as_shape, holds_node


def numeric_dtype(dtype: Any, what: str) -> np.dtype:
    """``dtype`` as a numpy dtype, or a DTypeError: not a dtype, or not a number type."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{what}: {dtype!r} is not a dtype") from None
    if dtype.kind not in "biufc":
        raise DTypeError(f"{what}: dtype {dtype} is not numeric")
    return dtype


class Variable(Op):
    """A placeholder fed at evaluation time; never shared between calls."""

    name = "variable"
    is_variable = True
    param_types = {"var_name": NAME, "shape": SHAPE, "dtype": DTYPE}

    def __init__(self, var_name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.var_name = var_name
        self.shape = shape
        self.dtype = dtype

    def cse_key(self) -> None:
        return None

    def node_name(self) -> str:
        return self.var_name

    def infer(self):
        return self.shape, self.dtype

    def f(self):
        raise SymgraphError(f"variable {self.var_name!r} must be fed")

    def describe(self) -> str:
        return self.var_name

    def to_sympy(self, bridge, node):
        return bridge.variable_symbols(node, {})


class Constant(Op):
    """A fixed array stored in the graph (read-only)."""

    name = "constant"
    param_types = {"value": ARRAY}

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def cse_key(self):
        # Small constants are shared by value; large ones by identity only.
        if self.value.size <= 64:
            return (Constant, self.value.dtype.str, self.value.shape, self.value.tobytes())
        return None

    def infer(self):
        return self.value.shape, self.value.dtype

    def f(self):
        return self.value

    def describe(self) -> str:
        v = self.value
        if v.ndim == 0:
            return f"{v.item():.6g}" if v.dtype.kind in "fc" else str(v.item())
        return f"const{list(v.shape)}"

    def to_sympy(self, bridge, node):
        return bridge.constant_exprs(self.value)


class Full(Op):
    """An array of one repeated value: zeros, ones and gradient seeds."""

    name = "full"
    param_types = {"value": SCALAR, "shape": SHAPE, "dtype": DTYPE}
    formerly = ("symgraph.ops.sources.Fill",)

    def __init__(self, value: float, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.value = value
        self.shape = shape
        self.dtype = dtype

    def infer(self):
        return self.shape, self.dtype

    def f(self):
        return np.full(self.shape, self.value, dtype=self.dtype)

    def describe(self) -> str:
        return f"{self.value:g}" if not self.shape else f"full({self.value:g}, {list(self.shape)})"

    def to_sympy(self, bridge, node):
        value = bridge.number(np.asarray(self.value, node.dtype))
        return np.broadcast_to(np.asarray(value, dtype=object), node.shape)


def variable(name: str, shape: Any = (), dtype: Any = "float64", *, graph: Graph | None = None) -> Node:
    """A named input of the graph, fed by node or by ``name`` when evaluating."""
    if not isinstance(name, str) or not name:
        raise SymgraphError(f"variable name must be a non-empty string, got {name!r}")
    shape = as_shape(shape, f"variable {name!r}")
    dtype = numeric_dtype(dtype, f"variable {name!r}")
    return (graph if graph is not None else get_default_graph())._add(Variable(name, shape, dtype), ())


def constant(value: Any, dtype: Any = None, *, graph: Graph | None = None) -> Node:
    """A constant node holding a copy of ``value``."""
    if isinstance(value, Node) or isinstance(value, (list, tuple)) and holds_node(value):
        raise SymgraphError("constant() expects an array or scalar, not Nodes; use sg.stack for a "
                            "list of nodes (any other builder stacks such a list itself)")
    try:
        arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise DTypeError(f"constant: cannot convert {type(value).__name__} to an array: {e}") from None
    if arr.dtype.kind not in "biufc":
        raise DTypeError(f"constant: dtype {arr.dtype} is not numeric (value {value!r:.60})")
    arr.setflags(write=False)
    return (graph if graph is not None else get_default_graph())._add(Constant(arr), ())


def full(shape: Any, value: float, dtype: Any = "float64", *, graph: Graph | None = None) -> Node:
    """A node of ``shape`` filled with ``value``."""
    shape = as_shape(shape, "full")
    dtype = numeric_dtype(dtype, "full")
    value = np.asarray(value, dtype=dtype).item()
    return (graph if graph is not None else get_default_graph())._add(Full(value, shape, dtype), ())


def zeros_like(x: Node) -> Node:
    return full(x.shape, 0, x.dtype, graph=x.graph)


def ones_like(x: Node) -> Node:
    return full(x.shape, 1, x.dtype, graph=x.graph)


__all__ = ["variable", "constant", "full", "zeros_like", "ones_like"]

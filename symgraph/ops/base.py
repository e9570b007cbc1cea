"""The Op base class and the shape/dtype helpers every op family shares.

An Op is the *kind* of a node: its numpy forward ``f``, its static ``infer``
of shape and dtype, and its derivative rules ``bprop`` (reverse mode) and
``jvp`` (forward mode), written with symgraph ops so they are differentiable
again.  Parameters are plain instance attributes; they identify the op for
hash-consing and serialization.
"""

from __future__ import annotations

import builtins
import numbers
import operator
import struct
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Node, apply, get_default_graph

_OP_REGISTRY: dict[str, type] = {}


class Op:
    """Base class of every operation, built-in or user-defined.

    Subclasses set ``name`` and define ``f(self, *arrays)``.  They may define:

    * ``infer(self, *input_nodes) -> (shape, dtype)``; the default broadcasts
      the input shapes numpy-style and promotes their dtypes.
    * ``bprop(self, inputs, output, grad) -> list``: one entry per input, each a
      Node (the gradient contribution, shaped like that input), ``None`` (no
      gradient flows to that input) or a zero-argument callable returning a Node
      (built only if that input needs a gradient).  Without ``bprop``, asking for
      a gradient through the op raises ``UndefinedGradientError``.
    * ``jvp(self, inputs, output, tangents) -> Node | None``: the forward-mode
      rule; ``tangents`` holds a Node or ``None`` (zero) per input.  Without it,
      forward mode still works: ``bprop`` is linear in its cotangent ``u``, so
      ``J t`` is obtained as ``grad_u <bprop(u), t>`` (the transpose of the
      transpose), at the price of a small extra reverse sweep per use.  An op
      with neither rule raises ``UndefinedGradientError`` naming the op.

    Instance attributes are the op's parameters: two nodes with equal op type,
    equal parameters and identical inputs are the same node (hash-consing).
    """

    name: str = ""
    bprop: Callable | None = None
    jvp: Callable | None = None
    #: Variables are never shared between calls and are fed at run time.
    is_variable: bool = False
    _plain_key: tuple | None = None
    #: Maps elements independently with numpy broadcasting: compiled code may run
    #: it on inputs that are not broadcast yet, and may recompute it to save memory.
    elementwise: bool = False
    #: ``emit`` writes its result into ``ctx.into`` (an existing array) when that is set.
    emit_inplace: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__.lower()
        cls._plain_key = (cls,) if cls.params is Op.params else None
        _OP_REGISTRY.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)

    # -- identity -----------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The parameters that distinguish two instances of this op."""
        return dict(vars(self))

    def cse_key(self) -> tuple | None:
        """A hashable identity for hash-consing, or None to never share nodes."""
        if not self.__dict__ and self._plain_key is not None:
            return self._plain_key  # the common case: an op without parameters
        try:
            key = (type(self), _freeze(self.params()))
            hash(key)
        except TypeError:
            return None
        return key

    def node_name(self) -> str | None:
        """The name given to nodes of this op (only variables have one)."""
        return None

    def __call__(self, *inputs: Any) -> Node:
        """Apply the op to nodes (arrays and Python scalars become constants)."""
        return make(self, *inputs)

    # -- semantics ----------------------------------------------------------
    def f(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"op {self.name!r} defines no forward function f")

    def emit(self, out: str, ins: Sequence[str], ctx: Any) -> str | None:
        """numpy source that binds ``out`` to this op's result, for ``sg.function``.

        ``ins`` are the input expressions; ``ctx`` (a ``symgraph.codegen.EmitContext``)
        gives the node and its shapes and turns values into named constants.  When
        the op sets ``emit_inplace``, ``ctx.into`` may name an array of the result's
        shape and dtype that the compiled function owns and nothing else reads any
        more (a dead input, then equal to ``out``, or a reused buffer): write the
        result into it, e.g. ``ctx.bind(f"np.exp({x}, out={ctx.into})")``.
        ``None`` (the default) makes compiled code call ``f``.
        """
        return None

    def emits_view(self) -> bool:
        """Whether ``emit``'s result may share memory with input 0 (a view, or the input)."""
        return False

    def infer(self, *inputs: Node) -> tuple[tuple[int, ...], np.dtype]:
        shape = broadcast_shapes([i.shape for i in inputs], self.name)
        dtype = np.result_type(*[i.dtype for i in inputs]) if inputs else np.dtype("float64")
        return shape, dtype

    def describe(self) -> str:
        """A short label for pictures and error messages, e.g. ``sum(axis=0)``."""
        shown = {k: v for k, v in self.params().items() if not k.startswith("_")}
        if not shown:
            return self.name
        inner = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
        return f"{self.name}({inner})"

    def __repr__(self) -> str:
        return f"<Op {self.describe()}>"


def registered_ops() -> dict[str, type]:
    """Every Op subclass defined so far, keyed by ``module.QualName``."""
    return dict(_OP_REGISTRY)


def _freeze(value: Any) -> Any:
    """A hashable stand-in for op parameters (tuples, dicts, dtypes, arrays).

    Scalars are tagged with their type and floats compared by their bits, so
    parameters that Python's ``==`` confuses are never shared: ``0.0`` and
    ``-0.0``, ``1`` and ``1.0`` and ``True``, ``np.float32(0.5)`` and ``0.5``
    (they give different results or dtypes); a NaN matches the same NaN.
    """
    if isinstance(value, np.generic):
        return ("np", value.dtype.str, value.tobytes())
    if isinstance(value, float):
        return ("float", struct.pack("<d", value))
    if isinstance(value, complex):
        return ("complex", struct.pack("<dd", value.real, value.imag))
    if isinstance(value, (bool, int)):
        return (type(value).__name__, value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, slice):
        return ("slice", _freeze(value.start), _freeze(value.stop), _freeze(value.step))
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    return value


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array{list(v.shape)}" if v.size > 4 else np.array2string(v, separator=",")
    if isinstance(v, np.dtype):
        return str(v)
    return repr(v)


# ---------------------------------------------------------------------------
# shapes and dtypes
# ---------------------------------------------------------------------------

def broadcast_shapes(shapes: Sequence[tuple[int, ...]], what: str) -> tuple[int, ...]:
    """numpy broadcasting of ``shapes``, or a ShapeError naming all of them."""
    first = shapes[0]
    if all(s == first for s in shapes):
        return tuple(first)
    ndim = builtins.max(len(s) for s in shapes)
    out = []
    for k in range(-ndim, 0):  # plain Python is faster than numpy for a few dims
        dims = {s[k] for s in shapes if len(s) >= -k} - {1}
        if len(dims) > 1:
            break
        out.append(dims.pop() if dims else 1)
    else:
        return tuple(out)
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ShapeError(f"{what}: shapes {listed} cannot be broadcast together") from None


_UFUNC_DTYPES: dict[tuple, np.dtype] = {}


def ufunc_dtype(ufunc: np.ufunc, *dtypes: np.dtype) -> np.dtype:
    """The dtype numpy's ``ufunc`` returns for inputs of ``dtypes`` (memoised: hot path)."""
    key = (ufunc, *dtypes)
    found = _UFUNC_DTYPES.get(key)
    if found is None:
        found = _UFUNC_DTYPES[key] = _ufunc_dtype(ufunc, *dtypes)
    return found


def _ufunc_dtype(ufunc: np.ufunc, *dtypes: np.dtype) -> np.dtype:
    try:
        out = ufunc(*[np.empty(0, d) for d in dtypes])
    except TypeError as e:
        names = ", ".join(str(d) for d in dtypes)
        raise DTypeError(f"{ufunc.__name__} is not defined for dtypes {names}: {e}") from None
    if isinstance(out, tuple):
        out = out[0]
    return out.dtype


def float_dtype(dtype: np.dtype) -> np.dtype:
    """The floating dtype numpy computes transcendental functions in."""
    dtype = np.dtype(dtype)
    return dtype if dtype.kind in "fc" else np.dtype("float64")


def is_inexact(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind in "fc"


def as_dim(value: Any, what: str) -> int:
    """``value`` as a Python int if it is an integer (Python or numpy), else a SymgraphError.

    Floats are refused rather than truncated (``2.7`` is not a size) and bools
    rather than read as 0/1; ``operator.index`` is the test numpy itself uses.
    """
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise SymgraphError(f"{what}: sizes must be integers, got {type(value).__name__} {value!r:.40}")


def as_shape(shape: Any, what: str, *, allow_minus_one: bool = False) -> tuple[int, ...]:
    """A shape (an integer or a sequence of them) as a tuple of non-negative Python ints.

    The one place every builder that takes a shape checks it: floats, bools,
    strings and negative sizes are errors, not truncated or wrapped.
    ``allow_minus_one`` lets ``reshape`` keep its -1 placeholder.
    """
    if not isinstance(shape, (tuple, list)) and (
            isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__")
            or (isinstance(shape, np.ndarray) and shape.ndim == 0)):
        shape = (shape,)
    try:
        items = list(shape)
    except TypeError:
        raise SymgraphError(f"{what}: shape must be an int or a tuple of ints, got {shape!r:.60}") from None
    out = tuple(as_dim(s, f"{what}: shape {tuple(items)!r:.60}") for s in items)
    if any(s < 0 and not (allow_minus_one and s == -1) for s in out):
        raise ShapeError(f"{what}: negative dimension in shape {out}")
    return out


def normalize_axis(axis: int | Sequence[int] | None, ndim: int, what: str) -> tuple[int, ...]:
    """Axes as a sorted tuple of non-negative ints; None means all axes."""
    if axis is None:
        return tuple(range(ndim))
    try:
        axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    except TypeError:
        raise SymgraphError(f"{what}: axis must be None, an int or a tuple of ints, got "
                            f"{axis!r}") from None
    out = []
    for a in axes:
        if not isinstance(a, numbers.Integral):
            raise SymgraphError(f"{what}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ShapeError(f"{what}: axis {a} is out of bounds for an array of {ndim} dimensions")
        out.append(int(a) % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise SymgraphError(f"{what}: repeated axis in {axis!r}")
    return tuple(sorted(out))


# ---------------------------------------------------------------------------
# turning Python values into nodes
# ---------------------------------------------------------------------------

def as_node(value: Any, like: Node | None = None) -> Node:
    """``value`` as a Node; Python scalars take ``like``'s dtype where numpy would.

    A (nested) list or tuple holding nodes, maybe mixed with numbers and
    arrays, is stacked (``sg.stack``), as numpy makes an array of an array_like:
    ``sg.mean([x, x + 2])`` is the mean of the stacked pair.

    Python ints and floats are *weakly typed* (NEP 50): ``x32 * 2.0`` stays
    float32.  Arrays and numpy scalars keep their own dtype.
    """
    if isinstance(value, Node):
        return value
    if isinstance(value, (list, tuple)) and holds_node(value):
        from .shape import stack  # numpy would make an array of the list: so do we

        return stack(value)
    from .sources import constant

    graph = like.graph if like is not None else None
    if isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.generic):
        if like is not None:
            try:
                dtype = np.result_type(like.dtype, value)
            except (TypeError, OverflowError):
                dtype = np.asarray(value).dtype
        else:
            dtype = np.asarray(value).dtype
        return constant(np.asarray(value, dtype=dtype), graph=graph)
    return constant(value, graph=graph)


def holds_node(value: list | tuple) -> bool:
    """Whether a (nested) list/tuple has a Node anywhere in it (an explicit stack, no recursion)."""
    todo = [value]
    while todo:
        for v in todo.pop():
            if isinstance(v, Node):
                return True
            if isinstance(v, (list, tuple)):
                todo.append(v)
    return False


def as_nodes(*values: Any) -> list[Node]:
    """Convert several operands at once, typing Python scalars after the nodes among them."""
    if all(type(v) is Node for v in values):
        return list(values)
    like = next((v for v in values if isinstance(v, Node)), None)
    return [as_node(v, like) for v in values]


def make(op: Op, *inputs: Any) -> Node:
    """Apply ``op`` to operands that may be nodes, arrays or Python scalars."""
    if all(type(v) is Node for v in inputs):  # hot path: skip conversions
        graph = inputs[0].graph if inputs else get_default_graph()
        if all(v.graph is graph for v in inputs):
            return graph._add(op, inputs)
    return apply(op, as_nodes(*inputs))


__all__ = [
    "Op", "as_node", "as_nodes", "make", "broadcast_shapes", "ufunc_dtype", "float_dtype",
    "is_inexact", "normalize_axis", "as_shape", "as_dim", "holds_node", "registered_ops", "get_default_graph",
]

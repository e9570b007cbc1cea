"""The Op base class: everything about an operation is declared on its class.

An Op is the *kind* of a node.  Its class states, in one place (like JAX's
primitives with their rule tables):

* ``f`` -- the numpy forward; ``emit`` -- the numpy source compiled code uses;
* ``infer`` -- shape and dtype, *and the validation of inputs and parameters*,
  so every way of making a node (builders, ``Op(...)(x)``, ``sg.load``,
  rewrites) is checked the same;
* ``bprop`` / ``jvp`` -- reverse and forward rules written with symgraph ops
  (differentiable again), or derived from a flag (``linear``,
  ``multilinear``, ``differentiable = False``) or from an elementwise op's
  ``tangent`` (see ``symgraph.ops.elementwise``);
* ``param_types`` -- its parameters and their kinds (save/load checks them);
* flags read by the passes (rewrite, codegen, diagnostics, sympy, CLI);
* ``to_sympy`` -- its sympy translation (or ``NO_SYMPY``).

Parameters are plain instance attributes; they identify the op for
hash-consing and serialization.
"""

from __future__ import annotations

import builtins
import inspect
import numbers
import operator
import struct
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Graph, Node, apply, get_default_graph, innermost_graph

_OP_REGISTRY: dict[str, type] = {}

#: Most dimensions an array may have (numpy's own limit).
MAX_NDIM = 64


# ---------------------------------------------------------------------------
# parameter kinds
# ---------------------------------------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class ParamKind:
    """The kind of one op parameter: a name for messages and a test of a value.

    Values here are what an op holds after its builder normalised them (a
    shape is a tuple of ints, an axis a non-negative int), which is also what
    ``sg.load`` decodes from a file, so one test serves both.
    """

    def __init__(self, name: str, test: Callable[[Any], bool], *, is_shape: bool = False) -> None:
        self.name = name
        self.test = test
        #: the value is the shape of an array (``sg.load`` bounds its size)
        self.is_shape = is_shape

    def accepts(self, value: Any) -> bool:
        return bool(self.test(value))

    def __repr__(self) -> str:
        return f"<param {self.name}>"


def one_of(*choices: Any) -> ParamKind:
    """A parameter that takes one of a few values (e.g. a reduction mode)."""
    return ParamKind(f"one of {choices!r}", lambda v: isinstance(v, str) and v in choices)


def _index_item(i: Any) -> bool:
    return (i is None or i is Ellipsis or isinstance(i, slice) or _is_int(i)
            or (isinstance(i, np.ndarray) and i.dtype == np.int64))


SHAPE = ParamKind("shape", lambda v: isinstance(v, tuple) and len(v) <= MAX_NDIM
                  and all(_is_int(s) and s >= 0 for s in v), is_shape=True)
AXES = ParamKind("axes", lambda v: isinstance(v, tuple) and len(v) <= MAX_NDIM
                 and all(_is_int(a) and a >= 0 for a in v))
AXIS = ParamKind("axis", lambda v: _is_int(v) and 0 <= v <= MAX_NDIM)
SIZE = ParamKind("size", lambda v: _is_int(v) and v >= 0)
INT = ParamKind("int", _is_int)
BOOL = ParamKind("bool", lambda v: isinstance(v, bool))
DTYPE = ParamKind("dtype", lambda v: isinstance(v, np.dtype) and v.kind in "biufc")
SCALAR = ParamKind("scalar", lambda v: isinstance(v, (bool, int, float, complex)))
ARRAY = ParamKind("array", lambda v: isinstance(v, np.ndarray) and v.dtype.kind in "biufc")
INDEX = ParamKind("index", lambda v: isinstance(v, tuple) and len(v) <= MAX_NDIM
                  and all(_index_item(i) for i in v))
NAME = ParamKind("name", lambda v: isinstance(v, str) and 0 < len(v) <= 1000)


class _NoSympy:
    """The explicit "this op has no sympy translation" (the bridge says so by name)."""

    def __repr__(self) -> str:
        return "NO_SYMPY"


NO_SYMPY: Any = _NoSympy()


# ---------------------------------------------------------------------------
# the op
# ---------------------------------------------------------------------------

class Op:
    """Base class of every operation, built-in or user-defined.

    Subclasses set ``name`` and define ``f(self, *arrays)``.  They may define:

    * ``infer(self, *input_nodes) -> (shape, dtype)``: validates the inputs
      and parameters (raise ``ShapeError``/``DTypeError``/``SymgraphError``)
      and returns the result's shape and dtype; the default broadcasts the
      input shapes numpy-style and promotes their dtypes.
    * ``bprop(self, inputs, output, grad[, needs]) -> list``: one entry per
      input, each a Node (the gradient contribution, shaped like that input)
      or ``None`` (no gradient flows to that input).  When the method takes
      ``needs`` it gets one bool per input and builds only the entries that
      are needed (``None`` for the others); ops written before ``needs``
      may still return zero-argument callables, called only when needed.  Without ``bprop``, asking for a
      gradient through the op raises ``UndefinedGradientError``.
    * ``jvp(self, inputs, output, tangents) -> Node | None``: the forward-mode
      rule; ``tangents`` holds a Node or ``None`` (zero) per input.  Without it,
      forward mode still works by transposing ``bprop`` (a small extra reverse
      sweep per use, see ``symgraph.autodiff``).

    Or declare instead of writing rules: ``differentiable = False`` (a
    derivative that is zero wherever it exists: no gradient flows, no
    error), ``linear = True`` (the jvp is the op applied to the tangents) or
    ``multilinear = True`` (the jvp follows the product rule).

    Flags the passes read (a user op that sets one gets the same treatment
    as a built-in op): ``elementwise``, ``linear``, ``multilinear``,
    ``commutative``, ``structural``, ``selects``, ``emit_inplace``, ``cli``.

    Instance attributes are the op's parameters: two nodes with equal op type,
    equal parameters and identical inputs are the same node (hash-consing).

    Examples
    --------
    A user op: ``f`` computes it with numpy, ``bprop`` states its gradient with
    symgraph ops, so the gradient is differentiable again and forward mode works
    by transposing it (``infer`` is the default: broadcast shapes, promote dtypes).

    >>> class Cube(sg.Op):
    ...     name = "cube"
    ...     def f(self, x):
    ...         return x ** 3
    ...     def bprop(self, inputs, out, g):
    ...         (x,) = inputs
    ...         return [g * 3 * sg.square(x)]
    >>> x = sg.variable("x")
    >>> y = Cube()(x)
    >>> dy = sg.grad(y, x)
    >>> sg.evaluate([y, dy, sg.grad(dy, x), sg.jvp(y, x, 1.0)], {"x": 2.0})
    [array(8.), array(12.), array(12.), array(12.)]
    """

    name: str = ""
    bprop: Callable | None = None
    jvp: Callable | None = None
    #: ``batch(self, inputs, batched) -> Node``: the op over one extra leading batch axis
    #: (see ``symgraph.ops.batching``); derived for elementwise ops.  Without it,
    #: ``sg.vectorize`` runs the op once per example.
    batch: Callable | None = None
    #: The op works on the last ``stack_core[k]`` axes of input ``k`` and maps over the axes
    #: before them as a stack (numpy.linalg's convention), broadcasting the stacks against
    #: each other unless ``stack_broadcasts`` is False: its batching rule is then derived
    #: (the batch axis becomes one more stack axis, ``batching.batch_leading``).
    stack_core: ClassVar[tuple[int, ...] | None] = None
    stack_broadcasts: ClassVar[bool] = True
    #: ``sparsity(self, node) -> list``: per input, which input elements each output element
    #: may depend on (see ``symgraph.ops.patterns``); derived for elementwise, structural and
    #: non-differentiable ops.  Without it every output depends on every input element.
    sparsity: Callable | None = None
    #: ``hessian_pairs(self, node, a, b, rows) -> sparse | None``: for ``sg.hessian_sparsity``,
    #: the pairs (i, j) of elements of inputs ``a`` and ``b`` (positions) whose second
    #: derivative of some output element in ``rows`` (flat indices) may be non-zero, a
    #: boolean ``(input a size, input b size)`` matrix; None for the default: every pair
    #: feeding one of those outputs.  That is exact for elementwise ops, not for
    #: contractions (matmul pairs ``a[i, l]`` with ``b[l, j]`` only, not with every
    #: ``b[l', j]``) nor for a reduced loss (cross-entropy couples one example's logits).
    hessian_pairs: Callable | None = None
    #: Inputs in which the op is linear when the others are held fixed (``x / c`` in ``x``,
    #: ``where(c, a, b)`` in ``a`` and ``b``), or piecewise linear (``relu``, ``abs``: their
    #: second derivative is zero wherever it exists): ``sg.hessian_sparsity`` adds no
    #: curvature between such an input and itself.  ``linear``/``multilinear`` ops are linear in
    #: every input.
    linear_in: ClassVar[tuple[int, ...]] = ()

    # -- declarations -------------------------------------------------------
    #: The parameters (instance attributes) and their kinds; ``sg.load`` accepts exactly
    #: these.  ``None`` (user ops that do not declare them): any JSON-able attributes.
    param_types: ClassVar[dict[str, ParamKind] | None] = None
    #: Variables are never shared between calls and are fed at run time.
    is_variable: bool = False
    #: Maps elements independently with numpy broadcasting: compiled code may run it on
    #: inputs that are not broadcast yet and may recompute it to save memory; rewrites
    #: fold it on one element and move broadcasts past it.
    elementwise: bool = False
    #: Linear in its inputs jointly (``op(a*x + y) == a*op(x) + op(y)``): zeros give zeros,
    #: and the jvp is the op applied to the tangents.
    linear: bool = False
    #: Linear in each input separately (matmul): one zero input gives zeros, and the jvp
    #: is the product rule.
    multilinear: bool = False
    #: The result does not depend on the order of the inputs.
    commutative: bool = False
    #: Every output element is an input element at a position fixed by shapes and
    #: parameters (reshape, transpose, indexing, joining): a repeated value stays one.
    structural: bool = False
    #: Every output element equals one input element chosen by value (max, min).
    selects: bool = False
    #: The node's value is a tuple of arrays (a loop's or a branch's results), held in a 0-d
    #: object array; ``sg.ops.tuples.item`` nodes read its parts.  ``bprop`` then gets one
    #: cotangent (or None) per part and ``jvp`` returns one tangent (or None) per part.
    multiple_results: bool = False
    #: ``False``: the derivative is zero wherever it exists (comparisons, sign): no
    #: gradient flows through the op and asking for one is not an error.
    differentiable: bool = True
    #: The command line may call the builder ``symgraph.ops.<name>`` (``True``), or the
    #: builders named in a tuple.
    cli: bool | tuple[str, ...] = False
    #: ``emit`` writes its result into ``ctx.into`` (an existing array) when that is set.
    emit_inplace: bool = False
    #: Names this op had in files saved by earlier versions (``module.QualName``).
    formerly: ClassVar[tuple[str, ...]] = ()
    #: ``to_sympy(self, bridge, node, *arrays) -> object array``: the sympy translation,
    #: given ``symgraph.sympy_bridge`` (its ``sympy`` and helpers) and each input as a
    #: numpy object array of sympy expressions.  ``None``: not declared; ``NO_SYMPY``: none.
    to_sympy: Callable | None = None

    _plain_key: ClassVar[tuple | None] = None
    #: whether ``bprop`` takes the ``needs`` mask (derived from its signature; autodiff reads it)
    bprop_takes_needs: ClassVar[bool] = False

    def __init_subclass__(cls, **declared: Any) -> None:
        """Declarations may be written as class keywords: ``class Exp(Unary, ufunc=np.exp)``."""
        for key, value in declared.items():
            if not _declarable(cls, key):
                raise TypeError(f"{cls.__name__}: {key!r} is not something an op declares")
            setattr(cls, key, value)
        super().__init_subclass__()
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__.lower()
        cls._plain_key = (cls,) if cls.params is Op.params else None
        if not cls.differentiable:
            cls.bprop, cls.jvp = _no_bprop, _no_jvp
        elif cls.jvp is None and cls.linear:
            cls.jvp = _linear_jvp
        elif cls.jvp is None and cls.multilinear:
            cls.jvp = _product_rule
        cls.bprop_takes_needs = _takes_needs(cls.bprop)
        if cls.batch is None and cls.elementwise:
            from .batching import batch_elementwise

            cls.batch = batch_elementwise
        elif cls.batch is None and cls.stack_core is not None:
            from .batching import batch_stacked

            cls.batch = batch_stacked
        if cls.sparsity is None:
            from . import patterns

            cls.sparsity = (patterns.no_derivative if not cls.differentiable
                            else patterns.elementwise if cls.elementwise
                            else patterns.structural if cls.structural else None)
        if cls.param_types and not getattr(cls.infer, "_checks_params", False):
            cls.infer = _checking_params(cls.infer)
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

    def renewed(self) -> Op:
        """The op for a node rebuilt from one of this op (``substitute``, ``simplify``): the op
        itself, or a copy for an op with state of its own (a loop's records grow as gradients
        are built, and two nodes must not share them)."""
        return self

    def node_name(self) -> str | None:
        """The name given to nodes of this op (only variables have one)."""
        return None

    def __call__(self, *inputs: Any) -> Node:
        """Apply the op to nodes (arrays and Python scalars become constants)."""
        return make(self, *inputs)

    def fold(self, inputs: tuple[Node, ...]) -> Node | None:
        """The node a person would write for ``op(*inputs)``, when it is already known, or None.

        Builders ask before adding a node (in graphs built with ``fold=True``,
        the default), so derivative rules can be written plainly and still
        give clean graphs: ``2 - 1`` is the constant 1, ``x ** 1`` is ``x``,
        ``g * 1`` is ``g``.  A fold must give the same value, shape and dtype
        bit for bit, signed zeros included (``x * 0`` is not ``0`` when ``x`` is
        NaN, and ``x + 0.0`` is not ``x`` when ``x`` is -0.0: those are
        ``simplify``'s; only a NaN's sign bit may differ, in ``x * -1 -> -x``).  ``symgraph.ops.folding`` has the shared helpers;
        ``apply(op, inputs)`` never folds.
        """
        return None

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

    def check_params(self) -> None:
        """Raise a SymgraphError naming the first parameter that is not of its declared kind
        (run before every ``infer`` of an op that declares ``param_types``)."""
        for attr, kind in self.param_types.items():
            value = getattr(self, attr, _MISSING)
            if value is _MISSING or not kind.accepts(value):
                got = "nothing" if value is _MISSING else f"{type(value).__name__} {value!r:.60}"
                raise SymgraphError(f"{self.name}: parameter {attr!r} must be {kind.name}, got {got}")

    def describe(self) -> str:
        """A short label for pictures and error messages, e.g. ``sum(axis=0)``."""
        shown = {k: v for k, v in self.params().items() if not k.startswith("_")}
        if not shown:
            return self.name
        inner = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
        return f"{self.name}({inner})"

    def __repr__(self) -> str:
        return f"<Op {self.describe()}>"


# ---------------------------------------------------------------------------
# rules derived from declarations (JAX's deflinear / defbilinear, autograd's defvjp)
# ---------------------------------------------------------------------------

def _no_bprop(self: Op, inputs: Sequence[Node], out: Node, g: Node, needs: Sequence[bool]) -> list:
    return [None] * len(inputs)


def _no_jvp(self: Op, inputs: Sequence[Node], out: Node, tangents: Sequence) -> None:
    return None


def _linear_jvp(self: Op, inputs: Sequence[Node], out: Node, tangents: Sequence) -> Node | None:
    """A linear op's tangent is the op itself on the tangents (missing ones are zeros)."""
    if all(t is None for t in tangents):
        return None
    from .sources import zeros_like

    return apply(self, [zeros_like(x) if t is None else t for x, t in zip(inputs, tangents)])


def _product_rule(self: Op, inputs: Sequence[Node], out: Node, tangents: Sequence) -> Node | None:
    """A multilinear op's tangent: the sum over inputs of the op with that input's tangent."""
    terms = [apply(self, list(inputs[:k]) + [t] + list(inputs[k + 1:]))
             for k, t in enumerate(tangents) if t is not None]
    if not terms:
        return None
    if len(terms) == 1:
        return terms[0]
    from .elementwise import add_n

    return add_n(terms)


_MISSING = object()


def _declarable(cls: type, key: str) -> bool:
    """Whether ``key`` is a class attribute (or annotated one) of ``cls`` or a base."""
    return not key.startswith("_") and any(
        key in vars(k) or key in vars(k).get("__annotations__", {}) for k in cls.__mro__)


def _checking_params(infer: Callable) -> Callable:
    """``infer`` preceded by ``check_params``: every way of making a node checks them."""
    def infer_checked(self: Op, *inputs: Node) -> Any:
        self.check_params()
        return infer(self, *inputs)

    infer_checked._checks_params = True  # type: ignore[attr-defined]
    infer_checked.__doc__ = infer.__doc__
    infer_checked.__wrapped__ = infer  # type: ignore[attr-defined]
    return infer_checked


def _takes_needs(bprop: Callable | None) -> bool:
    """Whether ``bprop`` takes the ``needs`` mask (a fifth parameter, counting self)."""
    if bprop is None:
        return False
    try:
        params = list(inspect.signature(bprop).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return False
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return True
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 5


def translate_with_f(self: Op, bridge: Any, node: Node, *arrays: np.ndarray) -> np.ndarray:
    """A sympy translation for ops that only move elements: ``f`` works on object arrays."""
    return self.f(*arrays)


def registered_ops() -> dict[str, type]:
    """Every Op subclass defined so far, keyed by ``module.QualName``."""
    return dict(_OP_REGISTRY)


def is_abstract(cls: type) -> bool:
    """Whether ``cls`` is a base that only shares code (it says ``abstract = True`` itself)."""
    return bool(cls.__dict__.get("abstract", False))


def builtin_ops() -> dict[str, type]:
    """symgraph's own concrete ops, keyed by ``module.QualName`` (what files name them by)."""
    return {k: c for k, c in _OP_REGISTRY.items()
            if c.__module__.split(".")[0] == "symgraph" and not is_abstract(c)}


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


_RESULT_DTYPES: dict[tuple, np.dtype] = {}


def result_dtype(fn: Callable[[np.ndarray], Any], dtype: np.dtype, what: str) -> np.dtype:
    """The dtype numpy function ``fn`` (np.prod, np.var, a kernel) returns for an array of
    ``dtype``, found by running it on a two-element array (memoised); a DTypeError naming
    ``what`` where numpy refuses the dtype."""
    key = (fn, np.dtype(dtype))
    found = _RESULT_DTYPES.get(key)
    if found is None:
        try:
            with np.errstate(all="ignore"):
                found = np.asarray(fn(np.ones((2,), dtype))).dtype
        except TypeError as e:
            raise DTypeError(f"{what}: not defined for dtype {dtype}: {e}") from None
        _RESULT_DTYPES[key] = found
    return found


def refuse_complex(what: str, why: str, *nodes: Node) -> None:
    """A DTypeError naming ``what`` if any of ``nodes`` is complex, saying ``why``."""
    for n in nodes:
        if n.dtype.kind == "c":
            raise DTypeError(f"{what}: complex inputs are not supported (got dtype {n.dtype}): "
                             f"{why}")


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
    """Apply ``op`` to operands that may be nodes, arrays or Python scalars, folding as
    ``op.fold`` says (see ``Op.fold``)."""
    if all(type(v) is Node for v in inputs):  # hot path: skip conversions
        graph = inputs[0].graph if inputs else get_default_graph()
        if all(v.graph is graph for v in inputs):
            return built(graph, op, inputs)
    nodes = as_nodes(*inputs)
    return built(innermost_graph(nodes), op, nodes)


def built(graph: Graph, op: Op, inputs: Sequence[Node]) -> Node:
    """``op(*inputs)`` as builders make it: folded when the graph folds and ``op.fold`` knows
    the node, else added (or found by hash-consing); inputs of enclosing graphs are captured."""
    inputs = tuple(inputs)
    if any(i.graph is not graph for i in inputs):
        inputs = tuple(graph.capture(i) for i in inputs)
    if graph.fold:
        folded = op.fold(inputs)
        if folded is not None:
            return folded
    return graph._add(op, inputs)


__all__ = [
    "Op", "ParamKind", "one_of", "SHAPE", "AXES", "AXIS", "SIZE", "INT", "BOOL", "DTYPE", "SCALAR",
    "ARRAY", "INDEX", "NAME", "NO_SYMPY", "MAX_NDIM", "translate_with_f", "as_node", "as_nodes", "make", "built",
    "broadcast_shapes", "ufunc_dtype", "result_dtype", "refuse_complex", "is_inexact", "normalize_axis", "as_shape", "as_dim",
    "holds_node", "registered_ops", "builtin_ops", "is_abstract", "get_default_graph",
]

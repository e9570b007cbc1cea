"""Random well-shaped symgraph programs, as hypothesis strategies, for the property tests.

A ``Program`` is a list of instructions over a growing pool of values.  The
strategy builds it step by step: it picks an op, picks inputs from the pool
(recent ones first, so shrinking goes towards short chains; any earlier value
can be reused, which makes shared subexpressions), draws the op's parameters
(broadcasting partners, axes, indices, shapes) and runs an independent numpy
reference of the op on the pool's values.  Ops are only applied where they are
smooth with a margin: log/sqrt/pow bases and divisors are made positive first
(``exp`` or ``square + 0.5``), exp/tan inputs are squashed with tanh, and
kinks (relu, abs, sign, max/min ties, where/comparison boundaries, integer
casts) must be at least ``MARGIN`` away from every value, so finite
differences with steps far below the margin never cross one.  Every value is
bounded by ``BOUND``.

``build(program, dtype)`` then makes the symgraph nodes; the numpy values are
the oracle for the forward pass.

A kind is the name of the op it draws (``negative``, ``subtract``, ...) or of
a way of drawing one (``T``, ``dot``, ``rmatmul``, ``take``, ``mask``).  The
simple elementwise ops, with their numpy references and input domains, come
from the test table ``op_table``: adding one there adds it here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import symgraph as sg
from op_table import BINARY, DRAWN, UNARY, builder
from symgraph.ops.base import builtin_ops
from symgraph.ops.shape import ScatterAdd, normalize_index

MARGIN = 1e-3
BOUND = 50.0


@dataclass
class Instr:
    kind: str
    args: tuple  # pool indices (int) or ("py", value) literal operands
    params: dict


@dataclass
class Program:
    seed: int
    instrs: list[Instr] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    #: whether each value depends on a stop_gradient: then an exact tie with another value
    #: is no evidence that both have the same derivative
    stopped: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    # -- pool ---------------------------------------------------------------
    def add(self, kind: str, args: list, params: dict | None = None) -> int | None:
        """Append ``kind(args)`` if its reference value is finite and bounded; its pool index."""
        params = params or {}
        vals = [self.values[a] if isinstance(a, int) else a[1] for a in args]
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # e.g. mean of an empty slice
                v = np.asarray(SPECS[kind].ref(*vals, **params))
        except (ValueError, IndexError):  # e.g. max of an empty slice: numpy refuses too
            return None
        if v.dtype.kind == "f" and not (np.all(np.isfinite(v))
                                        and np.max(np.abs(v), initial=0.0) <= BOUND):
            return None
        self.instrs.append(Instr(kind, tuple(args), params))
        self.values.append(v)
        self.stopped.append(kind == "stop_gradient" or any(
            self.stopped[a] for a in args if isinstance(a, int)))
        return len(self.values) - 1

    def new_var(self, shape: tuple[int, ...]) -> int:
        n = sum(1 for i in self.instrs if i.kind == "variable")
        value = np.asarray(self.rng.uniform(-1.5, 1.5, shape))
        return self.add("variable", [], {"name": f"v{n}", "value": value})

    def new_const(self, shape: tuple[int, ...]) -> int:
        return self.add("constant", [], {"value": np.asarray(self.rng.uniform(-1.5, 1.5, shape))})

    def shape(self, i: int) -> tuple[int, ...]:
        return self.values[i].shape

    def is_float(self, i: int) -> bool:
        return self.values[i].dtype.kind == "f"

    @property
    def kinds(self) -> list[str]:
        return [i.kind for i in self.instrs]

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        lines = [f"Program(seed={self.seed}, outputs={self.outputs})"]
        for k, ins in enumerate(self.instrs):
            params = {p: (f"array{list(v.shape)}" if isinstance(v, np.ndarray) else v)
                      for p, v in ins.params.items()}
            args = [a if isinstance(a, int) else _show_literal(a[1]) for a in ins.args]
            lines.append(f"  %{k} = {ins.kind}({', '.join(map(str, args))}) {params or ''} "
                         f"-> {self.values[k].shape} {self.values[k].dtype}")
        return "\n".join(lines)


def _show_literal(v: Any) -> str:
    return f"array{list(v.shape)}" if isinstance(v, np.ndarray) else repr(v)


# ---------------------------------------------------------------------------
# ops: symgraph builder and numpy reference
# ---------------------------------------------------------------------------


@dataclass
class Spec:
    build: Callable
    ref: Callable


def _lit(v: Any, dtype: str) -> Any:
    return v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v


def _np_logsumexp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis if axis is not None else None)


def _np_log_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def _np_cross_entropy(x, labels, reduction):
    lsm = _np_log_softmax(x, -1)
    nll = -np.take_along_axis(lsm, labels[..., None], axis=-1)[..., 0]
    return {"mean": np.mean, "sum": np.sum}.get(reduction, lambda v: v)(nll)


def _np_sum_to(x, shape):
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and x.shape[lead + i] != 1)
    return np.sum(x, axis=axes, keepdims=True).reshape(shape)


def _np_scatter_add(g, index, shape):
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


def _float_or(to: str, dtype: str) -> str:
    """A cast's target: "float" is the program's float dtype."""
    return dtype if to == "float" else to


def _axis(a):
    return tuple(a) if isinstance(a, list) else a


#: Two-input kinds that are not elementwise (the table supplies those).
_LINALG = {"matmul": (lambda a, b: a @ b, np.matmul), "dot": (sg.dot, np.dot)}
_REDUCE = {
    "sum": (sg.sum, np.sum), "mean": (sg.mean, np.mean), "max": (sg.max, np.max),
    "min": (sg.min, np.min), "logsumexp": (sg.logsumexp, _np_logsumexp),
}


def _make_specs() -> dict[str, Spec]:
    specs = {
        "variable": Spec(lambda dtype, name, value: sg.variable(name, value.shape, dtype),
                         lambda name, value: value),
        "constant": Spec(lambda dtype, value: sg.constant(value.astype(dtype)), lambda value: value),
        "full": Spec(lambda dtype, shape, value: sg.full(shape, value, dtype),
                     lambda shape, value: np.full(shape, value)),
        "one_hot": Spec(lambda dtype, labels, depth: sg.one_hot(labels, depth, dtype),
                        lambda labels, depth: (labels[..., None] == np.arange(depth)).astype(float)),
        "where": Spec(lambda dtype, c, a, b: sg.where(c, a, b), np.where),
        "add_n": Spec(lambda dtype, *xs: sg.add_n(list(xs)), lambda *xs: sum(xs[1:], xs[0])),
        "concatenate": Spec(lambda dtype, *xs, axis: sg.concatenate(list(xs), axis),
                            lambda *xs, axis: np.concatenate(xs, axis)),
        "stack": Spec(lambda dtype, *xs, axis: sg.stack(list(xs), axis),
                      lambda *xs, axis: np.stack(xs, axis)),
        "transpose": Spec(lambda dtype, x, axes: sg.transpose(x, axes),
                          lambda x, axes: np.transpose(x, axes)),
        "T": Spec(lambda dtype, x: x.T, lambda x: x.T),
        "reshape": Spec(lambda dtype, x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape)),
        "broadcast_to": Spec(lambda dtype, x, shape: sg.broadcast_to(x, shape),
                             lambda x, shape: np.broadcast_to(x, shape)),
        "sum_to": Spec(lambda dtype, x, shape: sg.sum_to(x, shape), _np_sum_to),
        "scatter_add": Spec(lambda dtype, g, index, shape: ScatterAdd(index, shape)(g),
                            _np_scatter_add),
        "cast": Spec(lambda dtype, x, to: sg.cast(x, _float_or(to, dtype)),
                     lambda x, to: x.astype(_float_or(to, "float64"))),
        "getitem": Spec(lambda dtype, x, index: x[index], lambda x, index: x[index]),
        "softmax": Spec(lambda dtype, x, axis: sg.softmax(x, axis),
                        lambda x, axis: np.exp(_np_log_softmax(x, axis))),
        "log_softmax": Spec(lambda dtype, x, axis: sg.log_softmax(x, axis), _np_log_softmax),
        "cross_entropy": Spec(
            lambda dtype, x, labels, reduction: sg.cross_entropy(x, labels, reduction),
            _np_cross_entropy),
    }
    for k, gen in {**UNARY, **BINARY}.items():
        specs[k] = Spec(lambda dtype, *xs, _f=builder(k, gen): _f(*xs), gen.ref)
    for k, gen in DRAWN.items():
        specs[k] = Spec(lambda dtype, *xs, _f=builder(k, gen), **params: _f(*xs, **params), gen.ref)
    for k, (b, r) in _LINALG.items():
        specs[k] = Spec(lambda dtype, x, y, _f=b: _f(x, y), r)
    for k, (b, r) in _REDUCE.items():
        specs[k] = Spec(lambda dtype, x, axis, keepdims, _f=b: _f(x, _axis(axis), keepdims),
                        lambda x, axis, keepdims, _f=r: _f(x, axis=_axis(axis), keepdims=keepdims))
    return specs


SPECS = _make_specs()


def build(prog: Program, dtype: str = "float64", variables: list | None = None) -> list[sg.Node]:
    """The symgraph nodes of ``prog`` (in the current graph), one per pool entry.

    ``variables`` replaces the program's variables by given nodes, in order.
    """
    nodes: list = []
    given = iter(variables) if variables is not None else None
    for ins in prog.instrs:
        if ins.kind == "variable" and given is not None:
            nodes.append(next(given))
            continue
        args = [nodes[a] if isinstance(a, int) else _lit(a[1], dtype) for a in ins.args]
        nodes.append(SPECS[ins.kind].build(dtype, *args, **ins.params))
    return nodes


# ---------------------------------------------------------------------------
# drawing helpers
# ---------------------------------------------------------------------------

shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


def _pick(draw, prog: Program, ok: Callable[[int], bool] = lambda i: True) -> int | None:
    """A pool index satisfying ``ok``; shrinks towards the most recent one."""
    cands = [i for i in range(len(prog.values)) if ok(i)]
    if not cands:
        return None
    return cands[-1 - draw(st.integers(0, len(cands) - 1))]


def _float(prog):
    return lambda i: prog.is_float(i)


def _compatible_shape(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: fewer leading dims, some 1s, or a new leading dim."""
    drop = draw(st.integers(0, len(shape)))
    s = [1 if draw(st.booleans()) else d for d in shape[drop:]]
    if drop == 0 and len(s) < 3 and draw(st.booleans()):
        s = [draw(st.integers(1, 2))] + s  # a new leading dim grows the result
    return tuple(s)


def _operand(draw, prog: Program, shape: tuple[int, ...], literal_ok: bool = True,
             exact: bool = False):
    """A partner operand for ``shape``: an earlier value, a new variable/constant, or a literal."""
    choice = draw(st.sampled_from(["pool", "variable", "constant", "full", "literal"] if literal_ok
                                  else ["pool", "variable", "constant", "full"]))
    if choice == "pool":
        fits = (lambda i: prog.is_float(i) and prog.shape(i) == shape) if exact else \
            (lambda i: prog.is_float(i) and _broadcasts(prog.shape(i), shape))
        i = _pick(draw, prog, fits)
        if i is not None:
            return i
    new_shape = shape if exact else _compatible_shape(draw, shape)
    if choice == "literal":
        if draw(st.booleans()):
            return ("py", draw(st.sampled_from([0.5, 2.0, -1.25, 3.0])))
        return ("py", np.asarray(prog.rng.uniform(-1.5, 1.5, new_shape)))  # never a np.float64
    if choice == "full":
        return prog.add("full", [], {"shape": new_shape,
                                     "value": draw(st.sampled_from([0.5, -1.0, 2.0]))})
    return prog.new_var(new_shape) if choice == "variable" else prog.new_const(new_shape)


def _broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _val(prog: Program, a) -> np.ndarray:
    return np.asarray(prog.values[a] if isinstance(a, int) else a[1], dtype=float)


def _gap_ok(d: np.ndarray, exact_ties_ok: bool = True) -> bool:
    """Every difference is at least MARGIN, or exactly 0 where ties are allowed.

    An exact tie between two smooth values means they are the same function near
    here (a broadcast copy, the same expression twice, a locally constant piece), so
    both have the same derivative and finite differences agree with the even split
    autodiff makes.  Not so when one side went through stop_gradient.
    """
    d = np.abs(d)
    return bool(np.all((d >= MARGIN) | ((d == 0) & exact_ties_ok)))


def _ties_ok(prog: Program, *args) -> bool:
    return not any(prog.stopped[a] for a in args if isinstance(a, int))


def _positivize(draw, prog: Program, a):
    """``a`` itself if safely positive, else ``exp(a)`` or ``square(a) + 0.5`` (new pool entries)."""
    if isinstance(a, tuple):
        if np.min(a[1]) >= 0.1:
            return a
        return ("py", np.asarray(np.abs(a[1]) + 0.5) if isinstance(a[1], np.ndarray)
                else abs(a[1]) + 0.5)
    if np.min(prog.values[a], initial=1.0) >= 0.1:
        return a
    if np.max(prog.values[a], initial=0.0) <= 3 and draw(st.booleans()):
        return prog.add("exp", [a])
    sq = prog.add("square", [a])
    return None if sq is None else prog.add("add", [sq, ("py", 0.5)])


def _squash(prog: Program, a: int, limit: float):
    return a if np.max(np.abs(prog.values[a]), initial=0.0) <= limit else prog.add("tanh", [a])


def _axes(draw, ndim: int):
    """None, an int (maybe negative) or a list of distinct axes (some negative)."""
    kind = draw(st.sampled_from(["none", "int", "tuple", "tuple"]))
    if ndim == 0 or kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return [a - ndim if draw(st.booleans()) else a for a in axes]  # a list: readable in repr


# ---------------------------------------------------------------------------
# one generator per op family; each may add several instructions or none
# ---------------------------------------------------------------------------


def _into_unit(prog: Program, a: int):
    """``a`` itself if inside (-0.9, 0.9), else ``0.9 * tanh(a)`` (new pool entries)."""
    if np.max(np.abs(prog.values[a]), initial=0.0) < 0.9:
        return a
    t = prog.add("tanh", [a])
    return None if t is None else prog.add("multiply", [t, ("py", 0.9)])


def _above_one(draw, prog: Program, a: int):
    """``a`` itself if >= 1.1, else a positivized ``a`` plus 1."""
    if np.min(prog.values[a], initial=2.0) >= 1.1:
        return a
    p = _positivize(draw, prog, a)
    return None if p is None else prog.add("add", [p, ("py", 1.0)])


def _off_steps(v: np.ndarray, offset: float) -> bool:
    """Every value at least MARGIN away from the points ``k + offset`` (k an integer)."""
    frac = np.abs((v - offset) - np.round(v - offset))
    return bool(np.all(frac >= MARGIN))


def gen_unary(draw, prog: Program, kind: str) -> None:
    gen = UNARY[kind]
    a = _pick(draw, prog, _float(prog))
    if gen.domain == "positive":
        a = _positivize(draw, prog, a)
    elif gen.domain == "unit":
        a = _into_unit(prog, a)
    elif gen.domain == "above_one":
        a = _above_one(draw, prog, a)
    elif gen.squash is not None:
        a = _squash(prog, a, gen.squash)
    if a is None:
        return
    v = prog.values[a]
    if gen.domain == "kink" and not np.all(np.abs(v) >= MARGIN):
        return
    if gen.domain in ("off_integer", "off_half") and not _off_steps(
            v, 0.5 if gen.domain == "off_half" else 0.0):
        return
    prog.add(kind, [a])


def gen_cast(draw, prog: Program, kind: str) -> None:
    """A float to int64 (every value MARGIN away from an integer), or a bool or int value
    (a comparison, an earlier cast) to the program's float dtype."""
    a = _pick(draw, prog, lambda i: not prog.is_float(i)) if draw(st.booleans()) else None
    if a is None:
        a = _pick(draw, prog, _float(prog))
    v = prog.values[a]
    if v.dtype.kind != "f":
        prog.add(kind, [a], {"to": "float"})
    elif np.all(np.abs(v - np.round(v)) >= MARGIN):
        prog.add(kind, [a], {"to": "int64"})


def gen_binary(draw, prog: Program, kind: str) -> None:
    domain = BINARY[kind].domain
    a = _pick(draw, prog, _float(prog))
    b = _operand(draw, prog, prog.shape(a), literal_ok=domain != "ties")
    if domain == "power":
        if isinstance(b, tuple) or draw(st.booleans()):
            b = ("py", draw(st.sampled_from([2, 3, 0.5, -1.5, 1.7])))
        elif b is not None:
            b = _squash(prog, b, 2.5)
        if not (isinstance(b, tuple) and isinstance(b[1], int)):
            a = _positivize(draw, prog, a)
    elif domain == "divisor":
        b = _positivize(draw, prog, b) if not isinstance(b, tuple) or np.min(np.abs(b[1])) < 0.1 else b
    elif domain in ("positive_b", "mod") and b is not None:
        b = _positivize(draw, prog, b)
    if a is None or b is None:
        return
    if domain == "mod" and not _off_steps(_val(prog, a) / _val(prog, b), 0.0):
        return
    if domain == "ties" and not _gap_ok(_val(prog, a) - _val(prog, b), _ties_ok(prog, a, b)):
        return
    if draw(st.booleans()) and domain in ("real", "ties"):
        a, b = b, a  # literals on the left exercise __radd__, __rsub__, ...
    if isinstance(a, tuple) and isinstance(b, tuple):
        return
    prog.add(kind, [a, b])


def gen_where(draw, prog: Program, kind: str) -> None:
    a = _pick(draw, prog, _float(prog))
    b = _operand(draw, prog, prog.shape(a))
    if b is None:
        return
    cmp = kind
    if cmp == "mask":
        shape = _compatible_shape(draw, prog.shape(a))
        c = ("py", prog.rng.uniform(size=shape) > 0.5)
    else:
        lhs = a if draw(st.booleans()) else _pick(draw, prog, lambda i: prog.is_float(i) and _broadcasts(
            prog.shape(i), np.broadcast_shapes(prog.shape(a), np.shape(_val(prog, b)))))
        rhs = b if draw(st.booleans()) else ("py", 0.0)
        if not _gap_ok(_val(prog, lhs) - _val(prog, rhs), _ties_ok(prog, lhs, rhs)):
            return
        c = prog.add(cmp, [lhs, rhs]) if not (isinstance(lhs, tuple) and isinstance(rhs, tuple)) else None
        if c is None:
            return
    prog.add("where", [c, a, b] if draw(st.booleans()) else [c, b, a])


def gen_join(draw, prog: Program, kind: str) -> None:
    a = _pick(draw, prog, (lambda i: prog.is_float(i) and prog.values[i].ndim > 0)
              if kind == "concatenate" else _float(prog))
    if a is None:
        return
    shape = prog.shape(a)
    n = draw(st.integers(1, 2))
    if kind == "concatenate":
        axis = draw(st.integers(-len(shape), len(shape) - 1))
        parts = [a]
        for _ in range(n):
            other = list(shape)
            other[axis] = draw(st.integers(1, 2))
            parts.append(_operand(draw, prog, tuple(other), literal_ok=False, exact=True))
        prog.add(kind, parts, {"axis": axis})
        return
    parts = [a] + [_operand(draw, prog, shape, literal_ok=False, exact=True) for _ in range(n)]
    if kind == "stack":
        prog.add(kind, parts, {"axis": draw(st.integers(-len(shape) - 1, len(shape))) })
    else:
        prog.add(kind, parts)


def gen_reduce(draw, prog: Program, kind: str) -> None:
    a = _pick(draw, prog, _float(prog))
    v = prog.values[a]
    axis = _axes(draw, v.ndim)
    keepdims = draw(st.booleans())
    if kind in ("max", "min") and v.ndim:
        axes = tuple(range(v.ndim)) if axis is None else tuple(
            x % v.ndim for x in ([axis] if isinstance(axis, int) else axis))
        moved = np.moveaxis(v, axes, tuple(range(-len(axes), 0))).reshape(
            v.shape[:0] + tuple(s for i, s in enumerate(v.shape) if i not in axes) + (-1,))
        top = np.sort(moved, axis=-1)
        if top.shape[-1] > 1:
            gap = top[..., -1] - top[..., -2] if kind == "max" else top[..., 1] - top[..., 0]
            if not _gap_ok(gap, _ties_ok(prog, a)):
                return
    prog.add(kind, [a], {"axis": axis, "keepdims": keepdims})


def gen_linalg(draw, prog: Program, kind: str) -> None:
    a = _pick(draw, prog, lambda i: prog.is_float(i) and 1 <= prog.values[i].ndim <= (2 if kind == "dot" else 3))
    if a is None:
        return
    shape = prog.shape(a)
    if kind == "rmatmul":  # a numpy array on the left: ndarray @ Node
        left = (draw(st.integers(1, 3)), shape[-2] if len(shape) >= 2 else shape[0])
        prog.add("matmul", [("py", prog.rng.uniform(-1, 1, left)), a])
        return
    n = shape[-1]
    options = [(n,), (n, draw(st.integers(1, 3)))]
    if kind == "matmul":
        batch = shape[:-2] if len(shape) > 2 else (draw(st.integers(1, 2)),)
        options.append(tuple(1 if draw(st.booleans()) else d for d in batch) + (n, draw(st.integers(1, 3))))
    want = draw(st.sampled_from(options))
    b = _operand(draw, prog, want, literal_ok=False, exact=True)
    prog.add(kind, [a, b])


def _reshape_target(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    factors = []
    size = math.prod(shape)
    if size == 0:
        return (-1,) if draw(st.booleans()) else tuple(shape)[::-1]
    for p in (2, 3):
        while size % p == 0:
            factors.append(p)
            size //= p
    factors = draw(st.permutations(factors)) if factors else []
    dims: list[int] = []
    for f in factors:
        if dims and draw(st.booleans()):
            dims[-1] *= f
        else:
            dims.append(f)
    while len(dims) < 4 and draw(st.booleans()):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


def _index(draw, prog: Program, shape: tuple[int, ...]) -> tuple:
    items: list = []
    dims = list(shape)
    k = 0
    n_used = draw(st.integers(0, len(dims)))
    arrays = 0
    while k < n_used:
        d = dims[k]
        kind = draw(st.sampled_from(["int", "slice", "none", "array", "mask", "full"]))
        if kind == "none":
            items.append(None)
            continue
        if d == 0 and kind in ("int", "array", "mask"):
            kind = "slice"
        if kind == "int":
            items.append(draw(st.integers(-d, d - 1)))
        elif kind == "slice":
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            start = draw(st.one_of(st.none(), st.integers(-d - 1, d)))
            stop = draw(st.one_of(st.none(), st.integers(-d - 1, d)))
            items.append(slice(start, stop, step))
        elif kind == "array" and arrays < 2:
            arrays += 1
            items.append(prog.rng.integers(-d, d, size=draw(st.sampled_from([(2,), (3,), (1,)]))))
        elif kind == "mask" and arrays < 2:
            arrays += 1
            mask = prog.rng.uniform(size=d) > 0.5
            mask[prog.rng.integers(d)] = True
            items.append(mask)
        else:
            items.append(slice(None))
        k += 1
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    arr = [i for i, x in enumerate(items) if isinstance(x, np.ndarray)]
    if len(arr) == 2:  # two index arrays must broadcast together: make them int arrays of one shape
        for i in arr:
            items[i] = np.flatnonzero(items[i])[:1] if items[i].dtype == bool else items[i][:1]
    return tuple(items)


def gen_shape(draw, prog: Program, kind: str) -> None:
    a = _pick(draw, prog, _float(prog))
    shape = prog.shape(a)
    if kind == "transpose":
        axes = None if draw(st.integers(0, 3)) == 0 else tuple(draw(st.permutations(range(len(shape)))))
        prog.add(kind, [a], {"axes": axes})
    elif kind == "T":
        prog.add(kind, [a])
    elif kind == "reshape":
        prog.add(kind, [a], {"shape": _reshape_target(draw, shape)})
    elif kind == "broadcast_to":
        target = tuple(draw(st.integers(1, 3)) if d == 1 else d for d in shape)
        if len(target) < 3 and draw(st.booleans()):
            target = (draw(st.integers(1, 2)),) + target
        prog.add(kind, [a], {"shape": target})
    elif kind == "sum_to":
        prog.add(kind, [a], {"shape": _shrunk(draw, shape)})
    elif kind == "scatter_add":  # getitem's adjoint, applied as an op: the value at an index of zeros
        target = draw(shapes)
        index = normalize_index(_index(draw, prog, target), target)
        try:
            selected = np.zeros(target)[index].shape
        except IndexError:  # an Ellipsis drawn in front moves the items onto other axes
            return
        g = _operand(draw, prog, selected, literal_ok=False, exact=True)
        if g is not None:
            prog.add(kind, [g], {"index": index, "shape": target})
    elif kind == "take" and shape and min(shape) > 0:  # gather with repeats: scatter-add
        axis = draw(st.integers(0, len(shape) - 1))
        d = shape[axis]
        picks = prog.rng.integers(-d, d, size=draw(st.sampled_from([(3,), (4,), (2, 2)])))
        prog.add("getitem", [a], {"index": (slice(None),) * axis + (picks,)})
    else:
        prog.add("getitem", [a], {"index": _index(draw, prog, shape)})


def gen_drawn(draw, prog: Program, kind: str) -> None:
    """An op drawn from its table entry (``op_table.Draw``): operands, then parameters."""
    gen = DRAWN[kind]
    a = _pick(draw, prog, _float(prog))
    if gen.domain == "positive":
        a = _positivize(draw, prog, a)
    if a is None:
        return
    args = [a]
    if gen.operands is not None:
        shapes = gen.operands(draw, prog.values[a])
        if shapes is None:
            return
        for shape in shapes:
            b = _operand(draw, prog, tuple(shape), literal_ok=False, exact=True)
            if b is None:
                return
            args.append(b)
    params = gen.params(draw, *[prog.values[i] for i in args]) if gen.params is not None else {}
    if params is not None:
        prog.add(kind, args, params)


def _shrunk(draw, shape):
    """A shape that broadcasts *to* ``shape`` (the target of a sum_to)."""
    s = list(shape[draw(st.integers(0, len(shape))):]) if shape else []
    return tuple(1 if draw(st.booleans()) else d for d in s)


def gen_nn(draw, prog: Program, kind: str) -> None:
    if kind == "one_hot":
        depth = draw(st.integers(2, 3))
        labels = prog.rng.integers(0, depth, size=draw(shapes))
        prog.add(kind, [], {"labels": labels, "depth": depth})
        return
    a = _pick(draw, prog, lambda i: prog.is_float(i) and prog.values[i].ndim > 0)
    if a is None:
        return
    shape = prog.shape(a)
    if kind == "cross_entropy":
        if shape[-1] == 0:
            return
        labels = prog.rng.integers(0, shape[-1], size=shape[:-1])
        reduction = draw(st.sampled_from(["mean", "sum", "none"]))
        prog.add(kind, [a], {"labels": labels, "reduction": reduction})
    else:
        prog.add(kind, [a], {"axis": draw(st.integers(-len(shape), len(shape) - 1))})


_FAMILIES = {
    gen_unary: sorted(UNARY),
    gen_cast: ["cast"],
    gen_binary: sorted(k for k, gen in BINARY.items() if gen.domain != "comparison"),
    gen_where: sorted(k for k, gen in BINARY.items() if gen.domain == "comparison") + ["mask"],
    gen_join: ["add_n", "concatenate", "stack"],
    gen_reduce: sorted(_REDUCE),
    gen_linalg: ["matmul", "dot", "rmatmul"],
    gen_shape: ["transpose", "T", "reshape", "broadcast_to", "sum_to", "getitem", "take",
                "scatter_add"],
    gen_nn: ["softmax", "log_softmax", "cross_entropy", "one_hot"],
    gen_drawn: sorted(DRAWN),
}
#: Ops with the most intricate rules (index/broadcast adjoints, ties) are drawn more often.
_WEIGHTS = {"getitem": 3, "take": 2, "sum_to": 2, "broadcast_to": 2, "max": 2, "min": 2, "matmul": 2,
            "concatenate": 2, "transpose": 2, "mean": 2, "sum": 2}
#: (generator, kind) pairs to draw from uniformly.
STEPS = [(gen, kind) for gen, kinds in _FAMILIES.items() for kind in kinds
         for _ in range(_WEIGHTS.get(kind, 1))]
#: Every kind of step.
KINDS = sorted({kind for _, kind in STEPS})


@st.composite
def programs(draw, max_steps: int = 8, kinds: frozenset[str] | None = None) -> Program:
    """A random program: 1-3 variables, up to ``max_steps`` op steps, its float sinks as outputs.

    ``kinds``: draw only these kinds (the registry test checks each kind alone).
    """
    steps = STEPS if kinds is None else [s for s in STEPS if s[1] in kinds]
    prog = Program(draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(1, 3))):
        prog.new_var(draw(shapes))
    for _ in range(draw(st.integers(1, max_steps))):
        # The op is chosen by the program's own generator, uniformly: hypothesis favours
        # the first entries of a list, and every op should be exercised about equally.
        gen, kind = steps[prog.rng.integers(len(steps))]
        gen(draw, prog, kind)
    # Outputs: every float value no later instruction uses (so every step matters), and
    # possibly an intermediate one too (its consumers and itself then share cotangents).
    used = {a for ins in prog.instrs for a in ins.args if isinstance(a, int)}
    floats = [i for i in range(len(prog.values)) if prog.is_float(i)]
    sinks = [i for i in floats if i not in used]
    extra = draw(st.lists(st.integers(0, len(floats) - 1), max_size=1))
    prog.outputs = sorted({*sinks, *(floats[i] for i in extra)} or {floats[-1]})
    return prog


#: Every built-in op's name, from the registry (the coverage figures count these).
FORWARD_OPS = sorted({cls.name for cls in builtin_ops().values()})

_DOMAINS = {"unary": {"real", "positive", "unit", "above_one", "kink", "off_integer", "off_half"},
            "binary": {"real", "ties", "divisor", "positive_b", "mod", "power", "comparison"},
            "drawn": {"real", "positive"}}
_unknown = sorted(k for k, g in UNARY.items() if g.domain not in _DOMAINS["unary"]) + sorted(
    k for k, g in BINARY.items() if g.domain not in _DOMAINS["binary"]) + sorted(
    k for k, g in DRAWN.items() if g.domain not in _DOMAINS["drawn"])
assert not _unknown, f"op_table: unknown graphgen domains for {_unknown}"

"""Fusions: patterns of graph nodes that compiled code computes as one step.

Each rule looks at one node (the root of the pattern) and returns the fused op
and its input nodes, or None.  Rules are registered like rewrite rules, with
``@register_fusion(OpClass, ..., priority=N)``: a root's rules are those of
its op's class hierarchy (a subclass of ``Multiply`` is still a multiply),
tried by decreasing priority.  The nodes a rule absorbs must be used only by
the pattern (``view.single_use``), so nothing is computed twice.  Rules never
change the graph: they only decide what the generated source says.

* ``masked_gradient``: ``where(cond, g, 0)`` (the relu rule) as ``g * cond``,
  in place when ``g`` is dead; ``x > 0`` is read from ``relu(x)`` when that is
  computed anyway, so ``x`` itself can be freed after the forward pass.  Unlike
  ``where``, the product keeps a NaN/Inf of ``g`` where the mask is off.
* ``softmax_xent_gradient`` (and ``scaled_softmax_xent_gradient``):
  ``(softmax(z) - one_hot(labels)) * s`` as one buffer: softmax, subtract 1 at the labels (integer indexing), scale in place;
  ``one_hot_subtract`` does the middle step alone when the softmax is shared.
* ``shared_log_softmax`` (with ``cross_entropy_from_log_softmax``): when the
  loss ``cross_entropy(z, labels)`` and its gradient's ``softmax(z) -
  one_hot(labels)`` are compiled together, the softmax node is computed as
  ``log_softmax(z)`` instead, checking the labels once: the loss reads its
  labels' entries, the gradient takes its ``exp`` in place (one max-shift, one
  ``exp`` pass, one label check instead of two each).
* ``sum_of_products``: ``sum(a * b)`` and ``sum(square(a))`` over all axes as
  ``np.vdot`` (no temporary array); ``mean`` likewise, the dot divided by the
  count (a mean squared error's ``(T, batch)`` square is never made).
* ``sort_from_argsort``: ``sort(x)`` as ``take_along_axis(x, argsort(x))`` when
  an argsort of ``x`` along that axis is computed anyway (sort's own
  derivative needs it): one sort instead of two.
* ``triangular_product``: ``a @ b`` (or ``b @ a``, either maybe transposed)
  with ``a`` a square ``tril``/``triu``/``cholesky`` result as BLAS ``trmm``:
  half a matrix product's flops, and the ``tril`` itself is skipped when only
  the product reads it (trmm reads just the triangle).  A fed triangle node is
  not trusted to be triangular.  Like the masked gradient, the product never
  multiplies the zero triangle, so an inf in the other operand stays inf
  where numpy's ``0 * inf`` would give NaN.
* ``scaled_product``: ``s * (c * x)`` with ``s`` one element and ``c`` a power
  of two as ``(s * c) * x``: one pass over ``x`` instead of two, and exact
  (scaling by a power of two never rounds); with ``s`` a constant too, ``s * c``
  is one literal of the source (a weight decay's ``2 * lam``).
* ``matmul_accumulate``: ``acc + a @ b`` (matrices) as BLAS ``gemm`` with
  ``beta = 1`` into ``acc``'s buffer when ``acc`` is dead (a gradient summed
  over a loop's steps, ``acc + h.T @ g``): no temporary for the product and
  no second pass over the sum.  ``matmul_accumulate_n`` does the same for a
  gradient's ``add_n`` with matrix products among its terms (the weight decay
  ``2 lam W + X.T @ dH``), when BLAS runs on one thread (see
  ``blas_single_threaded``).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np


from .. import kernels
from ..graph import Node
from ..ops.elementwise import Add, AddN, Greater, Multiply, Relu, Square, Subtract, Where
from ..ops.linalg import MatMul
from ..ops.matrix_parts import Tril, Triu
from ..ops.nn import CrossEntropy, OneHot, Softmax
from ..ops.reduce import Mean, Sum
from ..ops.shape import BroadcastTo, Reshape, Transpose
from ..ops.sorting import Argsort, Sort, TakeAlong
from ..ops.sources import Constant, Full
from ..ops.triangular import Cholesky
from ..rewrite import RuleTable


class FusedOp:
    """An op that exists only in compiled code (several graph nodes at once)."""

    name = "fused"
    elementwise = False
    emit_inplace = False

    def emits_view(self) -> bool:
        return False

    def describe(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<FusedOp {self.name}>"


class MaskedGradient(FusedOp):
    """``where(cond, g, 0)`` as ``g * cond``; with ``positive``, cond is ``x > 0`` of input 1."""

    name = "mask"
    elementwise = True
    emit_inplace = True

    def __init__(self, positive: bool) -> None:
        self.positive = positive

    def scratch_bytes(self, shapes) -> int:
        """The boolean ``x > 0`` its code makes and drops (the planner counts it)."""
        return math.prod(shapes[1]) if self.positive else 0

    def emit(self, out, ins, ctx):
        g, cond = ins
        if self.positive:
            cond = f"({cond} > 0)"
        if ctx.into == out == g:
            return f"{out} *= {cond}"
        if ctx.into:
            return ctx.bind(f"np.multiply({g}, {cond}, out={ctx.into})")
        return f"{out} = {g} * {cond}"


class SoftmaxXentGradient(FusedOp):
    """``(softmax(z) - one_hot(labels)) [* s]`` from the logits ``z`` (inputs ``z, labels[, s]``)."""

    name = "xent_grad"

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(kernels.softmax_xent_grad)}({', '.join(ins)})"


class SoftmaxXentGradientFromLog(FusedOp):
    """The same from a shared, label-checked ``log_softmax(z)`` (inputs ``logp, labels[, s]``):
    its ``exp`` in place when ``logp`` is dead."""

    name = "xent_grad"
    emit_inplace = True
    inplace_args = (0,)

    def emit(self, out, ins, ctx):
        fn = ctx.helper(kernels.softmax_xent_grad_from_log)
        scale = ins[2] if len(ins) == 3 else "None"
        if ctx.into:
            return ctx.bind(f"{fn}({ins[0]}, {ins[1]}, {scale}, {ctx.into})")
        return f"{out} = {fn}({ins[0]}, {ins[1]}, {scale})"


class CheckedLogSoftmax(FusedOp):
    """``log_softmax(z, -1)`` after the labels' range check (inputs ``z, labels``)."""

    name = "log_softmax"

    def scratch_bytes(self, shapes) -> int:
        """The shifted copy of the logits and its exp, which the kernel makes and drops (the
        planner counts them; as 8-byte floats, an upper bound)."""
        return 2 * 8 * math.prod(shapes[0])

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(kernels.checked_log_softmax)}({ins[0]}, {ins[1]})"


class NllLoss(FusedOp):
    """A cross-entropy read off a shared log-softmax (inputs ``logp, labels``)."""

    name = "cross_entropy"

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(kernels.nll_loss)}({ins[0]}, {ins[1]}, {self.reduction!r})"


class OneHotSubtract(FusedOp):
    """``a - one_hot(labels)``: subtract 1 at the labels, in ``a``'s buffer when it is dead."""

    name = "sub_one_hot"
    emit_inplace = True

    def emit(self, out, ins, ctx):
        a, labels = ins
        fn = ctx.helper(kernels.subtract_one_hot)
        if ctx.into == out == a:
            return f"{fn}({out}, {labels})"
        if ctx.into:
            return f"np.copyto({ctx.into}, {a})\n" + ctx.bind(f"{fn}({ctx.into}, {labels})")
        return f"{out} = {fn}(np.array({a}, dtype={ctx.dtype(ctx.node.dtype)}), {labels})"


class SumOfProducts(FusedOp):
    """``np.vdot`` of the inputs (one input: with itself), divided by ``count`` if given."""

    name = "vdot"

    def __init__(self, count: int | None = None) -> None:
        self.count = count

    def emit(self, out, ins, ctx):
        a, b = ins if len(ins) == 2 else (ins[0], ins[0])
        return f"{out} = np.vdot({a}, {b}){'' if self.count is None else f' / {self.count}'}"


class ScaledProduct(FusedOp):
    """``(s * c) * x`` for the pattern ``s * (c * x)`` (inputs ``s, c, x``); with ``factor``
    (the constant ``s * c`` folded while compiling) the input is ``x`` alone."""

    name = "scale"
    elementwise = True
    emit_inplace = True

    def __init__(self, factor: np.generic | None = None) -> None:
        self.factor = factor

    def emit(self, out, ins, ctx):
        if self.factor is not None:
            (x,), k = ins, ctx.const(self.factor)
            paren = k
        else:
            s, c, x = ins
            k, paren = f"{s} * {c}", f"({s} * {c})"
        if ctx.into == out == x:
            return f"{out} *= {k}"
        if ctx.into:
            return ctx.bind(f"np.multiply({k}, {x}, out={ctx.into})")
        return f"{out} = {paren} * {x}"


class MatmulAccumulate(FusedOp):
    """``acc + a @ b`` (inputs ``acc, a, b``), or a sum of ``plain`` terms and matrix products
    (inputs: the terms, then each product's two factors): BLAS ``gemm`` adds each product
    into the sum's buffer in place, a plain term's when it is dead, else the first product's."""

    name = "matmul_acc"
    emit_inplace = True

    def __init__(self, plain: int = 1) -> None:
        self.plain = plain
        # only a plain term's buffer may be taken over (gemm reads the factors throughout)
        self.inplace_args = tuple(range(plain))

    def emit(self, out, ins, ctx):
        terms, factors = ins[:self.plain], ins[self.plain:]
        products = list(zip(factors[::2], factors[1::2]))
        if ctx.into == out and out in terms:  # into a dead term's buffer
            lines = [f"{out} += {t}" for t in terms if t != out]
        else:  # the first product makes the buffer
            a, b = products.pop(0)
            first = (ctx.bind(f"np.matmul({a}, {b}, out={ctx.into})") if ctx.into
                     else f"{out} = {a} @ {b}")  # one new array, as the sum of its own
            lines = [first] + [f"{out} += {t}" for t in terms]
        gemm = None
        if products and blas_single_threaded():
            import scipy.linalg.blas

            ctx.define("scipy_blas", scipy.linalg.blas, "import scipy.linalg.blas as scipy_blas")
            kind = "dgemm" if ctx.node.dtype == np.float64 else "sgemm"
            gemm = f"{ctx.helper(gemm_accumulate)}({{}}, {{}}, {{}}, scipy_blas.{kind})"
        for a, b in products:  # numpy's own BLAS without gemm: a temporary product, added
            lines.append(gemm.format(out, a, b) if gemm else f"{out} += {a} @ {b}")
        return "\n".join(lines)


def blas_single_threaded() -> bool:
    """Whether BLAS runs on one thread (``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` = 1).

    numpy and scipy ship two separate OpenBLAS builds.  Each has a pool of
    threads that spin while waiting for work, so calling scipy's ``gemm`` between
    numpy's products, step after step, makes the two pools fight for the cores:
    a loop ran 10x slower than with numpy alone on a loaded machine.  On one
    thread there are no pools, and ``gemm``'s in-place update saves a
    temporary; otherwise compiled code keeps to numpy's BLAS.
    """
    return any(os.environ.get(v, "").strip() == "1"
               for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))


def gemm_accumulate(c, a, b, gemm):
    """``c += a @ b`` in place by BLAS ``gemm`` (beta = 1), with no temporary: ``c`` in C
    order is ``c.T`` in Fortran order, and ``c.T += b.T @ a.T`` is one gemm call."""
    if not (c.flags.c_contiguous and c.flags.writeable and c.size and a.shape[1]):
        c += a @ b
        return c
    x, y = b.T, a.T
    tx = ty = 0
    if not x.flags.f_contiguous:  # a C-ordered operand is its transpose in Fortran order
        x, tx = (x.T, 1) if x.flags.c_contiguous else (np.asfortranarray(x), 0)
    if not y.flags.f_contiguous:
        y, ty = (y.T, 1) if y.flags.c_contiguous else (np.asfortranarray(y), 0)
    ct = c.T
    r = gemm(1.0, x, y, beta=1.0, c=ct, trans_a=tx, trans_b=ty, overwrite_c=1)
    if r is not ct:  # the wrapper copied after all
        c[...] = r.T
    return c


class TriangularProduct(FusedOp):
    """``op(a) @ b`` (``right``: ``b @ op(a)``) with ``a`` triangular: one BLAS ``trmm``."""

    name = "trmm"

    def __init__(self, right: bool, lower: bool, trans: bool) -> None:
        self.right, self.lower, self.trans = right, lower, trans

    def emit(self, out, ins, ctx):
        import scipy.linalg.blas

        a, b = ins
        ctx.define("scipy_blas", scipy.linalg.blas, "import scipy.linalg.blas as scipy_blas")
        fn = "dtrmm" if ctx.node.dtype == np.float64 else "strmm"
        return (f"{out} = scipy_blas.{fn}(1.0, {a}, {b}, side={int(self.right)}, "
                f"lower={int(self.lower)}, trans_a={int(self.trans)})")


# ---------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------

class GraphView:
    """What rules may ask about the graph being compiled."""

    def __init__(self, consumers: dict[Node, list[Node]], pinned: set[Node]) -> None:
        self.consumers = consumers
        self.pinned = pinned  # outputs and fed nodes: never absorbed

    def single_use(self, n: Node) -> bool:
        return n not in self.pinned and len(self.consumers.get(n, ())) == 1

    def computed(self, n: Node) -> bool:
        return n in self.consumers or n in self.pinned


#: what a rule returns: the fused op and the nodes it reads, or None
Found = tuple[FusedOp, list[Node]] | None


@dataclass(frozen=True)
class Fusion:
    """One fusion rule: ``fn(node, view) -> (fused op, input nodes) | None`` for roots whose
    op is an instance of one of ``ops``; higher ``priority`` is tried first."""

    name: str
    ops: tuple[type | str, ...]
    priority: int
    fn: Callable[[Node, GraphView], Found]
    doc: str


_FUSIONS = RuleTable("register_fusion")


def register_fusion(*targets: type | str, priority: int = 0, name: str | None = None) -> Callable:
    """Decorator adding a fusion rule for roots whose op is one of ``targets`` (Op classes or
    flag names, as for rewrite rules: ``symgraph.rewrite.RuleTable``).

    A root's rules are tried by decreasing ``priority`` (then general rules
    first) until one matches: give a rule that absorbs more of a pattern a
    higher priority than one that would match a part of it.
    """
    _FUSIONS.check(targets)

    def decorate(fn: Callable[[Node, GraphView], Found]) -> Callable[[Node, GraphView], Found]:
        doc = (fn.__doc__ or "").strip()
        _FUSIONS.add(targets, Fusion(name or fn.__name__, tuple(targets), int(priority), fn, doc))
        return fn

    return decorate


def fusions_for(op_type: type) -> tuple[Fusion, ...]:
    """The fusion rules tried on a root of ``op_type``, in the order they are tried."""
    return tuple(sorted(_FUSIONS.for_type(op_type), key=lambda rule: -rule.priority))


def match(n: Node, view: GraphView) -> Found:
    """The fusion rooted at ``n`` of its first matching rule: ``(fused op, input nodes)``, or None."""
    for rule in fusions_for(type(n.op)):
        found = rule.fn(n, view)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------------------
# rules
# ---------------------------------------------------------------------------

def _scalar_value(n: Node):
    """The value of a one-element constant or fill node, else None."""
    if isinstance(n.op, Full):
        return n.op.value
    if isinstance(n.op, Constant) and n.op.value.size == 1:
        return n.op.value.reshape(()).item()
    return None


def _is_zero(n: Node) -> bool:
    v = _scalar_value(n)
    return v is not None and v == 0


@register_fusion(Where)
def masked_gradient(n: Node, view: GraphView) -> Found:
    """where(cond, g, 0) -> g * cond; x > 0 read from relu(x) when that is computed anyway."""
    cond, g, zero = n.inputs
    if not _is_zero(zero) or n.dtype != g.dtype or g.dtype.kind not in "iufc":
        return None
    if isinstance(cond.op, Greater) and view.single_use(cond) and _is_zero(cond.inputs[1]):
        x = cond.inputs[0]
        relu = next((c for c in view.consumers.get(x, ()) if isinstance(c.op, Relu)), None)
        return MaskedGradient(True), [g, relu if relu is not None else x]
    return MaskedGradient(False), [g, cond]


def _residual_parts(r: Node, view: GraphView) -> tuple[Node, Node, Node] | None:
    """(softmax node, logits, labels) when ``r`` is softmax(logits) - one_hot(labels) over the
    last axis, the softmax read by nothing else."""
    if not isinstance(r.op, Subtract):
        return None
    p, oh = r.inputs
    if not (isinstance(p.op, Softmax) and isinstance(oh.op, OneHot) and view.single_use(p)):
        return None
    if p.op.axis != p.ndim - 1 or not (p.shape == oh.shape == r.shape) or not (
            p.dtype == oh.dtype == r.dtype):
        return None
    return p, p.inputs[0], oh.inputs[0]


def _loss_of(z: Node, labels: Node, dtype: np.dtype, view: GraphView) -> Node | None:
    """A cross-entropy of ``(z, labels)`` the compiled function computes, or None."""
    for c in view.consumers.get(z, ()):
        if (isinstance(c.op, CrossEntropy) and c.inputs[0] is z and c.inputs[1] is labels
                and c.dtype == dtype):
            return c
    return None


def _shared(p: Node, view: GraphView) -> Node | None:
    """The labels, when softmax node ``p`` is computed as a label-checked log-softmax shared by
    a loss and its gradient: ``p - one_hot(labels)`` is its only reader (a cross-entropy
    gradient's residual) and ``cross_entropy(z, labels)`` is computed too.  Every rule that
    meets ``p`` asks this, so they agree on what its buffer holds."""
    readers = view.consumers.get(p, ())
    if not (isinstance(p.op, Softmax) and len(readers) == 1):
        return None
    found = _residual_parts(readers[0], view)
    if found is None or found[0] is not p:
        return None
    _, z, labels = found
    return labels if _loss_of(z, labels, p.dtype, view) is not None else None


def _residual(r: Node, view: GraphView) -> tuple[FusedOp, list[Node]] | None:
    """The fused gradient ``r`` = softmax(z) - one_hot(labels) computes, and what it reads:
    the shared log-softmax and the labels, or the logits and the labels."""
    found = _residual_parts(r, view)
    if found is None:
        return None
    p, z, labels = found
    if _shared(p, view) is not None:
        return SoftmaxXentGradientFromLog(), [p, labels]
    return SoftmaxXentGradient(), [z, labels]


# the softmax cross-entropy gradient absorbs the subtraction one_hot_subtract and the
# product scaled_product would otherwise take: it goes first
@register_fusion(Subtract, priority=20)
def softmax_xent_gradient(n: Node, view: GraphView) -> Found:
    """softmax(z) - one_hot(labels) -> one buffer: softmax, then 1 subtracted at the labels."""
    return _residual(n, view)


@register_fusion(Multiply, priority=20)
def scaled_softmax_xent_gradient(n: Node, view: GraphView) -> Found:
    """(softmax(z) - one_hot(labels)) * s -> the same buffer, scaled in place."""
    for r, s in (n.inputs, n.inputs[::-1]):
        if r.shape == n.shape and r.dtype == n.dtype and view.single_use(r):
            found = _residual(r, view)
            if found is not None:
                return found[0], found[1] + [s]
    return None


@register_fusion(Softmax, priority=20)
def shared_log_softmax(n: Node, view: GraphView) -> Found:
    """softmax(z) read only by a cross-entropy gradient whose loss is computed too ->
    log_softmax(z), the labels checked once (the gradient takes its exp)."""
    labels = _shared(n, view)
    return None if labels is None else (CheckedLogSoftmax(), [n.inputs[0], labels])


@register_fusion(CrossEntropy, priority=20)
def cross_entropy_from_log_softmax(n: Node, view: GraphView) -> Found:
    """cross_entropy(z, labels) -> read off the shared log-softmax of its gradient."""
    z, labels = n.inputs
    for p in view.consumers.get(z, ()):
        if _shared(p, view) is labels:
            return NllLoss(n.op.reduction), [p, labels]
    return None


@register_fusion(Subtract, priority=10)
def one_hot_subtract(n: Node, view: GraphView) -> Found:
    """a - one_hot(labels) -> 1 subtracted at the labels (the softmax is shared)."""
    a, oh = n.inputs
    if (isinstance(oh.op, OneHot) and view.single_use(oh) and a.shape == oh.shape == n.shape
            and a.dtype == oh.dtype == n.dtype):
        return OneHotSubtract(), [a, oh.inputs[0]]
    return None


@register_fusion(Sum, Mean)
def sum_of_products(n: Node, view: GraphView) -> Found:
    """sum(a * b), sum(square(a)) over all axes -> np.vdot; mean: np.vdot / count."""
    if n.op.keepdims or len(n.op.axis) != n.inputs[0].ndim:
        return None
    m = n.inputs[0]
    if not view.single_use(m) or m.dtype.kind != "f" or n.dtype != m.dtype or not m.size:
        return None
    fused = SumOfProducts(m.size if isinstance(n.op, Mean) else None)
    if isinstance(m.op, Square):
        return fused, [m.inputs[0]]
    if isinstance(m.op, Multiply):
        a, b = m.inputs
        if a.shape == b.shape == m.shape and a.dtype == b.dtype == m.dtype:
            return fused, [a, b]
    return None


def _one_element(n: Node) -> bool:
    """True when ``n`` is one value broadcast (compiled code keeps it unbroadcast)."""
    while isinstance(n.op, (BroadcastTo, Reshape)):
        n = n.inputs[0]
    return n.size == 1


def _power_of_two(n: Node) -> bool:
    v = _scalar_value(n)
    if v is None or isinstance(v, (bool, complex)) or not v or not math.isfinite(v):
        return False
    return math.frexp(abs(v))[0] == 0.5


@functools.lru_cache(maxsize=256)
def _one_literal(dtype: str, raw: bytes) -> np.generic:
    """One scalar object per value, so equal folded factors share one constant of the source
    (constants are named by object)."""
    return np.frombuffer(raw, dtype)[0]


@register_fusion(Multiply, priority=10)
def scaled_product(n: Node, view: GraphView) -> Found:
    """s * (c * x), s one element and c a power of two -> (s * c) * x: one pass, exact;
    s * c one constant when s is a constant too."""
    if n.dtype.kind != "f":
        return None
    for s, m in (n.inputs, n.inputs[::-1]):
        if isinstance(m.op, Multiply) and _one_element(s) and view.single_use(m):
            for c, x in (m.inputs, m.inputs[::-1]):
                if _power_of_two(c) and s.dtype == c.dtype == x.dtype == n.dtype:
                    sv = _scalar_value(s)
                    if sv is not None and x.shape == n.shape:
                        t = n.dtype.type  # the product run time would compute, once
                        factor = t(np.multiply(t(sv), t(_scalar_value(c))))
                        return ScaledProduct(_one_literal(n.dtype.str, factor.tobytes())), [x]
                    return ScaledProduct(), [s, c, x]
    return None


@register_fusion(Sort)
def sort_from_argsort(n: Node, view: GraphView) -> Found:
    """sort(x) -> take_along_axis(x, argsort(x)) when an argsort of x is computed anyway."""
    (x,) = n.inputs
    for user in view.consumers.get(x, ()):
        op = user.op
        if isinstance(op, Argsort) and op.axis == n.op.axis:
            return TakeAlong(n.op.axis), [x, user]
    return None



def _triangular_operand(t: Node, view: GraphView) -> tuple[Node, bool, bool] | None:
    """``(matrix whose triangle to read, lower, transposed)`` when ``t`` is a square triangle."""
    trans = False
    if isinstance(t.op, Transpose) and t.op.axes == (1, 0):
        if not view.single_use(t):
            return None
        t, trans = t.inputs[0], True
    if t.ndim != 2 or t.shape[0] != t.shape[1] or t in view.pinned:  # a fed value may be full
        return None
    if isinstance(t.op, Cholesky):
        return t, True, trans
    if isinstance(t.op, (Tril, Triu)) and t.op.k == 0:
        source = t.inputs[0] if view.single_use(t) and t.inputs[0].shape == t.shape else t
        return source, isinstance(t.op, Tril), trans
    return None


@register_fusion(MatMul)
def triangular_product(n: Node, view: GraphView) -> Found:
    """a @ b with a square triangle a (tril, triu, cholesky; maybe transposed) -> BLAS trmm."""
    a, b = n.inputs
    if not (n.ndim == a.ndim == b.ndim == 2 and n.dtype in (np.float32, np.float64)
            and a.dtype == b.dtype == n.dtype):
        return None
    for right, t, other in ((False, a, b), (True, b, a)):
        found = _triangular_operand(t, view)
        if found is not None:
            source, lower, trans = found
            return TriangularProduct(right, lower, trans), [source, other]
    return None


@register_fusion(Add)
def matmul_accumulate(n: Node, view: GraphView) -> Found:
    """acc + a @ b (matrices of one float dtype) -> gemm into acc's buffer when it is dead."""
    if n.ndim != 2 or n.dtype not in (np.float32, np.float64):
        return None
    for acc, m in (n.inputs, n.inputs[::-1]):
        if (isinstance(m.op, MatMul) and view.single_use(m) and acc.shape == m.shape == n.shape
                and acc.dtype == n.dtype and all(i.ndim == 2 and i.dtype == n.dtype
                                                 for i in m.inputs)):
            return MatmulAccumulate(), [acc, *m.inputs]
    return None


@register_fusion(AddN)
def matmul_accumulate_n(n: Node, view: GraphView) -> Found:
    """add_n of matrices with matrix products among its terms (one float dtype, one shape) ->
    each product added into the sum's buffer by gemm, when BLAS runs on one thread (else the
    products keep their workspace buffers and numpy's BLAS)."""
    if n.ndim != 2 or n.dtype not in (np.float32, np.float64) or not blas_single_threaded():
        return None
    plain: list[Node] = []
    factors: list[Node] = []
    for t in n.inputs:
        if t.shape != n.shape or t.dtype != n.dtype:
            return None
        if (isinstance(t.op, MatMul) and view.single_use(t)
                and all(i.ndim == 2 and i.dtype == n.dtype for i in t.inputs)
                and triangular_product(t, view) is None):  # trmm's half the flops stays
            factors += t.inputs
        else:
            plain.append(t)
    return (MatmulAccumulate(len(plain)), plain + factors) if factors else None

"""Linear algebra with numpy semantics: matrix products (vectors, matrices, broadcast batches)
and the singular value decomposition."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import numpy as np

from .. import backend
from ..errors import BackendError, DTypeError, ShapeError, SymgraphError
from ..graph import Node, apply
from .base import NAME, NO_SYMPY, Op, as_node, as_nodes, broadcast_shapes, one_of, ufunc_dtype
from .matrix_parts import tril, triu
from .reduce import sum as sum_
from .batching import batch_leading, expand_after_batch
from .linalg_patterns import product_pairs, product_pattern
from .patterns import differentiable_input, nonzero_mask, per_matrix
from .shape import Transpose, reshape, sum_to, swap_last, transpose
from .sources import eye as eye_op


class MatMul(Op):
    """``a @ b``: 1-D operands are promoted to a row (a) or column (b) and dropped again."""

    name = "matmul"
    emit_inplace = True  # writes into a reused buffer (never into its own inputs)
    multilinear = True
    cli = ("matmul", "dot")

    def infer(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and "
                             f"{b.shape} (use * for scalars)")
        a2, b2 = _as_matrix_a(a.shape), _as_matrix_b(b.shape)
        if a2[-1] != b2[-2]:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                             f"({a2[-1]} != {b2[-2]})")
        batch = broadcast_shapes([a2[:-2], b2[:-2]], "matmul batch dimensions")
        shape = batch + (a2[-2], b2[-1])
        return _drop_promoted(shape, a.ndim, b.ndim), ufunc_dtype(np.matmul, a.dtype, b.dtype)

    def f(self, a, b):
        return np.matmul(a, b)

    def emit(self, out, ins, ctx):
        if ctx.into:
            return ctx.bind(f"np.matmul({ins[0]}, {ins[1]}, out={ctx.into})")
        return f"{out} = {ins[0]} @ {ins[1]}"

    def bprop(self, inputs, out, g, needs):
        a, b = inputs
        if a.ndim == 1 and b.ndim == 1:
            return [g * b if needs[0] else None, g * a if needs[1] else None]
        a2 = reshape(a, _as_matrix_a(a.shape))
        b2 = reshape(b, _as_matrix_b(b.shape))
        out2 = broadcast_shapes([a2.shape[:-2], b2.shape[:-2]], "matmul") + (a2.shape[-2], b2.shape[-1])
        g2 = reshape(g, out2)
        return [reshape(sum_to(matmul(g2, swap_last(b2)), a2.shape), a.shape) if needs[0] else None,
                reshape(sum_to(matmul(swap_last(a2), g2), b2.shape), b.shape) if needs[1] else None]

    def to_sympy(self, bridge, node, a, b):
        if a.ndim + b.ndim > 2:
            return np.matmul(a, b)
        return np.asarray(bridge.sympy.Add(*(a * b)), dtype=object)

    def batch(self, inputs, batched):
        return batch_matmul(*inputs, *batched)

    def sparsity(self, node):
        """Exact: ``out[..., i, j]`` reads row i of a and column j of b, and of a constant
        factor only its non-zeros (so ``B @ x`` with a banded constant ``B`` stays banded)."""
        a, b = node.inputs
        a2, b2 = _as_matrix_a(a.shape), _as_matrix_b(b.shape)

        def mask(x, shape):
            m = nonzero_mask(x)
            return None if m is None else m.reshape(shape)

        return [product_pattern(a2, b2, 0, mask(b, b2)) if differentiable_input(a) else None,
                product_pattern(a2, b2, 1, mask(a, a2)) if differentiable_input(b) else None]

    def hessian_pairs(self, node, i, j, rows):
        """``a[..., p, l]`` meets ``b[..., l, q]`` only: the same ``l``, not every pair."""
        a2, b2 = _as_matrix_a(node.inputs[0].shape), _as_matrix_b(node.inputs[1].shape)
        pairs = product_pairs(a2, b2, rows)
        return pairs if i == 0 else pairs.T.tocsr()


# ---------------------------------------------------------------------------
# matmul over a batch: one GEMM where the unbatched side is shared
# ---------------------------------------------------------------------------

def _t(x: Node) -> Node:
    """``x.mT``, undoing a transpose or an identity rather than stacking one on it."""
    if _is_identity(x):
        return x
    if isinstance(x.op, Transpose) and x.op.axes == tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2):
        return x.inputs[0]
    return swap_last(x)


def _count(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _one_gemm(a: Node, b: Node, a_batched: bool, size: int, out: tuple[int, ...]) -> Node:
    """``a @ b`` over a batch on one side, at most one of the operands with a stack: the batch
    (and that stack) folds into the rows of a (a batched) or the columns of b (b batched),
    so the whole batch is one GEMM.

    Layouts: with a batched, ``rows (B*..., k) @ b``, rows a reshape of a's leading axes
    (a view).  With b batched, the transposed product ``cols (B*..., k) @ a.mT``: a.mT
    is BLAS's own transpose of a (no copy), every example's block of the result is
    contiguous (``a @ cols.mT`` would interleave the examples), and cols is a view when
    b holds vectors or single columns (the gradient graphs' case); wider batched
    matrices, and the columns of a shared stacked b, are copied once into rows.
    """
    a0 = a.shape[1:] if a_batched else a.shape
    b0 = b.shape if a_batched else b.shape[1:]
    k = a0[-1]
    m, n = a0[-2:-1], b0[-1:] if len(b0) > 1 else ()  # () for a vector operand
    sa, sb = a0[:-2], b0[:-2]
    if a_batched:
        rows = reshape(a, (_count(a.shape[:-1]), k))
        if not sb:
            return reshape(matmul(rows, b), (size,) + out)
        cols = reshape(_t(b), (_count(sb) * n[0], k))  # a has no stack: b's stack into columns
        t = reshape(matmul(rows, _t(cols)), (size,) + m + sb + n)
        return transpose(t, (0,) + tuple(range(1 + len(m), 1 + len(m) + len(sb))) + tuple(
            range(1, 1 + len(m))) + (t.ndim - 1,)) if m else t
    cols = b if not n else reshape(_t(b), (_count(b.shape[:-2]) * n[0], k))
    if not m:
        other = a
    elif not sa:
        other = _t(a)
    else:  # b has no stack: a's stack into the rows it meets
        other = _t(reshape(a, (_count(a.shape[:-1]), k)))
    t = reshape(matmul(cols, other), (size,) + sb + n + sa + m)
    if not (m and n):
        return t
    if not sa:
        return _t(t)
    return transpose(t, (0,) + tuple(range(2, t.ndim)) + (1,))  # (B, n, sa, m): n last


def batch_matmul(a: Node, b: Node, a_batched: bool, b_batched: bool) -> Node:
    """``MatMul``'s batching rule: ``out[i] = a[i] @ b[i]`` (unbatched operands shared).

    One side batched with a shared operand that has no stack of its own (the Jacobian
    and Hessian case: a matrix against a batch of seeds) is one GEMM (``_one_gemm``);
    otherwise numpy's matmul broadcasting lines the stacks up, the batch axis first.
    A product with an identity is the other operand, as in ``matmul``.
    """
    size = a.shape[0] if a_batched else b.shape[0]
    a0 = a.shape[1:] if a_batched else a.shape
    b0 = b.shape[1:] if b_batched else b.shape
    a2, b2 = _as_matrix_a(a0), _as_matrix_b(b0)
    stacks = broadcast_shapes([a2[:-2], b2[:-2]], "matmul batch dimensions")
    shape = _drop_promoted(stacks + (a2[-2], b2[-1]), len(a0), len(b0))
    for one, other, shared in ((a, b, not a_batched), (b, a, not b_batched)):
        if shared and _is_identity(one) and np.result_type(one.dtype, other.dtype) == other.dtype:
            return other  # eye @ x == x and x @ eye == x, shapes included
    if a_batched != b_batched and not (a0[:-2] and b0[:-2]):
        return _one_gemm(a, b, a_batched, size, shape)
    stack = max(len(a0), len(b0), 2) - 2
    if a_batched and len(a0) == 1:  # vectors as a row and a column, dropped again below
        a = reshape(a, (size, 1) + a0)
    if b_batched and len(b0) == 1:
        b = reshape(b, (size,) + b0 + (1,))
    a = expand_after_batch(a, stack + 2) if a_batched else a
    b = expand_after_batch(b, stack + 2) if b_batched else b
    return reshape(matmul(a, b), (size,) + shape)


def batch_solve(op: Op, a: Node, b: Node, a_batched: bool, b_batched: bool) -> Node:
    """The batching rule of ops solving ``a x = b`` with numpy 2's rule for ``b`` (one vector
    when 1-D, else matrices ``(..., N, K)``, stacks broadcasting): ``Solve``, ``SolveTriangular``.

    With ``a`` shared, the examples of ``b`` become more right-hand sides (columns) of one
    solve per matrix of ``a``: one factorization, not B, unless both have stacks.
    """
    size = a.shape[0] if a_batched else b.shape[0]
    vector = b.ndim - b_batched == 1
    if not a_batched:
        n, sa = a.shape[-1], a.shape[:-2]
        sb = () if vector else b.shape[1:-2]
        if not (sa and sb):
            k = () if vector else b.shape[-1:]
            cols = b if vector else reshape(_t(b), (_count(b.shape[:-2]) * k[0], n))
            x = reshape(apply(op, [a, _t(cols)]), sa + (n, size) + sb + k)  # sa + (n, B*sb*k)
            p = len(sa)
            return transpose(x, (p + 1,) + tuple(range(p)) + tuple(range(p + 2, p + 2 + len(sb)))
                             + (p,) + ((x.ndim - 1,) if k else ()))
    if vector and b_batched:  # each example's vector as a column of its own matrix
        stack = a.ndim - a_batched - 2
        x = apply(op, [a, reshape(b, (size,) + (1,) * stack + b.shape[1:] + (1,))])
        return reshape(x, x.shape[:-1])
    return batch_leading(op, [a, b], [a_batched, b_batched], [2, 1 if vector else 2])


def solve_patterns(node: Node, a_core: Any = None, inverse_mask: Any = None) -> list:
    """The sparsity rules of ``x = solve(a, b)`` (numpy 2's rule for ``b``): x's matrix reads
    all of a's (or ``a_core`` of it, see ``per_matrix``), and column j of x reads column
    j of b, through ``inv(a)`` (``inverse_mask``: where it can be non-zero, e.g. a triangle)."""
    a, b = node.inputs
    vector = b.ndim == 1
    rules = [per_matrix(node, 0, 2, 1 if vector else 2, a_core)]
    if not differentiable_input(b):
        return rules + [None]
    b2 = b.shape + (1,) if vector else b.shape
    return rules + [product_pattern(a.shape, b2, 1, inverse_mask)]


def _as_matrix_a(shape):
    return (1,) + tuple(shape) if len(shape) == 1 else tuple(shape)


def _as_matrix_b(shape):
    return tuple(shape) + (1,) if len(shape) == 1 else tuple(shape)


def _drop_promoted(shape, a_ndim, b_ndim):
    shape = list(shape)
    if b_ndim == 1:
        shape.pop(-1)
    if a_ndim == 1:
        shape.pop(-1 if b_ndim == 1 else -2)
    return tuple(shape)


def matmul(a, b) -> Node:
    """``a @ b`` with numpy's rules for vectors and broadcast batches of matrices.

    A product with an identity made by ``sg.eye(n)`` is its other operand (no node,
    no n^3 work): batched Jacobians and Hessians seed with identities.

    Examples
    --------
    >>> A, x = sg.variable("A", (2, 2)), sg.variable("x", (2,))
    >>> loss = ((A @ x) ** 2).sum()
    >>> sg.evaluate(sg.grad(loss, A), {"A": np.array([[1., 2.], [3., 4.]]), "x": np.ones(2)})
    array([[ 6.,  6.],
           [14., 14.]])
    >>> sg.matmul(sg.variable("B", (5, 2, 2)), A).shape
    (5, 2, 2)
    >>> sg.matmul(sg.eye(2), A) is A
    True
    """
    a, b = as_nodes(a, b)
    for one, other in ((b, a), (a, b)):
        if _is_identity(one) and other.ndim >= 1 and np.result_type(one.dtype, other.dtype) == other.dtype:
            if other.shape[-1 if one is b else (-2 if other.ndim > 1 else -1)] == one.shape[0]:
                return other
    return apply(MatMul(), [a, b])


def _is_identity(x: Node) -> bool:
    from .sources import Eye

    op = x.op
    return isinstance(op, Eye) and op.n == op.m and op.k == 0


# ---------------------------------------------------------------------------
# decompositions: the singular value decomposition
# ---------------------------------------------------------------------------

#: The parts of the reduced SVD ``a = u @ (s[..., None] * vh)`` each ``Svd`` node computes.
SVD_PARTS = ("u", "s", "vh")


# ---------------------------------------------------------------------------
# what every decomposition and solver shares
# ---------------------------------------------------------------------------

def linalg_dtype(*dtypes: np.dtype, what: str = "linalg") -> np.dtype:
    """numpy.linalg's result dtype: float32/float64 kept (mixed: float64), integers to float64.

    Complex inputs are refused: the derivative rules here are the real ones.
    float16 and long double are refused as ``np.linalg`` itself refuses them.
    """
    out = []
    for dtype in dtypes:
        dtype = np.dtype(dtype)
        if dtype.kind in "biu":
            dtype = np.dtype(np.float64)
        elif dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise DTypeError(f"{what}: dtype {dtype} is not supported (float32, float64, integers "
                             "or bool; complex matrices have no derivative rules here, and "
                             "np.linalg has no float16 or long double)")
        out.append(dtype)
    return np.result_type(*out)


def flag(value: Any, what: str) -> bool:
    """A True/False parameter (numpy's bools too), or a ``SymgraphError`` naming ``what``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise SymgraphError(f"{what} must be True or False, got {value!r:.40}")


def check_matrices(shape: tuple[int, ...], what: str, square: bool = False) -> None:
    """Raise a ``ShapeError`` unless ``shape`` is a (square, if asked) matrix or stack of them."""
    if len(shape) < 2:
        raise ShapeError(f"{what}: input must be a {'square ' if square else ''}matrix or a stack "
                         f"of matrices (..., {'N, N' if square else 'M, N'}), got shape {shape}")
    if square and shape[-1] != shape[-2]:
        raise ShapeError(f"{what}: the last two axes must be square (..., N, N), got shape {shape}")


def matrices(a: Any, what: str, square: bool = False) -> Node:
    """``a`` as a node holding a (square) matrix or a stack of them, or a ``ShapeError``."""
    x = as_node(a)
    check_matrices(x.shape, what, square)
    return x


def mT(x: Node) -> Node:
    """The transpose of each matrix of a stack (numpy's ``x.mT``)."""
    return swap_last(x)


def row(s: Node) -> Node:
    """``s (..., k)`` as ``(..., 1, k)``: scales the columns of a matrix."""
    return reshape(s, s.shape[:-1] + (1, s.shape[-1]))


def col(s: Node) -> Node:
    """``s (..., k)`` as ``(..., k, 1)``: scales the rows of a matrix."""
    return reshape(s, s.shape + (1,))


def triangle(x: Node, lower: bool, k: int = 0) -> Node:
    """``tril(x, k)`` or ``triu(x, -k)``: the part of each matrix on the ``lower`` side."""
    return tril(x, k) if lower else triu(x, -k)


def symmetric_tangent(dx: Node, lower: bool) -> Node:
    """The symmetric matrix a routine that reads one triangle of ``x`` sees move by ``dx``.

    ``cholesky`` and ``eigh`` read only the lower (or upper) triangle, so the
    function they compute is ``f(tril(x) + tril(x, -1).mT)``; its tangent is this.
    """
    return triangle(dx, lower) + mT(triangle(dx, lower, -1))


def triangle_cotangent(s: Node, lower: bool) -> Node:
    """The adjoint of ``symmetric_tangent``: a cotangent ``s`` of the symmetric matrix,
    as the gradient of the one triangle actually read (zero on the other side)."""
    return triangle(s, lower) + triangle(mT(s), lower, -1)


def on_matrices(fn: Any, arrays: list, cores: tuple[int, ...], tail: tuple[int, ...],
                dtype: np.dtype, what: str) -> Any:
    """``fn(*arrays)`` for numpy arrays; for other array families, per block of whole matrices.

    ``cores`` says how many trailing axes of each array are its matrix (2) or
    vector (1) part; the leading (batch) axes broadcast.  ``tail`` is the
    result's shape for one matrix.  dask arrays run ``fn`` on blocks that hold
    whole matrices (lazy, one task per batch chunk); a family without such a
    kernel runs ``fn`` itself or raises a ``BackendError``.
    """
    if not any(backend.is_foreign(x) for x in arrays):
        return fn(*arrays)
    impl = backend.kernel(backend.family(*arrays), "map_matrices")
    if impl is not None:
        return impl(arrays, fn, cores, tail, dtype)
    try:  # families whose np.linalg takes stacks of matrices (CuPy) run the numpy code
        return fn(*arrays)
    except (TypeError, ValueError, NotImplementedError) as e:
        shapes = ", ".join(f"{backend.type_name(x)} of shape {x.shape}" for x in arrays)
        raise BackendError(f"{what} has no implementation for {shapes}: {e}") from None


# ---------------------------------------------------------------------------
# factorizations computed once: each part node reads one packed array
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Factorizer:
    """How one kind of factorization computes all its parts in one LAPACK call.

    ``compute`` is a module-level numpy function (compiled code copies it) from
    a stack of matrices to the tuple of parts, ``sizes(m, n)`` the number of
    elements of each part for one ``m x n`` matrix, and ``part_op(name)`` the
    op whose rules (and shape) that part has.
    """

    compute: Callable[[np.ndarray], tuple]
    parts: tuple[str, ...]
    sizes: Callable[[int, int], tuple[int, ...]]
    part_op: Callable[[str], Op]


#: kind -> its Factorizer; each family module registers its own kinds
FACTORIZATIONS: dict[str, Factorizer] = {}


def register_factorization(kind: str, factorizer: Factorizer) -> None:
    FACTORIZATIONS[kind] = factorizer


def _factorizer(kind: str) -> Factorizer:
    try:
        return FACTORIZATIONS[kind]
    except KeyError:
        raise SymgraphError(f"unknown factorization {kind!r} (known: {sorted(FACTORIZATIONS)})") \
            from None


def pack_parts(parts: tuple) -> np.ndarray:
    """The parts of a factorization of a stack of matrices, raveled per matrix and joined."""
    nb = parts[-1].ndim - 2  # every kind's last part is a matrix
    # sizes spelled out, not -1: an empty stack cannot infer them
    return np.concatenate([np.reshape(p, p.shape[:nb] + (int(np.prod(p.shape[nb:])),))
                           for p in parts], axis=-1)


class Factorization(Op):
    """All parts of one factorization of ``x (..., M, N)``, raveled and joined on the last axis.

    One LAPACK call for every part a graph uses: ``sg.linalg.svd``, ``eigh``
    and ``qr`` build one of these and a ``FactorPart`` per part, which slices
    it (a view) and differentiates like the part's own op (``Svd``, ``Eigh``,
    ``Qr``) with respect to ``x``.  No gradient flows through the packed array.
    """

    name = "factorization"
    param_types = {"kind": NAME}
    differentiable = False
    to_sympy = NO_SYMPY  # the parts' ops say why sympy has no faithful version

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def infer(self, x):
        fz = _factorizer(self.kind)
        check_matrices(x.shape, self.kind)
        _, dtype = fz.part_op(fz.parts[0]).infer(x)
        return x.shape[:-2] + (sum(fz.sizes(*x.shape[-2:])),), dtype

    def f(self, x):
        fz = _factorizer(self.kind)
        total = sum(fz.sizes(*x.shape[-2:]))
        return on_matrices(lambda a: pack_parts(fz.compute(a)), [x], (2,), (total,),
                           linalg_dtype(x.dtype, what=self.kind), self.kind)

    def emit(self, out, ins, ctx):
        fz = _factorizer(self.kind)
        return f"{out} = {ctx.helper(pack_parts)}({ctx.helper(fz.compute)}({ins[0]}))"

    stack_core = (2,)


class _Shaped:
    """Shape and dtype of an array, as an op's ``infer`` reads them from a node."""

    def __init__(self, a: Any) -> None:
        self.shape, self.dtype, self.ndim = tuple(a.shape), np.dtype(a.dtype), len(a.shape)


class FactorPart(Op):
    """One part of a ``Factorization`` (input 0), differentiated like ``part_op`` in ``x`` (input 1)."""

    name = "factor_part"
    param_types = {"kind": NAME, "part": NAME}
    to_sympy = NO_SYMPY

    def __init__(self, kind: str, part: str) -> None:
        self.kind, self.part = kind, part

    def underlying(self) -> Op:
        """The op this part differentiates like (``Svd("u")`` for ``svd.u``)."""
        fz = _factorizer(self.kind)
        if self.part not in fz.parts:
            raise SymgraphError(f"factor_part: {self.kind} has parts {fz.parts}, not {self.part!r}")
        return fz.part_op(self.part)

    def describe(self) -> str:
        return f"{self.kind}.{self.part}"

    def infer(self, packed, x):
        shape, dtype = self.underlying().infer(x)
        want = x.shape[:-2] + (sum(_factorizer(self.kind).sizes(*x.shape[-2:])),)
        if packed.shape != want:
            raise ShapeError(f"factor_part: the packed {self.kind} of shape {packed.shape} does "
                             f"not belong to matrices of shape {x.shape}")
        return shape, dtype

    def _span(self, m: int, n: int) -> tuple[int, int]:
        fz = _factorizer(self.kind)
        sizes = fz.sizes(m, n)
        i = fz.parts.index(self.part)
        start = sum(sizes[:i])
        return start, start + sizes[i]

    def emits_view(self) -> bool:
        return True  # a slice of the packed array (input 0)

    def f(self, packed, x):
        a, b = self._span(*x.shape[-2:])
        shape, _ = self.underlying().infer(_Shaped(x))
        return packed[..., a:b].reshape(shape)

    def emit(self, out, ins, ctx):
        a, b = self._span(*ctx.in_shapes[1][-2:])
        return f"{out} = {ins[0]}[..., {a}:{b}].reshape({ctx.shape})"

    def jvp(self, inputs, out, tangents):
        return self.underlying().jvp([inputs[1]], out, [tangents[1]])

    def bprop(self, inputs, out, g, needs):
        if not needs[1]:
            return [None, None]
        return [None] + list(self.underlying().bprop([inputs[1]], out, g, [True]))

    # the packed array belongs to x: their stacks must match (no broadcasting)
    stack_core = (1, 2)
    stack_broadcasts = False

    def sparsity(self, node):
        return [None, self.underlying().matrix_pattern(node, 1)]


def factor_parts(x: Node, kind: str) -> tuple[Node, ...]:
    """Every part of the factorization ``kind`` of ``x``, from one ``Factorization`` node."""
    packed = apply(Factorization(kind), [x])
    return tuple(apply(FactorPart(kind, p), [packed, x]) for p in _factorizer(kind).parts)


def svd_all(a: np.ndarray) -> tuple:
    """numpy's reduced SVD ``(u, s, vh)`` of a stack of matrices."""
    return tuple(np.linalg.svd(a, full_matrices=False))


def svd_part(a: np.ndarray, part: str) -> np.ndarray:
    """One part of numpy's reduced SVD of a stack of matrices (``s`` alone skips u and vh)."""
    if part == "s":
        return np.linalg.svd(a, compute_uv=False)
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return u if part == "u" else vh


class Svd(Op):
    """One part of the reduced SVD ``a = u @ (s[..., None] * vh)`` of matrices ``(..., m, n)``.

    ``part`` is ``"u"`` (``(..., m, k)``), ``"s"`` (``(..., k)``, descending)
    or ``"vh"`` (``(..., k, n)``), ``k = min(m, n)``: exactly what
    ``np.linalg.svd(a, full_matrices=False)`` returns (``s`` by
    ``compute_uv=False``).  A node has one output, so the factorization has
    one op per part, and the gradients of the parts add up in the usual way.
    ``svd_factors`` (and ``sg.linalg.svd``) read all three from one
    ``Factorization`` node, so one LAPACK call serves them; ``Svd("s")`` alone
    (``svdvals``) is LAPACK's values-only driver.

    Derivatives are the real ones, to any order (rules written with symgraph
    ops): forward mode is JAX's ``_svd_jvp_rule``, reverse mode Townsend's
    "Differentiating the Singular Value Decomposition" (2016), one term per
    part.  Gauge: a column of u and the same row of vh may flip sign together
    (LAPACK picks one sign; it stays put under small changes of ``a``), so the
    functions worth differentiating are invariant under those flips: functions
    of s, ``u @ (s[..., None] * vh)``, ``u @ u.T``, ``u * u``...

    Degenerate matrices: the rules divide by ``s_j**2 - s_i**2`` (i != j) and,
    for u of a tall or vh of a wide matrix, by ``s``.  At repeated singular
    values u and vh are not differentiable (nor s at a crossing) and the rules
    give inf/nan; likewise u (tall) and vh (wide) at a zero singular value.
    The first derivative of s, ``u diag(g) vh``, needs neither division;
    its derivative (second order) is NaN at an exact tie even where the
    Hessian exists (0/0 where the limit is a divided difference).
    """

    name = "svd"
    param_types = {"part": one_of(*SVD_PARTS)}
    #: sympy's ``Matrix.singular_values`` is symbolic roots, not ordered or sign-fixed like LAPACK
    to_sympy = NO_SYMPY

    def __init__(self, part: str) -> None:
        self.part = part

    def infer(self, x):
        check_matrices(x.shape, "svd")
        return x.shape[:-2] + self.tail(*x.shape[-2:]), linalg_dtype(x.dtype, what="svd")

    def tail(self, m: int, n: int) -> tuple[int, ...]:
        """The shape this part takes for one ``m x n`` matrix."""
        k = min(m, n)
        return {"u": (m, k), "s": (k,), "vh": (k, n)}[self.part]

    def f(self, x):
        return on_matrices(functools.partial(svd_part, part=self.part), [x], (2,),
                           self.tail(*x.shape[-2:]), linalg_dtype(x.dtype, what="svd"), "svd")

    def emit(self, out, ins, ctx):
        if self.part == "s":
            return f"{out} = np.linalg.svd({ins[0]}, compute_uv=False)"
        return f"{out} = np.linalg.svd({ins[0]}, full_matrices=False)[{SVD_PARTS.index(self.part)}]"

    stack_core = (2,)

    def sparsity(self, node):
        return [self.matrix_pattern(node, 0)]

    def matrix_pattern(self, node: Node, k: int) -> Any:
        """The rule for input ``k``, the matrices (``FactorPart`` shares it): each part of
        one matrix's SVD depends on all of that matrix."""
        return per_matrix(node, k, 2, 1 if self.part == "s" else 2)

    def jvp(self, inputs, out, tangents):
        (x,), (dx,) = inputs, tangents
        if dx is None:
            return None
        u, s, vh = svd_factors(x)
        v = swap_last(vh)
        dxv = matmul(dx, v)  # (..., m, k)
        if self.part == "s":  # diag(u^T dx v)
            return sum_(u * dxv, axis=-2)
        m, n = x.shape[-2:]
        dp = matmul(swap_last(u), dxv)  # u^T dx v, (..., k, k)
        f = inverse_gaps(s * s)
        if self.part == "u":
            du = matmul(u, f * (dp * row(s) + col(s) * swap_last(dp)))
            if m > n:  # the part of dx v outside the span of u
                du = du + (dxv - matmul(u, dp)) / row(s)
            return du
        dv = matmul(v, f * (col(s) * dp + swap_last(dp) * row(s)))
        if n > m:  # the part of dx^T u outside the span of v
            dxtu = matmul(swap_last(dx), u)
            dv = dv + (dxtu - matmul(v, swap_last(dp))) / row(s)
        return swap_last(dv)

    def bprop(self, inputs, out, g, needs):
        (x,) = inputs
        u, s, vh = svd_factors(x)
        m, n = x.shape[-2:]
        if self.part == "s":  # u diag(g) vh
            return [matmul(u * row(g), vh)]
        f = inverse_gaps(s * s)
        if self.part == "u":
            utg = matmul(swap_last(u), g)
            inner = matmul(u, f * (utg - swap_last(utg)) * row(s))
            if m > n:  # (I - u u^T) g s^-1
                inner = inner + (g - matmul(u, utg)) / row(s)
            return [matmul(inner, vh)]
        vgt = matmul(vh, swap_last(g))  # v^T gv, with gv = g^T the cotangent of v
        inner = col(s) * (f * (vgt - swap_last(vgt)))
        if n > m:  # s^-1 gv^T (I - v v^T)
            return [matmul(u, matmul(inner, vh) + (g - matmul(swap_last(vgt), vh)) / col(s))]
        return [matmul(u, matmul(inner, vh))]


def inverse_gaps(w: Node) -> Node:
    """``F[..., i, j] = 1 / (w_j - w_i)`` off the diagonal, 0 on it (finite there).

    The eigenvector and singular-vector rules multiply by it; at an exact tie
    it is inf, so their derivatives are too (see ``Svd`` and ``Eigh``)."""
    n = w.shape[-1]
    eye = eye_op(n, dtype=w.dtype, graph=w.graph)
    return (1 - eye) / (row(w) - col(w) + eye)


def svdvals(a: Any) -> Node:
    """``np.linalg.svdvals(a)``: the singular values of ``a (..., M, N)``, descending, ``(..., K)``.

    ``K = min(M, N)``; computed as ``np.linalg.svd(a, compute_uv=False)``.
    Differentiable to any order where the singular values are distinct and
    non-zero (the first derivative also at ties: it is ``u @ diag(g) @ vh``).
    ``sg.sum(sg.svdvals(a))`` is the nuclear norm of ``a``.

    Examples
    --------
    >>> a = sg.variable("a", (2, 2))
    >>> nuclear = sg.svdvals(a).sum()
    >>> feed = {"a": np.array([[3., 0.], [0., -2.]])}
    >>> sg.evaluate(nuclear, feed)
    array(5.)
    >>> sg.evaluate(sg.grad(nuclear, a), feed)
    array([[ 1.,  0.],
           [ 0., -1.]])
    """
    return apply(Svd("s"), [matrices(a, "svdvals")])


def svd_factors(a: Any) -> tuple[Node, Node, Node]:
    """``np.linalg.svd(a, full_matrices=False)`` as three nodes ``(u, s, vh)`` (see ``Svd``),
    all read from one ``Factorization`` (one LAPACK call).

    Only functions invariant under flipping the sign of a column of u and the
    same row of vh together are well defined (and differentiable).  ``s`` may
    differ from ``svdvals(a)`` (LAPACK's values-only driver) in the last bit.
    """
    u, s, vh = factor_parts(matrices(a, "svd"), "svd")
    return u, s, vh


__all__ = ["matmul", "svdvals"]


register_factorization("svd", Factorizer(
    compute=svd_all, parts=SVD_PARTS, part_op=Svd,
    sizes=lambda m, n: (m * min(m, n), min(m, n), min(m, n) * n)))

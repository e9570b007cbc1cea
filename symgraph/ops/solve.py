"""General solves, inverses and determinants: numpy.linalg's ``solve``, ``inv``, ``det``,
``slogdet``, ``pinv`` and ``matrix_power``, plus the adjugate.

Every op takes stacks of square matrices ``(..., N, N)`` (``pinv`` any
``(..., M, N)``); ``solve`` broadcasts the batch axes of its two operands.
The public builders live in ``sg.linalg`` (this module's ``__all__`` is empty).

The derivative rules solve rather than invert (``solve``'s reverse rule is a
solve with ``a.mT``), except where the inverse is the result already
(``inv``) or the quantity asked for (``slogdet``'s gradient ``inv(a).mT``).
The determinant's derivative is the adjugate, ``d det = <adj(a).mT, da>``,
which is right at singular matrices too (``det * inv(a).mT`` is 0 * inf
there): ``Adjugate`` is an op of its own whose forward, through the SVD,
divides by nothing.  Its derivative ``AdjugateTangent`` (the second
derivative of ``det``) divides by nothing either; only the derivative of that
(the third of ``det``) solves with ``a`` and so needs ``a`` nonsingular.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, NamedTuple

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Node, apply
from .base import ARRAY, BOOL, NO_SYMPY, Op, as_nodes, broadcast_shapes, one_of
from .linalg import (batch_solve, check_matrices, col, linalg_dtype, matmul, matrices, mT,
                     on_matrices, row, solve_patterns, symmetric_tangent, triangle_cotangent)
from .linalg_patterns import outer_core, triangle_mask
from .patterns import per_matrix
from .matrix_parts import trace as trace_
from .reduce import sum as sum_
from .shape import broadcast_to, reshape, sum_to
from .sources import eye


# ---------------------------------------------------------------------------
# numpy kernels (compiled code calls them too)
# ---------------------------------------------------------------------------

def prefix_suffix_products(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``prod_{j < i} s[..., j]`` and ``prod_{j > i} s[..., j]`` for every ``i`` (cumulative
    products: no division, so exact when some ``s`` are 0)."""
    if s.shape[-1] == 0:
        return s, s
    ones = np.ones(s.shape[:-1] + (1,), s.dtype)
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return before, after


def products_but_one(s: np.ndarray) -> np.ndarray:
    """``p[..., i] = prod_{j != i} s[..., j]``, with no division."""
    before, after = prefix_suffix_products(s)
    return before * after


def products_but_two(s: np.ndarray) -> np.ndarray:
    """``q[..., i, j] = prod_{k != i, j} s[..., k]`` for ``i != j`` and 0 on the diagonal, with
    no division: prefix before ``min(i, j)``, the run strictly between, suffix after ``max``."""
    n = s.shape[-1]
    before, after = prefix_suffix_products(s)
    later = np.arange(n)[None, :] > np.arange(n)[:, None]  # k > i
    runs = np.cumprod(np.where(later, s[..., None, :], np.ones((), s.dtype)), axis=-1)
    between = np.concatenate([np.ones(s.shape + (1,), s.dtype), runs[..., :-1]], axis=-1)
    upper = np.where(later, before[..., :, None] * between * after[..., None, :],
                     np.zeros((), s.dtype))
    return upper + np.swapaxes(upper, -1, -2)


def adjugate_matrices(a: np.ndarray) -> np.ndarray:
    """The adjugates of a stack of square matrices, stable at singular ones (no division).

    With ``a = u diag(s) vh``: ``adj(a) = det(u) det(vh) vh.T diag(p) u.T``, ``p`` the
    products of all singular values but one (``adj`` reverses products, and an
    orthogonal ``q`` has ``adj(q) = det(q) q.T``).
    """
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    u, s, vh = np.linalg.svd(a)
    c = np.linalg.det(u) * np.linalg.det(vh)
    p = products_but_one(s) * c[..., None]
    return np.matmul(np.swapaxes(vh, -1, -2) * p[..., None, :], np.swapaxes(u, -1, -2))


def adjugate_tangent_matrices(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The derivative of the adjugate at ``a`` along ``e``, stable at singular ``a``.

    In the SVD basis (``a = u diag(s) v.T``, ``f = u.T e v``) the adjugate of
    ``diag(s) + t f`` moves by ``-f[i, j] q[i, j]`` off the diagonal and by
    ``sum_{k != i} q[i, k] f[k, k]`` on it, ``q`` the products of all singular
    values but two; back in the original basis like ``adjugate_matrices``.
    """
    a, e = np.asarray(a), np.asarray(e)
    dtype = np.result_type(*[x.dtype if x.dtype.kind == "f" else np.float64 for x in (a, e)])
    a, e = a.astype(dtype, copy=False), e.astype(dtype, copy=False)
    u, s, vh = np.linalg.svd(a)
    c = np.linalg.det(u) * np.linalg.det(vh)
    v, ut = np.swapaxes(vh, -1, -2), np.swapaxes(u, -1, -2)
    f = np.matmul(np.matmul(ut, e), v)
    q = products_but_two(s)
    inner = -q * f
    n = s.shape[-1]
    on_diagonal = np.matmul(q, np.diagonal(f, 0, -2, -1)[..., None])[..., 0]
    inner[..., np.arange(n), np.arange(n)] = on_diagonal
    return np.matmul(np.matmul(v, inner), ut) * c[..., None, None]


def solve_matrices(a: np.ndarray, b: np.ndarray, vector: bool) -> np.ndarray:
    """``np.linalg.solve(a, b)``; ``vector``: ``b`` holds vectors ``(..., N)`` even when it has
    batch axes (the blocks of a dask array broadcast a 1-D ``b``), which numpy 2 would
    read as matrices."""
    if vector and np.ndim(b) > 1:
        return np.linalg.solve(a, b[..., None])[..., 0]
    return np.linalg.solve(a, b)


def slogdet_part(a: np.ndarray, part: str) -> np.ndarray:
    """One part of ``np.linalg.slogdet(a)``."""
    return getattr(np.linalg.slogdet(a), part)


def pinv_matrices(a: np.ndarray, rcond: np.ndarray, hermitian: bool) -> np.ndarray:
    """``np.linalg.pinv(a, rcond, hermitian)``."""
    return np.linalg.pinv(a, rcond, hermitian)


# ---------------------------------------------------------------------------
# shared pieces of the rules
# ---------------------------------------------------------------------------

def _square(x: Node, what: str) -> int:
    check_matrices(x.shape, what, square=True)
    return x.shape[-1]


def _eye_like(x: Node) -> Node:
    """The identity in ``x``'s matrix size and dtype (broadcasts over its batch)."""
    return eye(x.shape[-1], dtype=x.dtype, graph=x.graph)


def _scalars(t: Node) -> Node:
    """A stack of scalars ``(...)`` as ``(..., 1, 1)``: it then scales whole matrices."""
    return reshape(t, t.shape + (1, 1))


def _matrix_trace(x: Node) -> Node:
    return trace_(x, 0, -2, -1)


def _solve(a: Node, b: Node, vector: bool) -> Node:
    """``solve(a, b)`` where ``vector`` says ``b (..., N)`` is a stack of vectors (numpy 2's
    ``solve`` reads every ``b`` of more than one axis as matrices)."""
    if not vector or b.ndim == 1:
        return apply(Solve(), [a, b])
    x = apply(Solve(), [a, reshape(b, b.shape + (1,))])
    return reshape(x, x.shape[:-1])


def _per_matrix(bridge: Any, arrays: list[np.ndarray], cores: tuple[int, ...], tail: tuple,
                fn: Any) -> np.ndarray:
    """sympy: ``fn(*matrices)`` (sympy Matrix in, Matrix or scalar out) for each matrix of the
    broadcast batch; ``cores`` as in ``on_matrices``."""
    sp = bridge.sympy
    batch = np.broadcast_shapes(*[x.shape[:x.ndim - c] for x, c in zip(arrays, cores)])
    arrays = [np.broadcast_to(x, batch + x.shape[x.ndim - c:]) for x, c in zip(arrays, cores)]
    out = np.empty(batch + tail, dtype=object)
    for idx in np.ndindex(*batch):
        args = [sp.Matrix(x[idx].reshape(x.shape[len(batch):] + (1,) * (2 - c)).tolist())
                for x, c in zip(arrays, cores)]
        value = fn(*args)
        out[idx] = np.array(value.tolist(), dtype=object).reshape(tail) if tail else value
    return out


# ---------------------------------------------------------------------------
# solve and inv
# ---------------------------------------------------------------------------

class Solve(Op):
    """``np.linalg.solve(a, b)``: ``x`` with ``a @ x == b``, numpy 2's rule for ``b``.

    ``b`` is one vector ``(N,)`` only when it is 1-D; otherwise it is a stack of
    ``(N, K)`` matrices whose batch axes broadcast with ``a``'s.  Rules
    (Giles 2008): ``dx = solve(a, db - da x)``; ``bbar = solve(a.mT, xbar)``,
    ``abar = -bbar x.mT``.  A singular ``a`` is numpy's ``LinAlgError``, which
    evaluation reports as an ``EvaluationError`` naming the node.
    """

    name = "solve"
    linear_in = (1,)

    def infer(self, a, b):
        n = _square(a, "solve")
        if b.ndim == 1:
            if b.shape[0] != n:
                raise ShapeError(f"solve: b of shape {b.shape} does not fit a of shape {a.shape} "
                                 f"(b needs {n} rows)")
            shape = a.shape[:-1]
        else:
            if b.ndim == 0 or b.shape[-2] != n:
                raise ShapeError(f"solve: b of shape {b.shape} does not fit a of shape {a.shape} "
                                 f"(b must be ({n},) or (..., {n}, K))")
            try:
                batch = broadcast_shapes([a.shape[:-2], b.shape[:-2]], "solve")
            except ShapeError:
                raise ShapeError(f"solve: the batch dimensions of a {a.shape} and b {b.shape} "
                                 "cannot be broadcast together") from None
            shape = batch + b.shape[-2:]
        return shape, linalg_dtype(a.dtype, b.dtype, what="solve")

    def f(self, a, b):
        vector = np.ndim(b) == 1
        n = np.shape(a)[-1]
        tail = (n,) if vector else (n, np.shape(b)[-1])
        return on_matrices(functools.partial(solve_matrices, vector=vector), [a, b],
                           (2, 1 if vector else 2), tail,
                           linalg_dtype(a.dtype, b.dtype, what="solve"), "solve")

    def emit(self, out, ins, ctx):
        return f"{out} = np.linalg.solve({ins[0]}, {ins[1]})"

    def batch(self, inputs, batched):
        return batch_solve(self, *inputs, *batched)

    def sparsity(self, node):
        return solve_patterns(node)

    def jvp(self, inputs, out, tangents):
        (a, b), (da, db) = inputs, tangents
        vector = b.ndim == 1
        rhs = db
        if da is not None:
            dax = reshape(matmul(da, col(out)), out.shape) if vector else matmul(da, out)
            rhs = -dax if rhs is None else rhs - dax
        return None if rhs is None else _solve(a, rhs, vector)

    def bprop(self, inputs, out, g, needs):
        a, b = inputs
        vector = b.ndim == 1
        bbar = _solve(mT(a), g, vector)
        abar = None
        if needs[0]:
            abar = -(col(bbar) * row(out)) if vector else -matmul(bbar, mT(out))
            abar = sum_to(abar, a.shape)
        return [abar, sum_to(bbar, b.shape) if needs[1] else None]

    def to_sympy(self, bridge, node, a, b):
        vector = b.ndim == 1
        tail = node.shape[-1:] if vector else node.shape[-2:]
        return _per_matrix(bridge, [a, b], (2, 1 if vector else 2), tail, lambda m, r: m.LUsolve(r))


class Inv(Op):
    """``np.linalg.inv(a)``: rules ``dX = -X da X``, ``abar = -X.mT g X.mT`` (X the result)."""

    name = "inv"

    def infer(self, a):
        _square(a, "inv")
        return a.shape, linalg_dtype(a.dtype, what="inv")

    def f(self, a):
        return on_matrices(np.linalg.inv, [a], (2,), np.shape(a)[-2:],
                           linalg_dtype(a.dtype, what="inv"), "inv")

    def emit(self, out, ins, ctx):
        return f"{out} = np.linalg.inv({ins[0]})"

    stack_core = (2,)

    def sparsity(self, node):
        return [per_matrix(node, 0, 2, 2)]

    def jvp(self, inputs, out, tangents):
        (da,) = tangents
        return None if da is None else -matmul(out, matmul(da, out))

    def bprop(self, inputs, out, g):
        xt = mT(out)
        return [-matmul(xt, matmul(g, xt))]

    def to_sympy(self, bridge, node, a):
        # adj / det is sympy's inv(method="ADJ") without its costly invertibility check
        return _per_matrix(bridge, [a], (2,), node.shape[-2:],
                           lambda m: m.adjugate() / m.det(method="berkowitz"))


# ---------------------------------------------------------------------------
# det and the adjugate
# ---------------------------------------------------------------------------

class Det(Op):
    """``np.linalg.det(a)`` (LU).  ``d det = sum(adj(a).mT * da)``, the adjugate: right at
    singular matrices too (0 at rank N - 2 and below), unlike ``det * inv(a).mT``."""

    name = "det"

    def infer(self, a):
        _square(a, "det")
        return a.shape[:-2], linalg_dtype(a.dtype, what="det")

    def f(self, a):
        return on_matrices(np.linalg.det, [a], (2,), (), linalg_dtype(a.dtype, what="det"), "det")

    def emit(self, out, ins, ctx):
        return f"{out} = np.linalg.det({ins[0]})"

    stack_core = (2,)

    def sparsity(self, node):
        return [per_matrix(node, 0, 2, 0)]

    def jvp(self, inputs, out, tangents):
        (a,), (da,) = inputs, tangents
        return None if da is None else sum_(mT(adjugate(a)) * da, axis=(-2, -1))

    def bprop(self, inputs, out, g):
        return [_scalars(g) * mT(adjugate(inputs[0]))]

    def to_sympy(self, bridge, node, a):
        # Berkowitz: division-free, and much faster on symbols than the default Bareiss
        return _per_matrix(bridge, [a], (2,), (), lambda m: m.det(method="berkowitz"))


class Adjugate(Op):
    """The adjugate ``adj(a)`` (the transposed cofactor matrix: ``a @ adj(a) == det(a) I``),
    of each matrix of a stack; a polynomial in ``a``, defined and smooth everywhere.

    Computed through the SVD with no division (``adjugate_matrices``), so it is
    accurate at singular matrices, where ``det(a) * inv(a)`` is not.  ``adj`` of
    a 1x1 matrix is ``[[1]]``, of a 0x0 one empty.  Its derivative,
    ``AdjugateTangent``, is exact everywhere as well; the next one (the third
    derivative of ``det``) needs ``a`` nonsingular (see ``AdjugateTangent``).
    """

    name = "adjugate"

    def infer(self, a):
        _square(a, "adjugate")
        return a.shape, linalg_dtype(a.dtype, what="adjugate")

    def f(self, a):
        return on_matrices(adjugate_matrices, [a], (2,), np.shape(a)[-2:],
                           linalg_dtype(a.dtype, what="adjugate"), "adjugate")

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(adjugate_matrices)}({ins[0]})"

    stack_core = (2,)

    def sparsity(self, node):
        return [per_matrix(node, 0, 2, 2)]

    def jvp(self, inputs, out, tangents):
        (a,), (da,) = inputs, tangents
        return None if da is None else apply(AdjugateTangent(), [a, da])

    def bprop(self, inputs, out, g):
        # <g, D adj(a)[e]> = <D adj(a.mT)[g], e>: the map is adjoint to the one at a.mT
        return [apply(AdjugateTangent(), [mT(inputs[0]), g])]

    def to_sympy(self, bridge, node, a):
        return _per_matrix(bridge, [a], (2,), node.shape[-2:], lambda m: m.adjugate())


class AdjugateTangent(Op):
    """``D adj(a)[e]``: the derivative of the adjugate at ``a`` along ``e`` (same shapes).

    Exact at every ``a``, singular ones too (``adjugate_tangent_matrices``: the
    SVD, no division).  Linear in ``e``, whose adjoint is the same map at
    ``a.mT``.  Its derivative in ``a`` comes from ``a adj(a) = det(a) I``
    differentiated twice: ``a D2adj[e, f] = tr(D adj[f] e) I - e D adj[f] -
    f D adj[e]``, a solve with ``a``: exact where ``a`` is nonsingular, an
    ``EvaluationError`` (exactly singular) or inaccurate (nearly) at singular
    ``a``.  So ``det`` has exact first and second derivatives everywhere and
    higher ones where ``a`` is invertible.
    """

    name = "adjugate_tangent"
    linear_in = (1,)

    def infer(self, a, e):
        _square(a, "adjugate_tangent")
        if e.shape != a.shape:
            raise ShapeError(f"adjugate_tangent: the direction of shape {e.shape} must have the "
                             f"matrix's shape {a.shape}")
        return a.shape, linalg_dtype(a.dtype, e.dtype, what="adjugate_tangent")

    def f(self, a, e):
        return on_matrices(adjugate_tangent_matrices, [a, e], (2, 2), np.shape(a)[-2:],
                           linalg_dtype(a.dtype, e.dtype, what="adjugate_tangent"),
                           "adjugate_tangent")

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(adjugate_tangent_matrices)}({ins[0]}, {ins[1]})"

    # infer wants e of a's exact shape: the stacks must match
    stack_core = (2, 2)
    stack_broadcasts = False

    def sparsity(self, node):
        return [per_matrix(node, 0, 2, 2), per_matrix(node, 1, 2, 2)]

    def jvp(self, inputs, out, tangents):
        (a, e), (da, de) = inputs, tangents
        terms = []
        if de is not None:
            terms.append(apply(AdjugateTangent(), [a, de]))
        if da is not None:
            t_da = apply(AdjugateTangent(), [a, da])
            rhs = (_scalars(sum_(mT(t_da) * e, axis=(-2, -1))) * _eye_like(t_da)
                   - matmul(e, t_da) - matmul(da, out))
            terms.append(_solve(a, rhs, False))
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    def bprop(self, inputs, out, g, needs):
        a, e = inputs
        at = mT(a)
        abar = None
        if needs[0]:
            w = _solve(at, g, False)  # <g, solve(a, r)> = <w, r>
            et = mT(e)
            k = _scalars(_matrix_trace(w)) * et - matmul(et, w)
            abar = apply(AdjugateTangent(), [at, k]) - matmul(w, mT(out))
        return [abar, apply(AdjugateTangent(), [at, g]) if needs[1] else None]

    def to_sympy(self, bridge, node, a, e):
        # the coefficient of t in adj(a + t e), worked out once on plain symbols, then filled in
        sp = bridge.sympy
        n, t = node.shape[-1], sp.Dummy("t")
        sa = sp.Matrix(n, n, lambda i, j: sp.Dummy(f"a{i}{j}"))
        se = sp.Matrix(n, n, lambda i, j: sp.Dummy(f"e{i}{j}"))
        generic = (sa + t * se).adjugate().applyfunc(lambda z: sp.expand(z).coeff(t, 1))

        def tangent(m, d):
            return generic.xreplace({**dict(zip(sa, m)), **dict(zip(se, d))})

        return _per_matrix(bridge, [a, e], (2, 2), node.shape[-2:], tangent)


def det(a: Any) -> Node:
    """``np.linalg.det(a)``: the determinants of ``a (..., N, N)``, shape ``(...)``.

    Its gradient is the transposed adjugate, right at singular matrices too
    (not zero at rank N - 1, zero below), and so is its Hessian (the adjugate's
    derivative, through the SVD); third and higher derivatives solve with ``a``
    and need it invertible (an exactly singular one is an ``EvaluationError``).

    Examples
    --------
    >>> A = sg.variable("A", (2, 2))
    >>> d = sg.linalg.det(A)
    >>> sg.evaluate(sg.grad(d, A), {"A": np.array([[2., 1.], [1., 3.]])})
    array([[ 3., -1.],
           [-1.,  2.]])

    At a singular matrix the determinant is 0 but its gradient is not:

    >>> sg.evaluate(sg.grad(d, A), {"A": np.array([[1., 2.], [2., 4.]])})
    array([[ 4., -2.],
           [-2.,  1.]])
    """
    return apply(Det(), [matrices(a, "det", square=True)])


def adjugate(a: Any) -> Node:
    """The adjugate of each matrix of ``a (..., N, N)``: ``a @ adj(a) == det(a) * I``.

    numpy has no such function (sympy's ``Matrix.adjugate``); ``det(a) * inv(a)``
    where ``a`` is invertible, and accurate at singular matrices too (computed
    through the SVD).  Derivatives exact everywhere at first order and where ``a``
    is invertible beyond.  ``sg.linalg.matrix_transpose(sg.linalg.adjugate(a))``
    is the gradient of ``sg.linalg.det(a)``.

    Examples
    --------
    >>> A = sg.variable("A", (2, 2))
    >>> sg.evaluate(sg.linalg.adjugate(A), {"A": np.array([[1., 2.], [2., 4.]])})
    array([[ 4., -2.],
           [-2.,  1.]])
    """
    return apply(Adjugate(), [matrices(a, "adjugate", square=True)])


# ---------------------------------------------------------------------------
# slogdet
# ---------------------------------------------------------------------------

SLOGDET_PARTS = ("sign", "logabsdet")


class SlogdetResult(NamedTuple):
    """``np.linalg.slogdet``'s result: ``det(a) == sign * exp(logabsdet)``.

    A named tuple of two nodes: it unpacks like numpy's result, and
    ``.logabsdet`` names the differentiable part.

    Examples
    --------
    >>> r = sg.linalg.slogdet(sg.variable("A", (2, 2)))
    >>> r._fields
    ('sign', 'logabsdet')
    >>> sg.evaluate(list(r), {"A": np.array([[2., 1.], [1., 3.]])})
    [array(1.), array(1.60943791)]
    """

    sign: Node
    logabsdet: Node


class Slogdet(Op):
    """One part of ``np.linalg.slogdet(a)``: ``"sign"`` (+-1, or 0 for a singular matrix;
    no derivative) or ``"logabsdet"`` (``log|det a|``, -inf for a singular matrix) with
    ``d = tr(solve(a, da))`` and gradient ``inv(a).mT``."""

    name = "slogdet"
    param_types = {"part": one_of(*SLOGDET_PARTS)}

    def __init__(self, part: str) -> None:
        self.part = part

    def infer(self, a):
        _square(a, "slogdet")
        return a.shape[:-2], linalg_dtype(a.dtype, what="slogdet")

    def f(self, a):
        return on_matrices(functools.partial(slogdet_part, part=self.part), [a], (2,), (),
                           linalg_dtype(a.dtype, what="slogdet"), "slogdet")

    def emit(self, out, ins, ctx):
        return f"{out} = np.linalg.slogdet({ins[0]}).{self.part}"

    stack_core = (2,)

    def sparsity(self, node):
        return [None if self.part == "sign" else per_matrix(node, 0, 2, 0)]

    def jvp(self, inputs, out, tangents):
        (a,), (da,) = inputs, tangents
        if self.part == "sign" or da is None:
            return None  # the sign is piecewise constant
        return _matrix_trace(_solve(a, da, False))

    def bprop(self, inputs, out, g):
        if self.part == "sign":
            return [None]
        return [_scalars(g) * mT(apply(Inv(), [inputs[0]]))]

    def to_sympy(self, bridge, node, a):
        sp = bridge.sympy
        part = sp.sign if self.part == "sign" else (lambda d: sp.log(sp.Abs(d)))
        return _per_matrix(bridge, [a], (2,), (), lambda m: part(m.det(method="berkowitz")))


def slogdet(a: Any) -> SlogdetResult:
    """``np.linalg.slogdet(a)``: ``SlogdetResult(sign, logabsdet)`` of ``a (..., N, N)``.

    ``det(a) == sign * exp(logabsdet)`` without overflow; a singular matrix has
    sign 0 and logabsdet -inf.  The sign has no derivative (it is piecewise
    constant); logabsdet's gradient is ``inv(a).mT``.  The log-determinant of a
    Gaussian's likelihood is the usual use.

    Examples
    --------
    >>> A = sg.variable("A", (3, 3))
    >>> sign, logdet = sg.linalg.slogdet(A)
    >>> sg.evaluate(logdet, {"A": 1e200 * np.eye(3)})
    array(1381.5510558)
    >>> B = sg.variable("B", (2, 2))
    >>> sg.evaluate(sg.grad(sg.linalg.slogdet(B).logabsdet, B), {"B": [[2., 1.], [1., 3.]]})
    array([[ 0.6, -0.2],
           [-0.2,  0.4]])
    """
    x = matrices(a, "slogdet", square=True)
    return SlogdetResult(apply(Slogdet("sign"), [x]), apply(Slogdet("logabsdet"), [x]))


# ---------------------------------------------------------------------------
# pinv
# ---------------------------------------------------------------------------

class Pinv(Op):
    """``np.linalg.pinv(a, rcond, hermitian)``: the Moore-Penrose pseudo-inverse ``(..., N, M)``.

    Singular values up to ``rcond * max(s)`` are dropped (``rcond`` a float64
    array broadcasting against the batch).  ``hermitian=True`` is numpy's: the
    eigendecomposition of the symmetric matrix read from the lower triangle,
    so the derivative is that of ``pinv(tril(a) + tril(a, -1).mT)``.

    Derivative where the rank is constant (Golub & Pereyra 1973), ``P = pinv(a)``::

        dP = -P da P + P P.T da.T (I - a P) + (I - P a) da.T P.T P

    and its adjoint in reverse mode; ``I`` is never formed.  With singular values
    dropped by the cutoff that are not exactly 0, the rule is that of the pseudo-
    inverse of the truncated matrix moving with ``a`` and ignores how the dropped
    singular directions turn (exact for exact rank deficiency, full-rank input).
    """

    name = "pinv"
    param_types = {"rcond": ARRAY, "hermitian": BOOL}
    #: sympy's Matrix.pinv has no cutoff of small singular values (numpy's rcond)
    to_sympy = NO_SYMPY

    def __init__(self, rcond: np.ndarray, hermitian: bool) -> None:
        self.rcond = rcond
        self.hermitian = hermitian

    def infer(self, a):
        check_matrices(a.shape, "pinv", square=self.hermitian)
        if self.rcond.dtype != np.float64:
            raise SymgraphError(f"pinv: rcond must be a float64 array, got dtype "
                                f"{self.rcond.dtype}")
        batch = a.shape[:-2]
        try:
            fits = np.broadcast_shapes(self.rcond.shape, batch) == batch
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"pinv: rcond of shape {self.rcond.shape} does not broadcast to the "
                             f"batch shape {batch} of a {a.shape}")
        return batch + (a.shape[-1], a.shape[-2]), linalg_dtype(a.dtype, what="pinv")

    def f(self, a):
        m, n = np.shape(a)[-2:]
        return on_matrices(functools.partial(pinv_matrices, hermitian=self.hermitian),
                           [a, self.rcond], (2, 0), (n, m), linalg_dtype(a.dtype, what="pinv"),
                           "pinv")

    def emit(self, out, ins, ctx):
        rcond = repr(float(self.rcond)) if self.rcond.ndim == 0 else ctx.const(self.rcond)
        return f"{out} = np.linalg.pinv({ins[0]}, rcond={rcond}, hermitian={self.hermitian})"

    # rcond broadcasts against the stack from the right: the batch axis leaves it alone
    stack_core = (2,)

    def sparsity(self, node):
        n = node.inputs[0].shape[-1]
        core = outer_core(np.ones(n * n, dtype=bool), triangle_mask(n, True)) \
            if self.hermitian else None
        return [per_matrix(node, 0, 2, 2, core)]

    def _matrix(self, a: Node) -> Node:
        """The matrix whose pseudo-inverse numpy computes (hermitian: from the lower triangle)."""
        return symmetric_tangent(a, True) if self.hermitian else a

    def jvp(self, inputs, out, tangents):
        (a,), (da,) = inputs, tangents
        if da is None:
            return None
        a, p = self._matrix(a), out
        if self.hermitian:
            da = symmetric_tangent(da, True)
        dat, pt = mT(da), mT(p)
        first = -matmul(p, matmul(da, p))
        left = matmul(matmul(p, pt), dat - matmul(matmul(dat, a), p))     # P P^T da^T (I - a P)
        right = matmul(dat - matmul(p, matmul(a, dat)), matmul(pt, p))    # (I - P a) da^T P^T P
        return first + left + right

    def bprop(self, inputs, out, g):
        a, p = self._matrix(inputs[0]), out
        gt, pt = mT(g), mT(p)
        first = -matmul(pt, matmul(g, pt))
        left = matmul(gt - matmul(a, matmul(p, gt)), matmul(p, pt))       # (I - a P) g^T P P^T
        right = matmul(matmul(pt, p), gt - matmul(matmul(gt, p), a))      # P^T P g^T (I - P a)
        abar = first + left + right
        if self.hermitian:
            abar = triangle_cotangent(abar, True)
        return [abar]


_NO_VALUE = object()


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = _NO_VALUE) -> Node:
    """``np.linalg.pinv(a, rcond, hermitian, *, rtol)``: the Moore-Penrose pseudo-inverse.

    For ``a (..., M, N)`` the result is ``(..., N, M)``.  numpy's cutoffs:
    singular values ``<= rcond * max(s)`` are dropped; ``rcond`` (or its array-API
    name ``rtol``, not both) defaults to ``1e-15``, and ``rtol=None`` means
    ``max(M, N) * eps``.  ``rcond`` may be an array that broadcasts against the
    batch.  Differentiable where the rank is constant (see ``Pinv``).

    Examples
    --------
    ``pinv(X) @ y`` is the least-squares solution: a line through three points.

    >>> X, y = sg.variable("X", (3, 2)), sg.variable("y", (3,))
    >>> feed = {"X": np.array([[1., 0.], [1., 1.], [1., 2.]]), "y": np.array([1., 2., 4.])}
    >>> sg.evaluate(sg.linalg.pinv(X) @ y, feed)
    array([0.83333333, 1.5       ])
    """
    x = matrices(a, "pinv")
    if not isinstance(hermitian, (bool, np.bool_)):
        raise SymgraphError(f"pinv: hermitian must be True or False, got {hermitian!r}")
    if rcond is None:
        if rtol is _NO_VALUE:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(x.shape[-2:]) * np.finfo(linalg_dtype(x.dtype, what="pinv")).eps
        else:
            rcond = rtol
    elif rtol is not _NO_VALUE:
        raise SymgraphError("pinv: rtol and rcond cannot both be set")
    if isinstance(rcond, Node):
        raise SymgraphError("pinv: rcond must be a number or an array, not a node (the cutoff "
                            "has no derivative)")
    try:
        cut = np.array(rcond, dtype=np.float64)
    except (TypeError, ValueError):
        raise SymgraphError(f"pinv: rcond must be real numbers, got {rcond!r:.60}") from None
    return apply(Pinv(cut, bool(hermitian)), [x])


# ---------------------------------------------------------------------------
# solve, inv and matrix_power builders
# ---------------------------------------------------------------------------

def solve(a: Any, b: Any) -> Node:
    """``np.linalg.solve(a, b)``: ``x`` with ``a @ x == b`` for ``a (..., N, N)``.

    numpy 2's rule: ``b`` is a vector only when it is 1-D (``(N,)`` gives
    ``(..., N)``), otherwise a stack ``(..., N, K)`` whose batch axes broadcast
    with ``a``'s.  An exactly singular ``a`` fails at evaluation with an
    ``EvaluationError`` naming the node.  Faster and more accurate than
    ``inv(a) @ b``, and so are its derivatives (each one more solve with ``a``).

    Examples
    --------
    >>> A, b = sg.variable("A", (2, 2)), sg.variable("b", (2,))
    >>> x = sg.linalg.solve(A, b)
    >>> feed = {"A": np.array([[2., 1.], [1., 3.]]), "b": np.array([3., 5.])}
    >>> sg.evaluate(x, feed)
    array([0.8, 1.4])
    >>> sg.evaluate(sg.grad(x.sum(), b), feed)
    array([0.4, 0.2])
    >>> sg.linalg.solve(sg.variable("As", (10, 2, 2)), b).shape
    (10, 2)
    """
    a, b = as_nodes(a, b)
    check_matrices(a.shape, "solve", square=True)
    return apply(Solve(), [a, b])


def inv(a: Any) -> Node:
    """``np.linalg.inv(a)``: the inverses of ``a (..., N, N)``.

    An exactly singular matrix fails at evaluation with an ``EvaluationError``.
    Prefer ``solve(a, b)`` to ``inv(a) @ b``.  The gradient follows
    ``d inv(a) = -inv(a) da inv(a)``.

    Examples
    --------
    >>> A = sg.variable("A", (2, 2))
    >>> feed = {"A": np.array([[2., 1.], [1., 3.]])}
    >>> sg.evaluate(sg.linalg.inv(A), feed)
    array([[ 0.6, -0.2],
           [-0.2,  0.4]])
    >>> sg.evaluate(sg.grad(sg.linalg.inv(A).sum(), A), feed)
    array([[-0.16, -0.08],
           [-0.08, -0.04]])
    """
    return apply(Inv(), [matrices(a, "inv", square=True)])


def matrix_power(a: Any, n: int) -> Node:
    """``np.linalg.matrix_power(a, n)``: ``a (..., M, M)`` to the integer power ``n``.

    numpy's algorithm (so the same products in the same order): ``n == 0`` the
    identity in ``a``'s dtype and shape, ``n < 0`` powers of ``inv(a)``, and
    repeated squaring.  Differentiable through those products.

    Examples
    --------
    >>> A = sg.variable("A", (2, 2))
    >>> feed = {"A": np.array([[1., 1.], [0., 1.]])}
    >>> sg.evaluate(sg.linalg.matrix_power(A, 3), feed)
    array([[1., 3.],
           [0., 1.]])
    >>> sg.evaluate(sg.grad(sg.trace(sg.linalg.matrix_power(A, 3)), A), feed)
    array([[3., 0.],
           [6., 3.]])
    """
    x = matrices(a, "matrix_power", square=True)
    if isinstance(n, Node):
        raise DTypeError("matrix_power: exponent must be an integer, not a node (the number of "
                         "products is fixed when the graph is built)")
    try:
        n = operator.index(n)
    except TypeError:
        raise DTypeError(f"matrix_power: exponent must be an integer, got "
                         f"{type(n).__name__} {n!r:.40}") from None
    if n == 0:
        return broadcast_to(eye(x.shape[-1], dtype=x.dtype, graph=x.graph), x.shape)
    if n < 0:
        x, n = inv(x), -n
    if n == 1:
        return x
    if n == 2:
        return matmul(x, x)
    if n == 3:
        return matmul(matmul(x, x), x)
    z = result = None
    while n > 0:
        z = x if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


__all__: list[str] = []

"""Triangular solves and the Cholesky factorization: O(n^2) per solve once factored.

``solve_triangular`` is its own op (scipy.linalg semantics) so Cholesky-based
code (Gaussian-process likelihoods, whitening, ``cho_solve``) never pays for a
general solve or an inverse; ``cholesky``'s derivative rules are triangular
solves too (Murray, "Differentiation of the Cholesky decomposition", 2016).
Both read one triangle of their matrix only, and their derivatives are those
of the functions they compute: zero with respect to the triangle never read.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..errors import ShapeError, SymgraphError
from ..graph import Node, apply
from .. import kernels
from .base import BOOL, NO_SYMPY, Op, as_node, broadcast_shapes
from .linalg import (batch_solve, check_matrices, col, flag, linalg_dtype, matmul, matrices, mT,
                     on_matrices, solve_patterns, symmetric_tangent, triangle)
from .linalg_patterns import cholesky_core, outer_core, triangle_mask, triangular_solve_core
from .patterns import per_matrix
from .shape import reshape, sum_to
from .matrix_parts import DiagEmbed, diagonal, tril


def triangular_solve(a, b, trans, lower, unit_diagonal, vector):
    """scipy's batched ``solve_triangular``; a ``vector`` b (possibly broadcast to a batch of
    vectors, as in a dask block) is solved as one column.  Compiled code calls this too."""
    import scipy.linalg

    if vector:
        b = b[..., None]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    if 0 in batch:  # scipy refuses empty stacks (an empty batch of examples)
        dtype = np.result_type(*[d if d.kind == "f" else np.float64 for d in (a.dtype, b.dtype)])
        x = np.zeros(batch + b.shape[-2:], dtype)
        return x[..., 0] if vector else x
    x = scipy.linalg.solve_triangular(a, b, trans=int(trans), lower=lower,
                                      unit_diagonal=unit_diagonal, check_finite=False)
    # C order, whatever layout LAPACK left: the products that follow then take one path
    return np.ascontiguousarray(x[..., 0] if vector else x)


def solved_shape(a: tuple[int, ...], b: tuple[int, ...], what: str) -> tuple[int, ...]:
    """The shape of ``x`` in ``a x = b``: ``b`` is one vector when 1-D, else ``(..., N, K)``.

    numpy 2's rule for ``np.linalg.solve`` (scipy's for its batched solvers):
    the batch axes of ``a`` and of a matrix ``b`` broadcast.
    """
    check_matrices(a, what, square=True)
    n = a[-1]
    if len(b) == 0:
        raise ShapeError(f"{what}: b must be a vector (N,) or matrices (..., N, K), got a scalar")
    if len(b) == 1:
        if b[0] != n:
            raise ShapeError(f"{what}: a of shape {a} and vector b of shape {b} do not align "
                             f"({n} != {b[0]})")
        return a[:-1]
    if b[-2] != n:
        raise ShapeError(f"{what}: a of shape {a} and b of shape {b} do not align: b's rows "
                         f"(axis -2) must be {n} (a 1-D b is one vector; a batch of vectors is "
                         "(..., N, 1))")
    return broadcast_shapes([a[:-2], b[:-2]], f"{what} batch dimensions") + b[-2:]


class SolveTriangular(Op):
    """``x`` with ``op(a) x = b``, ``a`` triangular (``op(a)`` is ``a.mT`` when ``trans``).

    Only the ``lower`` (or upper) triangle of ``a`` is read, and not its
    diagonal when ``unit_diagonal`` (taken as ones).  Reverse mode solves with
    the transposed system; forward mode solves ``op(a) dx = db - op(da) x``.
    """

    name = "solve_triangular"
    linear_in = (1,)
    param_types = {"trans": BOOL, "lower": BOOL, "unit_diagonal": BOOL}

    def __init__(self, trans: bool = False, lower: bool = False, unit_diagonal: bool = False) -> None:
        self.trans, self.lower, self.unit_diagonal = trans, lower, unit_diagonal

    def describe(self) -> str:
        """``solve_triangular(trans, lower)``: the flags that are set (pictures stay narrow)."""
        flags = [k for k in ("trans", "lower", "unit_diagonal") if getattr(self, k)]
        return f"{self.name}({', '.join(flags)})" if flags else self.name

    def infer(self, a, b):
        return (solved_shape(a.shape, b.shape, "solve_triangular"),
                linalg_dtype(a.dtype, b.dtype, what="solve_triangular"))

    def f(self, a, b):
        shape = solved_shape(a.shape, b.shape, "solve_triangular")
        dtype = linalg_dtype(a.dtype, b.dtype)

        vector = b.ndim == 1
        solve = functools.partial(triangular_solve, trans=self.trans, lower=self.lower,
                                  unit_diagonal=self.unit_diagonal, vector=vector)
        return on_matrices(solve, [a, b], (2, 1 if vector else 2), shape[-(1 if vector else 2):],
                           dtype, "solve_triangular")

    def emit(self, out, ins, ctx):
        vector = len(ctx.in_shapes[1]) == 1
        return (f"{out} = {ctx.helper(triangular_solve)}({ins[0]}, {ins[1]}, {self.trans}, "
                f"{self.lower}, {self.unit_diagonal}, {vector})")

    def batch(self, inputs, batched):
        return batch_solve(self, *inputs, *batched)

    def sparsity(self, node):
        """Row i of x reads op(a)'s triangle up to row i (from row i on, when op(a) is upper)
        and of b the rows inv(op(a)) mixes into it."""
        a, b = node.inputs
        n, k = a.shape[-1], 1 if b.ndim == 1 else b.shape[-1]
        core = triangular_solve_core(n, k, self.lower, self.trans, self.unit_diagonal)
        inverse = np.tri(n, dtype=bool) if self.lower != self.trans else np.tri(n, dtype=bool).T
        return solve_patterns(node, core, inverse)

    def read(self, da: Node) -> Node:
        """The part of ``da`` this solve reads: its triangle (without the diagonal if unit)."""
        return triangle(da, self.lower, -1 if self.unit_diagonal else 0)

    def op_of(self, m: Node) -> Node:
        return mT(m) if self.trans else m

    def jvp(self, inputs, out, tangents):
        a, b = inputs
        da, db = tangents
        vector = b.ndim == 1  # rules work on columns (..., N, 1), as f does for batches
        x = col(out) if vector else out
        rhs = None if db is None else (col(db) if vector else db)
        if da is not None:
            dax = matmul(self.op_of(self.read(da)), x)
            rhs = -dax if rhs is None else rhs - dax
        if rhs is None:
            return None
        dx = self._solve_with(a, rhs, self.trans)
        return reshape(dx, out.shape) if vector else dx

    def bprop(self, inputs, out, g, needs):
        a, b = inputs
        vector = b.ndim == 1
        gb = self._solve_with(a, col(g) if vector else g, not self.trans)
        ga = None
        if needs[0]:
            x = col(out) if vector else out
            outer = matmul(x, mT(gb)) if self.trans else matmul(gb, mT(x))  # -x gb^T or -gb x^T
            ga = sum_to(-self.read(outer), a.shape)
        if not needs[1]:
            return [ga, None]
        return [ga, sum_to(reshape(gb, out.shape) if vector else gb, b.shape)]

    def _solve_with(self, a: Node, rhs: Node, trans: bool) -> Node:
        return solve_triangular(a, rhs, trans=trans, lower=self.lower,
                                unit_diagonal=self.unit_diagonal)

    def to_sympy(self, bridge, node, a, b):
        sp = bridge.sympy
        out = np.empty(node.shape, dtype=object)
        vector = b.ndim == 1
        a, b = np.broadcast_to(a, node.shape[:-1 if vector else -2] + a.shape[-2:]), (
            b if vector else np.broadcast_to(b, node.shape))
        for idx in np.ndindex(*a.shape[:-2]):
            m = sp.Matrix(_read_triangle(a[idx], self.lower, self.unit_diagonal))
            m = m.T if self.trans else m
            rhs = sp.Matrix(b if vector else b[idx])
            sol = m.lower_triangular_solve(rhs) if self.lower != self.trans else \
                m.upper_triangular_solve(rhs)
            out[idx] = np.array(sol, dtype=object).reshape(out[idx].shape)
        return out


def _read_triangle(m: np.ndarray, lower: bool, unit: bool) -> np.ndarray:
    """One matrix as a triangular solver sees it (object arrays of sympy expressions too)."""
    n = m.shape[-1]
    keep = np.tril(np.ones((n, n), bool), -1 if unit else 0)
    keep = keep if lower else keep.T
    out = np.where(keep, m, 0).astype(object)
    if unit:
        out[np.diag_indices(n)] = 1
    return out


def _trans_flag(trans: Any) -> bool:
    """scipy's ``trans``: 0/'N' (a), 1/'T' or 2/'C' (a.T; real matrices)."""
    if isinstance(trans, (bool, np.bool_)):
        return bool(trans)
    choices = {0: False, 1: True, 2: True, "N": False, "T": True, "C": True}
    if isinstance(trans, (int, np.integer, str)) and trans in choices:
        return choices[trans]
    raise SymgraphError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")


def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False,
                     unit_diagonal: bool = False) -> Node:
    """``scipy.linalg.solve_triangular``: ``x`` with ``a x = b`` (``a.T x = b`` if ``trans``).

    ``a`` is ``(..., N, N)``, of which only the ``lower`` (default: upper)
    triangle is read, and with ``unit_diagonal`` not its diagonal either (taken
    as ones).  ``b`` is one vector ``(N,)`` or matrices ``(..., N, K)``; batch
    axes broadcast.  O(N^2 K) per matrix, derivatives included (they are
    triangular solves too).  A zero on the diagonal raises ``sg.EvaluationError``.

    Examples
    --------
    The upper triangle (here 99) is never read:

    >>> T, y = sg.variable("T", (2, 2)), sg.variable("y", (2,))
    >>> x = sg.linalg.solve_triangular(T, y, lower=True)
    >>> sg.evaluate(x, {"T": np.array([[2., 99.], [1., 4.]]), "y": np.array([2., 9.])})
    array([1., 2.])
    >>> sg.evaluate(sg.grad(x.sum(), y), {"T": [[2., 0.], [1., 4.]], "y": [0., 0.]})
    array([0.375, 0.25 ])
    """
    a = matrices(a, "solve_triangular", square=True)
    b = as_node(b)
    op = SolveTriangular(_trans_flag(trans), flag(lower, "solve_triangular: lower"),
                         flag(unit_diagonal, "solve_triangular: unit_diagonal"))
    return apply(op, [a, b])


class Cholesky(Op):
    """The lower Cholesky factor ``L`` of ``a = L L^T`` (``(..., N, N)``), reading a's lower triangle.

    Forward mode (Murray 2016): ``dL = L Phi(L^-1 S L^-T)`` with ``S`` the
    symmetric tangent of the lower triangle and ``Phi`` the lower triangle with
    a halved diagonal; reverse mode is its adjoint, ``L^-T Phi(L^T gL) L^-1``
    mapped back to the lower triangle.  Only triangular solves, no inverse.
    """

    name = "cholesky"

    def infer(self, a):
        check_matrices(a.shape, "cholesky", square=True)
        return a.shape, linalg_dtype(a.dtype, what="cholesky")

    def f(self, a):
        return on_matrices(cholesky_matrices, [a], (2,), a.shape[-2:], linalg_dtype(a.dtype),
                           "cholesky")

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(cholesky_matrices)}({ins[0]})"

    stack_core = (2,)

    def sparsity(self, node):
        return [per_matrix(node, 0, 2, 2, cholesky_core(node.shape[-1]))]

    def jvp(self, inputs, out, tangents):
        (da,) = tangents
        return None if da is None else cholesky_tangent(out, da)

    def bprop(self, inputs, out, g, needs):
        return [apply(CholeskyGrad(), [out, g])]

    def to_sympy(self, bridge, node, a):
        sp = bridge.sympy
        out = np.empty(node.shape, dtype=object)
        for idx in np.ndindex(*a.shape[:-2]):
            m = np.tril(a[idx]) + np.tril(a[idx], -1).T  # the symmetric matrix numpy reads
            out[idx] = np.array(sp.Matrix(m).cholesky(hermitian=False), dtype=object)
        return out


def cholesky_matrices(a: np.ndarray) -> np.ndarray:
    """``np.linalg.cholesky``, saying what it needs when it fails (compiled code calls it too)."""
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError as e:
        raise np.linalg.LinAlgError(f"{e}: cholesky needs symmetric positive-definite matrices "
                                    "(of which it reads one triangle)") from None


def cholesky_tangent(L: Node, da: Node) -> Node:
    """``dL = L Phi(L^-1 S L^-T)``: how ``L = cholesky(a)`` moves when ``a`` moves by ``da``
    (``S`` the symmetric tangent of a's lower triangle); one ``CholeskyTangent`` node."""
    return apply(CholeskyTangent(), [L, da])


class CholeskyTangent(Op):
    """Cholesky's forward rule: ``dL = L Phi(L^-1 S L^-T)`` from ``L`` and a's tangent ``da``.

    ``S`` is the symmetric matrix da's lower triangle stands for; both inputs
    read lower.  Computed by a blocked forward-mode Cholesky
    (``kernels.cholesky_tangent``, under a quarter of the closed form's flops) and
    differentiated through the closed form, with ``Z = L^-1 S L^-T`` read back
    from the result (``Phi(Z) = L^-1 dL``).  Its bprop in ``da`` is
    ``cholesky_grad`` (the two rules are each other's transposes).
    """

    name = "cholesky_tangent"
    linear_in = (1,)

    def infer(self, L, da):
        return _paired_shape(L, da, "cholesky_tangent"), linalg_dtype(L.dtype, da.dtype,
                                                                      what="cholesky_tangent")

    def f(self, L, da):
        shape = _paired_shape(L, da, "cholesky_tangent")
        return on_matrices(kernels.cholesky_tangent, [L, da], (2, 2), shape[-2:],
                           linalg_dtype(L.dtype, da.dtype), "cholesky_tangent")

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(kernels.cholesky_tangent)}({ins[0]}, {ins[1]})"

    stack_core = (2, 2)

    def sparsity(self, node):
        """dL[i, j] reads L and da where Cholesky's L[i, j] reads a (its forward recursion)."""
        core = cholesky_core(node.shape[-1])
        return [per_matrix(node, k, 2, 2, core) for k in range(2)]

    @staticmethod
    def _z(L: Node, out: Node) -> tuple[Node, Node]:
        """``Phi(Z)`` and the symmetric ``Z`` behind the result ``out = L Phi(Z)``."""
        phi_z = solve_triangular(L, out, lower=True)
        return phi_z, phi_z + mT(phi_z)

    def jvp(self, inputs, out, tangents):
        L, da = inputs
        tL, tda = tangents
        res = None if tda is None else apply(CholeskyTangent(), [L, tda])
        if tL is not None:
            dL = triangle(tL, True)
            phi_z, z = self._z(L, out)
            y = solve_triangular(L, matmul(dL, z), lower=True)  # L^-1 dL Z
            term = matmul(dL, phi_z) - matmul(triangle(L, True), _phi(y + mT(y)))
            res = term if res is None else res + term
        return res

    def bprop(self, inputs, out, g, needs):
        L, da = inputs
        gl = triangle(g, True)  # the result is lower triangular
        gL = None
        if needs[0]:
            phi_z, z = self._z(L, out)
            w = _phi(matmul(mT(triangle(L, True)), gl))
            gL = triangle(matmul(gl, mT(phi_z))
                          - solve_triangular(L, matmul(w + mT(w), z), trans=1, lower=True), True)
            gL = sum_to(gL, L.shape)
        gda = sum_to(apply(CholeskyGrad(), [L, gl]), da.shape) if needs[1] else None
        return [gL, gda]

    to_sympy = NO_SYMPY  # an internal rule; sympy differentiates Cholesky's translation itself


def _paired_shape(L: Node, other: Node, what: str) -> tuple[int, ...]:
    """The broadcast shape of two stacks of square matrices of one size (a factor and a
    matrix moving with it)."""
    check_matrices(L.shape, what, square=True)
    check_matrices(other.shape, what, square=True)
    if L.shape[-1] != other.shape[-1]:
        raise ShapeError(f"{what}: L {L.shape} and {other.shape} differ in size")
    return broadcast_shapes([L.shape[:-2], other.shape[:-2]], what) + L.shape[-2:]


class CholeskyGrad(Op):
    """Cholesky's reverse rule: a's gradient (lower triangle) from ``L`` and L's gradient ``g``.

    The value is ``Phi(C)`` with ``C = L^-T (P + P^T) L^-1``, ``P = Phi(L^T g)``
    (Murray 2016; both inputs read lower); it is computed by Murray's blocked
    algorithm (``kernels.cholesky_grad``), three times cheaper than the closed
    form, and differentiated through the closed form, so second order works.
    Its jvp is itself applied to a moved ``g`` minus a correction; its bprop is
    Cholesky's jvp (the two rules are each other's transposes).
    """

    name = "cholesky_grad"
    linear_in = (1,)

    def infer(self, L, g):
        return _paired_shape(L, g, "cholesky_grad"), linalg_dtype(L.dtype, g.dtype,
                                                                  what="cholesky_grad")

    def f(self, L, g):
        shape = _paired_shape(L, g, "cholesky_grad")
        return on_matrices(kernels.cholesky_grad, [L, g], (2, 2), shape[-2:],
                           linalg_dtype(L.dtype, g.dtype), "cholesky_grad")

    def emit(self, out, ins, ctx):
        return f"{out} = {ctx.helper(kernels.cholesky_grad)}({ins[0]}, {ins[1]})"

    stack_core = (2, 2)

    def sparsity(self, node):
        """The transpose of Cholesky's pattern in g; every entry of L's lower triangle may
        enter each entry of the (lower) result."""
        n = node.shape[-1]
        lower = triangle_mask(n, True)
        return [per_matrix(node, 0, 2, 2, outer_core(lower, lower)),
                per_matrix(node, 1, 2, 2, cholesky_core(n).T.tocsr())]

    def jvp(self, inputs, out, tangents):
        L, g = inputs
        dL, dg = tangents
        if dL is None:
            return None if dg is None else apply(CholeskyGrad(), [L, dg])
        # With W = dL L^-1 (lower): dE = cholesky_grad(L, dg + W^T g) - Phi(W^T C + C W),
        # C = E + E^T; W^T = L^-T dL^T is upper triangular, so its products are trmm's.
        wt = triangle(solve_triangular(L, mT(triangle(dL, True)), trans=1, lower=True), False)
        moved = matmul(wt, g) if dg is None else dg + matmul(wt, g)
        wc = matmul(wt, out + mT(out))
        return apply(CholeskyGrad(), [L, moved]) - _phi(wc + mT(wc))

    def bprop(self, inputs, out, gE, needs):
        L, g = inputs
        h = cholesky_tangent(L, gE)  # the adjoint of g -> cholesky_grad(L, g)
        gL = None
        if needs[0]:
            q = symmetric_tangent(gE, lower=True)
            c = out + mT(out)
            gL = triangle(matmul(g, mT(solve_triangular(L, h, lower=True)))
                          - matmul(c, mT(solve_triangular(L, q, lower=True))), True)
            gL = sum_to(gL, L.shape)
        return [gL, sum_to(h, g.shape) if needs[1] else None]

    to_sympy = NO_SYMPY  # an internal rule; sympy differentiates Cholesky's translation itself


def _phi(x: Node) -> Node:
    """The lower triangle of ``x`` with its diagonal halved (no n x n mask constant)."""
    a1, a2 = x.ndim - 2, x.ndim - 1
    half_diagonal = 0.5 * diagonal(x, 0, a1, a2)
    return tril(x) - apply(DiagEmbed(x.shape, 0, a1, a2), [half_diagonal])


def cholesky(a: Any, upper: bool = False) -> Node:
    """``np.linalg.cholesky``: ``L`` lower triangular with ``a = L @ L.mT`` (``upper``: ``U = L.mT``).

    Reads only the lower triangle of ``a`` (with ``upper``, the upper one), as
    numpy does, so the gradient with respect to the other triangle is zero; for a
    symmetric ``a`` built from parameters the chain rule adds both halves up.  A
    matrix that is not positive definite raises ``sg.EvaluationError`` naming the
    node.  The stable way to a log-determinant or a solve with a covariance.

    Examples
    --------
    >>> K = sg.variable("K", (2, 2))
    >>> L = sg.linalg.cholesky(K)
    >>> feed = {"K": np.array([[4., 2.], [2., 5.]])}
    >>> sg.evaluate(L, feed)
    array([[2., 0.],
           [1., 2.]])

    The log-determinant from the factor; its gradient lands on the lower
    triangle the factor reads (the off-diagonal entry counts for both):

    >>> logdet = 2 * sg.sum(sg.log(sg.linalg.diagonal(L)))
    >>> sg.evaluate(sg.grad(logdet, K), feed)
    array([[ 0.3125,  0.    ],
           [-0.25  ,  0.25  ]])
    """
    x = matrices(a, "cholesky", square=True)
    if flag(upper, "cholesky: upper"):  # numpy then reads the upper triangle
        return mT(apply(Cholesky(), [mT(x)]))
    return apply(Cholesky(), [x])


def cho_solve(c_and_lower: Any, b: Any) -> Node:
    """``scipy.linalg.cho_solve``: ``x`` with ``a x = b`` from ``(c, lower)``, a's Cholesky factor.

    ``c`` is ``L`` (``lower=True``, ``a = L L^T``) or ``U`` (``a = U^T U``), as
    ``cholesky`` returns it; two triangular solves, O(N^2) per column of b, so a
    factor computed once serves many solves.

    Examples
    --------
    >>> K, y = sg.variable("K", (2, 2)), sg.variable("y", (2,))
    >>> x = sg.linalg.cho_solve((sg.linalg.cholesky(K), True), y)
    >>> feed = {"K": np.array([[4., 2.], [2., 5.]]), "y": np.array([8., 9.])}
    >>> sg.evaluate(x, feed)
    array([1.375, 1.25 ])
    >>> sg.evaluate(sg.grad(x.sum(), y), feed)
    array([0.1875, 0.125 ])
    """
    try:
        c, lower = c_and_lower
    except (TypeError, ValueError):
        raise SymgraphError("cho_solve: the first argument is the pair (c, lower), as from "
                            "scipy.linalg.cho_factor") from None
    lower = flag(lower, "cho_solve: lower")
    c = matrices(c, "cho_solve", square=True)
    y = solve_triangular(c, b, trans=0 if lower else 1, lower=lower)
    return solve_triangular(c, y, trans=1 if lower else 0, lower=lower)


__all__: list[str] = []

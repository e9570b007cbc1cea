"""The QR decomposition (numpy's ``qr``) with its derivatives.

Forward mode is JAX's ``qr_jvp_rule`` (real case), reverse mode PyTorch's
``linalg_qr_backward``; both extended to wide matrices by splitting
``a = [x | y]``, ``r = [u | v]``: ``x = q u`` is a square QR and ``v = q^T y``.
Products with ``r^-1`` are triangular solves.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from ..errors import SymgraphError
from ..graph import Node, apply
from .base import NO_SYMPY, Op, one_of
from .linalg import (Factorizer, check_matrices, factor_parts, linalg_dtype, matmul, matrices, mT,
                     on_matrices, register_factorization, symmetric_tangent)
from .linalg_patterns import qr_core
from .matrix_parts import tril
from .patterns import per_matrix
from .shape import concatenate
from .sources import zeros
from .triangular import solve_triangular

#: The parts of ``a = q @ r`` each ``Qr`` node computes.
QR_PARTS = ("q", "r")
#: numpy's modes that return functions of the input
QR_MODES = ("reduced", "complete", "r")
#: numpy's other modes, and why they are refused
_REFUSED_MODES = {
    "raw": "mode='raw' returns LAPACK's Householder reflectors and tau, which have no derivative "
           "rules here",
    "full": "mode='full' is numpy's deprecated spelling of 'reduced'",
    "f": "mode='f' is numpy's deprecated spelling of 'reduced'",
    "economic": "mode='economic' is deprecated in numpy (it returns the raw reflectors)",
    "e": "mode='e' is deprecated in numpy (it returns the raw reflectors)",
}


class QRResult(NamedTuple):
    """``np.linalg.qr``'s result: ``a = Q @ R``.

    Q has orthonormal columns and R is upper triangular.  A named tuple of two nodes: it
    unpacks as ``Q, R`` like numpy's result.

    Examples
    --------
    >>> r = sg.linalg.qr(sg.variable("a", (3, 2)))
    >>> r._fields
    ('Q', 'R')
    >>> r.Q.shape, r.R.shape
    ((3, 2), (2, 2))
    """

    Q: Node
    R: Node


def qr_part(a: np.ndarray, part: str) -> np.ndarray:
    """One part of numpy's reduced QR of a stack of matrices (``r`` alone by ``mode='r'``)."""
    return np.linalg.qr(a, mode="r") if part == "r" else np.linalg.qr(a)[0]


class Qr(Op):
    """One part of the reduced QR decomposition ``a = q @ r`` of matrices ``(..., m, n)``.

    ``part`` is ``"q"`` (``(..., m, k)``, orthonormal columns) or ``"r"``
    (``(..., k, n)``, upper triangular), ``k = min(m, n)``: exactly what
    ``np.linalg.qr(a)`` returns (``r`` by ``mode='r'``, which skips forming q).

    Derivatives to any order (rules with symgraph ops and triangular solves):
    forward JAX's ``qr_jvp_rule``, reverse PyTorch's ``linalg_qr_backward``, one
    term per part.  Gauge: LAPACK's Householder QR picks the sign of each
    diagonal element of r (a column of q flips with the row of r); the signs
    stay put under small changes of ``a``, so the derivatives are those of what
    numpy returns, but other libraries (or float32 against float64) may pick
    other signs: compare ``q * sign(diag(r))``, ``q @ q.mT`` or ``r.mT @ r``.

    Rank: the rules solve with r (``u = r[..., :m]`` for wide matrices), so
    they need the first k columns of ``a`` linearly independent (no zero on
    r's diagonal); there q is not a function of ``a`` and the rules give inf/nan.
    """

    name = "qr"
    param_types = {"part": one_of(*QR_PARTS)}
    #: sympy's ``Matrix.QRdecomposition`` (Gram-Schmidt) makes r's diagonal positive; LAPACK's
    #: Householder signs differ
    to_sympy = NO_SYMPY

    def __init__(self, part: str) -> None:
        self.part = part

    def infer(self, x):
        check_matrices(x.shape, "qr")
        return x.shape[:-2] + self.tail(*x.shape[-2:]), linalg_dtype(x.dtype, what="qr")

    def tail(self, m: int, n: int) -> tuple[int, ...]:
        """The shape this part takes for one ``m x n`` matrix."""
        k = min(m, n)
        return (m, k) if self.part == "q" else (k, n)

    def f(self, x):
        return on_matrices(functools.partial(qr_part, part=self.part), [x], (2,),
                           self.tail(*x.shape[-2:]), linalg_dtype(x.dtype, what="qr"), "qr")

    def emit(self, out, ins, ctx):
        if self.part == "r":
            return f"{out} = np.linalg.qr({ins[0]}, mode='r')"
        return f"{out} = np.linalg.qr({ins[0]})[0]"

    stack_core = (2,)

    def sparsity(self, node):
        return [self.matrix_pattern(node, 0)]

    def matrix_pattern(self, node: Node, k: int) -> Any:
        """The rule for input ``k``, the matrices (``FactorPart`` shares it): column j of q
        reads a's first j + 1 columns, ``r[i, j]`` those up to i and column j."""
        m, n = node.inputs[k].shape[-2:]
        return per_matrix(node, k, 2, 2, qr_core(m, n, self.part))

    def jvp(self, inputs, out, tangents):
        (x,), (dx,) = inputs, tangents
        if dx is None:
            return None
        q, r = qr_factors(x)
        m, n = x.shape[-2:]
        if m >= n:
            dx_rinv, upper = _square_jvp(q, r, dx)
            return dx_rinv - matmul(q, upper) if self.part == "q" else matmul(upper, r)
        # wide: x = [x1 | y], r = [u | v] with x1 = q u and v = q^T y
        u = r[..., :m]
        dx_rinv, upper = _square_jvp(q, u, dx[..., :m])
        dq = dx_rinv - matmul(q, upper)
        if self.part == "q":
            return dq
        dv = matmul(mT(dq), x[..., m:]) + matmul(mT(q), dx[..., m:])
        return concatenate([matmul(upper, u), dv], axis=-1)

    def bprop(self, inputs, out, g, needs):
        (x,) = inputs
        q, r = qr_factors(x)
        m, n = x.shape[-2:]
        if m >= n:
            return [_square_bprop(q, r, g, None) if self.part == "q" else
                    _square_bprop(q, r, None, g)]
        u = r[..., :m]
        if self.part == "q":
            gx = _square_bprop(q, u, g, None)
            return [concatenate([gx, zeros(x.shape[:-1] + (n - m,), g.dtype, graph=g.graph)],
                                axis=-1)]
        gu, gv = g[..., :m], g[..., m:]
        gx = _square_bprop(q, u, matmul(x[..., m:], mT(gv)), gu)
        return [concatenate([gx, matmul(q, gv)], axis=-1)]


def _times_r_inverse(z: Node, r: Node) -> Node:
    """``z @ inv(r)`` for upper triangular ``r``: ``r^T (z @ inv(r))^T = z^T``."""
    return mT(solve_triangular(r, mT(z), trans=1, lower=False))


def _times_r_inverse_t(z: Node, r: Node) -> Node:
    """``z @ inv(r)^T`` for upper triangular ``r``: ``r (z @ inv(r)^T)^T = z^T``."""
    return mT(solve_triangular(r, mT(z), trans=0, lower=False))


def _square_jvp(q: Node, r: Node, dx: Node) -> tuple[Node, Node]:
    """``(dx r^-1, dr r^-1)`` for ``x = q r`` with square r (``m >= n``), from which
    ``dq = dx r^-1 - q (dr r^-1)`` and ``dr``: JAX's ``qr_jvp_rule``.  ``q^T dx r^-1`` is
    ``q^T dq`` (skew) plus ``dr r^-1`` (upper triangular), so the skew part is fixed by
    its strict lower triangle."""
    dx_rinv = _times_r_inverse(dx, r)
    qt_dx_rinv = matmul(mT(q), dx_rinv)
    low = tril(qt_dx_rinv, -1)
    return dx_rinv, qt_dx_rinv - low + mT(low)


def _square_bprop(q: Node, r: Node, gq: Node | None, gr: Node | None) -> Node:
    """The cotangent of ``x = q r`` (square r, ``m >= n``) from those of q and r, PyTorch's
    ``linalg_qr_backward``: ``[gq + q copyltu(r gr^T - gq^T q)] r^-T``."""
    if gq is None:
        return _times_r_inverse_t(matmul(q, symmetric_tangent(matmul(r, mT(gr)), True)), r)
    inner = -matmul(mT(gq), q)
    if gr is not None:
        inner = inner + matmul(r, mT(gr))
    return _times_r_inverse_t(gq + matmul(q, symmetric_tangent(inner, True)), r)


def qr_factors(x: Node) -> tuple[Node, Node]:
    """``(q, r)`` of the matrices ``x``, from one ``np.linalg.qr``."""
    q, r = factor_parts(x, "qr")
    return q, r


def qr_all(a: np.ndarray) -> tuple:
    """numpy's reduced QR ``(q, r)`` of a stack of matrices."""
    return tuple(np.linalg.qr(a))


def qr(a: Any, mode: str = "reduced") -> QRResult | Node:
    """``np.linalg.qr(a, mode)``: ``Q, R`` with ``a = Q @ R`` for matrices ``(..., M, N)``.

    ``mode='reduced'`` (numpy's default): Q ``(..., M, K)`` with orthonormal
    columns, R ``(..., K, N)`` upper triangular, ``K = min(M, N)``; ``'r'``: R
    alone (Q is not formed); ``'complete'``: the same as reduced where that is
    numpy's answer (``M <= N``).  For tall matrices complete mode pads Q with a
    basis of the orthogonal complement, which is not a function of ``a`` (no
    derivative), so it is refused, as is ``'raw'`` (LAPACK's reflectors).

    Derivatives (forward JAX's rule, reverse PyTorch's) need the first K
    columns linearly independent.  The signs of R's diagonal are LAPACK's
    (locally constant); see ``Qr`` for the forms that do not depend on them.

    Examples
    --------
    A least-squares line through three points, stably (no normal equations),
    and how its slope moves with each data point:

    >>> X, y = sg.variable("X", (3, 2)), sg.variable("y", (3,))
    >>> Q, R = sg.linalg.qr(X)
    >>> coef = sg.linalg.solve_triangular(R, Q.mT @ y)
    >>> feed = {"X": np.array([[1., 0.], [1., 1.], [1., 2.]]), "y": np.array([1., 2., 4.])}
    >>> sg.evaluate(coef, feed)
    array([0.83333333, 1.5       ])
    >>> sg.evaluate(sg.grad(coef[1], X), feed)
    array([[ 0.33333333,  0.83333333],
           [ 0.16666667, -0.16666667],
           [-0.5       , -0.66666667]])
    """
    x = matrices(a, "qr")
    m, n = x.shape[-2:]
    if not isinstance(mode, str) or mode not in QR_MODES:
        why = _REFUSED_MODES.get(mode, f"unrecognized mode {mode!r}") if isinstance(mode, str) \
            else f"unrecognized mode {mode!r}"
        raise SymgraphError(f"qr: {why}; pass mode='reduced', 'complete' or 'r'")
    if mode == "complete" and m > n:
        raise SymgraphError(
            f"qr: mode='complete' on {m}x{n} matrices pads Q with {m - n} columns spanning the "
            "orthogonal complement of a's columns; any basis of it would do, so they are not a "
            "function of the input (no derivative exists); pass mode='reduced'")
    if mode == "r":
        return apply(Qr("r"), [x])
    return QRResult(*qr_factors(x))


__all__: list[str] = []


register_factorization("qr", Factorizer(
    compute=qr_all, parts=QR_PARTS, part_op=Qr,
    sizes=lambda m, n: (m * min(m, n), min(m, n) * n)))

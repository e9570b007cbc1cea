"""``sg.linalg``: numpy.linalg (and scipy.linalg's triangular solvers) on symgraph nodes.

Every function takes stacks of matrices ``(..., M, N)`` as numpy.linalg does,
float32 stays float32, and every result is differentiable in both modes, to
any order (the rules are written with symgraph ops).  Decompositions return
numpy's named tuples (``U, S, Vh = sg.linalg.svd(a)``); their derivatives
exist where the decomposition is smooth (distinct eigen/singular values),
which each docstring spells out.

The ops live with their families in ``symgraph.ops`` (``linalg`` for products
and the SVD, ``triangular`` for Cholesky and triangular solves, ``solve`` for
general solves, inverses and determinants, ``eigen`` and ``qr``); this module
is the public namespace, so ``np.linalg.inv(node)`` builds ``sg.linalg.inv``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .errors import SymgraphError
from .graph import Node, register_linalg
from .ops.base import as_node, normalize_axis
from .ops.contract import einsum, outer as _outer, tensordot
from .ops.eigen import EighResult, eigh, eigvalsh  # eigen
from .ops.elementwise import abs as abs_, sign
from .ops.linalg import flag, matmul, matrices, mT, svd_factors, svdvals
from .ops.rearrange import take_along_axis
from .ops.shape import transpose
from .ops.sorting import argsort, sort
from .ops.matrix_parts import diagonal as _diagonal, trace as _trace
from .ops.norms import norm
from .ops.numpy_compat import cross as _cross
from .ops.qr import QRResult, qr  # qr
from .ops.reduce import sum as _sum
from .ops.solve import (SlogdetResult, adjugate, det, inv, matrix_power, pinv,  # solve
                        slogdet, solve)
from .ops.triangular import cho_solve, cholesky, solve_triangular  # triangular


class SVDResult(NamedTuple):
    """``np.linalg.svd``'s result: ``a = U @ (S[..., None] * Vh)``.

    A named tuple of three nodes, so it unpacks like numpy's result and its
    parts can also be read by name.

    Examples
    --------
    >>> r = sg.linalg.svd(sg.variable("a", (3, 2)), full_matrices=False)
    >>> r._fields
    ('U', 'S', 'Vh')
    >>> r.U.shape, r.S.shape, r.Vh.shape
    ((3, 2), (2,), (2, 2))
    """

    U: Node
    S: Node
    Vh: Node


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> SVDResult | Node:
    """``np.linalg.svd``: ``U, S, Vh`` with ``a = U @ (S[..., None] * Vh)``, S descending.

    ``full_matrices=True`` (numpy's default) is the reduced SVD for square
    matrices; for other shapes the extra columns of U (or rows of Vh) are any
    basis of a complement, not a function of ``a``, so they have no derivative:
    pass ``full_matrices=False``.  ``compute_uv=False`` returns S alone
    (``svdvals``).  ``hermitian=True`` is numpy's: the SVD of the symmetric
    matrix ``a``'s lower triangle stands for, from ``eigh`` (S the absolute
    eigenvalues, descending; Vh is U with the eigenvalues' signs).

    Derivatives (reverse: Townsend 2016; forward: JAX's rule) need distinct,
    non-zero singular values; a singular pair's sign is LAPACK's choice, so
    differentiate functions that a flip of a column of U with the same row of
    Vh leaves alone (``U @ U.mT``, ``(U * S[..., None, :]) @ Vh``, functions of S).

    Examples
    --------
    The largest singular value (the spectral norm) and its gradient ``u1 v1^T``:

    >>> a = sg.variable("a", (3, 2))
    >>> U, S, Vh = sg.linalg.svd(a, full_matrices=False)
    >>> feed = {"a": np.array([[3., 0.], [0., 2.], [0., 0.]])}
    >>> sg.evaluate(S, feed)
    array([3., 2.])
    >>> sg.evaluate(sg.grad(S[0], a), feed)
    array([[1., 0.],
           [0., 0.],
           [0., 0.]])
    """
    x = matrices(a, "svd")
    full_matrices = flag(full_matrices, "svd: full_matrices")
    compute_uv = flag(compute_uv, "svd: compute_uv")
    if flag(hermitian, "svd: hermitian"):
        return _hermitian_svd(matrices(x, "svd(hermitian=True)", square=True), compute_uv)
    if not compute_uv:
        return svdvals(x)
    m, n = x.shape[-2:]
    if full_matrices and m != n:
        raise SymgraphError(
            f"svd: full_matrices=True on {m}x{n} matrices pads U or Vh with a basis of a "
            "complement that is not a function of the input (no derivative exists); pass "
            "full_matrices=False for the reduced SVD")
    return SVDResult(*svd_factors(x))


def _hermitian_svd(x: Node, compute_uv: bool) -> SVDResult | Node:
    """numpy's ``svd(hermitian=True)``: through ``eigh``, reordered by |eigenvalue|, descending."""
    if not compute_uv:
        return -sort(-abs_(eigvalsh(x)), axis=-1)
    w, v = eigh(x)
    order = argsort(abs_(w), axis=-1)[..., ::-1]
    s = take_along_axis(abs_(w), order, axis=-1)
    u = take_along_axis(v, order[..., None, :], axis=-1)
    signs = take_along_axis(sign(w), order, axis=-1)
    return SVDResult(u, s, mT(u * signs[..., None, :]))


def matrix_transpose(x: Any) -> Node:
    """``np.linalg.matrix_transpose``: swap the last two axes (``x.mT``).

    Unlike ``transpose``, which reverses every axis, it transposes each matrix of
    a stack.

    Examples
    --------
    >>> b = sg.variable("b", (5, 2, 3))
    >>> sg.linalg.matrix_transpose(b).shape
    (5, 3, 2)
    """
    return mT(matrices(x, "matrix_transpose"))


def diagonal(x: Any, *, offset: int = 0) -> Node:
    """``np.linalg.diagonal``: the diagonals of the last two axes, ``(..., K)``.

    Unlike ``sg.diagonal``, whose default planes are the first two axes, it
    works on each matrix of a stack.

    Examples
    --------
    >>> s = sg.variable("s", (2, 2, 2))
    >>> sg.evaluate(sg.linalg.diagonal(s), {"s": np.arange(8.).reshape(2, 2, 2)})
    array([[0., 3.],
           [4., 7.]])
    """
    x = matrices(x, "diagonal")
    return _diagonal(x, offset, -2, -1)


def trace(x: Any, *, offset: int = 0, dtype: Any = None) -> Node:
    """``np.linalg.trace``: the traces of the last two axes (``dtype`` as numpy's sum).

    One trace per matrix of a stack; the gradient of each is the identity.

    Examples
    --------
    >>> s = sg.variable("s", (2, 2, 2))
    >>> t = sg.linalg.trace(s)
    >>> sg.evaluate(t, {"s": np.arange(8.).reshape(2, 2, 2)})
    array([ 3., 11.])
    >>> sg.evaluate(sg.grad(t.sum(), s)[0], {"s": np.zeros((2, 2, 2))})
    array([[1., 0.],
           [0., 1.]])
    """
    x = matrices(x, "trace")
    if dtype is not None:  # numpy sums in dtype
        x = x.astype(dtype)
    return _trace(x, offset, -2, -1)


def outer(x1: Any, x2: Any) -> Node:
    """``np.linalg.outer``: the outer product of two 1-D vectors (no flattening).

    Unlike ``sg.outer`` it refuses operands that are not vectors, catching a
    shape mistake early.

    Examples
    --------
    >>> u, v = sg.variable("u", (2,)), sg.variable("v", (3,))
    >>> feed = {"u": np.array([1., 2.]), "v": np.array([1., 10., 100.])}
    >>> sg.evaluate(sg.linalg.outer(u, v), feed)
    array([[  1.,  10., 100.],
           [  2.,  20., 200.]])
    >>> sg.evaluate(sg.grad(sg.linalg.outer(u, v).sum(), v), feed)
    array([3., 3., 3.])
    """
    a, b = as_node(x1), as_node(x2)
    if a.ndim != 1 or b.ndim != 1:
        raise SymgraphError(f"linalg.outer: both inputs must be 1-D, got shapes {a.shape} and "
                            f"{b.shape} (sg.outer flattens)")
    return _outer(a, b)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Node:
    """``np.linalg.cross``: cross products of 3-vectors along ``axis``.

    The array API's form of ``sg.cross``: both operands hold 3-vectors along the
    same ``axis`` and broadcast over the others.

    Examples
    --------
    >>> a, b = sg.variable("a", (2, 3)), sg.variable("b", (3,))
    >>> feed = {"a": np.array([[1., 0., 0.], [0., 1., 0.]]), "b": np.array([0., 0., 1.])}
    >>> sg.evaluate(sg.linalg.cross(a, b), feed)
    array([[ 0., -1.,  0.],
           [ 1.,  0.,  0.]])
    """
    a, b = as_node(x1), as_node(x2)
    for v in (a, b):
        if not -v.ndim <= axis < v.ndim or v.shape[axis] != 3:
            raise SymgraphError(f"linalg.cross: both inputs need length 3 along axis {axis}, got "
                                f"shapes {a.shape} and {b.shape}")
    return _cross(a, b, axis=axis)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Node:
    """``np.linalg.vecdot``: ``sum(x1 * x2, axis)`` with broadcasting (real inputs).

    Dot products of stacks of vectors, one per row, without a loop or a matrix
    product.

    Examples
    --------
    >>> x, y = sg.variable("x", (4, 3)), sg.variable("y", (3,))
    >>> d = sg.linalg.vecdot(x, y)
    >>> feed = {"x": np.arange(12.).reshape(4, 3), "y": np.ones(3)}
    >>> sg.evaluate(d, feed)
    array([ 3., 12., 21., 30.])
    >>> sg.evaluate(sg.grad(d.sum(), y), feed)
    array([18., 22., 26.])
    """
    a, b = as_node(x1), as_node(x2)
    return _sum(a * b, axis=axis)


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Node:
    """``np.linalg.vector_norm``: ``axis=None`` takes the norm of all elements as one vector.

    Otherwise the norm is over ``axis``, an int or a tuple of ints (the elements
    along all of those axes taken as one vector, as numpy does), for any
    ``ord`` of ``norm``'s vector norms.  The gradient of the 1-norm is the
    sign of each element.

    Examples
    --------
    >>> b = sg.variable("b", (3, 2))
    >>> sg.evaluate(sg.linalg.vector_norm(b, axis=-1), {"b": [[3., 4.], [0., 1.], [1., 0.]]})
    array([5., 1., 1.])
    >>> x = sg.variable("x", (2,))
    >>> sg.evaluate(sg.grad(sg.linalg.vector_norm(x, ord=1), x), {"x": np.array([3., -4.])})
    array([ 1., -1.])
    """
    x = as_node(x)
    if axis is None:
        out = norm(x.reshape(-1), ord)
        return out.reshape((1,) * x.ndim) if keepdims else out
    axes = normalize_axis(axis, x.ndim, "vector_norm")
    if len(axes) == 1:
        return norm(x, ord, axes[0], keepdims)
    # several axes are one vector: move them last and flatten them into one
    rest = [a for a in range(x.ndim) if a not in axes]
    flat = transpose(x, rest + list(axes)).reshape(tuple(x.shape[a] for a in rest) + (-1,))
    out = norm(flat, ord, -1)
    return out.reshape(tuple(1 if a in axes else n for a, n in enumerate(x.shape))) \
        if keepdims else out


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Node:
    """``np.linalg.matrix_norm``: the norm of each matrix over the last two axes.

    ``ord`` is any of ``norm``'s matrix norms ('fro', the default, 'nuc', 1, -1,
    2, -2, inf, -inf); a stack of matrices gives a stack of norms.

    Examples
    --------
    >>> m = sg.variable("m", (2, 2))
    >>> feed = {"m": np.array([[3., 0.], [4., 5.]])}
    >>> sg.evaluate(sg.linalg.matrix_norm(m), feed)
    array(7.07106781)
    >>> sg.evaluate(sg.grad(sg.linalg.matrix_norm(m), m), feed)
    array([[0.42426407, 0.        ],
           [0.56568542, 0.70710678]])
    >>> sg.linalg.matrix_norm(sg.variable("s", (4, 2, 2)), ord=2).shape
    (4,)
    """
    return norm(matrices(x, "matrix_norm"), ord, (-2, -1), keepdims)


def multi_dot(arrays: Any) -> Node:
    """``np.linalg.multi_dot``: a chain of matrix products, in the cheapest order.

    The first array may be 1-D (a row vector) and the last 1-D (a column); the
    order is numpy's (``np.einsum_path`` picks it from the shapes): with a vector
    ``c`` at the end, ``A @ (B @ c)`` costs two matrix-vector products, not a
    matrix-matrix one.

    Examples
    --------
    >>> A, B, c = sg.variable("A", (2, 3)), sg.variable("B", (3, 4)), sg.variable("c", (4,))
    >>> y = sg.linalg.multi_dot([A, B, c])
    >>> feed = {"A": np.ones((2, 3)), "B": np.ones((3, 4)), "c": np.arange(4.)}
    >>> sg.evaluate(y, feed)
    array([18., 18.])
    >>> sg.evaluate(sg.grad(y.sum(), c), feed)
    array([6., 6., 6., 6.])
    """
    nodes = [as_node(a) for a in arrays]
    if len(nodes) < 2:
        raise SymgraphError(f"multi_dot needs at least two arrays, got {len(nodes)}")
    for i, v in enumerate(nodes):
        ends = i in (0, len(nodes) - 1)
        if v.ndim != 2 and not (ends and v.ndim == 1):
            raise SymgraphError(f"multi_dot: array {i} has shape {v.shape}; only the first and "
                                "last may be 1-D, the others must be 2-D")
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if len(nodes) + 1 > len(letters):
        out = nodes[0]
        for v in nodes[1:]:
            out = matmul(out, v)
        return out
    terms = []
    for i, v in enumerate(nodes):
        term = letters[i:i + 2]
        if v.ndim == 1:
            term = term[1] if i == 0 else term[0]
        terms.append(term)
    first = "" if nodes[0].ndim == 1 else letters[0]
    last = "" if nodes[-1].ndim == 1 else letters[len(nodes)]
    return einsum(",".join(terms) + "->" + first + last, *nodes, optimize=True)


__all__ = [
    # products and norms
    "matmul", "matrix_transpose", "diagonal", "trace", "outer", "cross", "vecdot", "tensordot",
    "norm", "vector_norm", "matrix_norm", "multi_dot",
    # decompositions
    "svd", "svdvals", "SVDResult",
    # triangular
    "cholesky", "solve_triangular", "cho_solve",
    # solve
    "solve", "inv", "det", "adjugate", "slogdet", "SlogdetResult", "pinv", "matrix_power",
    # eigen
    "eigh", "eigvalsh", "EighResult",
    # qr
    "qr", "QRResult",
]

register_linalg(__all__, globals())  # np.linalg.<name>(node) builds sg.linalg.<name>

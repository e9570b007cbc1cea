"""The symmetric eigendecomposition (numpy's ``eigh`` and ``eigvalsh``) with its derivatives.

numpy reads one triangle of each matrix (``UPLO``), so the function it
computes, and the one differentiated here, is that of the symmetric matrix
the triangle stands for: the rules are written for a symmetric tangent and
wrapped with ``symmetric_tangent`` / ``triangle_cotangent``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from ..errors import SymgraphError
from ..graph import Node, apply
from .base import BOOL, NO_SYMPY, Op, one_of
from .linalg import (Factorizer, check_matrices, factor_parts, inverse_gaps, linalg_dtype, matmul,
                     matrices, mT, on_matrices, register_factorization, row, symmetric_tangent,
                     triangle_cotangent)
from .linalg_patterns import outer_core, triangle_mask
from .patterns import per_matrix
from .reduce import sum as sum_

#: The parts of ``a = v @ (w[..., None] * v.mT)`` each ``Eigh`` node computes.
EIGH_PARTS = ("w", "v")


class EighResult(NamedTuple):
    """``np.linalg.eigh``'s result: the ``eigenvalues`` and ``eigenvectors`` of ``a``.

    ``a = eigenvectors @ (eigenvalues[..., None] * eigenvectors.mT)``.  A named
    tuple of two nodes: it unpacks as ``w, V`` like numpy's result.

    Examples
    --------
    >>> r = sg.linalg.eigh(sg.variable("a", (3, 3)))
    >>> r._fields
    ('eigenvalues', 'eigenvectors')
    >>> r.eigenvalues.shape, r.eigenvectors.shape
    ((3,), (3, 3))
    """

    eigenvalues: Node
    eigenvectors: Node


def eigh_part(a: np.ndarray, part: str, lower: bool) -> np.ndarray:
    """One part of numpy's ``eigh`` of a stack of matrices (``w`` alone by ``eigvalsh``)."""
    uplo = "L" if lower else "U"
    if part == "w":
        return np.linalg.eigvalsh(a, UPLO=uplo)
    return np.linalg.eigh(a, UPLO=uplo)[1]


class Eigh(Op):
    """One part of the eigendecomposition of the symmetric matrices ``(..., n, n)`` whose
    ``lower`` (or upper) triangle ``a`` holds: ``"w"`` the eigenvalues ``(..., n)``,
    ascending, or ``"v"`` the eigenvectors, the columns of ``(..., n, n)``.

    ``w`` is ``np.linalg.eigvalsh`` (LAPACK's cheaper values-only driver: it may
    differ from ``np.linalg.eigh(a)[0]`` in the last bits), ``v`` is
    ``np.linalg.eigh(a)[1]``.  The other triangle is never read, so the
    gradient there is zero.

    Derivatives to any order (rules with symgraph ops), for the symmetric
    tangent ``S`` the triangle sees: ``dw = diag(v^T S v)`` and
    ``dv = v (F * (v^T S v))``, ``F_ij = 1 / (w_j - w_i)`` off the diagonal and
    0 on it; reverse mode is the adjoint, ``v (diag(gw) + F * (v^T gv)) v^T``.
    Gauge: each eigenvector's sign is LAPACK's choice (it stays put under small
    changes of ``a``), so differentiate functions a flip cannot change:
    functions of w, ``v * v``, ``v @ diag(f(w)) @ v.mT``, projectors.

    Repeated eigenvalues: the eigenvectors of a repeated eigenvalue are any
    basis of its eigenspace, so v is not differentiable there and its rule
    gives inf/nan (the first derivative of w needs no division and stays
    finite: ``v diag(gw) v^T``, exact for symmetric functions of the tied
    eigenvalues such as their sum; a single eigenvalue at a crossing has only
    one-sided derivatives).  Near a tie v's derivative grows like 1/gap.
    Second derivatives at an exact tie are NaN, even for functions whose
    Hessian exists there (``sum(eigvalsh(a)**2)`` at the identity): the rules
    meet 0/0 where the limit is a divided difference.  NaN, not a guess: move
    off the tie (a random symmetric 1e-8 perturbation) to get the limit.
    """

    name = "eigh"
    param_types = {"part": one_of(*EIGH_PARTS), "lower": BOOL}
    #: sympy's ``Matrix.eigenvects`` gives exact roots in no set order, with unnormalized
    #: vectors, not LAPACK's ordering and signs
    to_sympy = NO_SYMPY

    def __init__(self, part: str, lower: bool) -> None:
        self.part = part
        self.lower = lower

    def infer(self, x):
        check_matrices(x.shape, "eigh", square=True)
        return (x.shape[:-1] if self.part == "w" else x.shape), linalg_dtype(x.dtype, what="eigh")

    def f(self, x):
        tail = x.shape[-1:] if self.part == "w" else x.shape[-2:]
        return on_matrices(functools.partial(eigh_part, part=self.part, lower=self.lower), [x],
                           (2,), tail, linalg_dtype(x.dtype, what="eigh"), "eigh")

    def emit(self, out, ins, ctx):
        uplo = "L" if self.lower else "U"
        if self.part == "w":
            return f"{out} = np.linalg.eigvalsh({ins[0]}, UPLO={uplo!r})"
        return f"{out} = np.linalg.eigh({ins[0]}, UPLO={uplo!r})[1]"

    stack_core = (2,)

    def sparsity(self, node):
        return [self.matrix_pattern(node, 0)]

    def matrix_pattern(self, node: Node, k: int) -> Any:
        """The rule for input ``k``, the matrices (``FactorPart`` shares it): each part of
        one matrix's decomposition reads all of that matrix's triangle."""
        n = node.inputs[k].shape[-1]
        out_core = n if self.part == "w" else n * n
        core = outer_core(np.ones(out_core, dtype=bool), triangle_mask(n, self.lower))
        return per_matrix(node, k, 2, 1 if self.part == "w" else 2, core)

    def jvp(self, inputs, out, tangents):
        (x,), (dx,) = inputs, tangents
        if dx is None:
            return None
        w, v = eigh_factors(x, self.lower)
        sv = matmul(symmetric_tangent(dx, self.lower), v)  # S v
        if self.part == "w":  # diag(v^T S v)
            return sum_(v * sv, axis=-2)
        return matmul(v, inverse_gaps(w) * matmul(mT(v), sv))

    def bprop(self, inputs, out, g, needs):
        (x,) = inputs
        w, v = eigh_factors(x, self.lower)
        if self.part == "w":  # v diag(g) v^T
            s = matmul(v * row(g), mT(v))
        else:
            s = matmul(v, matmul(inverse_gaps(w) * matmul(mT(v), g), mT(v)))
        return [triangle_cotangent(s, self.lower)]


def eigh_factors(x: Node, lower: bool) -> tuple[Node, Node]:
    """``(w, v)`` of the matrices ``x`` (one triangle read), from one ``np.linalg.eigh``."""
    w, v = factor_parts(x, "eigh_L" if lower else "eigh_U")
    return w, v


def eigh_lower(a: np.ndarray) -> tuple:
    """numpy's ``eigh(a)``, reading the lower triangle."""
    return tuple(np.linalg.eigh(a, UPLO="L"))


def eigh_upper(a: np.ndarray) -> tuple:
    """numpy's ``eigh(a, UPLO="U")``, reading the upper triangle."""
    return tuple(np.linalg.eigh(a, UPLO="U"))


def _lower(uplo: Any, what: str) -> bool:
    """numpy's ``UPLO`` ('L' or 'U', either case) as ``lower``."""
    if not isinstance(uplo, str) or uplo.upper() not in ("L", "U"):
        raise SymgraphError(f"{what}: UPLO must be 'L' or 'U', got {uplo!r}")
    return uplo.upper() == "L"


def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """``np.linalg.eigh(a, UPLO)``: eigenvalues (ascending) and eigenvectors.

    ``a`` holds symmetric matrices ``(..., N, N)``, of which only the ``UPLO`` triangle
    ('L' or 'U') is read.  ``a = V @ (w[..., None] * V.mT)``; ``w`` is
    ``eigvalsh(a, UPLO)`` (it may differ from numpy's ``eigh(a)[0]`` in the last
    bits).  Integers give float64, float32 stays float32.  Differentiable where the
    eigenvalues are distinct; eigenvector signs are LAPACK's, so differentiate functions a
    sign flip cannot change (see ``Eigh``), such as matrix functions.

    Examples
    --------
    The matrix exponential of a symmetric matrix, ``V diag(exp(w)) V^T``:

    >>> a = sg.variable("a", (2, 2))
    >>> w, V = sg.linalg.eigh(a)
    >>> expm = (V * sg.exp(w)[..., None, :]) @ V.mT
    >>> feed = {"a": np.array([[0., 1.], [1., 0.]])}
    >>> sg.evaluate(expm, feed)
    array([[1.54308063, 1.17520119],
           [1.17520119, 1.54308063]])

    The gradient of ``trace(expm(a))`` is ``expm(a)``, on the lower triangle read:

    >>> sg.evaluate(sg.grad(sg.trace(expm), a), feed)
    array([[1.54308063, 0.        ],
           [2.35040239, 1.54308063]])
    """
    lower = _lower(UPLO, "eigh")
    return EighResult(*eigh_factors(matrices(a, "eigh", square=True), lower))


def eigvalsh(a: Any, UPLO: str = "L") -> Node:
    """``np.linalg.eigvalsh(a, UPLO)``: the eigenvalues, ascending, of symmetric matrices.

    ``a`` is ``(..., N, N)``, of which the ``UPLO`` triangle ('L' or 'U') is read;
    the result is ``(..., N)``.  Differentiable to any order where they are
    distinct; the first derivative ``V diag(g) V^T`` also exists at ties for
    symmetric functions of them (``sum(eigvalsh(a))`` is the trace); second
    derivatives at an exact tie are NaN (see ``Eigh``).

    Examples
    --------
    The largest eigenvalue, and its gradient on the lower triangle that is read
    (the off-diagonal entry counts for both):

    >>> a = sg.variable("a", (2, 2))
    >>> top = sg.linalg.eigvalsh(a)[..., -1]
    >>> feed = {"a": np.array([[2., 1.], [1., 2.]])}
    >>> sg.evaluate(top, feed)
    array(3.)
    >>> sg.evaluate(sg.grad(top, a), feed)
    array([[0.5, 0. ],
           [1. , 0.5]])
    """
    lower = _lower(UPLO, "eigvalsh")
    return apply(Eigh("w", lower), [matrices(a, "eigvalsh", square=True)])


__all__: list[str] = []


for _kind, _compute, _lower_flag in (("eigh_L", eigh_lower, True), ("eigh_U", eigh_upper, False)):
    register_factorization(_kind, Factorizer(
        compute=_compute, parts=EIGH_PARTS, sizes=lambda m, n: (n, n * n),
        part_op=functools.partial(Eigh, lower=_lower_flag)))

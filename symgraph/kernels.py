"""Numeric kernels written once, for the ops' ``f`` and for compiled code alike.

The stable max-shift (softmax, log-softmax, logsumexp) and the cross-entropy
label check each live here only.  Every function is plain module-level numpy
code, because ``sg.function`` copies its source into the generated module
(``ctx.helper(fn)``): a kernel may call other kernels of this module and raise
``EvaluationError`` by bare name (the emitter defines those too, first), and
uses nothing else but ``np``.  They call numpy functions rather than array
methods and never ``np.asarray``, so an op's ``f`` can run them on any array
family numpy dispatches to (dask, CuPy); only the label check computes, which
is why ``backend.take_labels`` gives lazy labels to a per-block kernel.
"""

from __future__ import annotations

import numpy as np

from .errors import EvaluationError


def max_shift(x, axis):
    """The maximum over ``axis`` (kept), or 0 where it is not finite: subtracting it keeps
    ``exp`` from overflowing, and a row of -inf from becoming NaN (-inf - -inf)."""
    m = np.max(x, axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


def logsumexp(x, axis, keepdims):
    """``log(sum(exp(x), axis))``, shifted by the maximum first."""
    m = max_shift(x, axis)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return out


def short_rows(x, axis) -> bool:
    """Whether ``x`` is a numpy matrix of short rows along ``axis`` (a classifier's logits):
    numpy reduces each short row in a loop of its own, several times slower than reducing
    across the rows of the transpose (and a kernel run between large matrix products,
    whose streaming leaves numpy's code and data out of cache, pays for every call)."""
    return (isinstance(x, np.ndarray) and x.ndim == 2 and axis in (1, -1)
            and x.shape[1] <= 32 and x.dtype.kind == "f")


def shifted_columns(x):
    """``x.T`` as a new C-ordered array, each column shifted by its maximum (where finite)."""
    t = np.array(x.T, order="C")  # a copy even when x.T is C-ordered already (one column)
    m = np.maximum.reduce(t, axis=0)
    if not np.isfinite(np.add.reduce(m)):
        m = np.where(np.isfinite(m), m, 0)
    t -= m
    return t


def softmax(x, axis):
    """``exp(x) / sum(exp(x), axis)``, shifted by the maximum first."""
    if short_rows(x, axis):
        e = shifted_columns(x)
        np.exp(e, out=e)
        e /= np.add.reduce(e, axis=0)
        return np.ascontiguousarray(e.T)
    e = np.exp(x - max_shift(x, axis))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def log_softmax(x, axis):
    """``log(softmax(x, axis))`` without taking the log of a rounded-to-zero probability."""
    if short_rows(x, axis):
        t = shifted_columns(x)
        total = np.add.reduce(np.exp(t), axis=0)
        t -= np.log(total, out=total)
        return np.ascontiguousarray(t.T)
    shifted = x - max_shift(x, axis)
    total = np.sum(np.exp(shifted), axis=axis, keepdims=True)
    return np.subtract(shifted, np.log(total, out=total), out=shifted)


def relu_row(size):
    """The length of the row of zeros ``relu`` compares an array of ``size`` elements with
    (0: none, it compares with the scalar 0)."""
    if size < 8192:
        return 0
    k = 8192
    while size % k:
        k //= 2
    return k if k >= 256 else 0


def relu_scratch_bytes(size):
    """Bytes of the row of zeros ``relu`` makes for float64 arrays of ``size`` elements (an
    upper bound for other float types)."""
    return 8 * relu_row(size)


def relu(x, out=None):
    """``max(x, 0)`` (into ``out`` if given).  numpy's SIMD maximum runs on two arrays but
    not on an array and a scalar (~2-4x slower): a large contiguous float array is compared
    with a row of zeros instead."""
    if (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.size >= 8192
            and x.flags.c_contiguous and (out is None or out.flags.c_contiguous)):
        k = relu_row(x.size)
        if k:  # numpy arrays here: their own methods, the fewest calls
            res = np.maximum(x.reshape(-1, k), np.zeros(k, x.dtype),
                             out=None if out is None else out.reshape(-1, k))
            return res.reshape(x.shape) if out is None else out
    zero = x.dtype.type(0) if hasattr(x, "dtype") else 0  # bool stays bool (numpy: int64)
    return np.maximum(x, zero, out=out)


def _log1p_exp_neg_abs(x):
    """``log1p(exp(-|x|))`` into a fresh array: in (0, log 2], never overflowing."""
    out = np.abs(x)
    np.negative(out, out=out)
    np.exp(out, out=out)
    return np.log1p(out, out=out)


def _fast_path(x) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.ndim > 0


def softplus(x):
    """``log(1 + exp(x))`` as ``max(x, 0) + log1p(exp(-|x|))``: stable at any magnitude,
    about twice as fast as ``np.logaddexp(0, x)``.  Scalars, integers and foreign arrays
    take ``np.logaddexp`` (numpy's dtypes)."""
    if not _fast_path(x):
        return np.logaddexp(0, x)
    out = _log1p_exp_neg_abs(x)
    np.add(out, x, out=out, where=x > 0)
    return out


def log_sigmoid(x):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, as ``softplus``."""
    if not _fast_path(x):
        return -np.logaddexp(0, -x)
    out = _log1p_exp_neg_abs(x)
    np.negative(out, out=out)
    np.add(out, x, out=out, where=x < 0)
    return out


def labels_in_range(labels, classes):
    """Whether every integer label is in ``[0, classes)`` (numpy's signed labels: one
    reduction, read as unsigned, where a negative label is huge: at least ``2**(bits-1)``,
    so this holds while ``classes`` is at most that)."""
    if (isinstance(labels, np.ndarray) and labels.dtype.kind == "i" and labels.size
            and classes <= 2 ** (8 * labels.dtype.itemsize - 1)):
        return bool(np.maximum.reduce(labels.view(labels.dtype.str.replace("i", "u")),
                                      axis=None) < classes)
    return not labels.size or (np.min(labels) >= 0 and np.max(labels) < classes)


def check_labels(labels, classes):
    """Raise EvaluationError naming the first label outside ``[0, classes)``."""
    if not labels_in_range(labels, classes):
        bad = np.ravel(labels[(labels < 0) | (labels >= classes)])[0]
        raise EvaluationError(f"cross_entropy: label {bad} is out of range for {classes} classes")


def take_labels(logp, labels):
    """``logp[..., labels]`` per example (shape ``labels.shape``), labels checked first."""
    check_labels(labels, logp.shape[-1])
    return np.take_along_axis(logp, labels[..., None].astype(np.intp), axis=-1)[..., 0]


def reduce_loss(nll, reduction):
    """Per-example losses as ``reduction`` asks: "mean", "sum" or "none" (a 0-d array of
    the family of ``nll`` for the first two, never a numpy scalar)."""
    if reduction == "mean":
        return np.reshape(np.mean(nll, keepdims=True), ())
    if reduction == "sum":
        return np.reshape(np.sum(nll, keepdims=True), ())
    return nll


def cross_entropy(logits, labels, reduction):
    """Softmax cross-entropy of ``logits`` (..., C) against integer ``labels`` (...)."""
    return reduce_loss(-take_labels(log_softmax(logits, -1), labels), reduction)


def subtract_at_labels(d, labels):
    """``d -= one_hot(labels)`` in place for labels known to be in range (integer indexing)."""
    if labels.ndim == 1:
        d[np.arange(labels.shape[0]), labels] -= 1
    else:
        at = labels[..., None]
        np.put_along_axis(d, at, np.take_along_axis(d, at, -1) - 1, -1)
    return d


def subtract_one_hot(d, labels):
    """``d -= one_hot(labels)`` in place, by integer indexing (no one-hot array)."""
    c = d.shape[-1]
    if not labels_in_range(labels, c):
        d -= labels[..., None] == np.arange(c)  # out-of-range labels have an all-zero one-hot row
        return d
    return subtract_at_labels(d, labels)


def softmax_xent_grad(logits, labels, scale=None):
    """``(softmax(logits) - one_hot(labels)) * scale`` over the last axis, in one buffer."""
    d = subtract_one_hot(softmax(logits, -1), labels)
    if scale is not None:
        d *= scale
    return d


def checked_log_softmax(logits, labels):
    """``log_softmax(logits, -1)`` after checking ``labels`` against its classes: the one
    log-softmax and the one label check a loss and its gradient compiled together share."""
    check_labels(labels, logits.shape[-1])
    return log_softmax(logits, -1)


def nll_loss(logp, labels, reduction):
    """The cross-entropy from log-probabilities whose labels were checked already."""
    if labels.ndim != 1:
        nll = np.take_along_axis(logp, labels[..., None].astype(np.intp), axis=-1)[..., 0]
        return reduce_loss(-nll, reduction)
    picked = logp[np.arange(labels.shape[0]), labels]
    if reduction == "none":
        return np.negative(picked, out=picked)
    total = np.add.reduce(picked)  # numpy's mean: the pairwise sum, then divided
    return np.asarray(total / -labels.shape[0] if reduction == "mean" else -total)


def softmax_xent_grad_from_log(logp, labels, scale=None, out=None):
    """``(exp(logp) - one_hot(labels)) * scale`` (labels checked already), into ``out``
    (which may be ``logp`` itself): the softmax is the exp of the shared log-softmax."""
    d = subtract_at_labels(np.exp(logp, out=out), labels)
    if scale is not None:
        d *= scale
    return d


def cholesky_grad(L, G):
    """The gradient with respect to ``a``'s lower triangle of a function of ``L = cholesky(a)``,
    given its gradient ``G`` with respect to ``L`` (stacks of matrices; both read lower).

    Murray's blocked reverse-mode Cholesky ("Differentiation of the Cholesky
    decomposition", 2016): level-3 BLAS on blocks of 64 columns, about
    ``n^3 / 1.5`` flops, a third of what the closed form ``L^-T Phi(L^T G) L^-1``
    costs (one product and two triangular solves of ``n x n``), which the
    diagonal blocks still use.
    """
    if L.ndim == G.ndim == 2:
        return _cholesky_grad_blocked(L, G)
    if L.shape[-1] <= 64:  # many small matrices: numpy's batched loops, no Python loop
        return _cholesky_grad_batched(L, G)
    return _matrix_pairs(_cholesky_grad_blocked, L, G)


def _matrix_pairs(fn, A, B):
    """``fn`` on each pair of matrices of two stacks whose batch axes broadcast."""
    A, B = np.broadcast_arrays(A, B)
    out = np.empty(A.shape, dtype=np.result_type(A, B))
    for idx in np.ndindex(*A.shape[:-2]):
        out[idx] = fn(A[idx], B[idx])
    return out


def _cholesky_grad_blocked(L, G, block=64):
    import scipy.linalg.blas

    A = np.tril(G).astype(np.result_type(L, G))
    (trsm,) = scipy.linalg.blas.get_blas_funcs(("trsm",), (L, A))
    n = L.shape[0]
    for j in range(((n - 1) // block) * block, -1, -block):
        k = min(j + block, n)
        T, B, C, D = L[j:k, j:k], L[k:, j:k], L[j:k, :j], L[k:, :j]
        Ab = A[k:, j:k]
        if Ab.size:
            Ab[...] = trsm(1.0, T, Ab, side=1, lower=1)  # Ab T^-1
            A[j:k, j:k] -= np.tril(Ab.T @ B)
            A[k:, :j] -= Ab @ C
            A[j:k, :j] -= Ab.T @ D
        At = _cholesky_grad_closed_form(T, A[j:k, j:k])
        A[j:k, j:k] = At
        A[j:k, :j] -= (At + At.T) @ C
    return A


def _cholesky_grad_closed_form(L, G):
    """``tril(S) + tril(S.T, -1)`` with ``S = L^-T Phi(L^T G) L^-1`` (Phi: lower, halved diagonal)."""
    import scipy.linalg.blas

    trmm, trsm = scipy.linalg.blas.get_blas_funcs(("trmm", "trsm"), (L, G))
    P = np.tril(trmm(1.0, L, G, side=0, lower=1, trans_a=1))  # L^T G, L read lower
    P[np.diag_indices_from(P)] *= 0.5
    S = trsm(1.0, L, trsm(1.0, L, P, side=0, lower=1, trans_a=1), side=1, lower=1)
    return np.tril(S) + np.tril(S.T, -1)


def _cholesky_grad_batched(L, G):
    """The closed form for stacks of small matrices (``np.linalg.solve`` loops in C)."""
    n = L.shape[-1]
    Lt = np.swapaxes(np.tril(L), -1, -2)
    P = np.tril(np.matmul(Lt, G))
    P[..., np.arange(n), np.arange(n)] *= 0.5
    X = np.linalg.solve(Lt, P)  # L^-T P
    S = np.swapaxes(np.linalg.solve(Lt, np.swapaxes(X, -1, -2)), -1, -2)  # X L^-1
    return np.tril(S) + np.tril(np.swapaxes(S, -1, -2), -1)


def cholesky_tangent(L, dA):
    """How ``L = cholesky(a)`` moves when ``a``'s lower triangle moves by ``dA``: the
    forward-mode Cholesky, ``L Phi(L^-1 S L^-T)`` with ``S`` the symmetric matrix dA's lower
    triangle stands for (stacks of matrices; both read lower).

    Blocked like LAPACK's left-looking Cholesky (blocks of 64 columns): about
    ``2 n^3 / 3`` flops against ``3 n^3`` for the closed form's two triangular
    solves and one triangular product, which the diagonal blocks still use.
    """
    if L.ndim == dA.ndim == 2:
        return _cholesky_tangent_blocked(L, dA)
    if L.shape[-1] <= 64:
        return _cholesky_tangent_batched(L, dA)
    return _matrix_pairs(_cholesky_tangent_blocked, L, dA)


def _cholesky_tangent_blocked(L, dA, block=64):
    import scipy.linalg.blas

    S = np.tril(dA).astype(np.result_type(L, dA))
    S += np.tril(S, -1).T
    dL = np.zeros_like(S)
    (trsm,) = scipy.linalg.blas.get_blas_funcs(("trsm",), (L, S))
    n = L.shape[0]
    for j in range(0, n, block):
        k = min(j + block, n)
        R, dR, T = L[j:k, :j], dL[j:k, :j], L[j:k, j:k]
        dT = _cholesky_tangent_closed_form(T, S[j:k, j:k] - dR @ R.T - R @ dR.T)
        dL[j:k, j:k] = dT
        if k < n:
            C, dC, B = L[k:, :j], dL[k:, :j], L[k:, j:k]
            dB = S[k:, j:k] - dC @ R.T - C @ dR.T - B @ dT.T
            dL[k:, j:k] = trsm(1.0, T, dB, side=1, lower=1, trans_a=1)  # dB T^-T
    return dL


def _cholesky_tangent_closed_form(L, S):
    """``L Phi(L^-1 S L^-T)`` for one symmetric ``S`` (Phi: lower, halved diagonal)."""
    import scipy.linalg.blas

    trmm, trsm = scipy.linalg.blas.get_blas_funcs(("trmm", "trsm"), (L, S))
    Z = trsm(1.0, L, trsm(1.0, L, S, side=0, lower=1), side=1, lower=1, trans_a=1)
    Z = np.tril(Z)
    Z[np.diag_indices_from(Z)] *= 0.5
    return trmm(1.0, L, Z, side=0, lower=1)


def _cholesky_tangent_batched(L, dA):
    """The closed form for stacks of small matrices (``np.linalg.solve`` loops in C)."""
    n = L.shape[-1]
    L = np.tril(L)
    S = np.tril(dA) + np.swapaxes(np.tril(dA, -1), -1, -2)
    X = np.linalg.solve(L, S)  # L^-1 S
    Z = np.tril(np.linalg.solve(L, np.swapaxes(X, -1, -2)))  # L^-1 S L^-T, lower part
    Z[..., np.arange(n), np.arange(n)] *= 0.5
    return np.matmul(L, Z)


__all__ = ["relu", "max_shift", "logsumexp", "softmax", "log_softmax", "labels_in_range", "check_labels",
           "take_labels", "reduce_loss", "cross_entropy", "subtract_at_labels", "subtract_one_hot",
           "softmax_xent_grad", "checked_log_softmax", "nll_loss", "softmax_xent_grad_from_log",
           "short_rows", "shifted_columns", "cholesky_grad", "cholesky_tangent"]

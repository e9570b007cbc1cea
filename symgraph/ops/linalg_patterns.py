"""Sparsity patterns of the linear-algebra ops, by index arithmetic (no loops over elements).

Products: ``out[s, i, j] = sum_l a[s, i, l] b[s, l, j]`` depends on row ``i`` of
``a`` and column ``j`` of ``b`` (of the stack members broadcasting pairs), and
where the other factor is a constant only on the ``l`` it has non-zeros at:
that keeps ``B @ x`` with a banded constant ``B`` banded.  An einsum's output
element depends on the operand elements whose shared letters agree with it;
the support is found by running the einsum itself on 0/1 masks.

Inside one matrix (``patterns.per_matrix`` puts these cores on a stack):
a triangular solve's row ``i`` reads the triangle up to row ``i``, Cholesky's
``L[i, j]`` the leading ``j + 1`` block and row ``i``, QR's column ``j`` the
first ``j + 1`` columns.

Everything here works on shapes and masks (numpy arrays), not on nodes.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp

from .patterns import DENSE

Shape = tuple[int, ...]


def _size(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    rows, cols = np.ravel(rows).astype(np.int64), np.ravel(cols).astype(np.int64)
    m = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=shape)
    m.sum_duplicates()
    return m


def _stack_maps(sa: Shape, sb: Shape) -> tuple[Shape, np.ndarray, np.ndarray]:
    """The broadcast stack of ``sa`` and ``sb``, and for each of its members (C order)
    the member of each operand's stack broadcasting reads."""
    s = tuple(np.broadcast_shapes(sa, sb))
    maps = [np.broadcast_to(np.arange(_size(x), dtype=np.int64).reshape(x), s).ravel()
            for x in (sa, sb)]
    return s, maps[0], maps[1]


def product_pattern(a: Shape, b: Shape, side: int, mask: np.ndarray | None = None):
    """The pattern of ``a @ b`` (matrices ``(..., m, k)`` and ``(..., k, n)``, stacks
    broadcasting; promote vectors first) with respect to operand ``side`` (0: a, 1: b).

    ``mask``: where the other operand can be non-zero (broadcastable to its shape), None
    for anywhere.  ``DENSE`` when every output element reads every element of the operand.
    """
    (m, k), (n,) = a[-2:], b[-1:]
    s, ma, mb = _stack_maps(a[:-2], b[:-2])
    out_size, in_size = _size(s) * m * n, _size(a if side == 0 else b)
    if out_size == 0 or in_size == 0:
        return sp.csr_matrix((out_size, in_size), dtype=bool)
    own, other_map, other = (ma, mb, b) if side == 0 else (mb, ma, a)
    if mask is None:
        if _size(a[:-2] if side == 0 else b[:-2]) == 1 and (m if side == 0 else n) == 1:
            return DENSE
        mask = np.ones((1, 1), dtype=bool)
    full = np.broadcast_to(np.asarray(mask, dtype=bool), other).reshape((-1,) + other[-2:])
    if side == 0:  # triples (s, l, j) with b[s, l, j] != 0, each for every row i
        st, l, j = np.nonzero(full[other_map])
        i = np.arange(m)[None, :]
        rows = (st[:, None] * m + i) * n + j[:, None]
        cols = (own[st][:, None] * m + i) * k + l[:, None]
    else:  # triples (s, i, l) with a[s, i, l] != 0, each for every column j
        st, i, l = np.nonzero(full[other_map])
        j = np.arange(n)[None, :]
        rows = (st[:, None] * m + i[:, None]) * n + j
        cols = (own[st][:, None] * k + l[:, None]) * n + j
    return _csr(rows, cols, (out_size, in_size))


def product_pairs(a: Shape, b: Shape, live: np.ndarray) -> sp.csr_matrix:
    """For the Hessian: the pairs (element of a, element of b) of ``a @ b`` (shapes as in
    ``product_pattern``) whose product reaches one of the output elements ``live`` (flat
    indices): ``a[s, i, l]`` with ``b[s, l, j]``, the same ``l``."""
    (m, k), (n,) = a[-2:], b[-1:]
    s, ma, mb = _stack_maps(a[:-2], b[:-2])
    st, i, j = np.unravel_index(np.asarray(live, dtype=np.int64), (_size(s), m, n))
    l = np.arange(k)[None, :]
    rows = (ma[st][:, None] * m + i[:, None]) * k + l
    cols = (mb[st][:, None] * k + l) * n + j[:, None]
    return _csr(rows, cols, (_size(a), _size(b)))


# ---------------------------------------------------------------------------
# einsum
# ---------------------------------------------------------------------------

def _support(terms: Sequence[str], masks: Sequence[np.ndarray], sizes: dict[str, int],
             keep: str) -> tuple[tuple[np.ndarray, ...], int]:
    """The assignments of the letters ``keep`` for which some assignment of the others makes
    every mask true (each mask indexed by its term): one index array per letter of keep,
    and their number."""
    ops: list = []
    covered = set()
    for term, mask in zip(terms, masks):
        ops += [np.asarray(mask, dtype=np.float64), list(term)]
        covered.update(term)
    for c in keep:
        if c not in covered:  # a free letter: every value of it
            ops += [np.ones(sizes[c]), [c]]
    letters = sorted(set(keep).union(covered))
    index = {c: i for i, c in enumerate(letters)}
    ops = [[index[c] for c in o] if isinstance(o, list) else o for o in ops]
    if not ops:  # nothing to constrain, nothing kept: the one empty assignment
        return (), 1
    found = np.einsum(*ops, [index[c] for c in keep], optimize=len(ops) > 4) > 0
    if not keep:
        return (), int(found)
    idx = np.nonzero(found)
    return idx, len(idx[0])


def _flat(term: str, keep: str, found: tuple[tuple[np.ndarray, ...], int],
          sizes: dict[str, int]) -> np.ndarray:
    """The flat (C order) position, in an operand of subscripts ``term``, of each assignment."""
    idx, count = found
    if not term:
        return np.zeros(count, dtype=np.int64)
    return np.ravel_multi_index([idx[keep.index(c)] for c in term], [sizes[c] for c in term])


def _unique(letters: str) -> str:
    return "".join(dict.fromkeys(letters))


def einsum_pattern(terms: Sequence[str], out: str, sizes: dict[str, int], k: int,
                   masks: dict[int, np.ndarray]):
    """The pattern of an einsum (canonical subscripts: ``terms``, ``out``) with respect to
    operand ``k``: output element and operand element agree on every letter they share,
    and some assignment of the other letters makes the constant operands (``masks``, by
    position) non-zero.  Summed letters of non-constant operands cannot zero a term out."""
    keep = _unique(out + terms[k])
    others = [j for j in masks if j != k]
    found = _support([terms[j] for j in others], [masks[j] for j in others], sizes, keep)
    out_size = _size([sizes[c] for c in out])
    in_size = _size([sizes[c] for c in terms[k]])
    if out_size * in_size and found[1] == out_size * in_size:
        return DENSE  # (an assignment of keep is one (output, operand) pair)
    return _csr(_flat(out, keep, found, sizes), _flat(terms[k], keep, found, sizes),
                (out_size, in_size))


def einsum_pairs(terms: Sequence[str], out: str, sizes: dict[str, int], a: int, b: int,
                 masks: dict[int, np.ndarray], live: np.ndarray) -> sp.csr_matrix:
    """For the Hessian: the pairs (element of operand a, element of operand b) that meet
    in one product term of an output element in ``live`` (flat indices)."""
    keep = _unique(terms[a] + terms[b])
    alive = np.zeros(_size([sizes[c] for c in out]), dtype=bool)
    alive[np.asarray(live, dtype=np.int64)] = True
    others = [j for j in masks if j not in (a, b)]
    found = _support([terms[j] for j in others] + [out],
                     [masks[j] for j in others] + [alive.reshape([sizes[c] for c in out])],
                     sizes, keep)
    return _csr(_flat(terms[a], keep, found, sizes), _flat(terms[b], keep, found, sizes),
                (_size([sizes[c] for c in terms[a]]), _size([sizes[c] for c in terms[b]])))


# ---------------------------------------------------------------------------
# inside one matrix
# ---------------------------------------------------------------------------

def _ragged(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of ``lengths``: each element's run number and its position in the run."""
    lengths = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    return owner, np.arange(int(lengths.sum()), dtype=np.int64) - starts[owner]


def _triangle_rows(n: int, lower: bool, strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """The (row, column) positions of a triangle, ordered by row (then column)."""
    r, c = np.tril_indices(n, -1 if strict else 0) if lower else np.triu_indices(n, 1 if strict else 0)
    return r.astype(np.int64), c.astype(np.int64)


def triangular_solve_core(n: int, k: int, lower: bool, trans: bool, unit: bool) -> sp.csr_matrix:
    """Within one matrix of ``op(a) x = b`` (``x`` of shape ``(n, k)``; ``(n,)`` is k = 1):
    ``x[i, :]`` depends on the entries ``op(a)[p, q]`` of the triangle read with ``p``
    between ``i`` and the diagonal end (``q <= p <= i`` for lower ``op(a)``); returned
    over a's ``n * n`` elements."""
    eff_lower = lower != trans  # op(a) is lower triangular
    p, q = _triangle_rows(n, eff_lower, unit)
    counts = np.bincount(p, minlength=n)
    if eff_lower:  # row i reads the rows p <= i: a prefix of the row-ordered list
        lengths, starts = np.cumsum(counts), np.zeros(n, dtype=np.int64)
    else:  # rows p >= i: a suffix
        lengths = np.cumsum(counts[::-1])[::-1]
        starts = len(p) - lengths
    owner, pos = _ragged(lengths)
    item = starts[owner] + pos
    a_flat = q[item] * n + p[item] if trans else p[item] * n + q[item]
    rows = owner[:, None] * k + np.arange(k)[None, :]
    return _csr(rows, np.broadcast_to(a_flat[:, None], rows.shape), (n * k, n * n))


def triangle_mask(n: int, lower: bool) -> np.ndarray:
    """The (lower or upper) triangle of an ``n x n`` matrix, diagonal included, raveled."""
    t = np.tri(n, dtype=bool)
    return (t if lower else t.T).ravel()


def outer_core(rows: np.ndarray, cols: np.ndarray) -> sp.csr_matrix:
    """Every output element of mask ``rows`` depends on every input element of mask ``cols``
    (e.g. a routine that reads one triangle of its matrix)."""
    r = sp.csr_matrix(np.asarray(rows, dtype=np.int8)[:, None])
    c = sp.csr_matrix(np.asarray(cols, dtype=np.int8)[None, :])
    return (r @ c).astype(bool).tocsr()


def cholesky_core(n: int) -> sp.csr_matrix:
    """``L[i, j]`` (``j <= i``) of ``cholesky(a)`` depends on the lower triangle of a's
    leading ``(j + 1) x (j + 1)`` block and on ``a[i, :j + 1]`` (``L``'s rows are forward
    substitutions against that block's factor); the same holds for its tangent in ``L``
    and ``da``.  Returned over a's ``n * n`` elements."""
    p, q = _triangle_rows(n, True, False)  # row-ordered: rows <= j are the first T_j
    i, j = _triangle_rows(n, True, False)
    out = i * n + j
    owner, pos = _ragged((j + 1) * (j + 2) // 2)
    block_rows, block_cols = out[owner], p[pos] * n + q[pos]
    below = np.flatnonzero(i > j)  # row i's own entries, outside the block
    owner2, pos2 = _ragged(j[below] + 1)
    row_rows, row_cols = out[below][owner2], i[below][owner2] * n + pos2
    return _csr(np.concatenate([block_rows, row_rows]), np.concatenate([block_cols, row_cols]),
                (n * n, n * n))


def qr_core(m: int, n: int, part: str) -> sp.csr_matrix:
    """Within one ``m x n`` matrix ``a = q r`` (``k = min(m, n)``): column ``j`` of q depends
    on a's columns ``0..j`` (when ``k == m`` the last column of q is fixed, up to its
    sign, as the complement of the others: columns ``0..m-2``); ``r[i, j]`` (``i <= j``)
    is ``q[:, i] . a[:, j]``, so on q's columns and column ``j``.  Returned over a's
    ``m * n`` elements."""
    k = min(m, n)
    reach = np.arange(k, dtype=np.int64)  # q[:, j] reads a[:, :reach[j] + 1]
    if k == m and k:
        reach[-1] -= 1
    if part == "q":  # q[i, j] <- a[p, c] for c <= reach[j], every i and p
        j, c = _ragged(reach + 1)
        by_column = _csr(j, c, (k, n))
        return sp.kron(np.ones((m, m), dtype=bool), by_column, format="csr").astype(bool)
    i, j = np.triu_indices(k, 0, n)  # r's upper entries
    owner, c = _ragged(reach[i] + 1)
    rows, cols = i[owner] * n + j[owner], c
    extra = np.flatnonzero(j > reach[i])  # and column j itself
    rows = np.concatenate([rows, i[extra] * n + j[extra]])
    cols = np.concatenate([cols, j[extra]])
    by_column = _csr(rows, cols, (k * n, n))  # every row p of a alike
    return sp.kron(np.ones((1, m), dtype=bool), by_column, format="csr").astype(bool)


__all__: list[str] = []

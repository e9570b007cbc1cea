"""Structural sparsity of Jacobians and Hessians, from the ops' own rules, without evaluating.

The Jacobian pattern of every node with respect to ``x`` is a boolean
``(node.size, x.size)`` matrix; a node's pattern is the sum over its inputs
of (the op's local pattern) @ (the input's pattern) -- Boolean algebra on
``scipy.sparse`` matrices, one product per edge, in one topological walk.

The Hessian pattern of a scalar ``y`` adds, for every op that curves, the
pairs of ``x`` elements that meet in it: ``P_a^T M_ab P_b`` where ``P_a`` is
input a's pattern and ``M_ab`` pairs the input elements that feed one output
element ``y`` depends on (a reverse walk marks those "live" outputs).  Linear
ops add nothing; multilinear ops (``*``, ``@``) pair only different inputs;
``Op.linear_in`` names inputs an op is linear in; ``Op.hessian_pairs`` lets
a contraction say which elements of two inputs actually meet.  This is the standard
conservative rule (ADOL-C's, SparseConnectivityTracer's): a superset of the
pattern at every point, exact for the usual banded, block and arrow problems.

A tuple node (a loop or a branch, ``symgraph.ops.tuples``) is one element
standing for all its parts: every part depends on every element of every
differentiable input, with curvature between all of them.  Conservative (a
loop's results are dense in its inputs), never wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Node
from ..ops.patterns import DENSE
from ..ops.tuples import Item
from ..traversal import pruned_subgraph


def _sp():
    import scipy.sparse as sp

    return sp


def _binary(m: Any) -> Any:
    """``m`` as a canonical csr matrix of int32 ones (sums of patterns are counts: squash)."""
    m = _sp().csr_matrix(m, dtype=np.int32)
    m.sum_duplicates()
    m.eliminate_zeros()
    m.data[:] = 1
    return m


def local_rules(node: Node) -> list:
    """The op's sparsity rule for ``node`` (dense for ops that declare none), checked."""
    op = node.op
    rules = op.sparsity(node) if op.sparsity is not None else [DENSE] * len(node.inputs)
    if not isinstance(rules, (list, tuple)) or len(rules) != len(node.inputs):
        raise SymgraphError(f"sparsity rule of op {op.name!r} must return one entry per input")
    if op.multiple_results:
        # a tuple node (a loop, a branch) is one element standing for all its parts: each part
        # may depend on every element of every differentiable input (a superset, never a crash)
        return [None if r is None else DENSE for r in rules]
    out = []
    for k, (inp, r) in enumerate(zip(node.inputs, rules)):
        if r is None or (isinstance(r, str) and r == DENSE):
            out.append(r)
            continue
        if r.shape != (node.size, inp.size):
            raise ShapeError(f"sparsity rule of op {op.name!r} gave a pattern of shape {r.shape} "
                             f"for input {k}; expected {(node.size, inp.size)}")
        out.append(_binary(r))
    return out


def _union_rows(p: Any, rows: int) -> Any:
    """Every one of ``rows`` rows depends on every column ``p`` has anywhere (a dense rule)."""
    cols = np.unique(p.indices)
    indptr = np.arange(rows + 1, dtype=np.int64) * len(cols)
    data = np.ones(rows * len(cols), dtype=np.int32)
    return _sp().csr_matrix((data, np.tile(cols, rows), indptr), shape=(rows, p.shape[1]))


def _check(y: Node, x: Node, what: str) -> None:
    for n, role in ((y, "y"), (x, "x")):
        if not isinstance(n, Node):
            raise SymgraphError(f"{what}: {role} must be a Node, got {type(n).__name__}")
    if y.graph is not x.graph:
        raise SymgraphError(f"{what}: y and x belong to different graphs")
    if x.dtype.kind not in "fc":
        raise DTypeError(f"{what}: x has dtype {x.dtype}; only floating-point nodes have "
                         "derivatives")


def patterns(ys: list[Node], x: Node) -> tuple[list[Node], dict[Node, Any], dict[Node, list]]:
    """The pruned subgraph from ``x`` to ``ys``, each node's Jacobian pattern w.r.t. ``x``
    (nodes that do not depend on it are absent) and each node's local rules."""
    sp = _sp()
    pat: dict[Node, Any] = {x: sp.identity(x.size, dtype=np.int32, format="csr")}
    rules_of: dict[Node, list] = {}
    relevant = pruned_subgraph(ys, [x])
    for node in relevant:
        if node is x:
            continue
        rules = rules_of[node] = local_rules(node)
        acc = None
        for inp, rule in zip(node.inputs, rules):
            p = pat.get(inp)
            if p is None or rule is None:
                continue
            term = _union_rows(p, node.size) if isinstance(rule, str) else rule @ p
            acc = term if acc is None else acc + term
        if acc is not None:
            pat[node] = _binary(acc)
    return relevant, pat, rules_of


def sparsity(y: Node, x: Node) -> Any:
    """The structural Jacobian pattern of ``y`` with respect to ``x``, without evaluating.

    A boolean ``scipy.sparse.csr_matrix`` of shape ``(y.size, x.size)`` (both
    flattened in C order): entry (i, j) is true where ``d y[i] / d x[j]`` can be
    non-zero at some point.  Built from every op's sparsity rule; a superset of
    the non-zeros at any particular point (an op whose rule is conservative
    adds entries, never drops one).

    Parameters
    ----------
    y : Node
        Any node.
    x : Node
        One node that ``y`` may depend on.

    Returns
    -------
    scipy.sparse.csr_matrix
        Boolean, shape ``(y.size, x.size)``.

    See Also
    --------
    hessian_sparsity, sparse_jacobian

    Examples
    --------
    >>> x = sg.variable("x", (4,))
    >>> sg.sparsity(sg.cumsum(x)[:3], x).toarray().astype(int)
    array([[1, 0, 0, 0],
           [1, 1, 0, 0],
           [1, 1, 1, 0]])
    """
    _check(y, x, "sparsity")
    _, pat, _ = patterns([y], x)
    p = pat.get(y)
    if p is None:
        return _sp().csr_matrix((y.size, x.size), dtype=bool)
    return p.astype(bool)


def _live(relevant: list[Node], pat: dict, rules_of: dict, y: Node) -> dict[Node, np.ndarray]:
    """For each node, which of its elements ``y`` depends on (through differentiable paths)."""
    live: dict[Node, np.ndarray] = {y: np.ones(y.size, dtype=bool)}
    for node in reversed(relevant):
        mask = live.get(node)
        if mask is None or node not in rules_of or not mask.any():
            continue
        for inp, rule in zip(node.inputs, rules_of[node]):
            if rule is None or inp not in pat:
                continue
            if isinstance(rule, str):
                reach = np.ones(inp.size, dtype=bool)
            else:
                reach = (rule.T @ mask.astype(np.int32)) > 0
            have = live.get(inp)
            live[inp] = reach if have is None else (have | reach)
    return live


def _meeting(rule_a: Any, rule_b: Any, rows: np.ndarray, size_a: int, size_b: int) -> Any:
    """Pairs (i, j) of elements of inputs a and b that feed one of the output ``rows``."""
    sp = _sp()
    if isinstance(rule_a, str) or isinstance(rule_b, str):
        def touched(rule: Any, size: int) -> np.ndarray:
            if isinstance(rule, str):
                return np.ones(size, dtype=bool)
            return np.asarray(rule[rows].sum(axis=0)).ravel() > 0

        ta, tb = touched(rule_a, size_a), touched(rule_b, size_b)
        return _binary(sp.csr_matrix(ta[:, None].astype(np.int32)) @
                       sp.csr_matrix(tb[None, :].astype(np.int32)))
    return rule_a[rows].T @ rule_b[rows]


def hessian_sparsity(y: Node, x: Node) -> Any:
    """The structural Hessian pattern of scalar ``y`` with respect to ``x``, without evaluating.

    A symmetric boolean ``scipy.sparse.csr_matrix`` of shape ``(x.size, x.size)``:
    entry (i, j) is true where ``d^2 y / dx_i dx_j`` can be non-zero.  A superset
    of the non-zeros at any point, exact when each curving op's inputs do not
    cancel (the usual case).

    Parameters
    ----------
    y : Node
        A floating-point scalar.
    x : Node
        One node.

    Returns
    -------
    scipy.sparse.csr_matrix
        Boolean and symmetric, shape ``(x.size, x.size)``.

    See Also
    --------
    sparsity, sparse_hessian

    Examples
    --------
    >>> x = sg.variable("x", (4,))
    >>> sg.hessian_sparsity(sg.sum(x[1:] * x[:-1]), x).toarray().astype(int)
    array([[0, 1, 0, 0],
           [1, 0, 1, 0],
           [0, 1, 0, 1],
           [0, 0, 1, 0]])
    """
    _check(y, x, "hessian_sparsity")
    if y.dtype.kind not in "fc":
        raise DTypeError(f"hessian_sparsity: y has dtype {y.dtype}; only floating-point nodes "
                         "have derivatives")
    if y.shape != ():
        raise ShapeError(f"hessian_sparsity: y must be a scalar node, got shape {y.shape}")
    sp = _sp()
    relevant, pat, rules_of = patterns([y], x)
    live = _live(relevant, pat, rules_of, y)
    rows_all: list[np.ndarray] = []
    cols_all: list[np.ndarray] = []
    for node in relevant:
        op = node.op
        mask = live.get(node)
        if (node not in pat or node not in rules_of or mask is None or op.linear
                or op.selects or not op.differentiable or isinstance(op, Item)):
            continue  # a part of a tuple node: the tuple node pairs all its inputs already
        rows = np.flatnonzero(mask)
        if not len(rows):
            continue
        rules = rules_of[node]
        flat = set(op.linear_in)
        ins = [(k, inp, rules[k]) for k, inp in enumerate(node.inputs)
               if inp in pat and rules[k] is not None]
        for a, in_a, rule_a in ins:
            for b, in_b, rule_b in ins:
                if a == b and (op.multilinear or a in flat):
                    continue
                pairs = op.hessian_pairs(node, a, b, rows) if op.hessian_pairs is not None else None
                meet = (_binary(pairs) if pairs is not None
                        else _meeting(rule_a, rule_b, rows, in_a.size, in_b.size))
                if meet.nnz:
                    term = (pat[in_a].T @ (meet @ pat[in_b])).tocoo()
                    rows_all += [term.row, term.col]  # both (i, j) and (j, i): symmetric
                    cols_all += [term.col, term.row]
    r = np.concatenate(rows_all) if rows_all else np.zeros(0, np.int64)
    c = np.concatenate(cols_all) if cols_all else np.zeros(0, np.int64)
    total = _binary(sp.coo_matrix((np.ones(len(r), np.int32), (r, c)), shape=(x.size, x.size)))
    return total.astype(bool)


__all__ = ["sparsity", "hessian_sparsity", "patterns", "local_rules"]

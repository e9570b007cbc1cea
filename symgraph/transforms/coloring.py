"""Colouring the columns of a sparse pattern, and reading derivatives back from the colours.

A sparse Jacobian ``J`` is recovered from ``J @ S`` where ``S`` has one
column per colour (the sum of the unit vectors of that colour's columns):
columns of one colour must share no row (a colouring of the column
intersection graph, "distance-2" on the bipartite graph).  A symmetric
Hessian can do with fewer colours: a *star colouring* of its adjacency graph
(adjacent vertices differ, and every path on four vertices uses at least
three colours) lets every entry be read directly from one of the two places
it appears (Gebremedhin, Manne and Pothen, "What color is your Jacobian?",
SIAM Review 2005).  networkx builds the graphs, orders the vertices
(smallest-last) and colours Jacobians; the star rule is a greedy pass over
that order.  Every colouring is checked before it is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SymgraphError


def _sp():
    import scipy.sparse as sp

    return sp


def _off_diagonal(m: Any) -> Any:
    """The boolean pattern ``m`` without its diagonal, as csr."""
    c = _sp().coo_matrix(m)
    keep = (c.row != c.col) & (c.data != 0)
    out = _sp().csr_matrix((np.ones(int(keep.sum()), dtype=bool), (c.row[keep], c.col[keep])),
                           shape=c.shape)
    out.sum_duplicates()
    return out


def _nx_graph(adjacency: Any) -> Any:
    """The undirected networkx graph of a symmetric adjacency pattern (vertices 0..n-1)."""
    import networkx as nx

    c = _sp().triu(adjacency, k=1, format="coo")
    graph = nx.Graph()
    graph.add_nodes_from(range(adjacency.shape[0]))
    graph.add_edges_from(zip(c.row.tolist(), c.col.tolist()))
    return graph


#: Up to this many vertices, ``order="auto"`` is networkx's smallest-last order (fewest
#: colours); above it, largest-first (a sort by degree: seconds faster at 10^5 vertices,
#: for a colour or two more).
SMALLEST_LAST_UP_TO = 20_000
ORDERS = ("auto", "smallest_last", "largest_first")


def _order(order: str, n: int) -> str:
    if order not in ORDERS:
        raise SymgraphError(f"colouring order must be one of {ORDERS}, got {order!r}")
    if order == "auto":
        return "smallest_last" if n <= SMALLEST_LAST_UP_TO else "largest_first"
    return order


def _greedy_nx(adjacency: Any, order: str = "auto") -> np.ndarray:
    """networkx's greedy colouring of the graph with this adjacency, in ``order``."""
    import networkx as nx

    n = adjacency.shape[0]
    colors = np.zeros(n, dtype=np.int64)
    strategy = _order(order, n)
    for v, c in nx.greedy_color(_nx_graph(adjacency), strategy=strategy).items():
        colors[v] = c
    return colors


def _vertex_order(adjacency: Any, order: str) -> Any:
    """The vertices in the greedy order: networkx's smallest-last, or by decreasing degree
    (networkx's largest-first, computed with a stable numpy sort without building a graph)."""
    import networkx as nx

    if _order(order, adjacency.shape[0]) == "smallest_last":
        return nx.coloring.strategy_smallest_last(_nx_graph(adjacency), None)
    degree = np.diff(adjacency.tocsr().indptr)
    return np.argsort(-degree, kind="stable").tolist()


def color_columns(pattern: Any, order: str = "auto") -> np.ndarray:
    """One colour per column such that no two columns of a colour share a row.

    Columns that share a row are adjacent in the column intersection graph
    ``P^T P``; networkx colours it greedily, visiting the columns in ``order``
    (``ORDERS``; ``"auto"``: smallest-last up to ``SMALLEST_LAST_UP_TO`` columns,
    largest-first above).  Returns an int array (colours 0, 1, ...).
    """
    p = _sp().csr_matrix(pattern, dtype=np.int32)
    colors = _greedy_nx(_off_diagonal(p.T @ p), order)
    if not valid_column_coloring(p, colors):  # pragma: no cover - networkx guarantees it
        raise SymgraphError("internal error: the column colouring is not valid")
    return colors


def valid_column_coloring(pattern: Any, colors: np.ndarray) -> bool:
    """Whether no row of ``pattern`` has two columns of one colour."""
    p = _sp().csr_matrix(pattern, dtype=bool).tocoo()
    if p.nnz == 0:
        return True
    n_colors = int(colors.max()) + 1 if len(colors) else 1
    keys = p.row.astype(np.int64) * n_colors + colors[p.col]
    return len(np.unique(keys)) == len(keys)


def _neighbours(adjacency: Any) -> list[list[int]]:
    a = adjacency.tocsr()
    return [a.indices[a.indptr[v]:a.indptr[v + 1]].tolist() for v in range(a.shape[0])]


def star_coloring(pattern: Any, order: str = "auto") -> np.ndarray:
    """A star colouring of the symmetric ``pattern``'s adjacency graph (the diagonal ignored).

    Greedy over the vertices in ``order`` (as ``color_columns``): vertex v takes
    the smallest colour that is not

    * a neighbour's colour (distance 1),
    * the colour of x on a path v-w-x-y with colour(y) == colour(w) (v at the
      end of a two-coloured path of four), or
    * the colour of x on a path u-v-w-x with colour(u) == colour(w) (v inside one).

    Each vertex keeps counts of its neighbours' colours, so a vertex costs
    O(degree^2).  The result is checked (``valid_star_coloring``); should the
    greedy ever fail, a distance-2 colouring is returned instead.
    """
    adjacency = _off_diagonal(pattern)
    adjacency = _off_diagonal(adjacency + adjacency.T)
    n = adjacency.shape[0]
    nbrs = _neighbours(adjacency)
    color = [-1] * n
    counts: list[dict[int, int]] = [{} for _ in range(n)]
    for v in _vertex_order(adjacency, order):
        forbidden = set()
        repeated = {c for c, k in counts[v].items() if k >= 2}
        for w in nbrs[v]:
            cw = color[w]
            if cw < 0:
                continue
            forbidden.add(cw)
            twice = cw in repeated
            for x in nbrs[w]:
                cx = color[x]
                if x == v or cx < 0:
                    continue
                if twice or counts[x].get(cw, 0) >= 2:
                    forbidden.add(cx)
        c = 0
        while c in forbidden:
            c += 1
        color[v] = c
        for w in nbrs[v]:
            counts[w][c] = counts[w].get(c, 0) + 1
    colors = np.asarray(color, dtype=np.int64) if n else np.zeros(0, np.int64)
    if not valid_star_coloring(pattern, colors):  # pragma: no cover - the greedy rules ensure it
        square = adjacency.astype(np.int32) @ adjacency.astype(np.int32) + adjacency
        return _greedy_nx(_off_diagonal(square), order)
    return colors


def _hessian_sources(pattern: Any, colors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each stored entry (i, j) of ``pattern``: (i, j, direct) where ``direct`` says
    H[i, j] is B[i, colour(j)] (column j alone in row i with its colour) rather than
    B[j, colour(i)]."""
    p = _sp().csr_matrix(pattern, dtype=bool).tocoo()
    rows, cols = p.row.astype(np.int64), p.col.astype(np.int64)
    n_colors = int(colors.max()) + 1 if len(colors) else 1
    keys = rows * n_colors + colors[cols]
    counts = np.bincount(keys, minlength=p.shape[0] * n_colors) if len(keys) else np.zeros(0, int)
    direct = counts[keys] == 1 if len(keys) else np.zeros(0, bool)
    return rows, cols, direct


def valid_star_coloring(pattern: Any, colors: np.ndarray) -> bool:
    """Whether every entry of the symmetric ``pattern`` can be read from ``H @ S`` directly."""
    rows, cols, direct = _hessian_sources(pattern, colors)
    if not len(rows):
        return True
    n_colors = int(colors.max()) + 1
    keys = rows * n_colors + colors[cols]
    counts = np.bincount(keys, minlength=len(colors) * n_colors)
    mirror = counts[cols * n_colors + colors[rows]] == 1
    return bool(np.all(direct | mirror))


def recover_jacobian(pattern: Any, colors: np.ndarray, compressed: np.ndarray) -> Any:
    """The sparse Jacobian from ``compressed = J @ S`` (shape (rows, n_colors))."""
    p = _sp().csr_matrix(pattern, dtype=bool).tocoo()
    values = np.asarray(compressed)[p.row, colors[p.col]]
    return _sp().csr_matrix((values, (p.row, p.col)), shape=p.shape)


def recover_hessian(pattern: Any, colors: np.ndarray, compressed: np.ndarray) -> Any:
    """The sparse symmetric Hessian from ``compressed = H @ S`` (shape (n, n_colors))."""
    rows, cols, direct = _hessian_sources(pattern, colors)
    b = np.asarray(compressed)
    values = np.where(direct, b[rows, colors[cols]], b[cols, colors[rows]])
    return _sp().csr_matrix((values, (rows, cols)), shape=_sp().csr_matrix(pattern).shape)


__all__ = ["color_columns", "star_coloring", "valid_column_coloring", "valid_star_coloring",
           "recover_jacobian", "recover_hessian"]

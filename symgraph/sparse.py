"""Sparse Jacobians and Hessians: exact patterns, coloured seeds, one batched sweep.

``sparse_jacobian(y, x)`` and ``sparse_hessian(y, x)`` find the structural
pattern from the graph (``sg.sparsity`` / ``sg.hessian_sparsity``, nothing
evaluated), colour its columns (networkx), and build the *compressed*
derivative -- the derivative applied to one seed per colour -- as one sweep
vectorized over the seeds.  Evaluating that node costs about ``n_colors``
directional derivatives however large the problem (3 for a tridiagonal
Hessian at any n), and the entries are read back into a
``scipy.sparse.csr_matrix`` by index arithmetic (no solves).
"""

from __future__ import annotations

import io
from typing import Any, Mapping, Sequence

import numpy as np

from .autodiff import build_grad, build_jvp, check_wrt, seed_for
from .compile import function as compile_function
from .derivatives import scalar_y
from .errors import DTypeError, SymgraphError
from .evaluate import evaluate
from .graph import Node
from .ops.elementwise import cast, equal
from .ops.shape import reshape, transpose
from .ops.sources import arange, constant
from .transforms.coloring import color_columns, star_coloring
from .transforms.sparsity import hessian_sparsity, sparsity
from .transforms.substitute import placeholder, vectorize

MODES = ("auto", "fwd", "rev")


class SparseDerivative:
    """A sparse Jacobian or Hessian as a graph node plus what reads it back.

    Made by ``sg.sparse_jacobian`` and ``sg.sparse_hessian``.  The derivative
    is computed as one dense node, ``compressed`` -- the derivative applied to
    one seed per colour -- and ``evaluate``/``function``/``decompress`` scatter
    its entries into a ``scipy.sparse.csr_matrix`` by index arithmetic.  In
    Jupyter it shows its spy plot (``draw``).

    Attributes
    ----------
    kind : str
        ``"jacobian"`` or ``"hessian"``.
    pattern : scipy.sparse.csr_matrix
        Boolean, the structural non-zeros; its shape is the derivative's.
    colors : numpy.ndarray
        One colour per column (per row for a reverse-mode Jacobian: see
        ``axis``).
    n_colors : int
        Number of colours: the number of directional derivatives computed.
    compressed : Node
        The derivative applied to the colour seeds: shape (pattern rows,
        n_colors), or (columns, n_colors) of the transpose in reverse mode.
    sources : numpy.ndarray
        Flat positions in ``compressed`` of each stored entry of ``pattern``
        (csr order).
    axis : str
        ``"columns"`` (forward-mode Jacobians, Hessians) or ``"rows"``
        (reverse-mode Jacobians): what was coloured.

    Examples
    --------
    >>> x = sg.variable("x", (5,))
    >>> J = sg.sparse_jacobian(x[1:] * x[:-1], x)
    >>> J
    <SparseDerivative jacobian 4x5, 8 non-zeros, 2 colours>
    >>> J.compressed.shape, J.colors
    ((4, 2), array([0, 1, 0, 1, 0]))
    >>> f = J.function([x])                  # compiled: values -> csr_matrix
    >>> f(np.arange(5.0)).toarray()
    array([[1., 0., 0., 0., 0.],
           [0., 2., 1., 0., 0.],
           [0., 0., 3., 2., 0.],
           [0., 0., 0., 4., 3.]])
    """

    def __init__(self, kind: str, pattern: Any, colors: np.ndarray, compressed: Node,
                 sources: np.ndarray, axis: str) -> None:
        self.kind = kind
        self.pattern = pattern
        self.colors = colors
        self.n_colors = int(colors.max()) + 1 if colors.size else 0
        self.compressed = compressed
        # flat positions in ``compressed`` of each stored entry of ``pattern`` (csr order)
        self.sources = sources
        # "columns" (forward Jacobians, Hessians) or "rows" (reverse-mode Jacobians)
        self.axis = axis

    @property
    def shape(self) -> tuple[int, int]:
        """The derivative's shape: ``(y.size, x.size)``, or ``(x.size, x.size)`` for a Hessian."""
        return self.pattern.shape

    def decompress(self, compressed: np.ndarray) -> Any:
        """The ``csr_matrix`` from a value of ``compressed`` (index arithmetic only)."""
        import scipy.sparse as sp

        b = np.asarray(compressed)
        data = b.reshape(-1)[self.sources] if self.sources.size else np.zeros(0, b.dtype)
        p = self.pattern
        return sp.csr_matrix((data, p.indices.copy(), p.indptr.copy()), shape=p.shape)

    def evaluate(self, feed: Mapping) -> Any:
        """The derivative at ``feed`` (as for ``sg.evaluate``) as a ``scipy.sparse.csr_matrix``."""
        return self.decompress(evaluate(self.compressed, feed))

    def function(self, inputs: Sequence[Node] | Node, **options: Any) -> Any:
        """A compiled callable ``f(*input_values) -> csr_matrix`` (options as ``sg.function``)."""
        compiled = compile_function(inputs, self.compressed, **options)
        decompress = self.decompress

        def sparse_derivative(*values: Any) -> Any:
            return decompress(compiled(*values))

        sparse_derivative.compiled = compiled  # type: ignore[attr-defined]
        return sparse_derivative

    def draw(self, *, title: str | None = None, markersize: float | None = None) -> "PatternPicture":
        """A spy plot of the pattern, coloured by the columns' colours (matplotlib)."""
        return PatternPicture(self, title=title, markersize=markersize)

    def _repr_png_(self) -> bytes:
        return self.draw().png

    def __repr__(self) -> str:
        m, n = self.shape
        return (f"<SparseDerivative {self.kind} {m}x{n}, {self.pattern.nnz} non-zeros, "
                f"{self.n_colors} colours>")


class PatternPicture:
    """A spy plot of a ``SparseDerivative``: shows itself in Jupyter; ``.save("f.png")``."""

    def __init__(self, derivative: SparseDerivative, *, title: str | None = None,
                 markersize: float | None = None) -> None:
        try:
            import matplotlib
        except ImportError:  # pragma: no cover - matplotlib is in the dev extra
            raise SymgraphError("drawing a sparsity pattern needs matplotlib: "
                                "pip install matplotlib") from None
        matplotlib.use("Agg", force=False) if matplotlib.get_backend() == "" else None
        from matplotlib.figure import Figure

        p = derivative.pattern.tocoo()
        m, n = p.shape
        fig = Figure(figsize=(4.5, 4.5 * min(2.0, max(0.25, m / max(n, 1)))), dpi=110)
        ax = fig.add_subplot()
        colors = derivative.colors
        cmap = matplotlib.colormaps["tab10" if derivative.n_colors <= 10 else "tab20"]
        by = p.col if derivative.axis == "columns" else p.row
        size = markersize if markersize is not None else max(0.5, min(6.0, 300.0 / max(m, n, 1)))
        ax.scatter(p.col, p.row, s=size ** 2, marker="s", linewidths=0,
                   c=[cmap(int(colors[k]) % cmap.N) for k in by] if p.nnz else None)
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(m - 0.5, -0.5)
        ax.set_aspect("equal" if 0.25 <= m / max(n, 1) <= 4 else "auto")
        ax.set_title(title or f"{derivative.kind}: {m}x{n}, {p.nnz} non-zeros, "
                              f"{derivative.n_colors} colours", fontsize=9)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.png = buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.png)


def color_seeds(colors: np.ndarray, n_colors: int, shape: tuple[int, ...], dtype: Any,
                graph: Any) -> Node:
    """One seed per colour, shaped like the variable: seed c is 1 where ``colors == c``.

    Built from the colours (n integers) at run time, not stored as a dense
    (n_colors x n) constant.
    """
    labels = reshape(constant(np.asarray(colors, np.int64), graph=graph), (1, colors.size))
    which = reshape(arange(n_colors, dtype=np.int64, graph=graph), (n_colors, 1))
    return reshape(cast(equal(labels, which), dtype), (n_colors,) + tuple(shape))


def _checked(y: Any, x: Any, what: str) -> tuple[Node, Node]:
    if not isinstance(y, Node):
        raise SymgraphError(f"{what}: y must be a Node, got {type(y).__name__}")
    xs, _ = check_wrt(x, what)
    if len(xs) != 1 or not isinstance(x, Node):
        raise SymgraphError(f"{what}: x must be one Node (concatenate several variables into "
                            "one vector to get one sparse matrix)")
    if y.dtype.kind not in "fc":
        raise DTypeError(f"{what}: cannot differentiate y of dtype {y.dtype}")
    if y.graph is not x.graph:
        raise SymgraphError(f"{what}: y and x belong to different graphs")
    return y, x


def _flat_sources(rows: np.ndarray, cols: np.ndarray, n_colors: int) -> np.ndarray:
    return rows.astype(np.int64) * max(n_colors, 1) + cols.astype(np.int64)


def sparse_jacobian(y: Node, x: Node, mode: str = "auto", *, order: str = "auto"
                    ) -> SparseDerivative:
    """The Jacobian of ``y`` with respect to ``x`` as a sparse matrix (shape (y.size, x.size)).

    ``mode="fwd"`` colours the columns (columns of one colour share no row) and
    batches a Jacobian-vector product over the colour seeds; ``mode="rev"``
    colours the rows and batches a vector-Jacobian product; ``"auto"`` takes the
    one with fewer colours.  The pattern comes from the graph (``sg.sparsity``),
    never from evaluating, so the cost is a few directional derivatives however
    large ``x`` is, and the graph does not grow with the number of colours.

    Parameters
    ----------
    y : Node
        A floating-point node of any shape (flattened in C order).
    x : Node
        One node (flattened in C order).
    mode : {"auto", "fwd", "rev"}, default "auto"
        Colour the columns and use forward mode, or the rows and reverse mode.
    order : {"auto", "smallest_last", "largest_first"}, default "auto"
        The greedy colouring's vertex order: "smallest_last" gives fewer
        colours, "largest_first" is faster on very large patterns; "auto" uses
        smallest-last up to 20,000 vertices.

    Returns
    -------
    SparseDerivative

    See Also
    --------
    jacobian, sparsity, sparse_hessian

    Examples
    --------
    >>> x = sg.variable("x", (5,))
    >>> J = sg.sparse_jacobian(x[1:] * x[:-1], x)   # 2 colours at any size
    >>> J
    <SparseDerivative jacobian 4x5, 8 non-zeros, 2 colours>
    >>> J.evaluate({"x": np.arange(5.0)}).toarray()
    array([[1., 0., 0., 0., 0.],
           [0., 2., 1., 0., 0.],
           [0., 0., 3., 2., 0.],
           [0., 0., 0., 4., 3.]])
    """
    if mode not in MODES:
        raise SymgraphError(f"sparse_jacobian: mode must be one of {MODES}, got {mode!r}")
    y, x = _checked(y, x, "sparse_jacobian")
    pattern = sparsity(y, x)
    if mode == "auto":
        per_row = np.diff(pattern.indptr).max(initial=0)
        per_col = np.bincount(pattern.indices, minlength=x.size).max(initial=0)
        mode = "rev" if per_col < per_row else "fwd"
    coo = pattern.tocoo()  # csr order: rows, then columns
    if mode == "fwd":
        colors = color_columns(pattern, order)
        c = int(colors.max()) + 1 if colors.size and pattern.nnz else 0
        if c == 0:
            return _empty("jacobian", pattern, colors, y, "columns")
        compressed = compressed_sweep(lambda seed: build_jvp([y], [x], [seed])[0], x, colors, c,
                                      y.size)  # J S, (y.size, c)
        sources = _flat_sources(coo.row, colors[coo.col], c)
        return SparseDerivative("jacobian", pattern, colors, compressed, sources, "columns")
    colors = color_columns(pattern.T.tocsr(), order)
    c = int(colors.max()) + 1 if colors.size and pattern.nnz else 0
    if c == 0:
        return _empty("jacobian", pattern, colors, y, "rows")
    compressed = compressed_sweep(lambda seed: build_grad([y], [seed], [x])[0], y, colors, c,
                                  x.size)  # J^T S, (x.size, c)
    sources = _flat_sources(coo.col, colors[coo.row], c)
    return SparseDerivative("jacobian", pattern, colors, compressed, sources, "rows")


def compressed_sweep(sweep: Any, like: Node, colors: np.ndarray, n_colors: int,
                     out_size: int) -> Node:
    """``sweep(seed)`` (a jvp or vjp with a seed shaped like ``like``) vectorized over the
    colour seeds, as a matrix with one column per colour: shape (out_size, n_colors)."""
    graph = like.graph
    seed = placeholder(like.shape, like.dtype, graph)
    batch = vectorize(sweep(seed), {seed: color_seeds(colors, n_colors, like.shape, like.dtype,
                                                      graph)})
    return transpose(reshape(batch, (n_colors, out_size)), (1, 0))


def sparse_hessian(y: Node, x: Node, *, order: str = "auto") -> SparseDerivative:
    """The Hessian of scalar ``y`` with respect to ``x`` as a sparse matrix (x.size, x.size).

    The columns are star-coloured (fewer colours than a plain column
    colouring: symmetry lets every entry be read from one of its two copies),
    and the compressed Hessian is forward-over-reverse: the gradient's jvp
    batched over the colour seeds.  Example: the Hessian of the Rosenbrock
    chain is tridiagonal and needs 3 colours at any n.  ``order`` is the
    colouring's vertex order, as for ``sparse_jacobian``.

    Parameters
    ----------
    y : Node
        A floating-point scalar.
    x : Node
        One node (flattened in C order).
    order : {"auto", "smallest_last", "largest_first"}, default "auto"
        As for ``sparse_jacobian``.

    Returns
    -------
    SparseDerivative

    See Also
    --------
    hessian, hessian_sparsity, optimize.newton

    Examples
    --------
    >>> x = sg.variable("x", (1000,))
    >>> f = sg.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)   # Rosenbrock chain
    >>> H = sg.sparse_hessian(f, x)
    >>> H
    <SparseDerivative hessian 1000x1000, 2998 non-zeros, 3 colours>
    >>> H.evaluate({x: np.ones(1000)})[:3, :4].toarray()
    array([[ 802., -400.,    0.,    0.],
           [-400., 1002., -400.,    0.],
           [   0., -400., 1002., -400.]])
    """
    y, x = _checked(y, x, "sparse_hessian")
    y = scalar_y(y, "sparse_hessian")
    pattern = hessian_sparsity(y, x)
    colors = star_coloring(pattern, order)
    c = int(colors.max()) + 1 if colors.size else 0
    if c == 0 or pattern.nnz == 0:
        return _empty("hessian", pattern, colors, y, "columns")
    (g,) = build_grad([y], [seed_for(y, None, "sparse_hessian")], [x])
    compressed = compressed_sweep(lambda seed: build_jvp([g], [x], [seed])[0], x, colors, c,
                                  x.size)  # H S, (n, c)
    coo = pattern.tocoo()
    n_colors = c
    keys = coo.row.astype(np.int64) * n_colors + colors[coo.col]
    direct = np.bincount(keys, minlength=x.size * n_colors)[keys] == 1
    rows = np.where(direct, coo.row, coo.col)
    cols = np.where(direct, colors[coo.col], colors[coo.row])
    sources = _flat_sources(rows, cols, c)
    return SparseDerivative("hessian", pattern, colors, compressed, sources, "columns")


def _empty(kind: str, pattern: Any, colors: np.ndarray, y: Node, axis: str) -> SparseDerivative:
    """A derivative with no structural non-zeros: a zero-column compressed node."""
    from .ops.sources import full

    rows = pattern.shape[0] if axis == "columns" else pattern.shape[1]
    compressed = full((rows, 0), 0, y.dtype, graph=y.graph)
    empty = SparseDerivative(kind, pattern, np.zeros_like(colors), compressed,
                             np.zeros(0, np.int64), axis)
    empty.n_colors = 0
    return empty


__all__ = ["SparseDerivative", "PatternPicture", "sparse_jacobian", "sparse_hessian", "color_seeds",
           "compressed_sweep"]

"""Derived derivatives: Hessian-vector products, Jacobians and Hessians.

All are built from the two primitive sweeps of ``symgraph.autodiff`` (reverse
``build_grad`` and forward ``build_jvp``), so they are ordinary nodes of the
same graph and can be differentiated, evaluated or compiled like any other.

* ``hvp`` is one gradient plus one more sweep: forward-over-reverse (a jvp of
  the gradient, the default; no extra backward pass) or reverse-over-reverse
  (the gradient of ``<grad, v>``).  Either costs a small constant times a
  gradient, which is what Krylov methods (CG, Lanczos) need.
* ``jacobian`` and ``hessian`` are one sweep vectorized over all unit vectors
  (``sg.vectorize``): reverse mode batches the vjp over the unit vectors of
  ``y``, forward mode the jvp over those of ``x``, Hessians the jvp of the
  gradient.  The forward pass and the gradient are shared, only the part that
  depends on the seed is batched, and the graph does not grow with the sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .autodiff import build_grad, build_jvp, check_wrt, lifted, node_label, same_graph, seed_for
from .errors import DTypeError, GraphMismatchError, ShapeError, SymgraphError
from .graph import Node
from .ops.base import as_node, is_inexact
from .ops.control import stop_gradient
from .ops.elementwise import add_n, cast
from .ops.reduce import sum as reduce_sum
from .ops.shape import reshape, transpose
from .ops.sources import eye, full
from .transforms.substitute import placeholder, vectorize

MODES = ("auto", "fwd", "rev")


# ---------------------------------------------------------------------------
# Hessian-vector products
# ---------------------------------------------------------------------------


def hvp(y: Node, x: Any, v: Any, mode: str = "fwd") -> Any:
    """Hessian-vector product ``(d^2 y / dx^2) v`` as nodes shaped (and structured) like ``x``.

    ``x`` is a node or a (nested) list/tuple/dict of nodes and ``v`` has the same
    structure (nodes or arrays); with several ``x`` the Hessian is the full block
    matrix, so the result is ``sum_j H_ij v_j`` for each ``x_i``.

    ``mode="fwd"`` (default) is forward-over-reverse: the jvp of ``grad(y, x)``
    along ``v``.  ``mode="rev"`` is reverse-over-reverse: ``grad(<grad(y, x), v>, x)``.

    A ``v`` computed from the graph (for example the gradient itself, or a
    Krylov residual) is wrapped in ``stop_gradient``, as the back-propagation
    chapter asks: the outer differentiation must not go into whatever produced
    ``v``, so the result is ``H v`` and nothing else, and derivatives of the
    result treat ``v`` as a constant.  A leaf ``v`` (a variable or constant) is
    used as is, so ``grad(<w, hvp(y, x, v)>, v)`` is still ``H w``.

    Parameters
    ----------
    y : Node
        A floating-point scalar.
    x : Node or list, tuple or dict of Node
        The nodes the Hessian is taken with respect to.
    v : Node or array_like, or a structure of them
        The vector, with the structure of ``x``, each part shaped like its node.
    mode : {"fwd", "rev"}, default "fwd"
        Forward-over-reverse or reverse-over-reverse; the same values.

    Returns
    -------
    Node or list, tuple or dict of Node
        ``H v``, shaped like ``x``.

    See Also
    --------
    hessian, grad, jvp, optimize.hessian_operator

    Examples
    --------
    >>> x = sg.variable("x", (2,))
    >>> y = x[0] ** 2 * x[1]                  # Hessian [[2 x1, 2 x0], [2 x0, 0]]
    >>> sg.evaluate(sg.hvp(y, x, np.array([1.0, 0.0])), {x: [1.0, 3.0]})
    array([6., 2.])
    >>> sg.evaluate(sg.hvp(y, x, np.array([0.0, 1.0]), mode="rev"), {x: [1.0, 3.0]})
    array([2., 0.])
    """
    if mode not in ("fwd", "rev"):
        raise SymgraphError(f"hvp: mode must be 'fwd' or 'rev', got {mode!r}")
    y = scalar_y(y, "hvp")
    xs, unflatten = check_wrt(x, "hvp")
    xs = lifted(y.graph, xs)
    graph = same_graph([y] + xs, "hvp")
    vs = _directions(_leaves_like(v, x, "hvp"), xs, graph, "hvp")
    gs = build_grad([y], [seed_for(y, None, "hvp")], xs)
    if mode == "fwd":
        return unflatten(build_jvp(gs, xs, vs))
    inner = add_n([reduce_sum(g * cast(d, g.dtype)) for g, d in zip(gs, vs)])
    return unflatten(build_grad([inner], [full((), 1, inner.dtype, graph=graph)], xs))


def _leaves_like(v: Any, x: Any, what: str) -> list[Any]:
    """The parts of ``v`` at the positions of ``x``'s nodes (so a plain list may be one vector)."""
    out: list[Any] = []
    todo = [(v, x)]
    while todo:
        vv, xx = todo.pop()
        if isinstance(xx, Node):
            out.append(vv)
        elif isinstance(xx, dict) and isinstance(vv, dict) and vv.keys() == xx.keys():
            todo.extend((vv[k], xx[k]) for k in reversed(list(xx)))
        elif (isinstance(xx, (list, tuple)) and isinstance(vv, (list, tuple))
              and len(vv) == len(xx)):
            todo.extend(reversed(list(zip(vv, xx))))
        else:
            raise SymgraphError(f"{what}: v must mirror the structure of x; got "
                                f"{type(vv).__name__} where x has {type(xx).__name__}")
    return out


def _directions(leaves: list[Any], xs: list[Node], graph, what: str) -> list[Node]:
    """One direction per ``x``: shape-checked, cast, and held constant if computed."""
    out = []
    for w, d in zip(xs, leaves):
        if isinstance(d, Node):
            d = lifted(graph, [d])[0]
            if d.graph is not graph:
                raise GraphMismatchError(f"{what}: a direction vector belongs to another graph")
            if not is_inexact(d.dtype):
                d = cast(d, w.dtype)
        else:
            try:
                arr = np.asarray(d, dtype=w.dtype)
            except (TypeError, ValueError) as e:
                raise DTypeError(f"{what}: direction for {node_label(w)} is not numeric: {e}") from None
            d = as_node(arr, like=w)
        if d.shape != w.shape:
            raise ShapeError(f"{what}: direction of shape {d.shape} for {node_label(w)} of shape "
                             f"{w.shape}")
        if d.inputs:
            d = stop_gradient(d)
        out.append(cast(d, w.dtype))
    return out


def scalar_y(y: Any, what: str) -> Node:
    """``y`` checked as a differentiable scalar node (what ``hvp``, ``hessian``, ``optimize`` need)."""
    if not isinstance(y, Node):
        raise SymgraphError(f"{what}: y must be a Node, got {type(y).__name__}")
    if y.shape != ():
        raise ShapeError(f"{what}: y must be a scalar node, got shape {y.shape}")
    if not is_inexact(y.dtype):
        raise DTypeError(f"{what}: cannot differentiate {node_label(y)} of dtype {y.dtype}")
    return y


# ---------------------------------------------------------------------------
# Jacobians and Hessians: one batched sweep
# ---------------------------------------------------------------------------


def identity_seeds(shape: tuple[int, ...], dtype: Any, graph) -> Node:
    """Every unit vector of an array of ``shape`` at once: ``eye(size)`` with each row shaped
    like the array -- the batch a sweep is vectorized over.  ``eye`` is made at run time
    and products with it fold away (``matmul``), so no n x n constant is stored."""
    size = int(np.prod(shape, dtype=np.int64))
    return reshape(eye(size, dtype=dtype, graph=graph), (size,) + tuple(shape))


def jacobian(y: Node, x: Any, mode: str = "auto") -> Any:
    """The Jacobian ``dy/dx`` as a node of shape ``y.shape + x.shape``.

    ``x`` may be a node or a (nested) list/tuple/dict of nodes; the result
    mirrors it.  One batched sweep (``sg.vectorize``) computes every row or
    column at once, so the graph has the size of one sweep whatever the sizes:
    ``mode="rev"`` batches the vector-Jacobian product over the unit vectors of
    ``y``, ``mode="fwd"`` the Jacobian-vector product over those of ``x``;
    ``mode="auto"`` picks forward mode when ``x`` has fewer elements than ``y``.
    Each block has the dtype numpy would give ``y`` and that ``x`` together.

    Parameters
    ----------
    y : Node
        A floating-point node of any shape.
    x : Node or list, tuple or dict of Node
        What to differentiate with respect to.
    mode : {"auto", "fwd", "rev"}, default "auto"
        Batch the forward sweep over the unit vectors of ``x`` ("fwd"), or the
        reverse sweep over those of ``y`` ("rev"); "auto" takes the smaller.

    Returns
    -------
    Node or list, tuple or dict of Node
        ``dy/dx`` of shape ``y.shape + x.shape``, structured like ``x``.

    See Also
    --------
    hessian, sparse_jacobian, vectorize

    Examples
    --------
    >>> x = sg.variable("x", (2,))
    >>> J = sg.jacobian(sg.stack([x[0] * x[1], x[0] + 2 * x[1], x[1] ** 2]), x)
    >>> J.shape
    (3, 2)
    >>> sg.evaluate(J, {x: [1.0, 3.0]})
    array([[3., 1.],
           [1., 2.],
           [0., 6.]])
    """
    if mode not in MODES:
        raise SymgraphError(f"jacobian: mode must be one of {MODES}, got {mode!r}")
    if not isinstance(y, Node):
        raise SymgraphError(f"jacobian: y must be a Node, got {type(y).__name__}")
    if not is_inexact(y.dtype):
        raise DTypeError(f"jacobian: cannot differentiate {node_label(y)} of dtype {y.dtype}")
    xs, unflatten = check_wrt(x, "jacobian")
    same_graph([y] + xs, "jacobian")
    if mode == "auto":
        mode = "fwd" if sum(w.size for w in xs) < y.size else "rev"
    blocks = jacobian_fwd([y], xs) if mode == "fwd" else jacobian_rev([y], xs)
    # one dtype whichever the mode: forward sweeps carry y's, reverse sweeps x's
    return unflatten([cast(b, np.result_type(y.dtype, x.dtype)) for b, x in zip(blocks[0], xs)])


def jacobian_rev(ys: list[Node], xs: list[Node]) -> list[list[Node]]:
    """``blocks[i][j] = d ys[i] / d xs[j]``: each y's vjp batched over its unit cotangents."""
    graph = ys[0].graph
    blocks = []
    for y in ys:
        if y.size == 0:
            blocks.append([full(y.shape + x.shape, 0, x.dtype, graph=graph) for x in xs])
            continue
        seed = placeholder(y.shape, y.dtype, graph)
        rows = vectorize(build_grad([y], [seed], xs), {seed: identity_seeds(y.shape, y.dtype, graph)})
        blocks.append([reshape(r, y.shape + x.shape) for r, x in zip(rows, xs)])
    return blocks


def jacobian_fwd(ys: list[Node], xs: list[Node], *, symmetric: bool = False) -> list[list[Node]]:
    """``blocks[i][j] = d ys[i] / d xs[j]``: the jvp along each x batched over its unit tangents.

    ``symmetric``: block ``[j][j]`` is known to be symmetric (a Hessian's diagonal block),
    so the batched columns are its rows already and are not transposed.
    """
    graph = ys[0].graph
    blocks: list[list[Node]] = [[None] * len(xs) for _ in ys]  # type: ignore[list-item]
    for j, x in enumerate(xs):
        if x.size == 0:
            for i, y in enumerate(ys):
                blocks[i][j] = full(y.shape + x.shape, 0, y.dtype, graph=graph)
            continue
        seed = placeholder(x.shape, x.dtype, graph)
        cols = vectorize(build_jvp(ys, [x], [seed]), {seed: identity_seeds(x.shape, x.dtype, graph)})
        for i, (y, c) in enumerate(zip(ys, cols)):
            flat = reshape(c, (x.size, y.size))
            if not (symmetric and i == j):
                flat = transpose(flat, (1, 0))
            blocks[i][j] = reshape(flat, y.shape + x.shape)
    return blocks


def hessian(y: Node, x: Any) -> Any:
    """The Hessian of scalar ``y``: shape ``x.shape + x.shape`` (any shape of ``x``).

    Forward-over-reverse as one batched sweep: the gradient is built once, and
    its jvp is vectorized over the unit vectors of ``x`` (the graph does not
    grow with ``x.size``).  For a list of nodes ``[x1, x2, ...]`` the result is
    the block matrix as a list of lists, ``H[i][j]`` of shape
    ``xi.shape + xj.shape``.

    Parameters
    ----------
    y : Node
        A floating-point scalar.
    x : Node or list of Node
        One node, or several for the block Hessian.

    Returns
    -------
    Node or list of list of Node
        The Hessian, of shape ``x.shape + x.shape``; blocks for a list.

    See Also
    --------
    hvp, jacobian, sparse_hessian

    Examples
    --------
    >>> x = sg.variable("x", (2,))
    >>> H = sg.hessian(x[0] ** 2 * x[1], x)
    >>> sg.evaluate(H, {x: [1.0, 3.0]})
    array([[6., 2.],
           [2., 0.]])
    >>> a, b = sg.variable("a"), sg.variable("b")
    >>> blocks = sg.hessian(a ** 2 * b, [a, b])
    >>> [[float(h) for h in row] for row in sg.evaluate(blocks, {a: 1.0, b: 3.0})]
    [[6.0, 2.0], [2.0, 0.0]]
    """
    y = scalar_y(y, "hessian")
    if isinstance(x, Node):
        xs, single = [x], True
    elif isinstance(x, (list, tuple)) and all(isinstance(n, Node) for n in x):
        xs, single = list(x), False
    else:
        raise SymgraphError("hessian: x must be a Node or a list of Nodes")
    check_wrt(xs, "hessian")
    same_graph([y] + xs, "hessian")
    gs = build_grad([y], [seed_for(y, None, "hessian")], xs)
    blocks = jacobian_fwd(gs, xs, symmetric=True)
    return blocks[0][0] if single else blocks


__all__ = ["hvp", "jacobian", "hessian", "identity_seeds", "jacobian_fwd", "jacobian_rev", "scalar_y"]

"""``sg.scan`` and ``sg.while_loop``: trace the user's functions and build the loop node."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import DTypeError, ShapeError, SymgraphError
from ..graph import Graph, Node, apply, get_default_graph
from ..ops.base import as_node
from ..ops.tuples import item
from ..structure import flatten
from .body import graph_of, trace
from .loops import Scan, WhileLoop

def _leaves(tree: Any, what: str, graph: Graph | None) -> tuple[list[Node], Any]:
    leaves, unflatten = flatten(tree, lambda t: isinstance(t, Node))
    nodes = []
    for v in leaves:
        try:
            nodes.append(as_node(v) if not isinstance(v, Node) else v)
        except SymgraphError as e:
            raise SymgraphError(f"{what}: {type(v).__name__} {v!r:.40} is not a node or an "
                                f"array: {e}") from None
    return nodes, unflatten


def _shape_of(key: tuple) -> str:
    """A structure (``Unflatten.key``) in words, e.g. ``tuple(node, list(node, node))``."""
    built: list[str] = []
    for step in key:
        if step == ("leaf",):
            built.append("node")
            continue
        kind, arg = step
        n = len(arg) if kind == "dict" else arg
        items = built[len(built) - n:]
        del built[len(built) - n:]
        if kind == "dict":
            built.append("dict(" + ", ".join(f"{k!r}: {v}" for k, v in zip(arg, items)) + ")")
        else:
            built.append(f"{kind.__name__}({', '.join(items)})")
    return built[0] if built else "nothing"


def _names(prefix: str, n: int) -> list[str]:
    return [prefix if n == 1 else f"{prefix}{k}" for k in range(n)]


def _check_carry(new: list[Node], init: list[Node], unflatten: Any, new_structure: Any,
                 what: str) -> None:
    if new_structure.key != unflatten.key:
        raise SymgraphError(f"{what}: the body returned a carry of another structure than init: "
                            f"init is {_shape_of(unflatten.key)}, the body returned "
                            f"{_shape_of(new_structure.key)} (the same nesting of tuples, lists "
                            "and dicts of the same lengths is needed)")
    for k, (a, b) in enumerate(zip(new, init)):
        if a.shape != b.shape:
            raise ShapeError(f"{what}: carry {k} comes out of the body with shape {a.shape} but "
                             f"went in with shape {b.shape}; a carry keeps its shape")
        if a.dtype != b.dtype:
            raise DTypeError(f"{what}: carry {k} comes out of the body with dtype {a.dtype} but "
                             f"went in with dtype {b.dtype}; cast it (a carry keeps its dtype)")


def scan(fn: Callable, init: Any, xs: Any = None, length: int | None = None,
         checkpoint: int | None = None, reverse: bool = False) -> tuple[Any, Any]:
    """Loop ``fn(carry, x) -> (carry, y)`` over the leading axis of ``xs`` (``jax.lax.scan``).

    ``init`` is a node or array, or a tuple/list/dict of them (the carry keeps
    that structure, and each part its shape and dtype); ``xs`` likewise, each
    part scanned along its leading axis (or ``None`` with ``length``).  ``fn``
    is called once, on nodes, to trace the body into a subgraph; it may use
    nodes from outside (they are captured and get gradients).  Returns
    ``(final_carry, ys)``, the ``y`` of every step stacked on a new leading
    axis (``None`` if ``fn`` returns ``None`` for ``y``).

    Differentiable in both modes, to any order: reverse mode is a loop running
    backwards over the body's gradient (built once), reading the carries and
    the body values it needs, recorded by the forward loop; forward mode is a
    loop over the body's jvp.  ``checkpoint=k`` records only every k-th carry
    and recomputes each segment of k steps in the reverse sweep: memory
    O(length/k + k) carries instead of O(length) (``k = int(sqrt(length))``
    is the usual choice).  ``reverse=True`` scans from the last step to the
    first (ys stay in step order).

    ``sg.vectorize`` (and so ``sg.jacobian``/``sg.hessian``) batches the body once,
    never looping over the batch (``flow.batching``).  On dask arrays each step
    is dask operations on the carries (lazy, nothing computed).

    Parameters
    ----------
    fn : callable
        ``fn(carry, x) -> (carry, y)`` on nodes, traced once; ``y`` may be None.
    init : Node or array_like, or a tuple, list or dict of them
        The first carry.
    xs : Node or array_like, or a tuple, list or dict of them, optional
        Scanned along the leading axis; None (default) passes ``x = None`` to
        ``fn`` and needs ``length``.
    length : int, optional
        The number of steps (checked against ``xs`` when both are given).
    checkpoint : int, optional
        Record every k-th carry only (default None: every carry) and recompute
        the rest in the reverse sweep.
    reverse : bool, default False
        Scan from the last step to the first.

    Returns
    -------
    final_carry
        The structure of ``init``.
    ys
        Each step's ``y`` stacked on a new leading axis, or None.

    See Also
    --------
    while_loop, cond

    Examples
    --------
    >>> xs = sg.variable("xs", (4,))
    >>> total, running = sg.scan(lambda c, x: (c + x, c + x), 0.0, xs)
    >>> sg.evaluate([total, running], {xs: [1.0, 2.0, 3.0, 4.0]})
    [array(10.), array([ 1.,  3.,  6., 10.])]

    Outer nodes used in ``fn`` get gradients, through every step:

    >>> a = sg.variable("a")
    >>> power, _ = sg.scan(lambda h, _: (a * h, None), 1.0, length=3)   # a ** 3
    >>> sg.evaluate([power, sg.grad(power, a)], {a: 2.0})
    [array(8.), array(12.)]

    A recurrent network, as in the README::

        def step(h, x):
            h = sg.tanh(h @ W + x @ U)
            return h, h @ v
        h_T, ys = sg.scan(step, h0, xs, checkpoint=30)
    """
    what = "scan"
    graph = get_default_graph()
    init_nodes, unflatten_c = _leaves(init, what, graph)
    if xs is None:
        x_nodes, unflatten_x = [], None
    else:
        x_nodes, unflatten_x = _leaves(xs, what, graph)
    if length is not None:
        length = _size(length, "scan: length")
    lengths = {x.shape[0] if x.ndim else None for x in x_nodes}
    if None in lengths:
        raise ShapeError("scan: every part of xs needs a leading axis to scan over (a 0-d value "
                         "has none); a Python list of numbers is read as that many sequences, so "
                         "pass np.array(...) for one sequence")
    if len(lengths) > 1:
        raise ShapeError(f"scan: the parts of xs have different lengths {sorted(lengths)}")
    if lengths:
        T = lengths.pop()
        if length is not None and length != T:
            raise ShapeError(f"scan: length={length} but xs has length {T}")
    elif length is None:
        raise SymgraphError("scan: give xs or length (the number of steps)")
    else:
        T = length
    if checkpoint is not None:
        checkpoint = _size(checkpoint, "scan: checkpoint")
        if checkpoint < 1:
            raise SymgraphError(f"scan: checkpoint must be a positive number of steps, got "
                                f"{checkpoint}")
    if reverse:
        x_nodes = [x[::-1] for x in x_nodes]
    parent = graph_of(init_nodes + x_nodes)
    out_info: dict[str, Any] = {}
    nc = len(init_nodes)
    specs = ([(n, c.shape, c.dtype) for n, c in zip(_names("carry", nc), init_nodes)]
             + [(n, x.shape[1:], x.dtype) for n, x in zip(_names("x", len(x_nodes)), x_nodes)])

    def body(vs: list[Node]) -> list[Node]:
        carry = unflatten_c(vs[:nc])
        x = unflatten_x(vs[nc:]) if unflatten_x is not None else None
        result = fn(carry, x)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            got = (f"a {type(result).__name__} of {len(result)}" if isinstance(result, (tuple, list))
                   else type(result).__name__)
            raise SymgraphError(f"scan: fn must return a pair (carry, y), got {got} (return "
                                "(carry, None) when there is no y)")
        new_c, y = result
        new_leaves, new_structure = _leaves(new_c, what, None)
        new_leaves = [n if isinstance(n, Node) else as_node(n) for n in new_leaves]
        _check_carry(new_leaves, vs[:nc], unflatten_c, new_structure, what)
        if y is None:
            out_info["y"] = None
            return new_leaves
        y_leaves, unflatten_y = _leaves(y, what, None)
        out_info["y"] = unflatten_y
        return new_leaves + y_leaves

    traced = trace(body, specs, what, parent=parent)
    op = Scan(traced, None, nc, len(x_nodes), T, checkpoint=checkpoint)
    node = apply(op, init_nodes + x_nodes + list(traced.captured))
    final = unflatten_c([item(node, k) for k in range(nc)])
    if out_info["y"] is None:
        return final, None
    ys = [item(node, nc + k) for k in range(op.n_ys)]
    if reverse:
        ys = [y[::-1] for y in ys]
    return final, out_info["y"](ys)


def while_loop(cond_fn: Callable, body_fn: Callable, init: Any,
               max_steps: int | None = None) -> Any:
    """Run ``carry = body_fn(carry)`` while ``cond_fn(carry)`` is true (``jax.lax.while_loop``).

    ``init`` is a node or array, or a tuple/list/dict of them; ``cond_fn``
    returns a scalar (its truth is tested) and ``body_fn`` a carry of the same
    structure, shapes and dtypes.  Both are traced once.  ``max_steps`` caps the
    number of steps (the loop stops there even if ``cond_fn`` still holds, as an
    iterative solver's ``maxiter``).

    Forward mode (``sg.jvp``) always works.  Reverse mode works too, unlike
    JAX's ``while_loop``: the forward pass records the trip count and the
    carries, which needs ``max_steps`` to bound the storage.  The trip count
    itself has no derivative (it is piecewise constant).

    ``sg.vectorize`` over a value the condition reads gives examples different
    trip counts: the batched loop runs until the last example stops, keeping the
    carries of finished examples (``where``), so the body still runs on their
    frozen values (as JAX's ``vmap`` of ``while_loop``; see ``flow.batching``).
    On dask arrays the condition is computed at every step (the loop must know
    whether to go on: the one computation a lazy run makes), after the carries are
    persisted so that no step's work is done twice; the results stay dask arrays.

    Parameters
    ----------
    cond_fn : callable
        ``cond_fn(carry)`` returns a scalar node: go on while it is true.
    body_fn : callable
        ``body_fn(carry)`` returns the next carry (same structure, shapes,
        dtypes).
    init : Node or array_like, or a tuple, list or dict of them
        The first carry.
    max_steps : int, optional
        Stop after this many steps even if ``cond_fn`` holds.  Default None: no
        cap, and then no reverse-mode derivative.

    Returns
    -------
    Node or a tuple, list or dict of Node
        The last carry.

    See Also
    --------
    scan, cond

    Examples
    --------
    Newton's method for the square root of ``c``, and its derivative
    ``1 / (2 sqrt(c))`` by reverse mode through the loop:

    >>> c = sg.variable("c")
    >>> root = sg.while_loop(lambda r: sg.abs(r * r - c) > 1e-12,
    ...                      lambda r: 0.5 * (r + c / r), c, max_steps=100)
    >>> sg.evaluate([root, sg.grad(root, c)], {c: 4.0})
    [array(2.), array(0.25)]
    """
    what = "while_loop"
    init_nodes, unflatten_c = _leaves(init, what, None)
    if max_steps is not None:
        max_steps = _size(max_steps, "while_loop: max_steps")
    parent = graph_of(init_nodes)
    nc = len(init_nodes)
    specs = [(n, c.shape, c.dtype) for n, c in zip(_names("carry", nc), init_nodes)]

    def cond_body(vs: list[Node]) -> list[Node]:
        pred = as_node(cond_fn(unflatten_c(vs)))
        if pred.shape != ():
            raise ShapeError(f"while_loop: cond_fn must return a scalar, got shape {pred.shape}")
        return [pred]

    def step_body(vs: list[Node]) -> list[Node]:
        new_leaves, new_structure = _leaves(body_fn(unflatten_c(vs)), what, None)
        _check_carry(new_leaves, vs, unflatten_c, new_structure, what)
        return new_leaves

    cond = trace(cond_body, specs, "while_loop condition", parent=parent)
    step = trace(step_body, specs, what, parent=parent)
    op = WhileLoop(step, cond, nc, 0, max_steps)
    node = apply(op, init_nodes + list(step.captured) + list(cond.captured))
    return unflatten_c([item(node, k) for k in range(nc)])


def _size(v: Any, what: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise SymgraphError(f"{what} must be an integer, got {type(v).__name__} {v!r:.40}")
    if v < 0:
        raise SymgraphError(f"{what} must be non-negative, got {v}")
    return int(v)


__all__ = ["scan", "while_loop"]

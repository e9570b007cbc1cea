"""Control-flow test models, shared by ``op_table`` and the scan/while/cond tests.

Each model is written once against a *loop implementation* (``sg.scan`` or
``unrolled_scan``; ``sg.while_loop`` or ``unrolled_while``), so the same
Python code builds the loop node and the straight-line graph of plain ops it
must agree with, value and derivatives alike, to rounding.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import symgraph as sg
from symgraph.structure import flatten

rng = np.random.default_rng(16)


def is_node(t: Any) -> bool:
    return isinstance(t, sg.Node)


def as_node(v: Any) -> sg.Node:
    return v if is_node(v) else sg.constant(np.asarray(v))


def unrolled_scan(fn: Callable, init: Any, xs: Any = None, length: int | None = None,
                  checkpoint: int | None = None, reverse: bool = False) -> tuple[Any, Any]:
    """``sg.scan``'s meaning with plain ops: a Python loop calling ``fn`` on each slice of
    ``xs`` (a graph growing with the length; needs at least one step when ``fn`` returns ys)."""
    del checkpoint
    if xs is None:
        x_leaves, rebuild_x = [], None
    else:
        x_leaves, rebuild_x = flatten(xs, is_node)
        x_leaves = [as_node(x) for x in x_leaves]
    T = length if length is not None else x_leaves[0].shape[0]
    carry, ys = init, []
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        x = rebuild_x([x[t] for x in x_leaves]) if rebuild_x is not None else None
        carry, y = fn(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys or ys[0] is None:
        return carry, None
    parts = [flatten(y, is_node) for y in ys]
    rebuild_y = parts[0][1]
    stacked = [sg.stack([as_node(p[0][k]) for p in parts]) for k in range(len(parts[0][0]))]
    return carry, rebuild_y(stacked)


def unrolled_while(cond_fn: Callable, body_fn: Callable, init: Any, steps: int) -> Any:
    """``body_fn`` applied ``steps`` times (the trip count a while_loop took), as plain ops."""
    del cond_fn
    carry = init
    for _ in range(steps):
        carry = body_fn(carry)
    return carry


# ---------------------------------------------------------------------------
# models: (loss builder over a scan implementation, input arrays)
# ---------------------------------------------------------------------------

def rnn_run(scan: Callable, W: sg.Node, U: sg.Node, h0: sg.Node, xs: sg.Node
            ) -> tuple[sg.Node, sg.Node]:
    """A tanh RNN: W, U and ``W @ W / 2`` (computed outside, captured) in the body;
    returns the final carry and the stacked outputs."""
    W2 = W @ W * 0.5

    def step(h, x):
        h = sg.tanh(h @ W + x @ U + h @ W2)
        return h, sg.sin(h) * h
    return scan(step, h0, xs)


def rnn(scan: Callable, W: sg.Node, U: sg.Node, h0: sg.Node, xs: sg.Node) -> sg.Node:
    """A loss reading the RNN's stacked outputs and its final carry."""
    hT, ys = rnn_run(scan, W, U, h0, xs)
    return sg.sum(ys * ys) + sg.sum(hT * hT * hT)


def rnn_outputs(scan: Callable, W: sg.Node, U: sg.Node, h0: sg.Node, xs: sg.Node) -> sg.Node:
    """The RNN's stacked outputs plus its final carry: a (T, H) result."""
    hT, ys = rnn_run(scan, W, U, h0, xs)
    return ys + hT


def rnn_arrays(T: int = 6, H: int = 3, D: int = 2) -> list[np.ndarray]:
    return [rng.standard_normal((H, H)) * 0.4, rng.standard_normal((D, H)) * 0.5,
            rng.standard_normal(H), rng.standard_normal((T, D))]


def two_carries(scan: Callable, a: sg.Node, xs: sg.Node) -> sg.Node:
    """An LSTM-like pair carry (products of carries), dict xs, a tuple of ys."""
    def step(carry, x):
        h, c = carry
        c = c * sg.sigmoid(x["u"] + h) + sg.tanh(x["v"] * a)
        h = sg.tanh(c) * sg.exp(-h * h)
        return (h, c), (h * c, sg.sum(c))
    (h, c), (y1, y2) = scan(step, (xs[0] * 0.0 + 0.1, a), {"u": xs, "v": xs[::-1] * 0.5})
    return sg.sum(y1 * h) + sg.sum(y2 * y2) + sg.sum(c)


def two_carries_arrays(T: int = 5, H: int = 2) -> list[np.ndarray]:
    return [rng.standard_normal(H), rng.standard_normal((T, H))]


def heron(a: sg.Node, tol: float = 1e-3) -> tuple[Callable, Callable, Any]:
    """Heron's iteration for sqrt(a) (a vector) from a, while any relative error is above
    ``tol``: the trip count depends on ``a``, and so do the carry and the captured ``a``.
    Returns (cond_fn, body_fn, init) for ``sg.while_loop``; the carry counts steps too."""
    def keep_going(carry):
        x, k = carry
        return sg.max(sg.abs(x * x - a) / a) > tol

    def step(carry):
        x, k = carry
        return (x + a / x) * 0.5, k + 1
    return keep_going, step, (a * 1.0, np.int64(0))


def heron_root(a: sg.Node, max_steps: int | None = 20) -> sg.Node:
    """sqrt(a) by ``heron``'s while loop."""
    x, _ = sg.while_loop(*heron(a), max_steps=max_steps)
    return x


def decay(scan: Callable, h0: sg.Node, w: sg.Node) -> sg.Node:
    """A scan without sequences (``length``) reading a captured node, run backwards."""
    def step(h, _):
        h = h * sg.cos(w) + sg.sin(h) * 0.5
        return h, h * w
    hT, ys = scan(step, h0, length=4, reverse=True)
    return ys * hT


def branchy(c: sg.Node, x: sg.Node) -> sg.Node:
    """``sin(x) * c`` where ``sum(x) > 0``, else ``exp(x) + c``: a cond with captures."""
    return sg.cond(sg.sum(x) > 0, lambda v: sg.sin(v) * c, lambda v: sg.exp(v) + c, x)

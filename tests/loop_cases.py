"""Graphs with loops and branches, and their derivative graphs, for the save/load and
simplify tests: each case builds a scalar loss of the variables ``w`` (and others) through
``sg.scan`` / ``sg.while_loop`` / ``sg.cond``, nested or not.

``derived(case)`` adds the gradient (reverse sweeps, recorded trajectories and residuals),
a second-order gradient (reverse over reverse), a Hessian-vector product by forward over
reverse and a jvp (forward sweeps), so the graphs hold every kind of body and record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import symgraph as sg

RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 3)) * 0.4
XS = RNG.normal(size=(5, 3))
H0 = RNG.normal(size=3)


@dataclass
class Case:
    loss: sg.Node
    w: sg.Node                 # the variable derivatives are taken with respect to
    feed: dict[str, np.ndarray]


def _rnn_variables():
    w = sg.variable("w", (3, 3))
    xs = sg.variable("xs", (5, 3))
    h0 = sg.variable("h0", (3,))
    return w, xs, h0, {"w": W, "xs": XS, "h0": H0}


def scan_tuple_dict_carry() -> Case:
    """A tuple carry holding a dict, a tuple of sequences, a closed-over variable, ys."""
    w, xs, h0, feed = _rnn_variables()

    def step(carry, x):
        h, acc = carry
        a, b = x
        h = sg.tanh(h @ w + a * 1.0) * 1.0
        return (h, {"s": acc["s"] + sg.sum(h * b), "n": acc["n"] + 1}), sg.sum(h ** 2)

    init = (h0, {"s": sg.zeros(()), "n": np.array(0, dtype=np.int64)})
    (h, acc), ys = sg.scan(step, init, (xs, xs[::-1]))
    return Case(sg.sum(h) + acc["s"] + sg.sum(ys), w, feed)


def scan_checkpointed() -> Case:
    """checkpoint=2 over 5 steps: two segments recomputed, a shorter last one swept alone."""
    w, xs, h0, feed = _rnn_variables()
    h, ys = sg.scan(lambda h, x: (sg.tanh(h @ w + x), sg.sin(h)), h0, xs, checkpoint=2)
    return Case(sg.sum(h * h) + sg.sum(ys), w, feed)


def scan_reverse() -> Case:
    w, xs, h0, feed = _rnn_variables()
    h, ys = sg.scan(lambda h, x: (sg.tanh(h @ w) + x, sg.sum(h * x)), h0, xs, reverse=True)
    return Case(sg.sum(h) + sg.sum(ys * np.arange(5.0)), w, feed)


def while_loop() -> Case:
    """A data-dependent trip count: grow until the norm passes a threshold."""
    w, _, h0, feed = _rnn_variables()
    h, k = sg.while_loop(lambda c: sg.sum(c[0] ** 2) < 30.0,
                         lambda c: (sg.tanh(c[0] @ w) * 2.0 + c[0] * 1.5, c[1] + 1.0),
                         (h0, sg.zeros(())), max_steps=50)
    return Case(sg.sum(sg.sin(h)) + k, w, feed)


def cond_overflowing_branch() -> Case:
    """The untaken branch overflows; neither value nor derivatives see it."""
    w, xs, h0, feed = _rnn_variables()
    pred = sg.sum(h0) < 100.0
    out = sg.cond(pred, lambda h, x: sg.tanh(h @ w + x), lambda h, x: sg.exp(h * 1e6) + x,
                  h0, xs[0])
    return Case(sg.sum(out * out), w, feed)


def nested_scans() -> Case:
    """A scan whose body runs a scan that uses the outer x and the root's w."""
    w, xs, h0, feed = _rnn_variables()

    def outer(h, x):
        inner, _ = sg.scan(lambda g, _x: (sg.tanh(g @ w + x), None), h, length=2)
        return inner * 1.0, sg.sum(inner)

    h, ys = sg.scan(outer, h0, xs)
    return Case(sg.sum(h) + sg.sum(ys ** 2), w, feed)


def scan_inside_cond() -> Case:
    w, xs, h0, feed = _rnn_variables()

    def run(h, seq):
        out, _ = sg.scan(lambda c, x: (sg.tanh(c @ w + x), None), h, seq)
        return out

    out = sg.cond(sg.sum(h0) > -100.0, run, lambda h, seq: h @ w + seq[0], h0, xs)
    return Case(sg.sum(sg.sin(out)), w, feed)


def cond_inside_scan() -> Case:
    w, xs, h0, feed = _rnn_variables()

    def step(h, x):
        h = sg.cond(sg.sum(x) > 0.0, lambda a: sg.tanh(a @ w), lambda a: sg.sin(a) * w[0], h)
        return h, None

    h, _ = sg.scan(step, h0, xs)
    return Case(sg.sum(h ** 2), w, feed)


CASES: dict[str, Callable[[], Case]] = {
    f.__name__: f for f in (scan_tuple_dict_carry, scan_checkpointed, scan_reverse, while_loop,
                            cond_overflowing_branch, nested_scans, scan_inside_cond,
                            cond_inside_scan)
}

V = RNG.normal(size=(3, 3))


def derived(case: Case) -> dict[str, sg.Node]:
    """The loss and its derivative graphs: first and second order, both modes."""
    g = sg.grad(case.loss, case.w)
    return {"loss": case.loss, "grad": g, "grad2": sg.grad(sg.sum(g * V), case.w),
            "hvp_fwd": sg.hvp(case.loss, case.w, V), "jvp": sg.jvp(case.loss, case.w, V)}

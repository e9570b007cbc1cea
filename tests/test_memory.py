"""Memory safety under load: long chains keep a bounded number of values alive (counted, not timed)."""

from __future__ import annotations

import weakref

import numpy as np

import symgraph as sg

N = 100_000


class Tracked(sg.Op):
    """``x + 1`` that registers every array it returns, so the live ones can be counted."""

    name = "tracked"
    alive = 0  # arrays returned by f and not yet garbage
    peak = 0

    @classmethod
    def reset(cls) -> None:
        cls.alive = cls.peak = 0

    @classmethod
    def _freed(cls) -> None:
        cls.alive -= 1

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        out = np.add(x, 1.0)
        cls = type(self)
        cls.alive += 1
        cls.peak = max(cls.peak, cls.alive)
        weakref.finalize(out, cls._freed)
        return out

    def bprop(self, inputs, out, g):
        return [g]


def _chain(x, n: int) -> sg.Node:
    y = x
    op = Tracked()
    for _ in range(n):
        y = sg.graph.apply(op, [y])
    return y


def test_a_chain_of_1e5_nodes_keeps_a_bounded_number_of_live_values():
    x = sg.variable("x", (4,))
    y = _chain(x, N)
    ev = sg.Evaluator(y)
    assert ev.schedule(frozenset([x])).peak_live <= 3  # planned: the feed, one input, one output

    Tracked.reset()
    out = ev.run({"x": np.zeros(4)})
    np.testing.assert_array_equal(out, np.full(4, float(N)))
    assert Tracked.peak <= 3  # measured: arrays actually alive at once during the run
    del out


def test_check_finite_does_not_keep_values_alive_either():
    x = sg.variable("x", (4,))
    y = _chain(x, 20_000)
    Tracked.reset()
    sg.evaluate(y, {"x": np.zeros(4)}, check_finite=True)
    assert Tracked.peak <= 3


def test_gradients_of_a_long_chain_keep_each_forward_value_once():
    """Reverse mode must store the forward values; it must not store more than one copy each."""
    n = 20_000
    x = sg.variable("x", (4,))
    y = sg.sum(sg.sin(_chain(x, n)))
    (g,) = sg.grad(y, [x])
    sched = sg.Evaluator(g).schedule(frozenset([x]))
    assert sched.size < 3 * n
    assert sched.peak_live <= n + 10
    np.testing.assert_allclose(sg.evaluate(g, {"x": np.zeros(4)}), np.cos(np.full(4, float(n))))


def test_many_branches_are_freed_after_their_last_use():
    x = sg.variable("x", (4,))
    total = sg.graph.apply(Tracked(), [x])
    for k in range(1, 5000):
        total = total + sg.graph.apply(Tracked(), [x * float(k)])  # each branch used once
    sched = sg.Evaluator(total).schedule(frozenset([x]))
    assert sched.peak_live <= 5
    Tracked.reset()
    np.testing.assert_allclose(sg.evaluate(total, {"x": np.ones(4)}),
                               np.full(4, 5000 + 5000 * 4999 / 2))
    assert Tracked.peak <= 3

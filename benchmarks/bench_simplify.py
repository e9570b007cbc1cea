"""How much sg.simplify shrinks gradient graphs, what it costs, and what it saves at run time.

Prints one table: nodes (ancestors of the outputs) before and after, the time
simplify takes, and the evaluation time of the original and simplified nodes
(best of 9 interleaved runs, sg.evaluate).  Run: ``python benchmarks/bench_simplify.py``.
"""

from __future__ import annotations

import time

import numpy as np

import symgraph as sg
from symgraph.traversal import ancestors


def best_ms(fns, repeat: int = 9) -> list[float]:
    """Best time of each function in ms, runs interleaved so machine load hits all alike."""
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return [1e3 * min(ts) for ts in times]


def seed():
    w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    f = (w * x - y) ** 2
    return [f, *sg.grad(f, [w, x, y])], {"w": 1.0, "x": 2.0, "y": 3.0}


def seed_hessian():
    w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
    f = (w * x - y) ** 2
    grads = sg.grad(f, [w, x, y])
    return [h for g in grads for h in sg.grad(g, [w, x, y])], {"w": 1.0, "x": 2.0, "y": 3.0}


def third_derivative():
    x = sg.variable("x")
    d = sg.sin(x) * sg.exp(x) / (1 + x * x)
    for _ in range(3):
        d = sg.grad(d, x)
    return [d], {"x": 0.3}


def mlp(hvp: bool):
    rng = np.random.default_rng(0)
    B, D, H, C, lam = 256, 784, 256, 10, 1e-4
    X, labels = sg.variable("X", (B, D)), sg.variable("labels", (B,), "int64")
    W1, b1 = sg.variable("W1", (D, H)), sg.variable("b1", (H,))
    W2, b2 = sg.variable("W2", (H, C)), sg.variable("b2", (C,))
    h = sg.relu(X @ W1 + b1)
    loss = sg.cross_entropy(h @ W2 + b2, labels) + lam * (sg.sum(W1 * W1) + sg.sum(W2 * W2))
    params = [W1, b1, W2, b2]
    grads = sg.grad(loss, params)
    feed = {"X": rng.standard_normal((B, D)), "labels": rng.integers(0, C, B),
            "W1": rng.standard_normal((D, H)) * 0.05, "b1": np.zeros(H),
            "W2": rng.standard_normal((H, C)) * 0.05, "b2": np.zeros(C)}
    if not hvp:
        return [loss, *grads], feed
    vs = [sg.variable(f"v{i}", p.shape) for i, p in enumerate(params)]
    feed.update({f"v{i}": rng.standard_normal(p.shape) for i, p in enumerate(params)})
    directional = sg.add_n([sg.sum(g * v) for g, v in zip(grads, vs)])
    return sg.grad(directional, params), feed


def deep_chain():
    x = sg.variable("x")
    y = x
    for i in range(100_000):
        y = -y if i % 2 else sg.sin(y * 1.0)
    return [y], {"x": 0.5}


CASES = [
    ("seed (wx-y)^2: loss + grad", seed, True),
    ("seed (wx-y)^2: Hessian", seed_hessian, True),
    ("d3/dx3 sin(x)exp(x)/(1+x^2)", third_derivative, True),
    ("MLP 784-256-10: loss + grad", lambda: mlp(False), True),
    ("MLP 784-256-10: HVP", lambda: mlp(True), True),
    ("chain of 1e5 nodes", deep_chain, False),
]


def main() -> None:
    header = (f"{'graph':32s} {'nodes':>7s} {'simpl.':>7s} {'simplify ms':>12s} "
              f"{'eval ms':>9s} {'eval ms simpl.':>15s} {'ratio':>6s}")
    print(header)
    print("-" * len(header))
    for name, build, run in CASES:
        with sg.Graph():
            outputs, feed = build()
            t = time.perf_counter()
            simplified = sg.simplify(outputs)
            simplify_ms = 1e3 * (time.perf_counter() - t)
            before, after = len(ancestors(outputs)), len(ancestors(simplified))
            if run:
                for a, b in zip(sg.evaluate(outputs, feed), sg.evaluate(simplified, feed)):
                    np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)
                ev0, ev1 = best_ms([lambda: sg.evaluate(outputs, feed),
                                    lambda: sg.evaluate(simplified, feed)])
                timing = f"{ev0:9.2f} {ev1:15.2f} {ev1 / ev0:6.2f}"
            else:
                timing = f"{'-':>9s} {'-':>15s} {'-':>6s}"
            print(f"{name:32s} {before:7d} {after:7d} {simplify_ms:12.1f} {timing}")


if __name__ == "__main__":
    main()

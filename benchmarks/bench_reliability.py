"""Costs of the reliability features: check_finite, save/load, check_grads.

Prints tables; ratios are against the same run's baselines (handwritten numpy
for evaluation, plain evaluation for check_finite).  Run:
``python benchmarks/bench_reliability.py``.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

import symgraph as sg
from symgraph.models import seed_mlp_numpy
from symgraph.testing import check_grads


def best(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def mlp(batch=256, n_in=64, n_hidden=128, n_out=10):
    X = sg.variable("X", (batch, n_in))
    y = sg.variable("y", (batch,), "int64")
    W1 = sg.variable("W1", (n_in, n_hidden))
    W2 = sg.variable("W2", (n_hidden, n_out))
    loss = sg.cross_entropy(sg.relu(X @ W1) @ W2, y) + 1e-4 * (sg.sum(W1 ** 2) + sg.sum(W2 ** 2))
    return loss, sg.grad(loss, [W1, W2])


def numpy_mlp(X, y, W1, W2):
    return seed_mlp_numpy(X, y, W1, W2, 1e-4)


def bench_check_finite() -> None:
    rng = np.random.default_rng(0)
    with sg.Graph():
        loss, grads = mlp()
        feed = {"X": rng.standard_normal((256, 64)), "y": rng.integers(0, 10, 256),
                "W1": rng.standard_normal((64, 128)) * 0.1, "W2": rng.standard_normal((128, 10)) * 0.1}
        ev = sg.Evaluator([loss, *grads])
        t_np = best(lambda: numpy_mlp(feed["X"], feed["y"], feed["W1"], feed["W2"]))
        t_plain = best(lambda: ev.run(feed))
        t_check = best(lambda: ev.run(feed, check_finite=True))
    print("evaluation of the MLP loss + gradients (batch 256, 64-128-10)")
    print(f"{'variant':<34}{'time (ms)':>12}{'vs numpy':>10}{'vs plain':>10}")
    for name, t in [("handwritten numpy", t_np), ("sg.Evaluator.run", t_plain),
                    ("sg.Evaluator.run(check_finite)", t_check)]:
        print(f"{name:<34}{t * 1e3:>12.3f}{t / t_np:>10.2f}{t / t_plain:>10.2f}")
    print()


def bench_save_load() -> None:
    print("sg.save / sg.load (whole graphs, JSON)")
    print(f"{'graph':<34}{'nodes':>8}{'KiB':>9}{'save ms':>9}{'load ms':>9}{'us/node load':>14}")
    cases = []
    with sg.Graph() as g:
        mlp()
        cases.append(("MLP + gradients", g))
    with sg.Graph() as g:
        x = sg.variable("x", (8,))
        y = x
        for k in range(3000):
            y = sg.tanh(y * 1.01 + k * 1e-3)
        sg.grad(sg.sum(y), x)
        cases.append(("3000-step chain + gradient", g))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "g.json")
        for name, g in cases:
            t_save = best(lambda: sg.save(g, path), 3)
            t_load = best(lambda: sg.load(path), 3)
            size = os.path.getsize(path) / 1024
            print(f"{name:<34}{len(g):>8}{size:>9.0f}{t_save * 1e3:>9.1f}{t_load * 1e3:>9.1f}"
                  f"{t_load / len(g) * 1e6:>14.1f}")
    print()


def bench_check_grads() -> None:
    print("check_grads (order 2, both modes) on small inputs")
    print(f"{'function':<34}{'elements':>9}{'checks':>8}{'compared':>10}{'time (ms)':>11}")
    rng = np.random.default_rng(1)
    cases = [
        ("tanh(x) * y (3,)", lambda a, b: sg.tanh(a) * b, [rng.standard_normal(3), rng.standard_normal(3)]),
        ("softmax (4, 3)", lambda a: sg.softmax(a), [rng.standard_normal((4, 3))]),
        ("matmul (3,4)@(4,2)", lambda a, b: a @ b, [rng.standard_normal((3, 4)), rng.standard_normal((4, 2))]),
    ]
    for name, fn, arrays in cases:
        report = None

        def run():
            nonlocal report
            report = check_grads(fn, arrays, order=2)
        t = best(run, 3)
        print(f"{name:<34}{sum(a.size for a in arrays):>9}{len(report.checks):>8}"
              f"{report.compared:>10}{t * 1e3:>11.1f}")
    print()


if __name__ == "__main__":
    bench_check_finite()
    bench_save_load()
    bench_check_grads()

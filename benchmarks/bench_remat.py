"""Memory budgets: peak memory and call time of a deep MLP's loss+gradient per budget.

For each network, ``sg.function(..., memory_budget=B, reuse_buffers=False)``
for B in [None, P/2, P/4, 0], P the default plan's peak: the planner's
estimate (``f.peak_bytes``), tracemalloc's peak over one call (numpy reports
its buffers to it), the call time (min and median over interleaved rounds,
one BLAS thread) and the nodes recomputed (matrix products among them).
Handwritten numpy backprop (every activation kept) is the baseline row.

    python benchmarks/bench_remat.py [--rounds 15] [--quick]
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # threads must be fixed before numpy loads
    from threads import pin_threads

    pin_threads()

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from measure import traced_peak  # noqa: E402


def numpy_loss_grad(X, *Ws):
    """tanh MLP, loss mean(h^2), backprop by hand keeping every activation."""
    hs = [X]
    for W in Ws:
        hs.append(np.tanh(hs[-1] @ W))
    h = hs[-1]
    loss = np.mean(h * h)
    g = 2.0 * h / h.size
    grads = []
    for k in range(len(Ws) - 1, -1, -1):
        g = g * (1.0 - hs[k + 1] ** 2)
        grads.append(hs[k].T @ g)
        if k:
            g = g @ Ws[k].T
    return [loss, *grads[::-1]]


def network(layers: int, batch: int, width: int):
    X = sg.variable("X", (batch, width))
    Ws = [sg.variable(f"W{i}", (width, width)) for i in range(layers)]
    h = X
    for W in Ws:
        h = sg.tanh(h @ W)
    loss = sg.mean(h * h)
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((batch, width))]
    values += [rng.standard_normal((width, width)) / np.sqrt(width) for _ in Ws]
    return [X, *Ws], [loss, *sg.grad(loss, Ws)], values


def run(layers: int, batch: int, width: int, rounds: int) -> None:
    with sg.Graph():
        inputs, outputs, values = network(layers, batch, width)
        t0 = time.perf_counter()
        default = sg.function(inputs, outputs, reuse_buffers=False)
        compile_default = time.perf_counter() - t0
        P = default.peak_bytes
        rows: list[tuple[str, Callable, dict]] = [
            ("numpy (all kept)", lambda: numpy_loss_grad(*values), {})]
        want = default(*values)
        for budget in (None, P // 2, P // 4, 0):
            t0 = time.perf_counter()
            f = sg.function(inputs, outputs, memory_budget=budget, reuse_buffers=False)
            took = compile_default if budget is None else time.perf_counter() - t0
            got = f(*values)
            assert all(np.array_equal(a, b) for a, b in zip(got, want))
            info = dict(estimate=f.peak_bytes, compile=took, recomputed=len(f.recomputed),
                        matmuls=sum(n.op.name == "matmul" for n in f.recomputed),
                        fn=f)
            label = "no budget" if budget is None else ("0" if budget == 0 else
                                                       f"P/{P // budget}")
            rows.append((f"symgraph {label}", (lambda f=f: f(*values)), info))
    for a, b in zip(numpy_loss_grad(*values), want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    times: list[list[float]] = [[] for _ in rows]
    for _ in range(rounds):  # interleaved: load hits every row alike
        for k, (_, fn, _) in enumerate(rows):
            t0 = time.process_time()
            fn()
            times[k].append(time.process_time() - t0)
    base_min = min(times[0])
    base_peak = traced_peak(rows[0][1])
    print(f"\n{layers} tanh layers, batch {batch}, width {width}: default planned peak "
          f"P = {P / 2**20:.2f} MiB (activations {layers * batch * width * 8 / 2**20:.2f} MiB, "
          f"weight gradients {layers * width * width * 8 / 2**20:.2f} MiB)")
    print(f"{'method':<20} {'est MiB':>8} {'meas MiB':>9} {'vs numpy':>9} {'min ms':>8} "
          f"{'med ms':>8} {'vs numpy':>9} {'compile ms':>11} {'recomp':>7} {'matmul':>7}")
    for k, (name, fn, info) in enumerate(rows):
        f = info.get("fn")
        peak = traced_peak(fn, f.free_workspace if f is not None else None)
        est = f"{info['estimate'] / 2**20:8.2f}" if info else f"{'-':>8}"
        tail = (f"{info['compile'] * 1e3:11.1f} {info['recomputed']:7d} {info['matmuls']:7d}"
                if info else f"{'-':>11} {'-':>7} {'-':>7}")
        print(f"{name:<20} {est} {peak / 2**20:9.2f} {peak / base_peak:9.2f} "
              f"{min(times[k]) * 1e3:8.2f} {float(np.median(times[k])) * 1e3:8.2f} "
              f"{min(times[k]) / base_min:9.2f} {tail}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    args = ap.parse_args()
    if args.quick:
        run(4, 64, 16, 2)
        return
    print("CPU time per call, 1 BLAS thread; peaks by tracemalloc over one call "
          "(reuse_buffers=False); values checked bitwise against the no-budget function")
    run(8, 1024, 128, args.rounds)  # activations dominate: what a budget can trade
    run(8, 128, 256, args.rounds)  # weight gradients (returned) dominate: little to trade


if __name__ == "__main__":
    sys.exit(main())

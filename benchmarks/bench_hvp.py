"""Hessian-vector product cost vs gradient cost on the seed MLP, and graph size per order.

The model is the back-propagation chapter's MLP: no biases, one ReLU hidden
layer, softmax cross-entropy and weight decay on both weights,
``J = CE(relu(X W1) W2, y) + lam (|W1|^2 + |W2|^2)``, float64, B=256,
784-256-10.  Table 1 times, in one run and with the same engine for both,

* the gradient ``[dJ/dW1, dJ/dW2]``,
* the HVP forward-over-reverse (``sg.hvp``, default) and reverse-over-reverse,
* handwritten numpy for the gradient and for the HVP (Pearlmutter's R-operator),

and checks every symgraph result against the numpy one.  ``sg.function``
(compiled numpy) is timed too when this tree has it.  Table 2 counts the
nodes each further differentiation adds (nested directional derivatives of
the MLP, and d^k/dx^k of sin(x) exp(x)).

BLAS runs single-threaded by default (``--threads`` to change it): on a
shared machine multi-threaded BLAS timings are dominated by contention.

    python benchmarks/bench_hvp.py [--reps 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=30, help="timed repetitions (min is reported)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads")
    ap.add_argument("--batch", type=int, default=256)
    return ap.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(ARGS.threads))

import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

D, H, C, LAM = 784, 256, 10, 1e-4


# ---------------------------------------------------------------------------
# handwritten numpy
# ---------------------------------------------------------------------------

def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def numpy_grad(X, Y, W1, W2):
    A = X @ W1
    Hh = np.maximum(A, 0)
    G = (_softmax(Hh @ W2) - Y) / X.shape[0]
    dA = (G @ W2.T) * (A > 0)
    return X.T @ dA + 2 * LAM * W1, Hh.T @ G + 2 * LAM * W2


def numpy_hvp(X, Y, W1, W2, V1, V2):
    """Pearlmutter's R-operator: the forward pass and backward pass, each with its R-copy."""
    A = X @ W1
    mask = A > 0
    Hh = A * mask
    P = _softmax(Hh @ W2)
    G = (P - Y) / X.shape[0]
    RH = (X @ V1) * mask
    RZ = RH @ W2 + Hh @ V2
    RG = P * (RZ - (P * RZ).sum(axis=1, keepdims=True)) / X.shape[0]
    RdA = (RG @ W2.T + G @ V2.T) * mask
    return X.T @ RdA + 2 * LAM * V1, RH.T @ G + Hh.T @ RG + 2 * LAM * V2


# ---------------------------------------------------------------------------
# the symbolic model
# ---------------------------------------------------------------------------

def build(batch: int):
    g = sg.Graph("seed mlp")
    with g:
        X, y = sg.variable("X", (batch, D)), sg.variable("y", (batch,), "int64")
        W1, W2 = sg.variable("W1", (D, H)), sg.variable("W2", (H, C))
        V1, V2 = sg.variable("V1", (D, H)), sg.variable("V2", (H, C))
        loss = (sg.cross_entropy(sg.relu(X @ W1) @ W2, y)
                + LAM * (sg.sum(sg.square(W1)) + sg.sum(sg.square(W2))))
        sizes = {"forward": len(g)}
        grads = sg.grad(loss, [W1, W2])
        sizes["gradient"] = len(g)
        hvp_fwd = sg.hvp(loss, [W1, W2], [V1, V2], mode="fwd")
        sizes["hvp fwd"] = len(g)
        hvp_rev = sg.hvp(loss, [W1, W2], [V1, V2], mode="rev")
        sizes["hvp rev"] = len(g)
    return g, (X, y, W1, W2, V1, V2), loss, grads, hvp_fwd, hvp_rev


def time_all(cases: dict, reps: int) -> dict:
    """Min and median seconds per case, repetitions interleaved so drift hits all alike."""
    for fn in cases.values():
        fn()
    times = {k: [] for k in cases}
    for _ in range(reps):
        for k, fn in cases.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: (min(v), float(np.median(v))) for k, v in times.items()}


def ancestors_count(outputs) -> int:
    from symgraph.traversal import ancestors
    return len(ancestors(outputs))


def table1(args) -> None:
    rng = np.random.default_rng(0)
    B = args.batch
    Xv = rng.standard_normal((B, D))
    yv = rng.integers(0, C, B)
    Yv = np.eye(C)[yv]
    W1v, W2v = rng.standard_normal((D, H)) * np.sqrt(2 / D), rng.standard_normal((H, C)) * 0.1
    V1v, V2v = rng.standard_normal((D, H)), rng.standard_normal((H, C))
    g, (X, y, W1, W2, V1, V2), loss, grads, hvp_fwd, hvp_rev = build(B)
    feed = {X: Xv, y: yv, W1: W1v, W2: W2v, V1: V1v, V2: V2v}
    gfeed = {X: Xv, y: yv, W1: W1v, W2: W2v}

    ev_g, ev_f, ev_r = sg.Evaluator(grads), sg.Evaluator(hvp_fwd), sg.Evaluator(hvp_rev)
    ref_g = numpy_grad(Xv, Yv, W1v, W2v)
    ref_h = numpy_hvp(Xv, Yv, W1v, W2v, V1v, V2v)
    errors = {}
    for name, got, ref in (("evaluate grad", ev_g.run(gfeed), ref_g),
                           ("evaluate hvp fwd", ev_f.run(feed), ref_h),
                           ("evaluate hvp rev", ev_r.run(feed), ref_h)):
        errors[name] = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(got, ref))

    cases = {
        "numpy grad": lambda: numpy_grad(Xv, Yv, W1v, W2v),
        "numpy hvp (R-op)": lambda: numpy_hvp(Xv, Yv, W1v, W2v, V1v, V2v),
        "evaluate grad": lambda: ev_g.run(gfeed),
        "evaluate hvp fwd": lambda: ev_f.run(feed),
        "evaluate hvp rev": lambda: ev_r.run(feed),
    }
    nodes = {"evaluate grad": ancestors_count(grads), "evaluate hvp fwd": ancestors_count(hvp_fwd),
             "evaluate hvp rev": ancestors_count(hvp_rev)}
    # A Krylov solver's matvec at a fixed point: sg.optimize evaluates the part of
    # the HVP graph that does not depend on v once, then only the part linear in v.
    op = sg.optimize.hessian_operator(loss, [W1, W2], at=[W1v, W2v], feed={X: Xv, y: yv})
    vflat = np.concatenate([V1v.ravel(), V2v.ravel()])
    got = op.matvec(vflat)
    errors["evaluate hessian_operator matvec"] = np.abs(
        got - np.concatenate([r.ravel() for r in ref_h])).max() / max(np.abs(r).max() for r in ref_h)
    cases["evaluate hessian_operator matvec"] = lambda: op.matvec(vflat)
    if hasattr(sg, "function"):
        gi, hi = [X, y, W1, W2], [X, y, W1, W2, V1, V2]
        f_g, f_f, f_r = sg.function(gi, grads), sg.function(hi, hvp_fwd), sg.function(hi, hvp_rev)
        gargs, hargs = [Xv, yv, W1v, W2v], [Xv, yv, W1v, W2v, V1v, V2v]
        cases["function grad"] = lambda: f_g(*gargs)
        cases["function hvp fwd"] = lambda: f_f(*hargs)
        cases["function hvp rev"] = lambda: f_r(*hargs)
        for name, got, ref in (("function grad", f_g(*gargs), ref_g),
                               ("function hvp fwd", f_f(*hargs), ref_h),
                               ("function hvp rev", f_r(*hargs), ref_h)):
            errors[name] = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(got, ref))

    t = time_all(cases, args.reps)
    print(f"Seed MLP B={B}, {D}-{H}-{C}, ReLU, cross-entropy + weight decay, float64; "
          f"BLAS threads={os.environ.get('OPENBLAS_NUM_THREADS')}; min of {args.reps} runs")
    print(f"{'case':<34}{'min ms':>9}{'median ms':>11}{'x own grad':>12}{'x numpy grad':>14}"
          f"{'nodes run':>11}{'max rel err':>13}")
    for name, (tmin, tmed) in t.items():
        engine = name.split()[0]
        own = t.get(f"{engine} grad", t["numpy grad"])[0]
        err = errors.get(name)
        print(f"{name:<34}{tmin * 1e3:>9.2f}{tmed * 1e3:>11.2f}{tmin / own:>12.2f}"
              f"{tmin / t['numpy grad'][0]:>14.2f}{nodes.get(name, ''):>11}"
              f"{'' if err is None else f'{err:.1e}':>13}")
    for engine in ("evaluate", "function"):
        if f"{engine} grad" in t:
            ratios = [t[f"{engine} hvp {m}"][0] / t[f"{engine} grad"][0] for m in ("fwd", "rev")]
            verdict = "met" if max(ratios) <= 2.5 else "NOT met"
            print(f"{engine}: HVP / gradient = {ratios[0]:.2f}x (fwd), {ratios[1]:.2f}x (rev); "
                  f"target <= 2.5x {verdict}")
    print()


def _orders(step, start, graph, k):
    rows, d = [], start
    for order in range(2, k + 1):
        before = len(graph)
        d = step(d)
        rows.append((order, len(graph) - before, len(graph)))
    return rows


def table2(max_order: int = 6) -> None:
    print("Graph size per differentiation order (nodes added by each further derivative; "
          "hash-consing on, no simplification)")
    results = {}
    for how in ("rev", "fwd"):
        g = sg.Graph()
        with g:
            X, y = sg.variable("X", (256, D)), sg.variable("y", (256,), "int64")
            W1, W2 = sg.variable("W1", (D, H)), sg.variable("W2", (H, C))
            V1, V2 = sg.variable("V1", (D, H)), sg.variable("V2", (H, C))
            loss = (sg.cross_entropy(sg.relu(X @ W1) @ W2, y)
                    + LAM * (sg.sum(sg.square(W1)) + sg.sum(sg.square(W2))))
            n0 = len(g)
            first = sg.grad(loss, [W1, W2])
            n1 = len(g)
            if how == "rev":
                def step(d):
                    return sg.grad(sg.sum(d[0] * V1) + sg.sum(d[1] * V2), [W1, W2])
            else:
                def step(d):
                    return sg.jvp(d, [W1, W2], [V1, V2])
            results[f"mlp {how}"] = [(0, n0, n0), (1, n1 - n0, n1)] + _orders(step, first, g, max_order)
        g = sg.Graph()
        with g:
            x = sg.variable("x")
            f = sg.sin(x) * sg.exp(x)
            n0 = len(g)
            one = sg.constant(1.0)
            step = (lambda d: sg.grad(d, x)) if how == "rev" else (lambda d: sg.jvp(d, x, one))
            d1 = step(f)
            n1 = len(g)
            results[f"sin*exp {how}"] = [(0, n0, n0), (1, n1 - n0, n1)] + _orders(step, d1, g, max_order + 2)
    header = f"{'order':>5}" + "".join(f"{name + ' new':>17}{'ratio':>7}" for name in results)
    print(header)
    depth = max(len(r) for r in results.values())
    for i in range(depth):
        line = f"{i:>5}"
        for rows in results.values():
            if i < len(rows):
                ratio = "" if i < 2 else f"{rows[i][1] / rows[i - 1][1]:.2f}"
                line += f"{rows[i][1]:>17}{ratio:>7}"
            else:
                line += " " * 24
        print(line)
    print("order 0 = forward graph, 1 = gradient; mlp order k >= 2 = the derivative of order k-1 "
          "differentiated along v = (V1, V2),\ni.e. D^k J[v, ..., v, .]; ratio = nodes added by "
          "this order / by the previous one")


def main() -> None:
    table1(ARGS)
    table2()


if __name__ == "__main__":
    main()

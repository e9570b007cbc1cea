"""The seed MLP: forward, loss+gradient and Hessian-vector product, symgraph vs numpy and peers.

The backprop chapter's network: B=256 examples of 784 features, a 256-unit
ReLU hidden layer without biases, 10 classes, softmax cross-entropy plus weight
decay on both weight matrices, float64.  Every method is checked against the
handwritten numpy backprop before it is timed, then all methods run in
steady state in worker processes of their own (one method's heap never
disturbs another's page faults), in passes interleaved across methods (so
load on a shared machine hits them alike); the best time counts.

The "BLAS floor" row is the matrix products any implementation must do, and
nothing else, run by numpy's BLAS into preallocated buffers in the same
scheme: forward ``X@W1, H@W2``; loss+grad those and ``dz@W2.T, X.T@dH,
H.T@dz``; the Hessian-vector product its own ten (``X@W1, H@W2, X@V1,
RH@W2, H@V2, RH.T@dz, H.T@Rdz, Rdz@W2.T, dz@V2.T, X.T@RdH``).  Every method
is reported as a ratio to the floor, and to handwritten numpy, in the same run.

    python benchmarks/bench_mlp.py [--threads 1] [--blas-core auto|keep|NAME]
                                   [--passes 3] [--rounds 30] [--timer cpu|wall]

Configuration (``benchmarks/threads.py``), the same for every method and the
floor: BLAS and the peers get ``--threads`` threads (default 1: steadier on a
shared machine; matmuls then dominate), and with one thread every worker is
pinned to one core (``os.sched_setaffinity``), so XLA's runtime threads get
no more CPU than numpy (its CPU time is then its wall time).  OpenBLAS's
kernels: ``--blas-core auto`` (default) asks for the AVX-512 ("SkylakeX")
kernels on a CPU with avx512f when ``OPENBLAS_CORETYPE`` is unset, ``keep``
leaves it as the environment has it, any other value sets it; the table's
header says which kernels numpy's and scipy's OpenBLAS run.  PyTensor
installed by pip links no BLAS of its own (it warns so): its products go
through numpy's.  JAX's products are XLA's own kernels, not OpenBLAS.  With
one thread, time is this process's CPU time, which other processes' load
disturbs less than wall time.  Peak memory is tracemalloc's peak over one
loss+gradient call beyond what was allocated before it; it sees numpy buffers
(so numpy, symgraph, autograd and PyTensor) but not torch's or XLA's own
allocators.

Peers (JAX jit, PyTorch, PyTensor, autograd) run when installed
(``pip install -e .[bench]``).

A second table measures per-node overhead on a long chain of scalar ops.
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # threads must be fixed before numpy and the peers load
    from threads import blas_info, pin_threads

    pin_threads()

import gc  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from symgraph.models import seed_mlp_numpy  # noqa: E402
from measure import interleaved, traced_peak  # noqa: E402

B, D, H, C = 256, 784, 256, 10
WD = 1e-4


# ---------------------------------------------------------------------------
# handwritten numpy: the baseline
# ---------------------------------------------------------------------------

def numpy_forward(X, y, W1, W2):
    z = np.maximum(X @ W1, 0) @ W2
    shifted = z - z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean() + WD * (np.sum(W1 * W1) + np.sum(W2 * W2))


def numpy_loss_grad(X, y, W1, W2):
    """Backprop as the chapter writes it (symgraph.models.seed_mlp_numpy)."""
    return seed_mlp_numpy(X, y, W1, W2, WD)


def numpy_hvp(X, y, W1, W2, V1, V2):
    """Forward-over-reverse by hand: the directional derivative of the backprop code."""
    n = X.shape[0]
    a = X @ W1
    mask = a > 0
    Hh = a * mask
    z = Hh @ W2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = p.copy()
    dz[np.arange(n), y] -= 1
    dz /= n
    RH = (X @ V1) * mask
    Rz = RH @ W2 + Hh @ V2
    Rdz = p * (Rz - (p * Rz).sum(axis=1, keepdims=True)) / n
    RgW2 = RH.T @ dz + Hh.T @ Rdz + 2 * WD * V2
    RgW1 = X.T @ ((Rdz @ W2.T + dz @ V2.T) * mask) + 2 * WD * V1
    return RgW1, RgW2


# ---------------------------------------------------------------------------
# methods: each returns (forward, loss_grad, hvp) callables of the data
# ---------------------------------------------------------------------------

def setup_floor(d):
    """The matrix products alone (numpy's BLAS, into buffers made once): forward, loss+grad
    and hvp each do theirs on operands of the shapes and layouts the real code has."""
    rng = np.random.default_rng(1)
    X, W1, W2, V1, V2 = d["X"], d["W1"], d["W2"], d["V1"], d["V2"]
    Hh, RH = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    dz, Rdz, dH = (rng.standard_normal((B, C)), rng.standard_normal((B, C)),
                   rng.standard_normal((B, H)))
    bh, bc, dh, hc = np.empty((B, H)), np.empty((B, C)), np.empty((D, H)), np.empty((H, C))
    mm = np.matmul

    def forward():
        mm(X, W1, out=bh)
        mm(Hh, W2, out=bc)

    def loss_grad():
        forward()
        mm(dz, W2.T, out=bh)
        mm(X.T, dH, out=dh)
        mm(Hh.T, dz, out=hc)

    def hvp():
        forward()
        for a, b, out in ((X, V1, bh), (RH, W2, bc), (Hh, V2, bc), (RH.T, dz, hc),
                          (Hh.T, Rdz, hc), (Rdz, W2.T, bh), (dz, V2.T, bh), (X.T, dH, dh)):
            mm(a, b, out=out)

    return forward, loss_grad, hvp


def setup_numpy(d):
    args = (d["X"], d["y"], d["W1"], d["W2"])
    return (lambda: numpy_forward(*args), lambda: numpy_loss_grad(*args),
            lambda: numpy_hvp(*args, d["V1"], d["V2"]))


def _symgraph_graph():
    X, y = sg.variable("X", (B, D)), sg.variable("y", (B,), "int64")
    W1, W2 = sg.variable("W1", (D, H)), sg.variable("W2", (H, C))
    V1, V2 = sg.variable("V1", (D, H)), sg.variable("V2", (H, C))
    loss = sg.cross_entropy(sg.relu(X @ W1) @ W2, y) + WD * (sg.sum(sg.square(W1)) +
                                                            sg.sum(sg.square(W2)))
    grads = sg.grad(loss, [W1, W2])
    hvp = getattr(sg, "hvp", None)
    hv = hvp(loss, [W1, W2], [V1, V2]) if hvp is not None else sg.jvp(grads, [W1, W2], [V1, V2])
    return (X, y, W1, W2, V1, V2), loss, grads, hv


def setup_evaluate(d):
    with sg.Graph():
        (X, y, W1, W2, V1, V2), loss, grads, hv = _symgraph_graph()
    feed = {X: d["X"], y: d["y"], W1: d["W1"], W2: d["W2"]}
    feed_v = {**feed, V1: d["V1"], V2: d["V2"]}
    ev_f, ev_g, ev_h = sg.Evaluator(loss), sg.Evaluator([loss, *grads]), sg.Evaluator(hv)
    return lambda: ev_f.run(feed), lambda: ev_g.run(feed), lambda: ev_h.run(feed_v)


COMPILED: dict = {}


def setup_function(d, backend="numpy"):
    with sg.Graph():
        (X, y, W1, W2, V1, V2), loss, grads, hv = _symgraph_graph()
    f = sg.function([X, y, W1, W2], loss, backend=backend)
    g = COMPILED["grad" if backend == "numpy" else backend] = sg.function(
        [X, y, W1, W2], [loss, *grads], backend=backend)
    h = sg.function([X, y, W1, W2, V1, V2], hv, backend=backend)
    args = (d["X"], d["y"], d["W1"], d["W2"])
    return lambda: f(*args), lambda: g(*args), lambda: h(*args, d["V1"], d["V2"])


def setup_function_numba(d):
    import importlib

    importlib.import_module("numba")  # ImportError: the row is skipped without numba
    return setup_function(d, backend="numba")


def setup_jax(d):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def loss(W, X, y):
        W1, W2 = W
        z = jnp.maximum(X @ W1, 0) @ W2
        logp = jax.nn.log_softmax(z, axis=1)
        return -jnp.take_along_axis(logp, y[:, None], 1).mean() + WD * (
            jnp.sum(W1 * W1) + jnp.sum(W2 * W2))

    fwd = jax.jit(loss)
    vg = jax.jit(jax.value_and_grad(loss))
    hvp = jax.jit(lambda W, V, X, y: jax.jvp(lambda w: jax.grad(loss)(w, X, y), (W,), (V,))[1])
    X, y = jnp.asarray(d["X"]), jnp.asarray(d["y"])
    W, V = (jnp.asarray(d["W1"]), jnp.asarray(d["W2"])), (jnp.asarray(d["V1"]), jnp.asarray(d["V2"]))
    ready = jax.block_until_ready

    def lg():
        value, (g1, g2) = ready(vg(W, X, y))
        return value, g1, g2

    return lambda: ready(fwd(W, X, y)), lg, lambda: ready(hvp(W, V, X, y))


def setup_torch(d):
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from torch.func import grad, jvp

    X, y = torch.from_numpy(d["X"]), torch.from_numpy(d["y"])
    W1, W2 = torch.from_numpy(d["W1"].copy()), torch.from_numpy(d["W2"].copy())
    V1, V2 = torch.from_numpy(d["V1"]), torch.from_numpy(d["V2"])

    def loss(W1, W2):
        z = torch.relu(X @ W1) @ W2
        return torch.nn.functional.cross_entropy(z, y) + WD * (torch.sum(W1 * W1) +
                                                             torch.sum(W2 * W2))

    def fwd():
        with torch.no_grad():
            return loss(W1, W2)

    def lg():
        a, b = W1.detach().requires_grad_(), W2.detach().requires_grad_()
        value = loss(a, b)
        g1, g2 = torch.autograd.grad(value, (a, b))
        return value.detach(), g1, g2

    g = grad(loss, argnums=(0, 1))
    return fwd, lg, lambda: jvp(g, (W1, W2), (V1, V2))[1]


def setup_pytensor(d):
    import pytensor
    import pytensor.tensor as pt

    X, W1, W2, V1, V2 = (pt.matrix(n, dtype="float64") for n in ("X", "W1", "W2", "V1", "V2"))
    y = pt.vector("y", dtype="int64")
    z = pt.maximum(X @ W1, 0) @ W2
    logp = z - pt.logsumexp(z, axis=1, keepdims=True)
    loss = -logp[pt.arange(y.shape[0]), y].mean() + WD * (pt.sum(W1 ** 2) + pt.sum(W2 ** 2))
    grads = pytensor.grad(loss, [W1, W2])
    push = getattr(pytensor.gradient, "pushforward", None)  # PyTensor's recommended JVP
    hv = (push(grads, [W1, W2], [V1, V2]) if push is not None
          else pytensor.gradient.Rop(grads, [W1, W2], [V1, V2]))
    f = pytensor.function([X, y, W1, W2], loss)
    g = pytensor.function([X, y, W1, W2], [loss, *grads])
    h = pytensor.function([X, y, W1, W2, V1, V2], hv, on_unused_input="ignore")
    args = (d["X"], d["y"], d["W1"], d["W2"])
    return lambda: f(*args), lambda: g(*args), lambda: h(*args, d["V1"], d["V2"])


def setup_autograd(d):
    import autograd
    import autograd.numpy as anp
    import autograd.scipy.special as asp

    X, y = d["X"], d["y"]

    def loss(W):
        W1, W2 = W
        z = anp.maximum(anp.dot(X, W1), 0) @ W2
        logp = z - asp.logsumexp(z, axis=1, keepdims=True)
        return -anp.mean(logp[np.arange(len(y)), y]) + WD * (anp.sum(W1 * W1) +
                                                              anp.sum(W2 * W2))

    vg = autograd.value_and_grad(loss)
    g = autograd.grad(loss)
    W, V = (d["W1"], d["W2"]), (d["V1"], d["V2"])
    # reverse-over-reverse: autograd's own hessian_vector_product, for a tuple of arrays
    hvp = autograd.grad(lambda W, V: sum(anp.sum(gi * vi) for gi, vi in zip(g(W), V)))

    def lg():
        value, (g1, g2) = vg(W)
        return value, g1, g2

    return lambda: loss(W), lg, lambda: hvp(W, V)


FLOOR = "BLAS floor"
METHODS: list[tuple[str, Callable, str | None]] = [
    (FLOOR, setup_floor, None),
    ("numpy (handwritten)", setup_numpy, None),
    ("sg.evaluate", setup_evaluate, None),
    ("sg.function", setup_function, None),
    ("sg.function numba", setup_function_numba, "numba"),
    ("JAX jit", setup_jax, "jax"),
    ("PyTorch", setup_torch, "torch"),
    ("PyTensor", setup_pytensor, "pytensor"),
    ("autograd", setup_autograd, "autograd"),
]


# ---------------------------------------------------------------------------
# measuring: one worker process per method and pass
# ---------------------------------------------------------------------------

def _np(x):
    return np.asarray(x.detach() if hasattr(x, "detach") else x, dtype=np.float64)


def check(name, fns, ref):
    """Fail loudly if a method disagrees with handwritten numpy."""
    for what, fn, want in zip(("forward", "loss+grad", "hvp"), fns, ref):
        got = fn()
        got = list(got) if isinstance(got, (tuple, list)) else [got]
        want = list(want) if isinstance(want, (tuple, list)) else [want]
        for g, w in zip(got, want):
            np.testing.assert_allclose(_np(g), w, rtol=1e-7, atol=1e-10,
                                       err_msg=f"{name} {what} disagrees with handwritten numpy")


def make_data():
    rng = np.random.default_rng(0)
    return {"X": rng.standard_normal((B, D)), "y": rng.integers(0, C, B),
            "W1": rng.standard_normal((D, H)) * np.sqrt(2 / D),
            "W2": rng.standard_normal((H, C)) * np.sqrt(2 / H),
            "V1": rng.standard_normal((D, H)), "V2": rng.standard_normal((H, C))}


def worker(name: str, rounds: int, clock) -> dict:
    """Set one method up, check it, then time forward, loss+grad and hvp, each in a block
    of consecutive calls (its steady state); the fastest call counts."""
    data = make_data()
    args = (data["X"], data["y"], data["W1"], data["W2"])
    ref = (numpy_forward(*args), numpy_loss_grad(*args), numpy_hvp(*args, data["V1"], data["V2"]))
    setup = {m[0]: m[1] for m in METHODS}[name]
    try:
        fns = setup(data)
    except ImportError:
        return {"missing": True}
    if name != FLOOR:  # the floor computes no loss: products of stand-in operands
        check(name, fns, ref)
    peak = traced_peak(fns[1])
    held = {"sg.function": COMPILED.get("grad"), "sg.function numba": COMPILED.get("numba")}.get(name)
    held = held.workspace_bytes if held is not None else 0
    best = [math.inf] * 3
    gc.disable()
    try:
        for k, f in enumerate(fns):  # one block of calls each: a training loop's steady state
            for _ in range(3):  # warm up: jit compilation, caches, the allocator
                f()
            for _ in range(rounds):
                start = clock()
                f()
                best[k] = min(best[k], clock() - start)
    finally:
        gc.enable()
    out = {"times": best, "peak": peak, "held": held}
    if name == "sg.function":
        out["estimate"] = COMPILED["grad"].peak_bytes
        out["blas"] = blas_info()  # numpy's and scipy's, both loaded by now
    return out


def run_workers(passes: int, rounds: int, timer: str, threads: int, only, blas_core: str) -> dict:
    """Each method in its own process (so no method inherits another's heap), passes
    interleaved across methods (so load on the machine hits them alike); best pass wins."""
    import json
    import subprocess

    names = [n for n, _, module in METHODS
             if module is None or not only or any(o.lower() in n.lower() for o in only)]
    results: dict[str, dict] = {}
    for _ in range(passes):
        for name in names:
            if results.get(name, {}).get("missing"):
                continue
            cmd = [sys.executable, __file__, "--worker", name, "--rounds", str(rounds),
                   "--timer", timer, "--threads", str(threads), "--blas-core", blas_core]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
            got = json.loads(proc.stdout.strip().splitlines()[-1])
            old = results.get(name)
            if old is None or got.get("missing"):
                results[name] = got
            else:
                old["times"] = [min(a, b) for a, b in zip(old["times"], got["times"])]
    return results


def mlp_table(results: dict, passes: int, rounds: int, timer: str, threads: int) -> None:
    done = {k: v for k, v in results.items() if not v.get("missing")}
    base, floor = done["numpy (handwritten)"], done[FLOOR]
    untracked = {"JAX jit", "PyTorch", FLOOR}
    blas = done.get("sg.function", {}).get("blas", "")
    print(f"\nSeed MLP, B={B}, {D}-{H}-{C}, ReLU, cross-entropy + weight decay, float64 "
          f"({threads} thread(s), {timer} time, best of {passes} processes x {rounds} rounds; "
          f"BLAS: {blas}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
    cols = [("method", 20), ("fwd ms", 7), ("x floor", 7), ("x numpy", 7), ("loss+grad ms", 12),
            ("x floor", 7), ("x numpy", 7), ("hvp ms", 7), ("x floor", 7), ("x numpy", 7),
            ("hvp/l+g", 7), ("peak MB (l+g)", 13), ("x numpy", 7)]
    head = "| " + " | ".join(f"{c:<{w}}" if k == 0 else f"{c:>{w}}"
                             for k, (c, w) in enumerate(cols)) + " |"
    print(head)
    print("|" + "|".join("-" * (w + 2) for _, w in cols) + "|")
    for name, r in done.items():
        t, b, fl = r["times"], base["times"], floor["times"]
        cells = [f"{name:<20}"]
        for k, w in ((0, 7), (1, 12), (2, 7)):
            cells += [f"{t[k] * 1e3:{w}.3f}", f"{t[k] / fl[k]:7.2f}", f"{t[k] / b[k]:7.2f}"]
        cells.append(f"{t[2] / t[1]:7.2f}")
        if name in untracked:
            cells += [f"{'untracked':>13}", f"{'':>7}"]
        else:
            mem = r["peak"] + r["held"]
            cells += [f"{mem / 2 ** 20:13.2f}", f"{mem / base['peak']:7.2f}"]
        print("| " + " | ".join(cells) + " |")
    f = done.get("sg.function")
    if f:
        print(f"sg.function's peak counts {f['held'] / 2 ** 20:.2f} MB of buffers it keeps between "
              f"calls (tracemalloc saw {f['peak'] / 2 ** 20:.2f} MB allocated during the call); "
              f"its planner estimated {f['estimate'] / 2 ** 20:.2f} MB")
    missing = [k for k, v in results.items() if v.get("missing")]
    if missing:
        print("not installed: " + ", ".join(missing) + " (pip install -e .[bench])")


# ---------------------------------------------------------------------------
# per-node overhead: a long chain of scalar ops
# ---------------------------------------------------------------------------


def best_of(fns: dict[str, Callable], rounds: int, clock) -> dict[str, float]:
    """Best time of each callable over interleaved rounds (seconds)."""
    return {k: min(t) for k, t in interleaved(fns, rounds, clock).items()}


def scalar_table(levels: int, rounds: int, clock) -> None:
    """h <- sin(h) * 0.5 + h, repeated; value and derivative, three ways."""
    with sg.Graph():
        x = sg.variable("x")
        h = x
        for _ in range(levels):
            h = sg.sin(h) * 0.5 + h
        dh = sg.grad(h, x)
        ev = sg.Evaluator([h, dh])
        fn = sg.function([x], [h, dh])
        n_nodes = len(ev.schedule(frozenset([x])).steps)

    def plain(x0: float):
        hs, v = [], x0
        for _ in range(levels):
            hs.append(v)
            v = math.sin(v) * 0.5 + v
        g = 1.0
        for hk in reversed(hs):
            g *= math.cos(hk) * 0.5 + 1.0
        return v, g

    x0 = 0.3
    want = plain(x0)
    for got in (ev.run({x: x0}), fn(x0)):
        np.testing.assert_allclose([float(got[0]), float(got[1])], want, rtol=1e-9, atol=1e-12)
    best = best_of({"sg.evaluate": lambda: ev.run({x: x0}), "sg.function": lambda: fn(x0),
                     "plain Python (math)": lambda: plain(x0)}, rounds, clock)
    print(f"\nScalar chain h <- sin(h)*0.5 + h, {levels} levels: value and derivative, "
          f"{n_nodes} graph nodes")
    head = f"| {'method':<20} | {'ms':>8} | {'us / node':>9} | {'x plain':>7} |"
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for k, t in best.items():
        print(f"| {k:<20} | {t * 1e3:8.3f} | {t / n_nodes * 1e6:9.3f} | "
              f"{t / best['plain Python (math)']:7.2f} |")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS / peer threads (default 1)")
    p.add_argument("--blas-core", default="auto",
                   help="OPENBLAS_CORETYPE: auto (SkylakeX on avx512f CPUs when unset), keep, "
                        "or a name (see benchmarks/threads.py)")
    p.add_argument("--passes", type=int, default=3, help="worker processes per method")
    p.add_argument("--rounds", type=int, default=30, help="timed calls per worker and task")
    p.add_argument("--timer", choices=("cpu", "wall"), default=None,
                   help="default: cpu with one thread, wall otherwise")
    p.add_argument("--only", nargs="*", help="peers to include (numpy and symgraph always run)")
    p.add_argument("--levels", type=int, default=2000, help="scalar chain length")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    timer = args.timer or ("cpu" if args.threads == 1 else "wall")
    clock = time.process_time if timer == "cpu" else time.perf_counter
    if args.worker:
        import json

        print(json.dumps(worker(args.worker, args.rounds, clock)))
        return
    results = run_workers(args.passes, args.rounds, timer, args.threads, args.only,
                          args.blas_core)
    mlp_table(results, args.passes, args.rounds, timer, args.threads)
    scalar_table(args.levels, max(5, args.rounds), clock)


if __name__ == "__main__":
    main()

"""Realistic programs built from the numpy breadth ops: loss+gradient, symgraph vs numpy and peers.

Three programs, each timed as one call that returns the loss and its
gradients:

* ``attention``: a single-head attention score written with ``einsum``
  (B=32 sequences of T=64 tokens, d=32): ``S = einsum("btd,bsd->bts", Q, K)/sqrt(d)``,
  ``A = softmax(S)``, ``O = einsum("bts,bsd->btd", A, V)``, loss ``mean((O - Y)**2)``,
  gradients for Q, K and V;
* ``cvar``: a sort/cumsum loss, the conditional value at risk of per-sample
  losses (the mean of the worst 10% of ``softplus(X w)``, n=20000, d=20), via
  ``sort`` and ``cumsum``, gradient for w;
* ``logistic``: the softplus logistic loss on 10^5 samples of 20 features with
  L2, gradients for w and b.

Methods: handwritten numpy (the gradient derived by hand), symgraph compiled
(``sg.function``), autograd and JAX ``jit`` when installed (``pip install -e
.[bench]``).  Every method is checked against numpy first.  One thread for
BLAS and XLA; the methods run in interleaved rounds in this process (load on
a shared machine hits them alike); min and median over rounds, as ratios to
numpy in the same run.

    python benchmarks/bench_breadth.py [--rounds 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # threads must be fixed before numpy and the peers load
    from threads import pin_threads

    pin_threads()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAX_ENABLE_X64", "1")

import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

rng = np.random.default_rng(0)


# ---------------------------------------------------------------------------
# attention (einsum)
# ---------------------------------------------------------------------------

B, T, DH = 32, 64, 32


def attention_data() -> list[np.ndarray]:
    return [rng.standard_normal((B, T, DH)) for _ in range(4)]  # Q, K, V, Y


def attention_numpy(Q, K, V, Y):
    S = np.einsum("btd,bsd->bts", Q, K, optimize=True) / np.sqrt(DH)
    S = S - S.max(axis=-1, keepdims=True)
    A = np.exp(S)
    A /= A.sum(axis=-1, keepdims=True)
    O = np.einsum("bts,bsd->btd", A, V, optimize=True)
    R = O - Y
    loss = np.mean(R * R)
    gO = 2 * R / R.size
    gA = np.einsum("btd,bsd->bts", gO, V, optimize=True)
    gV = np.einsum("bts,btd->bsd", A, gO, optimize=True)
    gS = A * (gA - np.sum(gA * A, axis=-1, keepdims=True)) / np.sqrt(DH)
    gQ = np.einsum("bts,bsd->btd", gS, K, optimize=True)
    gK = np.einsum("bts,btd->bsd", gS, Q, optimize=True)
    return loss, gQ, gK, gV


def attention_symgraph(Q, K, V, Y):
    S = sg.einsum("btd,bsd->bts", Q, K) / np.sqrt(DH)
    O = sg.einsum("bts,bsd->btd", sg.softmax(S, axis=-1), V)
    return sg.mean(sg.square(O - Y))


def attention_peer(np_):
    def loss(Q, K, V, Y):
        S = np_.einsum("btd,bsd->bts", Q, K) / np.sqrt(DH)
        S = S - np_.max(S, axis=-1, keepdims=True)
        A = np_.exp(S)
        A = A / np_.sum(A, axis=-1, keepdims=True)
        O = np_.einsum("bts,bsd->btd", A, V)
        return np_.mean((O - Y) ** 2)
    return loss


# ---------------------------------------------------------------------------
# CVaR (sort + cumsum)
# ---------------------------------------------------------------------------

N_CVAR, D_CVAR, ALPHA = 20000, 20, 0.1
K_TAIL = int(N_CVAR * ALPHA)


def cvar_data() -> list[np.ndarray]:
    return [rng.standard_normal(D_CVAR) * 0.3, rng.standard_normal((N_CVAR, D_CVAR))]


def _softplus(z):
    return np.logaddexp(0, z)


def _sigmoid(z):
    return np.exp(-np.logaddexp(0, -z))


def cvar_numpy(w, X):
    z = X @ w
    losses = _softplus(z)
    order = np.argsort(losses)
    tail = np.cumsum(losses[order][::-1])[K_TAIL - 1]
    loss = tail / K_TAIL
    g_losses = np.zeros(N_CVAR)
    g_losses[order[::-1][:K_TAIL]] = 1 / K_TAIL
    gw = X.T @ (g_losses * _sigmoid(z))
    return loss, gw


def cvar_symgraph(w, X):
    losses = sg.softplus(X @ w)
    worst_first = sg.sort(losses)[::-1]
    return sg.cumsum(worst_first)[K_TAIL - 1] / K_TAIL


def cvar_peer(np_):
    def loss(w, X):
        losses = np_.logaddexp(0, X @ w)
        worst_first = np_.sort(losses)[::-1]
        return np_.cumsum(worst_first)[K_TAIL - 1] / K_TAIL
    return loss


# ---------------------------------------------------------------------------
# logistic regression (softplus)
# ---------------------------------------------------------------------------

N_LOG, D_LOG, LAM = 100_000, 20, 1e-3


def logistic_data() -> list[np.ndarray]:
    X = rng.standard_normal((N_LOG, D_LOG))
    y = np.where(X @ rng.standard_normal(D_LOG) + rng.standard_normal(N_LOG) > 0, 1.0, -1.0)
    return [rng.standard_normal(D_LOG) * 0.1, np.asarray(0.1), X, y]


def logistic_numpy(w, b, X, y):
    m = y * (X @ w + b)
    loss = np.mean(_softplus(-m)) + LAM * (w @ w)
    gm = -_sigmoid(-m) * y / N_LOG
    return loss, X.T @ gm + 2 * LAM * w, np.sum(gm)


def logistic_symgraph(w, b, X, y):
    return sg.mean(sg.softplus(-y * (X @ w + b))) + LAM * sg.sum(w * w)


def logistic_peer(np_):
    def loss(w, b, X, y):
        return np_.mean(np_.logaddexp(0, -y * (X @ w + b))) + LAM * np_.sum(w * w)
    return loss


PROGRAMS = {
    "attention (einsum, softmax)": (attention_data, attention_numpy, attention_symgraph,
                                    attention_peer, 3),
    "CVaR (sort, cumsum, softplus)": (cvar_data, cvar_numpy, cvar_symgraph, cvar_peer, 1),
    "logistic 1e5 (softplus)": (logistic_data, logistic_numpy, logistic_symgraph, logistic_peer, 2),
}


# ---------------------------------------------------------------------------
# methods
# ---------------------------------------------------------------------------

def symgraph_method(data, build, n_wrt) -> Callable:
    """Compiled loss and gradients with respect to the first ``n_wrt`` inputs."""
    xs = [sg.variable(f"x{i}", a.shape) for i, a in enumerate(data)]
    loss = build(*xs)
    fn = sg.function(xs, [loss, *sg.grad(loss, xs[:n_wrt])])
    return lambda *a: fn(*a)


def autograd_method(peer, n_wrt) -> Callable | None:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    return autograd.value_and_grad(peer(anp), tuple(range(n_wrt)))


def jax_method(peer, n_wrt) -> Callable | None:
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    f = jax.jit(jax.value_and_grad(peer(jnp), tuple(range(n_wrt))))

    def call(*a):
        value, grads = f(*a)
        jax.block_until_ready(grads)
        return value, grads
    return call


def flat(result) -> list[np.ndarray]:
    """(loss, g1, g2, ...) or (loss, (g1, g2, ...)) as a flat list of arrays."""
    out = []
    for r in result:
        if isinstance(r, (tuple, list)):
            out.extend(np.asarray(x) for x in r)
        else:
            out.append(np.asarray(r))
    return out


def measure(methods: dict[str, Callable], data, rounds: int, calls: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in methods}
    for fn in methods.values():  # warm up (and compile)
        fn(*data)
    for _ in range(rounds):
        for name, fn in methods.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn(*data)
            times[name].append((time.perf_counter() - start) / calls)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=3, help="calls per round and method")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    print(f"{'program':32} {'method':18} {'min ms':>9} {'median ms':>10} {'min/numpy':>10} "
          f"{'median/numpy':>13}")
    for title, (make_data, numpy_fn, build, peer, n_wrt) in PROGRAMS.items():
        data = make_data()
        methods = {"numpy (by hand)": numpy_fn,
                   "symgraph compiled": symgraph_method(data, build, n_wrt)}
        for name, make in (("autograd", autograd_method), ("JAX jit", jax_method)):
            fn = make(peer, n_wrt)
            if fn is not None:
                methods[name] = fn
        want = flat(numpy_fn(*data))
        for name, fn in methods.items():
            got = flat(fn(*data))
            for w, g in zip(want, got):
                np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-10, err_msg=f"{title}: {name}")
        times = measure(methods, data, args.rounds, args.calls)
        base_min, base_med = np.min(times["numpy (by hand)"]), np.median(times["numpy (by hand)"])
        for name, ts in times.items():
            print(f"{title:32} {name:18} {1e3 * np.min(ts):9.3f} {1e3 * np.median(ts):10.3f} "
                  f"{np.min(ts) / base_min:10.2f} {np.median(ts) / base_med:13.2f}")
        print()


if __name__ == "__main__":
    main()

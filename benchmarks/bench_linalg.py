"""Gaussian-process marginal likelihood: value+gradient and HVP, symgraph vs numpy and peers.

The program is the negative log marginal likelihood of GP regression with
kernel ``sf2 * exp(-(x_i - x_j)^2 / (2 ell^2)) + sn2 * I`` in the log
hyperparameters ``theta = log([sf2, ell, sn2])``:

    L = cholesky(K),  alpha = L^-1 y,
    NLL = 0.5 alpha.alpha + sum(log diag L) + n/2 log(2 pi)

on n = 200, 500, 1000 one-dimensional points (seeded).  Two quantities per n:

* ``value+grad``: NLL and its gradient with respect to theta;
* ``HVP``: the Hessian of NLL times a direction v (from scratch: forward pass,
  gradient and the product).

Methods: handwritten numpy/scipy, as scikit-learn computes the gradient
(``alpha = cho_solve(L, y)``, ``K_inv = cho_solve(L, I)``,
``grad = 0.5 tr((K_inv - alpha alpha^T) dK/dtheta)``) and its closed-form
Hessian-vector product; symgraph compiled (``sg.function`` of ``sg.grad`` and
``sg.hvp``, with ``sg.linalg.cholesky`` and ``sg.linalg.solve_triangular``);
autograd (reverse over reverse for the HVP) and JAX ``jit`` (forward over
reverse) when installed.  Every method is checked against numpy first (and
the numpy HVP against central differences of its gradient).  One thread for
BLAS and XLA; interleaved rounds in this process; min and median over rounds
as ratios to numpy in the same run; ``hvp/vg`` is a method's HVP time over
its own value+grad time (min).  Targets (reported, never asserted):
symgraph value+grad <= 1.2x numpy and ahead of autograd, HVP <= 2.5x its
value+grad.

    python benchmarks/bench_linalg.py [--sizes 200 500 1000] [--rounds 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys

def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":  # threads must be fixed before numpy and the peers load
    from threads import pin_threads

    pin_threads()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAX_ENABLE_X64", "1")

import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

THETA = np.log([1.0, 0.7, 0.1])  # log signal variance, log length scale, log noise variance
DIRECTION = np.array([0.3, -0.5, 0.8])
LOG_2PI = np.log(2 * np.pi)
NUMPY = "numpy (by hand)"


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points on [-3, 3] and a noisy, standardised sine."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    y = np.sin(2 * x) + 0.3 * rng.standard_normal(n)
    return x, (y - y.mean()) / y.std()


# ---------------------------------------------------------------------------
# handwritten numpy/scipy (scikit-learn's formulas)
# ---------------------------------------------------------------------------

def kernel_parts(theta, x):
    """The kernel K and its first derivatives dK/dtheta_k (K_sn2 = sn2 I is kept as a scalar)."""
    sf2, ell, sn2 = np.exp(theta)
    scaled = (x[:, None] - x[None, :]) ** 2 / ell ** 2  # squared distances in length scales
    K_f = sf2 * np.exp(-0.5 * scaled)                     # dK/dlog sf2
    K_ell = K_f * scaled                                  # dK/dlog ell
    K = K_f.copy()
    K.flat[::len(x) + 1] += sn2
    return K, K_f, K_ell, scaled, sn2


def numpy_value_grad(theta, x, y):
    K, K_f, K_ell, _, sn2 = kernel_parts(theta, x)
    L = scipy.linalg.cholesky(K, lower=True)
    alpha = scipy.linalg.cho_solve((L, True), y)
    value = 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * len(x) * LOG_2PI
    K_inv = scipy.linalg.cho_solve((L, True), np.eye(len(x)))
    W = K_inv - np.outer(alpha, alpha)  # grad_k = 0.5 tr(W dK_k); every dK_k is symmetric
    grad = 0.5 * np.array([np.sum(W * K_f), np.sum(W * K_ell), sn2 * np.trace(W)])
    return value, grad


def numpy_hvp(theta, x, y, v):
    """Closed-form H v with dalpha = -K^-1 dK alpha and dK^-1 = -K^-1 dK K^-1:

    (H v)_i = 0.5 tr(K^-1 K_iv) - 0.5 tr(K^-1 K_v K^-1 K_i) + alpha' K_i K^-1 K_v alpha
              - 0.5 alpha' K_iv alpha,
    K_v = sum_j v_j K_j, K_iv = sum_j v_j d2K/dtheta_i dtheta_j.
    """
    K, K_f, K_ell, scaled, sn2 = kernel_parts(theta, x)
    n = len(x)
    L = scipy.linalg.cholesky(K, lower=True)
    alpha = scipy.linalg.cho_solve((L, True), y)
    K_inv = scipy.linalg.cho_solve((L, True), np.eye(n))
    K_v = v[0] * K_f + v[1] * K_ell
    K_v.flat[::n + 1] += v[2] * sn2
    M = K_inv @ K_v @ K_inv                       # K^-1 K_v K^-1
    beta = K_inv @ (K_v @ alpha)                  # K^-1 K_v alpha
    W = K_inv - np.outer(alpha, alpha)
    K_ell_ell = K_ell * (scaled - 2)              # d2K/dlog ell^2
    second = [v[0] * K_f + v[1] * K_ell,          # K_iv: d/dtheta_i of K_v
              v[0] * K_ell + v[1] * K_ell_ell,
              None]
    out = np.empty(3)
    for i, K_i in enumerate((K_f, K_ell)):
        out[i] = (0.5 * np.sum(W * second[i]) - 0.5 * np.sum(M * K_i) + (K_i @ alpha) @ beta)
    out[2] = 0.5 * v[2] * sn2 * np.trace(W) - 0.5 * sn2 * np.trace(M) + sn2 * alpha @ beta
    return out


# ---------------------------------------------------------------------------
# the same NLL written once for symgraph, autograd and JAX
# ---------------------------------------------------------------------------

def nll_program(m, cholesky, solve_triangular) -> Callable:
    """The NLL with numpy-like module ``m`` and its Cholesky and triangular solve."""
    def nll(theta, x, y):
        n = y.shape[0]
        sq = (x[:, None] - x[None, :]) ** 2
        K = m.exp(theta[0] - 0.5 * sq * m.exp(-2 * theta[1])) + m.exp(theta[2]) * m.eye(n)
        L = cholesky(K)
        alpha = solve_triangular(L, y, lower=True)
        # (axis1=-1, axis2=-2: the only diagonal autograd differentiates)
        return 0.5 * m.sum(alpha * alpha) + m.sum(m.log(m.diagonal(L, axis1=-1, axis2=-2))) + 0.5 * n * LOG_2PI
    return nll


def symgraph_methods(n: int) -> tuple[Callable, Callable]:
    theta, v = sg.variable("theta", (3,)), sg.variable("v", (3,))
    x, y = sg.variable("x", (n,)), sg.variable("y", (n,))
    nll = nll_program(sg, sg.linalg.cholesky, sg.linalg.solve_triangular)(theta, x, y)
    value_grad = sg.function([theta, x, y], [nll, sg.grad(nll, theta)])
    hvp = sg.function([theta, x, y, v], sg.hvp(nll, theta, v))
    return value_grad, hvp


def autograd_methods() -> tuple[Callable, Callable] | None:
    try:
        import autograd
        import autograd.numpy as anp
        import autograd.scipy.linalg as asl
    except ImportError:
        return None
    nll = nll_program(anp, anp.linalg.cholesky, asl.solve_triangular)
    return autograd.value_and_grad(nll), autograd.hessian_tensor_product(nll)


def jax_methods() -> tuple[Callable, Callable] | None:
    try:
        import jax
        import jax.numpy as jnp
        import jax.scipy.linalg as jsl
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    nll = nll_program(jnp, jnp.linalg.cholesky, jsl.solve_triangular)
    value_grad = jax.jit(jax.value_and_grad(nll))
    hvp = jax.jit(lambda theta, x, y, v: jax.jvp(lambda t: jax.grad(nll)(t, x, y), (theta,),
                                                  (v,))[1])

    def call_value_grad(*a):
        return jax.block_until_ready(value_grad(*a))

    def call_hvp(*a):
        return jax.block_until_ready(hvp(*a))
    return call_value_grad, call_hvp


# ---------------------------------------------------------------------------
# checks and timing
# ---------------------------------------------------------------------------

def check(methods: dict[str, tuple[Callable, Callable]], data: tuple, n: int) -> None:
    """Every method agrees with numpy; numpy's HVP agrees with differences of its gradient."""
    theta, x, y = data
    eps = 1e-5
    fd = (numpy_value_grad(theta + eps * DIRECTION, x, y)[1]
          - numpy_value_grad(theta - eps * DIRECTION, x, y)[1]) / (2 * eps)
    want_value, want_grad = numpy_value_grad(theta, x, y)
    want_hvp = numpy_hvp(theta, x, y, DIRECTION)
    np.testing.assert_allclose(want_hvp, fd, rtol=1e-5, atol=1e-6 * n,
                               err_msg=f"n={n}: numpy HVP vs differences")
    for name, (value_grad, hvp) in methods.items():
        value, grad = value_grad(theta, x, y)
        np.testing.assert_allclose(value, want_value, rtol=1e-10, err_msg=f"n={n}: {name} value")
        np.testing.assert_allclose(grad, want_grad, rtol=1e-8, atol=1e-9 * n,
                                   err_msg=f"n={n}: {name} gradient")
        np.testing.assert_allclose(hvp(theta, x, y, DIRECTION), want_hvp, rtol=1e-8,
                                   atol=1e-9 * n, err_msg=f"n={n}: {name} HVP")


def measure(calls: dict[str, tuple[Callable, tuple]], rounds: int, reps: int) -> dict:
    times: dict[str, list[float]] = {key: [] for key in calls}
    for fn, args in calls.values():  # warm up (and compile)
        fn(*args)
    for _ in range(rounds):
        for key, (fn, args) in calls.items():
            start = time.perf_counter()
            for _ in range(reps):
                fn(*args)
            times[key].append((time.perf_counter() - start) / reps)
    return times


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 500, 1000],
                    help="numbers of data points")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved rounds (min, median)")
    ap.add_argument("--reps", type=int, default=2, help="calls per round and method")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = ap.parse_args(argv)

    peers = {"autograd": autograd_methods(), "JAX jit": jax_methods()}
    for name, fns in peers.items():
        if fns is None:
            print(f"({name} is not installed: skipped; pip install -e .[bench])")
    print(f"{'n':>5} {'quantity':11} {'method':18} {'min ms':>9} {'median ms':>10} "
          f"{'min/numpy':>10} {'median/numpy':>13} {'hvp/vg':>7}")
    summary = {}
    for n in args.sizes:
        x, y = make_data(n)
        data = (THETA, x, y)
        methods = {NUMPY: (numpy_value_grad, numpy_hvp), "symgraph compiled": symgraph_methods(n)}
        methods.update((name, fns) for name, fns in peers.items() if fns is not None)
        check(methods, data, n)
        calls = {}
        for name, (value_grad, hvp) in methods.items():
            calls[("value+grad", name)] = (value_grad, data)
            calls[("HVP", name)] = (hvp, data + (DIRECTION,))
        times = measure(calls, args.rounds, args.reps)
        for quantity in ("value+grad", "HVP"):
            base = times[(quantity, NUMPY)]
            for name in methods:
                ts = times[(quantity, name)]
                ratio = (f"{np.min(ts) / np.min(times[('value+grad', name)]):7.2f}"
                         if quantity == "HVP" else "")
                print(f"{n:5d} {quantity:11} {name:18} {1e3 * np.min(ts):9.3f} "
                      f"{1e3 * np.median(ts):10.3f} {np.min(ts) / np.min(base):10.2f} "
                      f"{np.median(ts) / np.median(base):13.2f} {ratio:>7}")
        print()
        summary[n] = {key: float(np.min(ts)) for key, ts in times.items()}
    print("targets (reported, not asserted): symgraph value+grad <= 1.2x numpy and ahead of "
          "autograd; symgraph HVP <= 2.5x its value+grad")
    for n, t in summary.items():
        sg_vg, sg_hvp = t[("value+grad", "symgraph compiled")], t[("HVP", "symgraph compiled")]
        vg, hvp = sg_vg / t[("value+grad", NUMPY)], sg_hvp / sg_vg
        line = (f"  n={n}: value+grad {vg:.2f}x numpy ({_verdict(vg <= 1.2)}), "
                f"HVP {hvp:.2f}x value+grad ({_verdict(hvp <= 2.5)})")
        if ("value+grad", "autograd") in t:
            ahead = t[("value+grad", "autograd")] / sg_vg
            line += f", {ahead:.2f}x faster than autograd ({_verdict(ahead > 1)})"
        print(line)
    return summary


if __name__ == "__main__":
    main()

"""Dense and sparse Hessians: symgraph's batched sweeps vs closed-form numpy and JAX.

Part (a), dense: the Hessian of ``f(x) = sum(tanh(A x)) + x' B x`` for
n = 100, 300, 1000 (A, B seeded random n x n, fed as inputs, not constants).
The baseline is the closed form ``H = A' diag(-2 t (1 - t^2)) A + B + B'``
with ``t = tanh(A x)`` in numpy; symgraph is ``sg.function([x, A, B],
sg.hessian(f, x))`` (one forward-over-reverse sweep batched over the unit
vectors); JAX ``jit(hessian(f))``; PyTensor's vectorized jacobian of its
gradient when installed.  For symgraph the pruned graph's node count and the
build + compile seconds are printed (for JAX: trace + compile).

Part (b), sparse: the Hessians of the Rosenbrock chain
``sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)`` (tridiagonal) and of a
nonlinear Poisson energy on a k x k grid (5-point stencil),
``sum(|forward differences of u|^2) / 2 + sum(exp(u) - f u)``, n = k^2, at
n ~ 10^4 and 10^5.  symgraph is ``sg.sparse_hessian(y, x).function(...)``
(pattern from the graph, star colouring, one sweep batched over the colour
seeds, read back into a csr_matrix); it is compared with one compiled
gradient of the same function (the target is a small multiple: about
``n_colors`` directional derivatives), with the closed-form csr Hessian in
numpy/scipy, with JAX's ``vmap`` of forward-over-reverse HVPs over the same
colour seeds (decompressed the same way), and with JAX's dense
``jit(hessian)`` where its compiled buffers fit in ``--dense-budget`` bytes.
Setup = pattern + colouring + build (``sg.sparse_hessian``) + compile; the
pattern and colouring columns time those two steps again on their own.

Every method is checked against the closed form before it is timed.  One
thread for BLAS and XLA; all methods in this process, in interleaved rounds;
min and median over rounds as ratios to numpy in the same run.  Targets
(printed as met/MISSED, never asserted): dense symgraph <= 1.5x numpy and
ahead of JAX; sparse symgraph Hessian <= 15x its own gradient.

    python benchmarks/bench_jacobians.py [--sizes 100 300 1000] [--sparse-sizes 10000 100000]
                                         [--rounds 10] [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # threads must be fixed before numpy and the peers load
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from threads import pin_threads

    pin_threads()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAX_ENABLE_X64", "1")

import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402
from symgraph.transforms.coloring import star_coloring  # noqa: E402
from symgraph.traversal import ancestors  # noqa: E402

NUMPY = "numpy (closed form)"
SYMGRAPH = "symgraph compiled"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def measure(calls: dict[Any, Callable[[], Any]], rounds: int, min_round: float) -> dict:
    """Seconds per call, one list per key: warm-up, then interleaved rounds of ``reps`` calls.

    ``reps`` is chosen per method from its warm-up so that a round lasts about
    ``min_round`` seconds (fast calls are timed in batches, slow ones alone).
    """
    reps = {}
    for key, fn in calls.items():
        fn()
        start = time.perf_counter()
        fn()
        reps[key] = int(min(1000, max(1, min_round / max(time.perf_counter() - start, 1e-7))))
    times: dict[Any, list[float]] = {key: [] for key in calls}
    for _ in range(rounds):
        for key, fn in calls.items():
            start = time.perf_counter()
            for _ in range(reps[key]):
                fn()
            times[key].append((time.perf_counter() - start) / reps[key])
    return times


def _jax():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp


def _jit_compiled(jax, fn: Callable, *args) -> tuple[Callable, float, Any]:
    """``jit(fn)`` compiled ahead of time for ``args``: (call, trace + compile seconds, compiled)."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    seconds = time.perf_counter() - start

    def call(*a):
        return jax.block_until_ready(compiled(*a))
    return call, seconds, compiled


# ---------------------------------------------------------------------------
# (a) dense Hessian of sum(tanh(A x)) + x' B x
# ---------------------------------------------------------------------------

def dense_f(m, x, A, B):
    return m.sum(m.tanh(A @ x)) + x @ (B @ x)


def numpy_dense_hessian(x, A, B):
    t = np.tanh(A @ x)
    H = A.T @ ((-2 * t * (1 - t * t))[:, None] * A)
    H += B
    H += B.T
    return H


def symgraph_dense(n: int) -> tuple[Callable, dict]:
    start = time.perf_counter()
    with sg.Graph():
        x, A, B = sg.variable("x", (n,)), sg.variable("A", (n, n)), sg.variable("B", (n, n))
        H = sg.hessian(dense_f(sg, x, A, B), x)
        built = time.perf_counter()
        fn = sg.function([x, A, B], H)
    done = time.perf_counter()
    return fn, {"nodes": len(ancestors([H])), "setup": f"{built - start:.2f}+{done - built:.2f}"}


def jax_dense(n: int, args: tuple) -> tuple[Callable, dict] | None:
    found = _jax()
    if found is None:
        return None
    jax, jnp = found
    call, seconds, _ = _jit_compiled(jax, jax.hessian(lambda x, A, B: dense_f(jnp, x, A, B)), *args)
    return call, {"setup": f"{seconds:.2f}"}


def pytensor_dense(n: int) -> tuple[Callable, dict] | None:
    try:
        import pytensor
        import pytensor.tensor as pt
        from pytensor.gradient import jacobian
    except ImportError:
        return None
    start = time.perf_counter()
    x, A, B = pt.dvector("x"), pt.dmatrix("A"), pt.dmatrix("B")
    H = jacobian(pytensor.grad(dense_f(pt, x, A, B), x), x, vectorize=True)
    fn = pytensor.function([x, A, B], H)
    return fn, {"setup": f"{time.perf_counter() - start:.2f}"}


def part_dense(sizes: list[int], rounds: int, min_round: float) -> dict:
    print("(a) dense Hessian of sum(tanh(A x)) + x'B x, float64; ms per call; "
          "setup = symgraph build+compile, peers trace+compile (s)")
    print(f"{'n':>5} {'method':22} {'min ms':>10} {'median ms':>10} {'min/numpy':>10} "
          f"{'med/numpy':>10} {'nodes':>7} {'setup s':>11}")
    summary = {}
    for n in sizes:
        rng = np.random.default_rng(n)
        A = rng.standard_normal((n, n)) / np.sqrt(n)
        B = rng.standard_normal((n, n)) / np.sqrt(n)
        x = rng.standard_normal(n)
        args = (x, A, B)
        methods: dict[str, tuple[Callable, dict]] = {NUMPY: (numpy_dense_hessian, {})}
        methods[SYMGRAPH] = symgraph_dense(n)
        for name, build in (("JAX jit(hessian)", lambda: jax_dense(n, args)),
                            ("PyTensor vectorized", lambda: pytensor_dense(n))):
            built = build()
            if built is None:
                if n == sizes[0]:
                    print(f"      ({name.split()[0]} is not installed: skipped; pip install -e .[bench])")
            else:
                methods[name] = built
        want = numpy_dense_hessian(*args)
        for name, (fn, _) in methods.items():
            np.testing.assert_allclose(np.asarray(fn(*args)), want, rtol=1e-9, atol=1e-12,
                                       err_msg=f"n={n}: {name} Hessian vs closed form")
        times = measure({name: (lambda fn=fn: fn(*args)) for name, (fn, _) in methods.items()},
                        rounds, min_round)
        base = times[NUMPY]
        for name, (_, info) in methods.items():
            ts = times[name]
            print(f"{n:5d} {name:22} {1e3 * np.min(ts):10.3f} {1e3 * np.median(ts):10.3f} "
                  f"{np.min(ts) / np.min(base):10.2f} {np.median(ts) / np.median(base):10.2f} "
                  f"{info.get('nodes', ''):>7} {info.get('setup', ''):>11}")
        summary[n] = {name: float(np.min(ts)) for name, ts in times.items()}
    print("targets (reported, not asserted): symgraph dense Hessian <= 1.5x numpy and ahead of JAX")
    for n, t in summary.items():
        ratio = t[SYMGRAPH] / t[NUMPY]
        line = f"  n={n}: {ratio:.2f}x numpy ({_verdict(ratio <= 1.5)})"
        if "JAX jit(hessian)" in t:
            ahead = t["JAX jit(hessian)"] / t[SYMGRAPH]
            line += f", JAX time / symgraph time = {ahead:.2f} (ahead of JAX: {_verdict(ahead > 1)})"
        print(line)
    print()
    return summary


# ---------------------------------------------------------------------------
# (b) sparse Hessians: the Rosenbrock chain and a nonlinear Poisson energy
# ---------------------------------------------------------------------------

def rosenbrock(m, x, f, k):
    return m.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_grad(x, f, k):
    r = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * r - 2 * (1 - x[:-1])
    g[1:] += 200 * r
    return g


def rosenbrock_hessian(x, f, k):
    """Tridiagonal: d_i = 1200 x_i^2 - 400 x_{i+1} + 2 (i < n-1) + 200 (i > 0), e_i = -400 x_i."""
    d = np.zeros_like(x)
    d[:-1] = 1200 * x[:-1] ** 2 - 400 * x[1:] + 2
    d[1:] += 200
    e = -400 * x[:-1]
    return sp.diags([e, d, e], [-1, 0, 1], format="csr")


def poisson(m, u, f, k):
    U = m.reshape(u, (k, k))
    ux, uy = U[1:, :] - U[:-1, :], U[:, 1:] - U[:, :-1]
    return 0.5 * m.sum(ux * ux) + 0.5 * m.sum(uy * uy) + m.sum(m.exp(u) - f * u)


def poisson_grad(u, f, k):
    U = u.reshape(k, k)
    ux, uy = U[1:, :] - U[:-1, :], U[:, 1:] - U[:, :-1]
    G = np.exp(U) - f.reshape(k, k)
    G[1:, :] += ux
    G[:-1, :] -= ux
    G[:, 1:] += uy
    G[:, :-1] -= uy
    return G.reshape(-1)


_LAPLACIANS: dict[int, Any] = {}


def grid_laplacian(k: int):
    """D0'D0 + D1'D1 for forward differences on a row-major k x k grid (built once per k)."""
    if k not in _LAPLACIANS:
        d = sp.diags([-np.ones(k - 1), np.ones(k - 1)], [0, 1], shape=(k - 1, k))
        dd, eye = (d.T @ d).tocsr(), sp.identity(k, format="csr")
        _LAPLACIANS[k] = (sp.kron(dd, eye) + sp.kron(eye, dd)).tocsr()
    return _LAPLACIANS[k]


def poisson_hessian(u, f, k):
    """The constant Laplacian (precomputed, as one would by hand) plus diag(exp(u))."""
    return (grid_laplacian(k) + sp.diags(np.exp(u))).tocsr()


PROBLEMS = {"rosenbrock": (rosenbrock, rosenbrock_grad, rosenbrock_hessian),
            "poisson 2-D": (poisson, poisson_grad, poisson_hessian)}


def symgraph_sparse(fun, n: int, k: int) -> dict:
    """The compiled sparse Hessian and gradient, with the setup's parts timed."""
    with sg.Graph():
        x, f = sg.variable("x", (n,)), sg.variable("f", (n,))
        y = fun(sg, x, f, k)
        start = time.perf_counter()
        S = sg.sparse_hessian(y, x)
        built = time.perf_counter()
        hessian = S.function([x, f])
        setup = time.perf_counter() - start
        compile_s = time.perf_counter() - built
        grad = sg.function([x, f], sg.grad(y, x))
        start = time.perf_counter()  # the first two steps again, on their own
        pattern = sg.hessian_sparsity(y, x)
        patterned = time.perf_counter()
        star_coloring(pattern)
        coloured = time.perf_counter()
    return {"S": S, "hessian": hessian, "grad": grad, "setup": setup, "compile": compile_s,
            "pattern": patterned - start, "colour": coloured - patterned,
            "nodes": len(ancestors([S.compressed]))}


def check_sparse(got, want, what: str) -> None:
    """allclose for dense or sparse values, without densifying an n x n matrix."""
    if sp.issparse(want):
        got = got if sp.issparse(got) else sp.csr_matrix(np.asarray(got))
        err, scale = abs(got - want).max(), abs(want).max()
    else:
        err, scale = np.abs(np.asarray(got) - want).max(), np.abs(want).max()
    if not err <= 1e-12 * scale + 1e-12:
        raise AssertionError(f"{what}: max error {err:.3g} (scale {scale:.3g})")


def jax_sparse(fun, n: int, k: int, S, args: tuple, budget: float) -> dict:
    """JAX jit(grad), jit(vmap(hvp)) over S's colour seeds, and jit(hessian) if it fits."""
    found = _jax()
    if found is None:
        return {}
    jax, jnp = found

    def y(x, f):
        return fun(jnp, x, f, k)

    out: dict[str, tuple[Callable, str]] = {}
    grad, seconds, _ = _jit_compiled(jax, jax.grad(y), *args)
    out["JAX jit(grad)"] = (grad, f"{seconds:.2f}")
    seeds = (S.colors[None, :] == np.arange(S.n_colors)[:, None]).astype(np.float64)

    def hvps(x, f, seeds):
        return jax.vmap(lambda v: jax.jvp(lambda z: jax.grad(y)(z, f), (x,), (v,))[1])(seeds)
    compressed, seconds, _ = _jit_compiled(jax, hvps, *args, seeds)
    out["JAX vmap(hvp) colours"] = (
        lambda x, f: S.decompress(np.asarray(compressed(x, f, seeds)).T), f"{seconds:.2f}")
    dense_bytes = 8.0 * n * n
    if dense_bytes > budget:
        out["JAX jit(hessian) dense"] = (None, f"skipped: the {dense_bytes / 1e9:.0f} GB result "
                                               f"alone exceeds --dense-budget "
                                               f"{budget / 1e9:.1f} GB")
        return out
    dense, seconds, compiled = _jit_compiled(jax, jax.hessian(y), *args)
    mem = compiled.memory_analysis()
    need = (mem.temp_size_in_bytes + mem.output_size_in_bytes + mem.argument_size_in_bytes
            if mem is not None else dense_bytes)
    if need > budget:
        out["JAX jit(hessian) dense"] = (None, f"skipped: XLA plans {need / 1e9:.1f} GB > "
                                               f"--dense-budget {budget / 1e9:.1f} GB")
    else:
        out["JAX jit(hessian) dense"] = (dense, f"{seconds:.2f}")
    return out


def part_sparse(sizes: list[int], rounds: int, min_round: float, budget: float) -> dict:
    print("(b) sparse Hessians, float64; ms per call (csr_matrix results); setup, pattern and "
          "colour in s (peers: trace+compile)")
    print(f"{'problem':12} {'n':>7} {'method':24} {'colours':>7} {'nnz':>8} {'min ms':>9} "
          f"{'median ms':>10} {'x numpy H':>9} {'x own grad':>10} {'setup':>6} {'pattern':>7} "
          f"{'colour':>6} {'nodes':>5}")
    summary = {}
    has_jax = _jax() is not None
    if not has_jax:
        print("(JAX is not installed: skipped; pip install -e .[bench])")
    for problem, (fun, np_grad, np_hessian) in PROBLEMS.items():
        for size in sizes:
            k = int(round(np.sqrt(size))) if problem.startswith("poisson") else 0
            n = k * k if k else size
            rng = np.random.default_rng(n)
            x, f = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
            args = (x, f)
            s = symgraph_sparse(fun, n, k)
            S = s["S"]
            want_h, want_g = np_hessian(x, f, k), np_grad(x, f, k)
            rows = {  # name: (call, own-gradient name, info)
                "numpy grad (by hand)": (lambda: np_grad(x, f, k), None, {}),
                NUMPY: (lambda: np_hessian(x, f, k), "numpy grad (by hand)", {}),
                "symgraph grad": (lambda: s["grad"](x, f), None, {}),
                "symgraph sparse_hessian": (lambda: s["hessian"](x, f), "symgraph grad", {
                    "colours": S.n_colors, "nnz": S.pattern.nnz, "setup": f"{s['setup']:.2f}",
                    "pattern": f"{s['pattern']:.2f}", "colour": f"{s['colour']:.2f}",
                    "nodes": s["nodes"]}),
            }
            checks = {"symgraph grad": s["grad"], "symgraph sparse_hessian": s["hessian"]}
            skipped = {}
            for name, (fn, setup) in jax_sparse(fun, n, k, S, args, budget).items():
                if fn is None:
                    skipped[name] = setup
                    continue
                own = None if "grad" in name else "JAX jit(grad)"
                info = {"setup": setup}
                if "colours" in name:
                    info.update(colours=S.n_colors, nnz=S.pattern.nnz)
                rows[name] = (lambda fn=fn: fn(x, f), own, info)
                checks[name] = fn
            if (S.pattern != (want_h != 0)).nnz:
                raise AssertionError(f"{problem} n={n}: symgraph's pattern is not the closed form's")
            for name, fn in checks.items():
                check_sparse(fn(x, f), want_g if "grad" in name else want_h, f"{problem} n={n}: {name}")
            times = measure({name: row[0] for name, row in rows.items()}, rounds, min_round)
            base = times[NUMPY]
            for name, (_, own, info) in rows.items():
                ts = times[name]
                own_ratio = f"{np.min(ts) / np.min(times[own]):10.2f}" if own else ""
                print(f"{problem:12} {n:7d} {name:24} {info.get('colours', ''):>7} "
                      f"{info.get('nnz', ''):>8} {1e3 * np.min(ts):9.3f} {1e3 * np.median(ts):10.3f} "
                      f"{np.min(ts) / np.min(base):9.2f} {own_ratio:>10} {info.get('setup', ''):>6} "
                      f"{info.get('pattern', ''):>7} {info.get('colour', ''):>6} "
                      f"{info.get('nodes', ''):>5}")
            for name, why in skipped.items():
                print(f"{problem:12} {n:7d} {name:24} ({why})")
            summary[(problem, n)] = {name: float(np.min(ts)) for name, ts in times.items()}
    print("targets (reported, not asserted): symgraph sparse Hessian <= 15x its compiled gradient")
    for (problem, n), t in summary.items():
        ratio = t["symgraph sparse_hessian"] / t["symgraph grad"]
        line = f"  {problem} n={n}: {ratio:.2f}x gradient ({_verdict(ratio <= 15)})"
        if "JAX vmap(hvp) colours" in t:
            line += (f"; JAX vmap(hvp) time / symgraph time = "
                     f"{t['JAX vmap(hvp) colours'] / t['symgraph sparse_hessian']:.2f}")
        print(line)
    return summary


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000],
                    help="n for the dense Hessian")
    ap.add_argument("--sparse-sizes", type=int, nargs="+", default=[10**4, 10**5],
                    help="n for the sparse Hessians (the grid takes k = round(sqrt(n)), n = k^2)")
    ap.add_argument("--rounds", type=int, default=10, help="interleaved rounds (min, median)")
    ap.add_argument("--min-round", type=float, default=0.02,
                    help="seconds a round of one method lasts at least (fast calls are repeated)")
    ap.add_argument("--dense-budget", type=float, default=2e9,
                    help="bytes JAX's dense Hessian may plan for in part (b); above: skipped")
    ap.add_argument("--threads", type=int, default=1, help="BLAS and XLA threads")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes and 2 rounds: a smoke test that the script still runs")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.sparse_sizes, args.rounds, args.min_round = [20], [400], 2, 0.0
    print(f"BLAS threads={os.environ.get('OPENBLAS_NUM_THREADS')}; {args.rounds} interleaved rounds; "
          f"symgraph {sg.__file__}")
    print()
    return {"dense": part_dense(args.sizes, args.rounds, args.min_round),
            "sparse": part_sparse(args.sparse_sizes, args.rounds, args.min_round,
                                  args.dense_budget)}


if __name__ == "__main__":
    main()

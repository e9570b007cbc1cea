"""Many small ops: the chain h <- sin(h)*0.5 + h, value and gradient, numpy vs numba backend.

``sum(h)`` after ``levels`` levels and its gradient with respect to ``x``, for a
length-10 and a length-10^4 vector ``x``, computed by:

* plain numpy loop: a handwritten forward loop keeping each level's ``h`` and a
  backward loop (``g *= cos(h) * 0.5 + 1``), the baseline of every ratio;
* ``sg.function`` with the numpy backend and with ``backend="numba"``;
* JAX ``jit(value_and_grad)`` of the unrolled chain, and CasADi (an SX function of
  one element with its gradient, ``map``-ped over the vector), when installed
  (``pip install -e .[bench]``).

Run time: every method is checked against the numpy loop, then timed in
interleaved rounds in this process (1 thread: ``threads.pin_threads``); min and
median, and the ratio of the minimum to the numpy loop's.  Compile time: the
first compile in this process (the numba kernel already loaded), and for the
numba backend a fresh process with an empty kernel cache (cold: numba compiles
the kernel) and a second one with that cache (warm), both timing the whole
process (Python, ``import symgraph``, build, ``sg.function``); then the table of
kernel compile times (``--kernel-table`` alone): the chain's kernel, a tanh
MLP's and the kernel of every declared scalar code, cold and warm.

``--broadcast``: the chain ``h <- tanh(h)*0.9 + 0.1*h + b`` (200 levels, value only)
with a bias ``b`` broadcast over ``h`` ((16,), (8, 1), () over (8, 16); (1, 4) over
(3, 1) -> (3, 4)), numpy backend vs numba backend vs a numpy loop, and the number of
kernel calls.  ``--overhead``: what ``codegen.native.worth`` assumes, measured: a
numpy call's cost in a compiled function, a kernel call's, and a region's pass over
memory per element.

    python benchmarks/bench_small.py [--levels 200 2000 20000] [--sizes 10 10000]
                                     [--rounds 20] [--jax-max-levels 2000] [--quick]
                                     [--no-cache-runs] [--kernel-table]
                                     [--broadcast] [--overhead]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile

if __name__ == "__main__":  # threads must be fixed before numpy and the peers load
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from threads import pin_threads

    pin_threads()

import statistics  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(levels: int, n: int):
    x = sg.variable("x", (n,))
    h = x
    for _ in range(levels):
        h = sg.sin(h) * 0.5 + h
    y = sg.sum(h)
    return x, y, sg.grad(y, x)


def numpy_loop(levels: int) -> Callable:
    def run(x: np.ndarray):
        hs, h = [], x
        for _ in range(levels):
            hs.append(h)
            h = np.sin(h) * 0.5 + h
        g = np.ones_like(x)
        for hk in reversed(hs):
            g *= np.cos(hk) * 0.5 + 1.0
        return h.sum(), g
    return run


def jax_method(levels: int) -> tuple[Callable, float] | str:
    try:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        import jax
        import jax.numpy as jnp
    except ImportError:
        return "not installed"
    jax.config.update("jax_enable_x64", True)

    def f(x):
        h = x
        for _ in range(levels):
            h = jnp.sin(h) * 0.5 + h
        return jnp.sum(h)

    fn = jax.jit(jax.value_and_grad(f))
    return fn, 0.0


def casadi_method(levels: int, n: int) -> Callable | str:
    try:
        import casadi as ca
    except ImportError:
        return "not installed"
    try:
        ca.GlobalOptions.setNumpyMode(-1)  # casadi's legacy numpy interplay, without its notice
    except AttributeError:
        pass
    x = ca.SX.sym("x")
    h = x
    for _ in range(levels):
        h = ca.sin(h) * 0.5 + h
    one = ca.Function("one", [x], [h, ca.gradient(h, x)])
    many = one.map(n, "serial")

    def run(xv: np.ndarray):
        hv, gv = many(xv.reshape(1, n))
        return float(np.sum(hv.full())), gv.full().reshape(n)
    return run


def timed(make: Callable):
    t = time.perf_counter()
    out = make()
    return out, time.perf_counter() - t


def measure(fns: dict[str, Callable], x: np.ndarray, rounds: int, budget: float
            ) -> dict[str, list[float]]:
    """Interleaved rounds (each method once per round), until ``rounds`` or ``budget`` s."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    for r in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            f(x)
            times[k].append(time.perf_counter() - t)
        if r >= 2 and time.perf_counter() - start > budget:
            break
    return times


def compile_in_subprocess(levels: int, n: int, cache: str) -> float:
    """Seconds of a new process (Python, ``import symgraph``, build, compile with
    backend="numba") whose kernel cache is ``cache``."""
    env = dict(os.environ, SYMGRAPH_CACHE_DIR=cache, NUMBA_CACHE_DIR=os.path.join(cache, "nb"),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t = time.perf_counter()
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--compile-only",
                           str(levels), str(n)], capture_output=True, text=True, env=env,
                          timeout=900)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    json.loads(done.stdout.strip().splitlines()[-1])  # it compiled
    return time.perf_counter() - t


def compile_only(levels: int, n: int) -> None:
    t = time.perf_counter()
    import symgraph as sgm

    with sgm.Graph():
        x, y, g = build(levels, n)
        sgm.function([x], [y, g], backend="numba")
    print(json.dumps({"seconds": time.perf_counter() - t}))


def tanh_mlp():
    """A small tanh MLP with a logistic loss, value and gradients: its regions use the
    arithmetic codes and tanh, exp, log1p (a typical network's kernel)."""
    X, T = sg.variable("X", (64, 32)), sg.variable("T", (64, 4))
    W1, W2 = sg.variable("W1", (32, 16)), sg.variable("W2", (16, 4))
    o = sg.tanh(sg.tanh(X @ W1) @ W2) * 3.0
    loss = sg.mean(sg.log1p(sg.exp(-T * o)))
    return [X, T, W1, W2], [loss, *sg.grad(loss, [W1, W2])]


#: the kernels timed by ``--kernel-table``: what each compiles (the last: every declared
#: scalar code, the one kernel the backend used to compile for every program)
KERNEL_CASES = ("chain (2000 levels)", "tanh MLP", "every declared code")


def kernel_compile(which: int) -> None:
    """In this (new) process: seconds (wall, CPU) for compiling case ``which`` of
    ``KERNEL_CASES`` with backend="numba", and the kernel's number of cases."""
    from symgraph.codegen import native_vm

    with sg.Graph():
        if which == 0:
            x, y, g = build(2000, 10)
            ins, outs = [x], [y, g]
        elif which == 1:
            ins, outs = tanh_mlp()
        t, c = time.perf_counter(), time.process_time()
        if which == 2:
            vm = native_vm.load_vm()
        else:
            sg.function(ins, outs, backend="numba")
            (vm,) = native_vm.loaded_kernels()
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({"wall": wall, "cpu": cpu, "cases": len(vm.codes)}))


def kernel_table() -> None:
    """Each kernel of ``KERNEL_CASES`` compiled in a new process with an empty cache
    directory (cold), then in a second process with that directory (warm): the compile
    itself, and the whole process (Python, imports, building the graph, compiling)."""
    rows = []
    for which, name in enumerate(KERNEL_CASES):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, SYMGRAPH_CACHE_DIR=cache,
                       NUMBA_CACHE_DIR=os.path.join(cache, "nb"),
                       PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
            got = []
            for _ in range(2):
                t = time.perf_counter()
                done = subprocess.run([sys.executable, os.path.abspath(__file__),
                                       "--kernel-compile", str(which)], capture_output=True,
                                      text=True, env=env, timeout=900)
                if done.returncode:
                    raise RuntimeError(done.stderr[-3000:])
                got.append(json.loads(done.stdout.strip().splitlines()[-1]))
                got[-1]["process"] = time.perf_counter() - t
        cold, warm = got
        rows.append((name, cold["cases"], f"{cold['wall']:.2f}", f"{cold['cpu']:.2f}",
                     f"{warm['wall']:.2f}", f"{warm['cpu']:.2f}", f"{cold['process']:.2f}",
                     f"{warm['process']:.2f}"))
    print("\nnumba kernel compile (sg.function, or load_vm() for every code), new process: "
          "cold = empty SYMGRAPH_CACHE_DIR, warm = a second process with it")
    table(rows, ("program", "cases", "cold wall s", "cold CPU s", "warm wall s", "warm CPU s",
                 "cold process s", "warm process s"))


#: (x shape, bias shape) of ``--broadcast``
BIAS_CASES = (((8, 16), (16,)), ((8, 16), (8, 1)), ((8, 16), ()), ((8, 16), (8, 16)),
              ((3, 1), (1, 4)))


def bias_chain(x, b, levels: int):
    h = x
    for _ in range(levels):
        h = sg.tanh(h) * 0.9 + 0.1 * h + b
    return h


def broadcast_table(args, levels: int = 200) -> None:
    """The bias chains, numpy backend vs numba backend vs a numpy loop (interleaved)."""
    rng = np.random.default_rng(0)
    rows = []
    for xs, bs in BIAS_CASES:
        xv, bv = rng.uniform(-1.0, 1.0, xs), rng.uniform(-1.0, 1.0, bs)

        def loop(_x, xv=xv, bv=bv):
            h = xv
            for _ in range(levels):
                h = np.tanh(h) * 0.9 + 0.1 * h + bv
            return h
        with sg.Graph():
            x, b = sg.variable("x", xs), sg.variable("b", bs)
            h = bias_chain(x, b, levels)
            f_np = sg.function([x, b], [h])
            f_nb = sg.function([x, b], [h], backend="numba")
        fns = {"numpy loop": loop, "numpy backend": lambda _x, f=f_np: f(xv, bv),
               "numba backend": lambda _x, f=f_nb: f(xv, bv)}
        for f in fns.values():
            np.testing.assert_allclose(np.asarray(f(None)).reshape(-1), loop(None).reshape(-1),
                                       rtol=1e-12)
        times = measure(fns, None, args.rounds * 5, args.budget)
        t = {k: min(v) * 1e6 for k, v in times.items()}
        rows.append((f"x {xs} b {bs}", f"{t['numpy loop']:.0f}", f"{t['numpy backend']:.0f}",
                     f"{t['numba backend']:.0f}", f"{t['numba backend'] / t['numpy backend']:.2f}",
                     f_nb.source.count("_native(")))
    print(f"\nbias chain h <- tanh(h)*0.9 + 0.1*h + b, {levels} levels, value only (min us)")
    table(rows, ("shapes", "numpy loop", "numpy backend", "numba backend", "numba/numpy",
                 "kernel calls"))


def overhead_table(args) -> None:
    """What ``codegen.native.worth`` assumes: chains of k ops ``h * 1.5 + 0.5`` ... compiled
    both ways (every region formed); a numpy call's cost is the numpy backend's slope in k
    on 10 elements, a kernel call's its cost over a function of no op, a pass's the per
    element cost of a 1-op region on 10^5 elements (load, op, store: 3 passes)."""
    from symgraph.codegen import native

    def chain(n: int, k: int):
        x = sg.variable("x", (n,))
        h = x
        for i in range(k):
            h = h * 1.5 if i % 2 == 0 else h + 0.5
        return x, h

    saved = native.KERNEL_CALL_US, native.PASS_NS
    native.KERNEL_CALL_US, native.PASS_NS = 0.0, 0.0  # every region forms
    t: dict[tuple[str, int, int], float] = {}
    try:
        fns = {}
        for n in (10, 10**5):
            for k in (1, 6):
                with sg.Graph():
                    x, h = chain(n, k)
                    fns[("numpy", n, k)] = sg.function([x], [h])
                    fns[("numba", n, k)] = sg.function([x], [h], backend="numba")
        for (kind, n, k), f in fns.items():
            xv = np.ones(n)
            reps = 2000 if n == 10 else 50
            best = float("inf")
            for _ in range(args.rounds):
                s0 = time.perf_counter()
                for _ in range(reps):
                    f(xv)
                best = min(best, (time.perf_counter() - s0) / reps)
            t[kind, n, k] = best * 1e6
    finally:
        native.KERNEL_CALL_US, native.PASS_NS = saved
    numpy_call = (t["numpy", 10, 6] - t["numpy", 10, 1]) / 5
    base = t["numpy", 10, 1] - numpy_call  # a compiled function of no op
    kernel = t["numba", 10, 1] - base
    per_pass = (t["numba", 10**5, 1] - base - kernel) / (3 * 10**5) * 1e3
    print("\nwhat codegen.native.worth assumes, measured (us; chains of k ops h*1.5, +0.5)")
    table([(f"{kind} backend, n={n}, k={k}", f"{v:.2f}") for (kind, n, k), v in t.items()],
          ("function", "min us"))
    table([("numpy call (slope in k, n=10)", f"{numpy_call:.2f} us", native.NUMPY_CALL_US),
           ("kernel call (1-op region, n=10)", f"{kernel:.2f} us", native.KERNEL_CALL_US),
           ("a region's pass per element (n=1e5)", f"{per_pass:.3f} ns", native.PASS_NS)],
          ("cost", "measured", "assumed"))


def table(rows: list[tuple], head: tuple) -> None:
    widths = [max(len(str(r[k])) for r in rows + [head]) for k in range(len(head))]
    line = "| " + " | ".join(str(h).ljust(w) for h, w in zip(head, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).rjust(w) if k else str(c).ljust(w)
                                for k, (c, w) in enumerate(zip(r, widths))) + " |")


def run_case(levels: int, n: int, args) -> None:
    rng = np.random.default_rng(0)
    xv = rng.uniform(-2.0, 2.0, n)
    loop = numpy_loop(levels)
    want = loop(xv)
    fns: dict[str, Callable] = {"numpy loop": loop}
    compile_s: dict[str, str] = {"numpy loop": "-"}
    skipped: dict[str, str] = {}
    with sg.Graph():
        (x, y, g), t_build = timed(lambda: build(levels, n))
        f_np, t_np = timed(lambda: sg.function([x], [y, g]))
        f_nb, t_nb = timed(lambda: sg.function([x], [y, g], backend="numba"))
    fns["sg numpy backend"] = f_np
    fns["sg numba backend"] = f_nb
    compile_s["sg numpy backend"] = f"{t_np:.3f}"
    compile_s["sg numba backend"] = f"{t_nb:.3f}"
    if levels > args.jax_max_levels:
        skipped["JAX jit"] = (f"skipped above {args.jax_max_levels} levels (an unrolled trace: "
                              "--jax-max-levels)")
    else:
        made = jax_method(levels)
        if isinstance(made, str):
            skipped["JAX jit"] = made
        else:
            fn, _ = made
            import jax.numpy as jnp

            xj = jnp.asarray(xv)
            (_, t) = timed(lambda: [a.block_until_ready() for a in fn(xj)])
            fns["JAX jit"] = lambda _x, fn=fn, xj=xj: [a.block_until_ready() for a in fn(xj)]
            compile_s["JAX jit"] = f"{t:.3f}"
    if levels > args.casadi_max_levels:
        skipped["CasADi"] = f"skipped above {args.casadi_max_levels} levels (--casadi-max-levels)"
    else:
        made, t = timed(lambda: casadi_method(levels, n))
        if isinstance(made, str):
            skipped["CasADi"] = made
        else:
            fns["CasADi"] = made
            compile_s["CasADi"] = f"{t:.3f}"
    for k, f in fns.items():  # all agree with the loop before timing
        got = f(xv)
        np.testing.assert_allclose(float(np.asarray(got[0])), float(want[0]), rtol=1e-9)
        np.testing.assert_allclose(np.asarray(got[1]), want[1], rtol=1e-9, atol=1e-12)
    times = measure(fns, xv, args.rounds, args.budget)
    base = min(times["numpy loop"])
    print(f"\nchain of {levels} levels on length-{n} vectors: value + gradient "
          f"(graph built in {t_build:.2f} s; {len(times['numpy loop'])} rounds)")
    rows = []
    for k, ts in times.items():
        rows.append((k, f"{min(ts) * 1e3:.3f}", f"{statistics.median(ts) * 1e3:.3f}",
                     f"{min(ts) / base:.3f}", compile_s[k]))
    table(rows, ("method", "min ms", "median ms", "x numpy loop", "compile s"))
    for k, why in skipped.items():
        print(f"  {k}: {why}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS / peer threads (default 1)")
    p.add_argument("--levels", type=int, nargs="+", default=[200, 2000, 20000])
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--budget", type=float, default=20.0, help="seconds of timing per case")
    p.add_argument("--jax-max-levels", type=int, default=2000)
    p.add_argument("--casadi-max-levels", type=int, default=20000)
    p.add_argument("--no-cache-runs", action="store_true",
                   help="skip the cold/warm kernel cache subprocesses")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    p.add_argument("--kernel-table", action="store_true",
                   help="only the table of kernel compile times (cold and warm)")
    p.add_argument("--broadcast", action="store_true",
                   help="only the bias-broadcast chains (numpy vs numba backend)")
    p.add_argument("--overhead", action="store_true",
                   help="only the call and pass costs the numba backend's regions assume")
    p.add_argument("--compile-only", type=int, nargs=2, metavar=("LEVELS", "N"),
                   help=argparse.SUPPRESS)
    p.add_argument("--kernel-compile", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.compile_only:
        compile_only(*args.compile_only)
        return
    if args.kernel_compile is not None:
        kernel_compile(args.kernel_compile)
        return
    if args.quick:
        args.levels, args.sizes, args.rounds, args.budget = [20], [10], 3, 1.0
    try:
        importlib.import_module("numba")
    except ImportError:
        print('numba is not installed: pip install "symgraph[numba]"')
        return
    if args.kernel_table:
        kernel_table()
        return
    if args.broadcast or args.overhead:
        if args.broadcast:
            broadcast_table(args)
        if args.overhead:
            overhead_table(args)
        return
    for n in args.sizes:
        for levels in args.levels:
            run_case(levels, n, args)
    if not args.no_cache_runs:
        levels = 200 if args.quick else 2000
        with tempfile.TemporaryDirectory() as cache:
            cold = compile_in_subprocess(levels, 10, cache)
            warm = compile_in_subprocess(levels, 10, cache)
        print(f"\nnumba backend, chain of {levels} levels (length 10), a whole new process: "
              "Python + import symgraph + build + sg.function")
        table([("empty kernel cache (numba compiles the kernel)", f"{cold:.2f}"),
               ("warm kernel cache (second process)", f"{warm:.2f}")], ("process", "seconds"))
        if not args.quick:
            kernel_table()


if __name__ == "__main__":
    main()

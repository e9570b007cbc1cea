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

    python benchmarks/bench_small.py [--levels 200 2000 20000] [--sizes 10 10000]
                                     [--rounds 20] [--jax-max-levels 2000] [--quick]
                                     [--no-cache-runs] [--kernel-table]
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

"""sg.evaluate's per-node overhead on long elementwise chains, against a plain numpy loop.

The chain ``h <- sin(h) * 0.5 + h`` (``--levels`` times) with its value and
derivative (the gradient of ``sum(h)`` for vectors) has about 7 graph nodes a
level, each a cheap ufunc call, so the evaluator's own work per node shows.
Three ways, timed in interleaved rounds on one thread:

- ``sg.Evaluator``: ``Evaluator.run`` as it is;
- ``old loop``: the same schedule run by the evaluator loop as it was before
  the fast path (a copy kept here: ``op.f`` per node, every result checked);
- ``numpy loop``: the same ufunc calls written by hand.

Columns: best and median time of a call, per graph node (best), and the best
time over the numpy loop's best.  The machine may be shared: read the ratios.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from threads import pin_threads  # noqa: E402  (before numpy loads)
from measure import interleaved  # noqa: E402

pin_threads()

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import symgraph as sg  # noqa: E402
from symgraph import backend, fpwarn  # noqa: E402
from symgraph.runtime import conform, normalize_feed, op_failure  # noqa: E402


def old_run_steps(steps: list[tuple], values: list) -> None:
    """The evaluator loop before the fast path (numpy, no after-hook), kept for the A/B."""
    ndarray, generic = np.ndarray, np.generic
    for f, ins, slot, frees, node in steps:
        args = [values[i] for i in ins]
        try:
            out = f(*args)
        except Exception as e:
            err = op_failure(node, args, e)
            if err is e:
                raise
            raise err
        if not ((type(out) is ndarray or isinstance(out, generic)) and out.shape == node.shape
                and out.dtype == node.dtype):
            out = conform(node, out)
        values[slot] = out
        for s in frees:
            values[s] = None


fpwarn.watch(old_run_steps.__code__, "loop")


def old_run(ev: sg.Evaluator, feed: dict) -> list:
    """``ev.run(feed)`` as it ran before: same schedule, same feeds and warnings, old loop."""
    by_node = normalize_feed(ev.graph, feed)
    sched = ev.schedule(frozenset(by_node))
    values: list[Any] = [None] * sched.size
    for slot, node in sched.fed:
        values[slot] = by_node[node]
    token = fpwarn.enter()
    try:
        old_run_steps(sched.flat, values)
    finally:
        fpwarn.leave(token)
    return backend.finalize([values[s] for s in sched.output_slots], backend.NUMPY)


def chain(levels: int, n: int | None):
    """The chain's evaluator, input node, input value and handwritten numpy loop."""
    with sg.Graph():
        x = sg.variable("x", () if n is None else (n,))
        h = x
        for _ in range(levels):
            h = sg.sin(h) * 0.5 + h
        dh = sg.grad(h if n is None else sg.sum(h), x)
        ev = sg.Evaluator([h, dh])
    x0 = np.asarray(0.3) if n is None else np.linspace(-1.0, 1.0, n)

    def numpy_loop(v):
        hs = []
        for _ in range(levels):
            hs.append(v)
            v = np.sin(v) * 0.5 + v
        g = np.ones_like(x0)
        for hk in reversed(hs):
            g = g * (np.cos(hk) * 0.5) + g
        return [v, g]

    return ev, x, x0, numpy_loop


def check(results: dict[str, list], want: list) -> None:
    """New and old evaluator agree exactly (values, dtype, 0-d arrays); numpy closely."""
    new, old = results["sg.Evaluator"], results["old loop"]
    for a, b, w in zip(new, old, want):
        assert type(a) is np.ndarray and type(b) is np.ndarray, (type(a), type(b))
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, w, rtol=1e-12, atol=1e-12)


def table(levels: int, sizes: list[int | None], rounds: int, clock) -> None:
    head = (f"| {'values':<9} | {'nodes':>6} | {'method':<12} | {'min ms':>8} | {'median ms':>9} | "
            f"{'us / node':>9} | {'x numpy':>7} |")
    print(f"Chain h <- sin(h)*0.5 + h, {levels} levels, value and derivative; "
          f"{rounds} interleaved rounds, 1 thread")
    print(head)
    print("|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|")
    for n in sizes:
        ev, x, x0, numpy_loop = chain(levels, n)
        nodes = len(ev.schedule(frozenset([x])).steps)
        fns = {"sg.Evaluator": lambda: ev.run({x: x0}), "old loop": lambda: old_run(ev, {x: x0}),
               "numpy loop": lambda: numpy_loop(x0)}
        check({k: f() for k, f in fns.items() if k != "numpy loop"}, numpy_loop(x0))
        times = interleaved(fns, rounds, clock)
        base = min(times["numpy loop"])
        label = "scalar" if n is None else f"n={n}"
        for k, ts in times.items():
            best = min(ts)
            print(f"| {label:<9} | {nodes:>6} | {k:<12} | {best * 1e3:8.3f} | "
                  f"{statistics.median(ts) * 1e3:9.3f} | "
                  f"{best / nodes * 1e6:9.3f} | {best / base:7.2f} |")
    print("(us / node: the best time over the graph nodes run; x numpy: best over the numpy "
          "loop's best)")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--levels", type=int, default=2000, help="chain length")
    p.add_argument("--rounds", type=int, default=30, help="timed calls per method and size")
    p.add_argument("--sizes", type=int, nargs="*", default=[10, 10_000],
                   help="vector lengths besides the scalar chain")
    p.add_argument("--timer", choices=("cpu", "wall"), default="cpu")
    p.add_argument("--quick", action="store_true", help="a smoke run: tiny sizes, two rounds")
    args = p.parse_args(argv)
    if args.quick:
        args.levels, args.rounds, args.sizes = 20, 2, [10]
    clock = time.process_time if args.timer == "cpu" else time.perf_counter
    table(args.levels, [None, *args.sizes], args.rounds, clock)


if __name__ == "__main__":
    main()

"""Build time of grad and grad-of-grad on shared chains, per level, at growing depth.

Two chains in which every level uses the previous level twice:

* ``h <- h * h``: the smallest shared chain (one op per level);
* ``h <- sin(h) * h``: the chain of the tests (two ops per level, five
  gradient nodes per level).

build_grad must be linear: ten times the levels should cost about ten times
the time (the "scaling" column compares each row with the previous one).
Times are CPU seconds of this process (time.process_time), best of N, so
other load on a shared machine disturbs them less than wall time would.

The "codegen" table compiles (``sg.function``) the value and gradient of the
``sin(h)*h`` chain on a scalar (``--width 10``: a length-10 vector), with as
many levels as give the graph 10^4, 10^5, 10^6 nodes (``--nodes``).  Each
size runs in fresh processes: one timed (CPU seconds of ``sg.function``, and
the growth of the resident set over the graph's, from ``VmHWM``), one
under tracemalloc (the peak of what compiling allocates on top of the graph,
which the graph's own size is given beside).  ``check`` compares the
compiled value and gradient with the closed form at the fixed point
x = pi/2 (value pi/2, gradient 1) and with ``sg.evaluate``.

    python benchmarks/bench_build.py [--levels 1000 10000 100000] [--repeat 3]
                                     [--nodes 1e4 1e5 1e6] [--width 1] [--no-codegen]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import subprocess
import sys
import time
import tracemalloc

import symgraph as sg


CHAINS = {
    "h*h": lambda h: h * h,
    "sin(h)*h": lambda h: sg.sin(h) * h,
}


def build_chain(levels: int, step):
    x = sg.variable("x")
    h = x
    for _ in range(levels):
        h = step(h)
    return x, h


def time_once(levels: int, step, second_order: bool) -> tuple[float, int]:
    """CPU seconds to build the gradient (or gradient of the gradient) and nodes added."""
    with sg.Graph() as g:
        x, h = build_chain(levels, step)
        if second_order:
            (h,) = sg.grad(h, [x])
        before = len(g)
        gc.collect()
        start = time.process_time()
        sg.grad(h, [x])
        elapsed = time.process_time() - start
        return elapsed, len(g) - before


NODES_PER_LEVEL = 7  # sin(h)*h and its gradient: 2 forward nodes, 5 gradient nodes a level


def codegen_child(levels: int, width: int, traced: bool) -> dict:
    """One compilation of the chain's value and gradient, measured in this (fresh) process."""
    import numpy as np

    if traced:
        tracemalloc.start()
    with sg.Graph() as g:
        start = time.process_time()
        x = sg.variable("x", (width,) if width > 1 else ())
        h = x
        for _ in range(levels):
            h = sg.sin(h) * h
        y = sg.sum(h)
        (gx,) = sg.grad(y, [x])
        build = time.process_time() - start
        nodes = len(g)
        gc.collect()
        if traced:
            base = tracemalloc.get_traced_memory()[0]  # the graph's own memory
            tracemalloc.reset_peak()
        rss_before = _rss()
        start = time.process_time()
        f = sg.function([x], [y, gx])
        seconds = time.process_time() - start
        result = {"nodes": nodes, "build": build, "codegen": seconds,
                  "rss_growth": _max_rss() - rss_before, "lines": f.source.count("\n"),
                  "chunks": f.source.count("\ndef _chunk")}
        if traced:
            result["peak"] = tracemalloc.get_traced_memory()[1] - base
            result["graph"] = base
            tracemalloc.stop()
            return result
        x0 = np.full((width,) if width > 1 else (), math.pi / 2)
        value, grad = f(x0)
        expected = sg.evaluate([y, gx], {x: x0})
        closed = (np.allclose(value, math.pi / 2 * width) and np.allclose(grad, 1.0))
        same = np.allclose(value, expected[0]) and np.allclose(grad, expected[1])
        result["check"] = "ok" if closed and same else f"WRONG ({value}, {grad})"
        return result


def _rss() -> int:
    with open("/proc/self/statm") as f:  # pages resident
        return int(f.read().split()[1]) * resource.getpagesize()


def _max_rss() -> int:
    """This process's peak resident set (VmHWM: ``ru_maxrss`` would carry the parent's
    peak over ``exec`` on Linux, the build tables' hundreds of MB)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(levels: int, width: int, traced: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", str(levels), "--width", str(width)]
    if traced:
        cmd.append("--traced")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def codegen_table(sizes: list[int], width: int) -> None:
    what = "scalar" if width == 1 else f"length-{width} vector"
    print(f"\ncodegen: sg.function of the sin(h)*h chain's value and gradient ({what}); "
          "fresh processes")
    header = (f"{'nodes':>9}{'levels':>8}{'build s':>9}{'codegen s':>11}{'us/node':>9}"
              f"{'peak MB':>9}{'B/node':>8}{'RSS+ MB':>9}{'graph MB':>10}{'chunks':>8}"
              f"{'scaling':>9}{'check':>7}")
    print(header)
    print("-" * len(header))
    previous = None
    for size in sizes:
        levels = max(1, size // NODES_PER_LEVEL)
        timed = run_child(levels, width, traced=False)
        traced = run_child(levels, width, traced=True)
        nodes, seconds = timed["nodes"], timed["codegen"]
        per_node = seconds / nodes
        scaling = "" if previous is None else f"{per_node / previous:.2f}x"
        print(f"{nodes:>9}{levels:>8}{timed['build']:>9.2f}{seconds:>11.2f}{per_node * 1e6:>9.1f}"
              f"{traced['peak'] / 1e6:>9.1f}{traced['peak'] / nodes:>8.0f}"
              f"{timed['rss_growth'] / 1e6:>9.1f}{traced['graph'] / 1e6:>10.1f}{timed['chunks']:>8}{scaling:>9}"
              f"{timed['check']:>7}")
        previous = per_node
    print("peak MB: tracemalloc peak during sg.function, over what the graph holds (graph MB);\nRSS+ MB: growth of the peak resident set (VmHWM) during "
          "sg.function; scaling: us/node against the previous row (1.00x is linear)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--nodes", type=float, nargs="+", default=[1e4, 1e5, 1e6],
                        help="graph sizes of the codegen table")
    parser.add_argument("--width", type=int, default=1, help="chain on a vector of this length")
    parser.add_argument("--no-codegen", action="store_true", help="skip the codegen table")
    parser.add_argument("--no-build", action="store_true", help="skip the build tables")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(codegen_child(args.child, args.width, args.traced)))
        return

    print(f"symgraph {sg.__version__}, Python {sys.version.split()[0]}; best of {args.repeat}")
    if not args.no_build:
        build_tables(args)
    if not args.no_codegen:
        codegen_table([int(n) for n in args.nodes], args.width)


def build_tables(args: argparse.Namespace) -> None:
    header = (f"{'chain':<10}{'what':<14}{'levels':>9}{'CPU s':>9}{'us/level':>10}"
              f"{'nodes/level':>13}{'us/node':>9}{'scaling':>9}")
    print(header)
    print("-" * len(header))
    for chain, step in CHAINS.items():
        for what, second in (("grad", False), ("grad of grad", True)):
            previous = None
            for levels in args.levels:
                runs = [time_once(levels, step, second) for _ in range(args.repeat)]
                seconds = min(r[0] for r in runs)
                added = runs[0][1]
                scaling = ("" if previous is None
                           else f"{seconds / previous[1] / (levels / previous[0]):.2f}x")
                print(f"{chain:<10}{what:<14}{levels:>9}{seconds:>9.3f}"
                      f"{seconds / levels * 1e6:>10.1f}{added / levels:>13.1f}"
                      f"{seconds / added * 1e6:>9.2f}{scaling:>9}")
                previous = (levels, seconds)
    print("scaling = (time ratio) / (levels ratio) against the previous row; 1.00x is linear")


if __name__ == "__main__":
    main()

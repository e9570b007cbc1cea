"""Build time of grad and grad-of-grad on the shared chain, per level, at growing depth.

The chain is the one from the tests: ``h <- sin(h) * h``, so every level uses
the previous level twice.  build_grad must be linear: ten times the levels
should cost about ten times the time (the "scaling" column compares each row
with the previous one).

    python benchmarks/bench_build.py [--levels 1000 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

import symgraph as sg


def build_chain(levels: int):
    x = sg.variable("x")
    h = x
    for _ in range(levels):
        h = sg.sin(h) * h
    return x, h


def time_once(levels: int, second_order: bool) -> tuple[float, int]:
    """Seconds to build the gradient (or gradient of the gradient) and nodes added."""
    with sg.Graph() as g:
        x, h = build_chain(levels)
        if second_order:
            (h,) = sg.grad(h, [x])
        before = len(g)
        gc.collect()
        start = time.perf_counter()
        sg.grad(h, [x])
        elapsed = time.perf_counter() - start
        return elapsed, len(g) - before


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args(argv)

    print(f"symgraph {sg.__version__}, Python {sys.version.split()[0]}; "
          f"chain h <- sin(h) * h; best of {args.repeat}")
    header = f"{'what':<14}{'levels':>9}{'seconds':>10}{'us/level':>10}{'nodes/level':>13}{'scaling':>9}"
    print(header)
    print("-" * len(header))
    for what, second in (("grad", False), ("grad of grad", True)):
        previous = None
        for levels in args.levels:
            runs = [time_once(levels, second) for _ in range(args.repeat)]
            seconds = min(r[0] for r in runs)
            added = runs[0][1]
            scaling = "" if previous is None else f"{seconds / previous[1] / (levels / previous[0]):.2f}x"
            print(f"{what:<14}{levels:>9}{seconds:>10.3f}{seconds / levels * 1e6:>10.1f}"
                  f"{added / levels:>13.1f}{scaling:>9}")
            previous = (levels, seconds)
    print("scaling = (time ratio) / (levels ratio) against the previous row; 1.00x is linear")


if __name__ == "__main__":
    main()

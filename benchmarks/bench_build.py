"""Build time of grad and grad-of-grad on shared chains, per level, at growing depth.

Two chains in which every level uses the previous level twice:

* ``h <- h * h``: the smallest shared chain (one op per level);
* ``h <- sin(h) * h``: the chain of the tests (two ops per level, five
  gradient nodes per level).

build_grad must be linear: ten times the levels should cost about ten times
the time (the "scaling" column compares each row with the previous one).
Times are CPU seconds of this process (time.process_time), best of N, so
other load on a shared machine disturbs them less than wall time would.

    python benchmarks/bench_build.py [--levels 1000 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args(argv)

    print(f"symgraph {sg.__version__}, Python {sys.version.split()[0]}; best of {args.repeat}")
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

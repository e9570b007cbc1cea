"""How picture-making scales: to_dot and draw on deep graphs, with the default max_nodes.

Prints one row per graph size: time of to_dot (no values), to_dot with a value and
gradient overlay (evaluates the graph; the input is always drawn, so its gradient is
back-propagated through the whole chain on a private copy), the G′ view of the chain
and its gradient (replays sg.grad on a private copy to find the gradient nodes built
for x), and draw (runs Graphviz's dot on what is drawn), next to one plain numpy pass
over the same chain for scale.  Picture cost must stay linear in the graph and
bounded by max_nodes in dot.

    python benchmarks/bench_render.py
"""

from __future__ import annotations

import time

import numpy as np

import symgraph as sg
from symgraph import render


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def chain(n: int):
    """x -> sin -> tanh -> sin -> ... (n ops), a scalar y and the graph it lives in."""
    g = sg.Graph()
    with g:
        x = sg.variable("x")
        y = x
        for k in range(n):
            y = sg.sin(y) if k % 2 == 0 else sg.tanh(y)
    return g, x, y


def numpy_chain(n: int, x: float) -> float:
    y = np.float64(x)
    for k in range(n):
        y = np.sin(y) if k % 2 == 0 else np.tanh(y)
    return y


def main() -> None:
    print(f"{'nodes':>8} {'to_dot ms':>10} {'+overlay ms':>12} {'G′ view ms':>11} "
          f"{'draw ms':>9} {'numpy pass ms':>14} {'overlay/numpy':>14}")
    for n in (100, 1_000, 10_000, 100_000):
        g, x, y = chain(n)
        t_dot = best_of(lambda: sg.to_dot(y))
        t_overlay = best_of(lambda: sg.to_dot(y, values={"x": 0.3}, grads_of=y), repeat=1)
        with g:
            dy = sg.grad(y, x)
        t_gprime = best_of(lambda: sg.to_dot([y, dy], wrt=[x]), repeat=1)
        t_draw = (best_of(lambda: sg.draw(y), repeat=1) if render.dot_available()
                  else float("nan"))
        t_np = best_of(lambda: numpy_chain(n, 0.3))
        print(f"{n + 1:>8} {1e3 * t_dot:>10.1f} {1e3 * t_overlay:>12.1f} {1e3 * t_gprime:>11.1f} "
              f"{1e3 * t_draw:>9.1f} {1e3 * t_np:>14.2f} {t_overlay / t_np:>14.0f}")


if __name__ == "__main__":
    main()

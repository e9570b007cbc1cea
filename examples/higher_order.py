"""Taylor coefficients from repeated symbolic differentiation.

Each ``sg.grad`` (or ``sg.jvp``) of a derivative is just more nodes in the same
graph, so the k-th derivative is a node like any other.  Here the Taylor
coefficients ``f^(k)(x0) / k!`` of two functions are computed that way and
compared with their closed forms:

* ``sin(x) exp(x)``:  ``f^(k)(x) = 2^(k/2) exp(x) sin(x + k pi/4)``
* ``tanh(x)`` at 0:   ``x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - ...``

    python examples/higher_order.py
"""

from __future__ import annotations

import math
import os
import sys
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

ORDER = 9


def derivatives(f, x, order: int, mode: str):
    """[f, f', f'', ...] as nodes, and the graph size after each one."""
    ds, sizes = [f], [len(x.graph)]
    one = sg.constant(1.0)
    for _ in range(order):
        ds.append(sg.grad(ds[-1], x) if mode == "rev" else sg.jvp(ds[-1], x, one))
        sizes.append(len(x.graph))
    return ds, sizes


def sin_exp(x0: float = 0.5) -> None:
    results = {}
    for mode in ("rev", "fwd"):
        with sg.Graph():  # one graph per mode, so the node counts are each mode's own
            x = sg.variable("x")
            ds, sizes = derivatives(sg.sin(x) * sg.exp(x), x, ORDER, mode)
            results[mode] = (sg.evaluate(ds, {x: x0}), sizes)
    (rev_vals, sizes), (fwd_vals, fsizes) = results["rev"], results["fwd"]
    print(f"f(x) = sin(x) exp(x), Taylor coefficients at x0 = {x0}")
    print(f"{'k':>2}{'f^(k)(x0)/k! by grad':>25}{'closed form':>25}{'rel err':>10}"
          f"{'by jvp':>25}{'nodes (grad)':>14}{'nodes (jvp)':>13}")
    coeffs = []
    for k in range(ORDER + 1):
        exact = 2 ** (k / 2) * math.exp(x0) * math.sin(x0 + k * math.pi / 4) / math.factorial(k)
        got = float(rev_vals[k]) / math.factorial(k)
        coeffs.append(got)
        err = abs(got - exact) / abs(exact)
        print(f"{k:>2}{got:>25.15g}{exact:>25.15g}{err:>10.1e}"
              f"{float(fwd_vals[k]) / math.factorial(k):>25.15g}{sizes[k]:>14}{fsizes[k]:>13}")
    for h in (0.1, 0.3):
        taylor = sum(c * h ** k for k, c in enumerate(coeffs))
        true = math.sin(x0 + h) * math.exp(x0 + h)
        print(f"Taylor polynomial of degree {ORDER} at x0 + {h}: {taylor:.15f}   "
              f"f: {true:.15f}   error {abs(taylor - true):.1e}")
    print()


def tanh_series() -> None:
    exact = {1: Fraction(1), 3: Fraction(-1, 3), 5: Fraction(2, 15), 7: Fraction(-17, 315),
             9: Fraction(62, 2835)}
    with sg.Graph():
        x = sg.variable("x")
        ds, _ = derivatives(sg.tanh(x), x, ORDER, "rev")
        vals = sg.evaluate(ds, {x: 0.0})
    print("f(x) = tanh(x), Taylor coefficients at 0")
    print(f"{'k':>2}{'f^(k)(0)/k!':>24}{'exact':>14}{'abs err':>10}")
    for k in range(ORDER + 1):
        got = float(vals[k]) / math.factorial(k)
        want = exact.get(k, Fraction(0))
        print(f"{k:>2}{got:>24.15g}{str(want):>14}{abs(got - float(want)):>10.1e}")
    assert np.allclose([float(v) / math.factorial(k) for k, v in enumerate(vals)],
                       [float(exact.get(k, 0)) for k in range(ORDER + 1)], atol=1e-13)


if __name__ == "__main__":
    sin_exp()
    tanh_series()

"""Shared by the memory-plan tests: a call's measured peak memory, and a network to plan."""

from __future__ import annotations

import tracemalloc

import numpy as np

import symgraph as sg


def measured_peak(f, values) -> int:
    """tracemalloc's peak over one call beyond what was allocated before it (numpy reports
    its buffers to tracemalloc), kept workspace included."""
    f(*values)  # warm up caches and the allocator
    f.free_workspace()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        f(*values)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def gelu_net(n=256, d=128, layers=3):
    """A GELU network's loss and weight gradients: inputs, outputs and values to feed."""
    X = sg.variable("X", (n, d))
    Ws = [sg.variable(f"W{i}", (d, d)) for i in range(layers)]
    h = X
    for W in Ws:
        z = h @ W
        h = 0.5 * z * (1 + sg.tanh(0.7978845608 * (z + 0.044715 * z * z * z)))
    loss = sg.mean(h * h)
    rng = np.random.default_rng(7)
    values = [rng.standard_normal((n, d))] + [rng.standard_normal((d, d)) / 12 for _ in Ws]
    return [X, *Ws], [loss, *sg.grad(loss, Ws)], values

"""Shared helpers: central finite differences and a fresh graph per test."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg


@pytest.fixture(autouse=True)
def fresh_graph():
    """Every test builds into its own graph, so tests never see each other's nodes."""
    with sg.Graph() as g:
        yield g


def numeric_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of scalar ``f`` at ``x`` (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = f(x)
        flat[i] = old - eps
        lo = f(x)
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * eps)
    return g


def numeric_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite-difference Jacobian, shape ``f(x).shape + x.shape``."""
    x = np.array(x, dtype=np.float64)
    y0 = np.asarray(f(x))
    jac = np.zeros(y0.shape + x.shape)
    flat = x.reshape(-1)
    jflat = jac.reshape(y0.shape + (-1,))
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = np.asarray(f(x))
        flat[i] = old - eps
        lo = np.asarray(f(x))
        flat[i] = old
        jflat[..., i] = (hi - lo) / (2 * eps)
    return jac


# -- property tests: hypothesis profiles and the closing figures -------------
from _hypothesis import STATS  # noqa: E402  (registers and loads the hypothesis profile)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if STATS:
        from graphgen import FORWARD_OPS

        terminalreporter.write_sep("=", "symgraph property tests")
        for line in STATS.report(FORWARD_OPS):
            terminalreporter.write_line(line)

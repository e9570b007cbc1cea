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
    x = np.array(x, dtype=np.float64, order="C")  # C order: reshape(-1) is then a view
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
def evaluated_and_compiled(outs, feed):
    """The values of ``outs`` from the evaluator, checked equal to a compiled function's."""
    got = sg.evaluate(outs, feed)
    compiled = sg.function(list(feed), outs)(*feed.values())
    for a, b in zip(got, compiled):
        np.testing.assert_array_equal(a, b)
    return got


def sympy_substitutions(arrays) -> dict:
    """Values for the sympy symbols of variables ``x0, x1, ...`` (``sg.to_sympy``'s names):
    ``Symbol("x0")`` for a 0-d array, ``IndexedBase("x1")[i, j]`` for the elements of others."""
    import sympy

    subs = {}
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            subs[sympy.Symbol(f"x{i}")] = sympy.Float(a.item())
        else:
            base = sympy.IndexedBase(f"x{i}")
            subs.update({base[idx]: sympy.Float(a[idx]) for idx in np.ndindex(a.shape)})
    return subs


from _hypothesis import STATS  # noqa: E402  (registers and loads the hypothesis profile)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if STATS:
        from graphgen import FORWARD_OPS

        terminalreporter.write_sep("=", "symgraph property tests")
        for line in STATS.report(FORWARD_OPS):
            terminalreporter.write_line(line)


def check_orders_one_and_two(f, x, a: np.ndarray, v: np.ndarray, rtol: float = 1e-6,
                             second: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The gradient, jvp and (with ``second``) both HVPs of scalar ``f(x)`` at ``a``, in
    direction ``v``, against central finite differences (the HVPs to ``10 * rtol``);
    returns the gradient and the forward-over-reverse HVP."""
    g = sg.grad(f, x)

    def value(point):
        return float(sg.evaluate(f, {x: point}))

    def directional(point):  # <grad f, v>
        return float(np.sum(sg.evaluate(g, {x: point}) * v))

    grad, jv, hf, hr = sg.evaluate(
        [g, sg.jvp(f, x, sg.constant(v)), sg.hvp(f, x, v), sg.hvp(f, x, v, mode="rev")], {x: a})
    np.testing.assert_allclose(grad, numeric_grad(value, a), rtol=rtol, atol=rtol / 10)
    eps = 1e-6
    np.testing.assert_allclose(jv, (value(a + eps * v) - value(a - eps * v)) / (2 * eps),
                               rtol=rtol, atol=rtol / 10)
    if second:
        hv = numeric_grad(directional, a)
        np.testing.assert_allclose(hf, hv, rtol=10 * rtol, atol=rtol)
        np.testing.assert_allclose(hr, hv, rtol=10 * rtol, atol=rtol)
    return grad, hf


def check_third_order(f, x, a: np.ndarray, v: np.ndarray, w: np.ndarray) -> None:
    """``D^3 f [v, w, .]`` (the gradient of ``<hvp(f, v), w>``) against finite differences."""
    hv = sg.hvp(f, x, v)
    third = sg.grad(sg.sum(hv * w), x)

    def second(point):
        return float(np.sum(sg.evaluate(hv, {x: point}) * w))

    np.testing.assert_allclose(sg.evaluate(third, {x: a}), numeric_grad(second, a),
                               rtol=1e-4, atol=1e-5)


def check_float32_gradients(build, a: np.ndarray) -> None:
    """``build(x)``'s gradient and HVP stay float32 for a float32 ``x`` and agree with float64."""
    outs = []
    for dtype in ("float32", "float64"):
        x = sg.variable("x" + dtype, a.shape, dtype)
        f = build(x)
        g, h = sg.evaluate([sg.grad(f, x), sg.hvp(f, x, np.ones(a.shape, dtype))],
                           {x: a.astype(dtype)})
        assert g.dtype == h.dtype == dtype
        outs.append((g, h))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-3, atol=1e-3)


class OpaqueArray(np.lib.mixins.NDArrayOperatorsMixin):
    """An array type numpy dispatches to that implements no numpy function (np.linalg included):
    ops must refuse it with a BackendError naming themselves."""

    def __init__(self, a):
        self.a, self.shape, self.dtype = a, a.shape, a.dtype

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented


def check_dask_matches_numpy(outs, x, a: np.ndarray, chunks, atol: float = 1e-13) -> None:
    """``outs`` on ``a`` as a dask array of ``chunks``: lazy results, numpy's values."""
    da = pytest.importorskip("dask.array")
    lazy = sg.evaluate(outs, {x: da.from_array(a, chunks=chunks)})
    assert all(isinstance(v, da.Array) for v in lazy)
    for got, want in zip(lazy, sg.evaluate(outs, {x: a})):
        np.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=atol)


def check_save_load(outs, feed: dict, path) -> None:
    """``outs`` saved to ``path`` and loaded give the same bits, fed by variable name."""
    want = sg.evaluate(outs, feed)
    sg.save(outs, path)
    got = sg.evaluate(sg.load(path), {node.name: value for node, value in feed.items()})
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)

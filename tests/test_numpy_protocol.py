"""numpy functions called on Nodes build symgraph nodes (NEP 13 ufuncs, NEP 18 functions),
so numpy code runs unchanged on symbolic inputs; what has no counterpart fails at once,
naming the function, instead of building arrays of Python objects."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg

A = np.arange(12.0).reshape(3, 4)
V = np.array([0.5, -1.0, 2.0, 0.25])


def numpy_program(x):
    """Plain numpy code: run on an array it computes, run on a Node it builds."""
    z = np.dot(A, x) + np.ones(3)
    h = np.where(z > 0, np.exp(-np.abs(z)), np.tanh(z))
    s = np.stack([h, h ** 2])
    return np.sum(np.cumsum(s, axis=1) * np.linalg.norm(x)) + np.add.reduce(np.maximum(x, 0))


def test_numpy_code_runs_on_nodes_and_matches_numpy():
    x = sg.variable("x", (4,))
    y = numpy_program(x)
    assert isinstance(y, sg.Node)
    np.testing.assert_allclose(sg.evaluate(y, {x: V}), numpy_program(V), rtol=1e-14)
    sg.testing.check_grads(numpy_program, [V], order=2)


def test_operators_with_arrays_on_the_left_build_nodes():
    x = sg.variable("x", (4,))
    for y, want in [(np.ones(4) + x, 1 + V), (A @ x, A @ V), (np.float64(2) * x, 2 * V),
                    (np.ones(4) < x, 1 < V)]:
        assert isinstance(y, sg.Node)
        np.testing.assert_array_equal(sg.evaluate(y, {x: V}), want)
    assert np.shape(x) == (4,) and np.ndim(x) == 1 and np.size(x) == 4


@pytest.mark.parametrize("call, message", [
    (lambda x: np.asarray(x), "no value until it is evaluated"),
    (lambda x: np.exp(x, out=np.ones(4)), r"takes no \['out'\]"),
    (lambda x: np.unique(x), "np.unique has no symgraph counterpart"),
    (lambda x: np.linalg.tensorinv(x), "np.linalg.tensorinv has no symgraph counterpart"),
    (lambda x: np.sum(x, dtype=np.float32), "np.sum on symgraph Nodes, as sg.sum"),
    (lambda x: np.add.at(x, [0], 1.0), "np.add.at has no symgraph counterpart"),
])
def test_what_has_no_counterpart_fails_at_once_by_name(call, message):
    with pytest.raises(TypeError, match=message):
        call(sg.variable("x", (4,)))


def test_boolean_masks_combine_with_numpys_operators():
    x = sg.variable("x", (4,))
    v = np.array([-1.0, 0.5, 2.0, 3.0])
    m = np.array([True, False, True, True])
    cases = [((x > 0) & (x < 1), (v > 0) & (v < 1)), ((x > 2) | (x < 0), (v > 2) | (v < 0)),
             (~(x > 0), ~(v > 0)), ((x > 0) ^ (x > 1), (v > 0) ^ (v > 1)),
             (m & (x > 0), m & (v > 0)), ((x > 0) | m, (v > 0) | m),
             (sg.logical_and(x, x > 1), np.logical_and(v, v > 1)), (sg.isfinite(x / 0), v * 0 != 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        for y, want in cases:
            np.testing.assert_array_equal(sg.evaluate(y, {x: v}), want)
    with pytest.raises(TypeError, match="boolean masks"):
        x & x


def test_remainder_and_round_operators():
    x = sg.variable("x", (3,))
    v = np.array([-2.35, 0.5, 7.25])
    np.testing.assert_array_equal(sg.evaluate([x % 2, 5.0 % x, round(x), x.round(1)], {x: v}),
                                  [v % 2, 5.0 % v, np.round(v), v.round(1)])


def test_softmax_and_concatenate_take_numpys_other_axes():
    scipy_special = pytest.importorskip("scipy.special")
    x = sg.variable("x", (2, 3))
    v = np.arange(6.0).reshape(2, 3) / 5
    np.testing.assert_allclose(sg.evaluate(sg.softmax(x, axis=None), {x: v}),
                               scipy_special.softmax(v, axis=None), rtol=1e-14)
    np.testing.assert_allclose(sg.evaluate(sg.log_softmax(x, axis=(0, 1)), {x: v}),
                               scipy_special.log_softmax(v, axis=(0, 1)), rtol=1e-14)
    np.testing.assert_array_equal(sg.evaluate(sg.concatenate([x, x[0]], axis=None), {x: v}),
                                  np.concatenate([v, v[0]], axis=None))


@pytest.mark.parametrize("method, args, kwargs", [
    ("ravel", (), {}), ("flatten", (), {}), ("squeeze", (), {}), ("squeeze", (0,), {}),
    ("swapaxes", (0, 2), {}), ("prod", (), {"axis": 1}), ("var", (), {"ddof": 1}),
    ("std", (), {"axis": -1, "keepdims": True}), ("cumsum", (), {"axis": 2}),
    ("cumprod", (), {}), ("argmax", (), {"axis": 2}), ("argmin", (), {}),
    ("clip", (-0.5, 0.5), {}), ("round", (1,), {}), ("diagonal", (), {"axis1": 1, "axis2": 2}),
    ("trace", (), {"axis1": 1, "axis2": 2}), ("dot", (np.ones(3),), {}),
    ("sum", (), {"axis": (0, 2)}), ("mean", (), {"keepdims": True}), ("max", (), {"axis": 1}),
    ("min", (), {}), ("reshape", (3, 3), {}), ("transpose", (2, 0, 1), {}), ("astype", ("float32",), {}),
])
def test_node_methods_are_ndarray_methods(method, args, kwargs):
    v = np.random.default_rng(5).standard_normal((1, 3, 3))
    x = sg.variable("x", v.shape)
    got = sg.evaluate(getattr(x, method)(*args, **kwargs), {x: v})
    want = getattr(v, method)(*args, **kwargs)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-13)

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
    (lambda x: np.linalg.inv(x), "np.linalg.inv has no symgraph counterpart"),
    (lambda x: np.sum(x, dtype=np.float32), "np.sum on symgraph Nodes, as sg.sum"),
    (lambda x: np.add.at(x, [0], 1.0), "np.add.at has no symgraph counterpart"),
])
def test_what_has_no_counterpart_fails_at_once_by_name(call, message):
    with pytest.raises(TypeError, match=message):
        call(sg.variable("x", (4,)))

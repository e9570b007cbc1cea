"""Dispatch on the fed arrays: any array type numpy dispatches to, not only numpy and dask.

``Duck`` wraps an ndarray and implements numpy's protocols (``__array_ufunc__``,
``__array_function__``) but no ``__array__``: converting it with ``np.asarray``
would give a useless object array, so these tests fail if the evaluator or an
op converts instead of dispatching.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph import backend


def _unwrap(value):
    if isinstance(value, Duck):
        return value.a
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value):
    if isinstance(value, np.ndarray):
        return Duck(value)
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


class Duck(np.lib.mixins.NDArrayOperatorsMixin):
    """A minimal foreign array: numpy's protocols, no conversion, no ufunc.at."""

    supports_at = False

    def __init__(self, a):
        self.a = np.asarray(a)

    shape = property(lambda self: self.a.shape)
    dtype = property(lambda self: self.a.dtype)
    ndim = property(lambda self: self.a.ndim)
    size = property(lambda self: self.a.size)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "at" and not Duck.supports_at:
            return NotImplemented
        out = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        return None if method == "at" else _wrap(np.asarray(out) if np.isscalar(out) else out)

    def __array_function__(self, func, types, args, kwargs):
        out = func(*_unwrap(args), **_unwrap(kwargs))
        return _wrap(np.asarray(out) if np.isscalar(out) else out)

    def __getitem__(self, index):
        return Duck(self.a[_unwrap(index)])

    def __setitem__(self, index, value):
        self.a[_unwrap(index)] = _unwrap(value)

    def __bool__(self):
        return bool(self.a)

    def astype(self, dtype, copy=True):
        return Duck(self.a.astype(dtype, copy=copy))

    def mean(self, *args, **kwargs):
        return np.mean(self, *args, **kwargs)

    def sum(self, *args, **kwargs):
        return np.sum(self, *args, **kwargs)

    def any(self, *args, **kwargs):
        return np.any(self, *args, **kwargs)


def test_duck_is_a_foreign_family():
    d = Duck(np.ones(3))
    assert backend.is_foreign(d) and not backend.is_foreign(np.ones(3))
    assert backend.family(np.ones(2), d) == backend.family_of(d) != backend.NUMPY
    assert backend.family(np.ones(2), 1.0) == backend.NUMPY


def mlp(n=12, d=4, h=5, c=3):
    x, y = sg.variable("x", (n, d)), sg.variable("y", (n,), "int64")
    W1, W2 = sg.variable("W1", (d, h)), sg.variable("W2", (h, c))
    hid = sg.relu(x @ W1)
    loss = (sg.cross_entropy(hid @ W2, y) + sg.mean(sg.logsumexp(hid, axis=1))
            + sg.sum(sg.cast(x[::2, 1:3], "float32")) * 0.5)
    return loss, sg.grad(loss, [W1, W2, x])


def feed(n=12, d=4, h=5, c=3):
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(n, d)), "y": rng.integers(0, c, n),
            "W1": rng.normal(size=(d, h)), "W2": rng.normal(size=(h, c))}


def test_forward_and_gradients_stay_in_the_fed_family():
    loss, grads = mlp()
    values = feed()
    expected = sg.evaluate([loss, *grads], values)
    duck_feed = dict(values, x=Duck(values["x"]), y=Duck(values["y"]))
    got = sg.evaluate([loss, *grads], duck_feed)
    assert all(isinstance(g, Duck) for g in got)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g.a, e, rtol=0, atol=1e-12)
        assert g.dtype == e.dtype


def test_a_family_without_scatter_add_gets_a_clear_error(monkeypatch):
    x = sg.variable("x", (6, 2))
    (gx,) = sg.grad(sg.sum(x[np.array([0, 0, 5])] * x[np.array([1, 1, 1])]), [x])
    with pytest.raises(sg.BackendError, match=r"scatter_add .*test_backend\.Duck"):
        sg.evaluate(gx, {"x": Duck(np.ones((6, 2)))})
    monkeypatch.setattr(Duck, "supports_at", True)  # like CuPy: np.add.at works
    got = sg.evaluate(gx, {"x": Duck(np.ones((6, 2)))})
    assert isinstance(got, Duck)
    np.testing.assert_array_equal(got.a, [[2, 2], [3, 3], [0, 0], [0, 0], [0, 0], [1, 1]])


def test_feed_checks_read_only_shape_and_dtype():
    x = sg.variable("x", (3,), "int32")
    with pytest.raises(sg.ShapeError, match=r"\(4,\)"):
        sg.evaluate(x + 1, {"x": Duck(np.ones(4, np.int32))})
    with pytest.raises(sg.DTypeError, match="float64"):
        sg.evaluate(x + 1, {"x": Duck(np.ones(3))})
    out = sg.evaluate(x + 1, {"x": Duck(np.ones(3, np.int8))})  # widened in its family
    assert isinstance(out, Duck) and out.dtype == np.int32


def test_an_op_failing_on_a_foreign_family_names_op_and_type():
    class Fragile(sg.Op):
        name = "fragile"

        def f(self, x):
            return x.tolist()  # not part of the array protocols

    from symgraph.graph import apply

    x = sg.variable("x", (3,))
    y = apply(Fragile(), [x])
    with pytest.raises(sg.BackendError, match=r"op 'fragile' .*test_backend\.Duck \(3,\) float64"):
        sg.evaluate(y, {"x": Duck(np.ones(3))})


def test_numpy_feeds_still_give_numpy_arrays():
    loss, grads = mlp()
    out = sg.evaluate([loss, *grads], feed())
    assert all(type(o) is np.ndarray for o in out)
    assert out[0].shape == ()


def test_flat_positions_reproduce_numpy_indexing():
    x = np.arange(60).reshape(3, 4, 5)
    for index in [(1,), (slice(None), np.array([3, 0, 3])), (np.array([2, 0]), 1, np.array([4, 4])),
                  (None, Ellipsis, np.array([[1], [2]])), (slice(None, None, -1), 2)]:
        pos = backend.flat_positions(index, x.shape)
        np.testing.assert_array_equal(x.reshape(-1)[pos], x[index])

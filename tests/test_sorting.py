"""sort and argsort against numpy: shapes, axes, dtypes, ties, NaNs, errors; sort's
derivatives (a permutation of the (co)tangent, to second order); the internal take_along /
put_along pair; compiled code, dask and sympy."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import evaluated_and_compiled
from sorting_cases import distinct
from symgraph.errors import BackendError, DTypeError, ShapeError, SymgraphError
from symgraph.ops.sorting import Argsort, PutAlong, Sort, TakeAlong

rng = np.random.default_rng(5)

SHAPES_AXES = [((5,), -1), ((5,), 0), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), -3),
               ((2, 3, 4), None), ((0, 3), 0), ((0, 3), 1), ((3, 1), 1), ((), None)]



@pytest.mark.parametrize("shape, axis", SHAPES_AXES)
def test_sort_and_argsort_match_numpy(shape, axis):
    a = rng.standard_normal(shape)
    x = sg.variable("x", shape)
    s, i = evaluated_and_compiled([sg.sort(x, axis), sg.argsort(x, axis)], {x: a})
    np.testing.assert_array_equal(s, np.sort(a, axis))
    np.testing.assert_array_equal(i, np.argsort(a, axis))
    assert i.dtype == np.int64


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8", "bool"])
def test_dtypes_are_kept(dtype):
    a = (rng.standard_normal((3, 5)) * 4).astype(dtype)
    x = sg.variable("x", a.shape, dtype)
    s, i = evaluated_and_compiled([sg.sort(x, 0), sg.argsort(x, kind="stable")], {x: a})
    assert s.dtype == np.dtype(dtype) and sg.sort(x).dtype == np.dtype(dtype)
    np.testing.assert_array_equal(s, np.sort(a, 0))
    np.testing.assert_array_equal(i, np.argsort(a, kind="stable"))


def test_nans_sort_last_and_ties_keep_order_when_stable():
    a = np.array([2.0, np.nan, 1.0, 2.0, -np.inf, 1.0, np.nan])
    x = sg.variable("x", a.shape)
    s, stable, merge, flag = evaluated_and_compiled([sg.sort(x), sg.argsort(x, kind="stable"),
                                    sg.argsort(x, kind="mergesort"), sg.argsort(x, stable=True)],
                                   {x: a})
    np.testing.assert_array_equal(s, np.sort(a))
    for got in (stable, merge, flag):
        np.testing.assert_array_equal(got, [4, 2, 5, 0, 3, 1, 6])


def test_argsort_of_a_scalar_is_numpys():
    x = sg.variable("x", ())
    for axis in (-1, 0, None):
        np.testing.assert_array_equal(sg.evaluate(sg.argsort(x, axis), {x: 2.0}),
                                      np.argsort(np.float64(2.0), axis))
    np.testing.assert_array_equal(sg.evaluate(sg.sort(x, None), {x: 2.0}), [2.0])


def test_sorting_a_length_one_axis_is_the_input():
    x = sg.variable("x", (3, 1))
    assert sg.sort(x, 1) is x


# ---------------------------------------------------------------------------
# derivatives
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn, shape", [
    (lambda a: sg.sort(a), (6,)),
    (lambda a: sg.sort(a * a * a, axis=0), (3, 2, 2)),
    (lambda a: sg.sort(sg.sin(a), axis=None), (2, 3)),
    (lambda a: sg.sort(a, axis=-2) * sg.sort(a, axis=-1), (3, 3)),
])
def test_sort_derivatives_match_finite_differences_to_second_order(fn, shape):
    sg.testing.check_grads(fn, distinct(*shape) / 2, order=2)


def test_the_gradient_at_ties_follows_the_stable_order_when_asked():
    """sort has a kink at ties; with kind="stable" the derivative is that of numpy's stable
    permutation (by default that of numpy's default argsort: see the next test)."""
    a = np.array([1.0, 1.0, 0.0, 1.0])
    w = np.array([10.0, 20.0, 30.0, 40.0])
    x = sg.variable("x", a.shape)
    s = sg.sort(x, kind="stable")
    (g,) = evaluated_and_compiled([sg.grad(sg.sum(s * w), x)], {x: a})
    np.testing.assert_array_equal(g, [20.0, 30.0, 10.0, 40.0])  # stable order: 2, 0, 1, 3
    t = sg.evaluate(sg.jvp(s, x, sg.constant(np.array([1.0, 2.0, 3.0, 4.0]))), {x: a})
    np.testing.assert_array_equal(t, [3.0, 1.0, 2.0, 4.0])


def test_the_gradient_at_ties_is_that_of_numpys_default_argsort():
    a = np.repeat([2.0, 0.0, 1.0], 40)  # long enough for numpy's fast sort to reorder ties
    w = np.arange(a.size, dtype=float)
    x = sg.variable("x", a.shape)
    (g,) = evaluated_and_compiled([sg.grad(sg.sum(sg.sort(x) * w), x)], {x: a})
    want = np.zeros_like(a)
    want[np.argsort(a)] = w
    np.testing.assert_array_equal(g, want)


def test_argsort_has_no_gradient():
    a = distinct(3, 2)
    x = sg.variable("x", a.shape)
    w = sg.cast(sg.argsort(x, axis=0), x.dtype)
    (g,) = sg.evaluate([sg.grad(sg.sum(x * w), x)], {x: a})
    np.testing.assert_array_equal(g, np.argsort(a, axis=0))
    assert sg.grad(sg.sum(w), x) is not None  # zero, not an error


def test_sort_gradient_in_compiled_code_uses_argsort():
    x = sg.variable("x", (4, 3))
    f = sg.function([x], sg.grad(sg.sum(sg.sort(x, 0) * np.arange(12.0).reshape(4, 3)), x))
    assert "np.argsort(x, axis=0)" in f.source and "np.put_along_axis" in f.source
    assert "np.sort" not in f.source  # the forward sort reads the argsort (one sort, not two)
    a = distinct(4, 3)
    want = np.zeros((4, 3))
    np.put_along_axis(want, np.argsort(a, 0), np.arange(12.0).reshape(4, 3), 0)
    np.testing.assert_array_equal(f(a), want)


# ---------------------------------------------------------------------------
# take_along / put_along (internal: sort's rules)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis, picks", [((3, 4), 1, 5), ((3, 4), 0, 2), ((2, 3, 2), 1, 4)])
def test_take_along_and_put_along_are_adjoint(shape, axis, picks):
    """Repeated and negative indices: put_along accumulates, as the adjoint must."""
    a = rng.standard_normal(shape)
    ishape = tuple(picks if k == axis else s for k, s in enumerate(shape))
    idx = rng.integers(-shape[axis], shape[axis], ishape)
    g = rng.standard_normal(ishape)
    taken, put = evaluated_and_compiled([TakeAlong(axis)(sg.constant(a), idx),
                                         PutAlong(axis, shape)(sg.constant(g), idx)], {})
    np.testing.assert_array_equal(taken, np.take_along_axis(a, idx, axis))
    np.testing.assert_allclose(np.vdot(taken, g), np.vdot(a, put), rtol=1e-12)
    sg.testing.check_grads(lambda v: TakeAlong(axis)(v * v, idx), a, order=2)
    sg.testing.check_grads(lambda v: PutAlong(axis, shape)(sg.sin(v), idx), g, order=2)


def test_take_along_and_put_along_check_their_inputs():
    x = sg.variable("x", (3, 4))
    with pytest.raises(DTypeError, match="indices must be integers"):
        TakeAlong(0)(x, np.zeros((2, 4)))
    with pytest.raises(ShapeError, match="except along axis 1"):
        TakeAlong(1)(x, np.zeros((2, 4), np.int64))
    with pytest.raises(ShapeError, match="out of range"):
        TakeAlong(2)(x, np.zeros((3, 4), np.int64))
    with pytest.raises(ShapeError, match="one shape"):
        PutAlong(0, (5, 4))(x, np.zeros((3, 3), np.int64))
    with pytest.raises(sg.EvaluationError):
        sg.evaluate(TakeAlong(0)(x, np.full((1, 4), 3)), {x: np.zeros((3, 4))})


# ---------------------------------------------------------------------------
# errors, dask, sympy
# ---------------------------------------------------------------------------

def test_errors_name_the_problem():
    x = sg.variable("x", (2, 3))
    with pytest.raises(ShapeError, match="out of bounds"):
        sg.sort(x, 2)
    with pytest.raises(ShapeError, match="out of bounds"):
        sg.sort(sg.variable("s", ()))  # numpy too: a scalar sorts only with axis=None
    with pytest.raises(SymgraphError, match="axis must be None or an int"):
        sg.sort(x, (0,))
    with pytest.raises(SymgraphError, match="axis must be None or an int"):
        sg.argsort(x, 1.0)
    with pytest.raises(SymgraphError, match="kind must be one of"):
        sg.sort(x, kind="bogus")
    with pytest.raises(SymgraphError, match="not both"):
        sg.argsort(x, kind="stable", stable=True)
    with pytest.raises(SymgraphError, match="stable must be a bool"):
        sg.argsort(x, stable="yes")
    with pytest.raises(ShapeError, match="out of range"):
        Sort(2)(x)
    with pytest.raises(SymgraphError, match="parameter 'stable'"):
        Argsort(0, 1)(x)


def test_dask_arrays_are_refused_clearly():
    da = pytest.importorskip("dask.array")
    x = sg.variable("x", (2, 3))
    lazy = da.from_array(distinct(2, 3), chunks=1)
    for node, name in [(sg.sort(x), "np.sort"), (sg.argsort(x), "np.argsort"),
                       (TakeAlong(0)(x, np.zeros((1, 3), np.int64)), "np.take_along_axis")]:
        with pytest.raises(BackendError, match=f"{name} has no dask version"):
            sg.evaluate(node, {x: lazy})


def test_sympy_has_no_sort_but_takes_along_constant_indices():
    sympy = pytest.importorskip("sympy")
    x = sg.variable("x", (2, 3))
    with pytest.raises(SymgraphError, match="no sympy translation"):
        sg.to_sympy(sg.sort(x))
    idx = np.array([[2, 0, 0], [1, 1, -1]])
    got = sg.to_sympy(TakeAlong(1)(x, idx))
    base = sympy.IndexedBase("x")
    assert got[0, 0] == base[0, 2] and got[1, 2] == base[1, 2]
    put = sg.to_sympy(PutAlong(1, (2, 3))(x, idx))
    assert put[0, 0] == base[0, 1] + base[0, 2] and put[0, 1] == 0


def test_take_along_axis_takes_node_indices_from_argsort_and_argmax():
    """numpy's idiom ``take_along_axis(x, argsort(x), axis)`` with symbolic indices: the
    values are numpy's, and the gradient goes back through the permutation."""
    v = np.random.default_rng(3).standard_normal((3, 4))
    x = sg.variable("x", v.shape)
    ranked = sg.take_along_axis(x, sg.argsort(x, axis=1), axis=1)
    best = sg.take_along_axis(x, sg.argmax(x, axis=0, keepdims=True), axis=0)
    np.testing.assert_array_equal(sg.evaluate(ranked, {x: v}), np.sort(v, axis=1))
    np.testing.assert_array_equal(sg.evaluate(best, {x: v}), v.max(axis=0, keepdims=True))
    weights = np.arange(4.0)
    (g,) = sg.grad(sg.sum(ranked * weights), [x])
    np.testing.assert_array_equal(sg.evaluate(g, {x: v}),
                                  np.take_along_axis(np.broadcast_to(weights, v.shape),
                                                     np.argsort(np.argsort(v, axis=1), axis=1), 1))
    with pytest.raises(sg.SymgraphError, match="integers"):
        sg.take_along_axis(x, x, axis=1)

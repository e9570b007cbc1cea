"""prod, var, std, argmax, argmin, cumsum, cumprod, diff: numpy's semantics, and exact
derivatives where elements are zero.

Values are checked against numpy over axis (None, ints, negative, tuples), keepdims,
ddof and dtypes; derivatives against closed forms (prod and cumprod at inputs with
0, 1, 2 and 3 zeros along an axis, to third order) and finite differences.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph.errors import DTypeError, ShapeError, SymgraphError
from symgraph.testing import check_grads

rng = np.random.default_rng(3)


def run(fn, *values, **kwargs):
    """``fn`` applied to variables fed with ``values``: the symgraph result and its node."""
    xs = [sg.variable(f"x{i}", np.shape(v), np.asarray(v).dtype) for i, v in enumerate(values)]
    node = fn(*xs, **kwargs)
    return sg.evaluate(node, dict(zip(xs, values))), node


def assert_like_numpy(got, node, want):
    want = np.asarray(want)
    assert got.shape == want.shape == node.shape
    assert got.dtype == want.dtype == node.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6 if want.dtype == np.float32 else 1e-12,
                               equal_nan=True)


AXES = [None, 0, 1, -1, -3, (0, 2), (-1, 0), (0, 1, 2), ()]
DTYPES = ["float64", "float32", "float16", "int32", "int8", "uint16", "bool"]


def sample(shape, dtype):
    if dtype == "bool":
        return rng.uniform(size=shape) > 0.3
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0 if dtype.startswith("u") else -3, 4, shape).astype(dtype)
    return (rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype(dtype)


# ---------------------------------------------------------------------------
# values against numpy
# ---------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:.*(Degrees of freedom|invalid value):RuntimeWarning")  # axis=()
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_prod_var_std_match_numpy(dtype, axis, keepdims):
    v = sample((2, 3, 4), dtype)
    for sg_fn, np_fn, kw in [(sg.prod, np.prod, {}), (sg.var, np.var, {}),
                             (sg.var, np.var, {"ddof": 1}), (sg.std, np.std, {"ddof": 1})]:
        want = np_fn(v, axis=axis, keepdims=keepdims, **kw)
        got, node = run(sg_fn, v, axis=axis, keepdims=keepdims, **kw)
        assert_like_numpy(got, node, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_argmax_argmin_match_numpy(dtype):
    v = sample((3, 4, 5), dtype)
    for (sg_fn, np_fn), axis, keepdims in itertools.product(
            [(sg.argmax, np.argmax), (sg.argmin, np.argmin)], [None, 0, 2, -1, -3], [False, True]):
        got, node = run(sg_fn, v, axis=axis, keepdims=keepdims)
        assert_like_numpy(got, node, np_fn(v, axis=axis, keepdims=keepdims))
        assert node.dtype == np.int64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [None, 0, 1, -1, -3])
def test_cumsum_cumprod_match_numpy(dtype, axis):
    v = sample((2, 3, 4), dtype)
    for sg_fn, np_fn in [(sg.cumsum, np.cumsum), (sg.cumprod, np.cumprod)]:
        got, node = run(sg_fn, v, axis=axis)
        assert_like_numpy(got, node, np_fn(v, axis=axis))


def test_ties_go_to_the_first_position_and_nan_wins():
    v = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0], [0.0, np.nan, 5.0, np.nan]])
    for sg_fn, np_fn in [(sg.argmax, np.argmax), (sg.argmin, np.argmin)]:
        for axis in (None, 0, 1):
            got, node = run(sg_fn, v, axis=axis)
            np.testing.assert_array_equal(got, np_fn(v, axis=axis))
    assert run(sg.argmax, v[:2], axis=1)[0].tolist() == [1, 0]
    assert run(sg.argmin, v[:2], axis=1)[0].tolist() == [3, 2]


def test_zero_dimensional_and_empty_inputs():
    s = np.float64(2.5)
    for sg_fn, np_fn in [(sg.prod, np.prod), (sg.var, np.var), (sg.argmax, np.argmax),
                         (sg.cumsum, np.cumsum), (sg.cumprod, np.cumprod)]:
        got, node = run(sg_fn, s)
        assert_like_numpy(got, node, np_fn(s))
    empty = np.zeros((0, 3))
    for sg_fn, np_fn, axis in [(sg.prod, np.prod, None), (sg.prod, np.prod, 0), (sg.prod, np.prod, 1),
                               (sg.argmax, np.argmax, 1), (sg.cumsum, np.cumsum, 0),
                               (sg.cumprod, np.cumprod, None)]:
        got, node = run(sg_fn, empty, axis=axis)
        assert_like_numpy(got, node, np_fn(empty, axis=axis))


def test_prod_over_no_axes_converts_like_numpy():
    v = np.arange(1, 4, dtype=np.int32)
    got, node = run(sg.prod, v, axis=())
    assert_like_numpy(got, node, np.prod(v, axis=()))  # int64, as numpy
    x = sg.variable("x", (3,))
    assert sg.prod(x, axis=()) is x


def test_var_float_ddof_and_a_large_offset():
    v = 1e8 + rng.standard_normal(50)  # two passes (numpy's) keep the digits a one-pass formula loses
    for ddof in (0, 1, 1.5, -1):
        got, node = run(sg.var, v, ddof=ddof)
        assert_like_numpy(got, node, np.var(v, ddof=ddof))
    assert run(sg.var, v)[0] == pytest.approx(np.var(v - 1e8), rel=1e-6)


def test_var_with_ddof_at_least_n_is_inf_or_nan_like_numpy():
    v = np.array([[1.0, 2.0], [1.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.var(v, axis=1, ddof=2)
        got, node = run(sg.var, v, axis=1, ddof=2)
        assert_like_numpy(got, node, want)  # [inf, nan]
        x = sg.variable("x", (2, 2))
        g = sg.evaluate(sg.grad(sg.sum(sg.var(x, axis=1, ddof=3)), x), {x: v})
    assert np.isinf(g[0]).all() and np.isnan(g[1]).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(sg.var, v, axis=1, ddof=2)
    messages = [str(w.message) for w in caught]
    assert any("Degrees of freedom" in m for m in messages)  # numpy's own warning
    assert any("symgraph node" in m and "var" in m for m in messages)  # and one naming the node


def test_list_operands_are_stacked():
    x = sg.variable("x", (3,))
    v = np.array([1.0, -2.0, 0.5])
    for sg_fn, np_fn in [(sg.prod, np.prod), (sg.var, np.var), (sg.std, np.std),
                         (sg.argmax, np.argmax), (sg.cumsum, np.cumsum), (sg.cumprod, np.cumprod),
                         (sg.diff, np.diff)]:
        got = sg.evaluate(sg_fn([x, x + 2], axis=0), {x: v})
        np.testing.assert_allclose(got, np_fn(np.stack([v, v + 2]), axis=0))
    assert sg.evaluate(sg.mean([x, x + 2]), {x: v}) == pytest.approx(np.mean([v, v + 2]))


def test_node_methods_where_present():
    x = sg.variable("x", (2, 3))
    v = sample((2, 3), "float64")
    for name in ("prod", "var", "std", "argmax", "argmin", "cumsum", "cumprod"):
        if hasattr(sg.Node, name):  # the lead's Node methods
            np.testing.assert_allclose(sg.evaluate(getattr(x, name)(axis=1), {x: v}),
                                       getattr(v, name)(axis=1))


# ---------------------------------------------------------------------------
# diff
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 3, 6])
@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_diff_matches_numpy(n, axis):
    v = sample((4, 5), "float64")
    got, node = run(sg.diff, v, n=n, axis=axis)
    assert_like_numpy(got, node, np.diff(v, n=n, axis=axis))


@pytest.mark.parametrize("dtype", ["float32", "int32", "uint8", "bool"])
def test_diff_dtypes_match_numpy(dtype):
    v = sample((3, 4), dtype)
    got, node = run(sg.diff, v, n=2)
    assert_like_numpy(got, node, np.diff(v, n=2))


def test_diff_prepend_and_append_like_numpy():
    v = sample((3, 4), "float32")
    cases = [dict(prepend=0), dict(append=1.5), dict(prepend=np.float32(0)),
             dict(prepend=np.zeros((3, 1), np.float32), append=np.ones((3, 2), np.float32)),
             dict(axis=0, prepend=np.arange(4.0)[None]), dict(n=2, axis=0, append=-1)]
    for kw in cases:
        got, node = run(sg.diff, v, **kw)
        assert_like_numpy(got, node, np.diff(v, **kw))  # numpy's promotion: prepend=0 is int64
    x, p = sg.variable("x", (3, 4)), sg.variable("p", (3, 1))
    pv = sample((3, 1), "float64")
    np.testing.assert_allclose(sg.evaluate(sg.diff(x, prepend=p), {x: v, p: pv}),
                               np.diff(v, prepend=pv))


def test_diff_gradients():
    v = sample((3, 5), "float64")
    check_grads(lambda a: sg.diff(a, n=2, axis=-1), [v], order=2)
    check_grads(lambda a, p: sg.diff(a, axis=0, prepend=p, append=2.0), [v, sample((1, 5), "float64")],
                order=2)


def test_diff_errors():
    x = sg.variable("x", (3,))
    with pytest.raises(SymgraphError, match="non-negative"):
        sg.diff(x, n=-1)
    with pytest.raises(SymgraphError, match="int"):
        sg.diff(x, n=1.0)
    with pytest.raises(ShapeError, match="at least one dimensional"):
        sg.diff(sg.variable("s"))
    with pytest.raises(ShapeError, match="out of bounds"):
        sg.diff(x, axis=1)
    with pytest.raises(ShapeError):
        sg.diff(x, prepend=np.zeros((2, 2)))


# ---------------------------------------------------------------------------
# prod and cumprod at zeros: closed forms
# ---------------------------------------------------------------------------

#: rows with 0, 1, 2 and 3 zeros
ZERO_ROWS = np.array([[1.3, -0.7, 0.9, 1.1], [0.8, 0.0, -1.2, 1.4], [0.0, 1.5, 0.0, -0.6],
                      [0.0, 0.0, 0.7, 0.0]])


def others(row, skip):
    """The product of the elements of ``row`` not at the positions in ``skip``."""
    return math.prod(v for j, v in enumerate(row) if j not in skip)


@pytest.mark.parametrize("row", range(len(ZERO_ROWS)))
def test_prod_gradient_and_hessian_at_zeros(row):
    v = ZERO_ROWS[row]
    n = len(v)
    x = sg.variable("x", (n,))
    y = sg.prod(x)
    want_g = [others(v, {i}) for i in range(n)]
    want_h = [[0.0 if i == j else others(v, {i, j}) for j in range(n)] for i in range(n)]
    g, h = sg.evaluate([sg.grad(y, x), sg.hessian(y, x)], {x: v})
    np.testing.assert_allclose(g, want_g, atol=1e-15)
    np.testing.assert_allclose(h, want_h, atol=1e-15)
    # reverse over reverse, and forward mode, agree with the closed form too
    u = rng.standard_normal(n)
    hv_rev = sg.evaluate(sg.hvp(y, x, u, mode="rev"), {x: v})
    ju = sg.evaluate(sg.jvp(y, x, sg.constant(u)), {x: v})
    np.testing.assert_allclose(hv_rev, np.asarray(want_h) @ u, atol=1e-14)
    assert ju == pytest.approx(np.dot(want_g, u), abs=1e-14)


def test_prod_third_derivative_at_zeros():
    v = ZERO_ROWS[2]  # two zeros: d3/dx0 dx2 dx1 = x3 and the like survive
    x = sg.variable("x", (4,))
    third = sg.jacobian(sg.hessian(sg.prod(x), x), x)
    want = np.zeros((4, 4, 4))
    for i, j, k in itertools.permutations(range(4), 3):
        want[i, j, k] = others(v, {i, j, k})
    np.testing.assert_allclose(sg.evaluate(third, {x: v}), want, atol=1e-15)


@pytest.mark.parametrize("axis", [0, 1, -1, (0, 1), (1, 0), None])
def test_prod_along_axes_with_zeros_against_finite_differences(axis):
    v = np.concatenate([ZERO_ROWS, ZERO_ROWS[::-1, ::-1] * 1.1], axis=0).reshape(2, 4, 4)
    check_grads(lambda a: sg.prod(a, axis=axis, keepdims=True), [v], order=2)
    check_grads(lambda a: sg.prod(a[:, :3, :3], axis=axis), [v], order=3)


@pytest.mark.parametrize("row", range(len(ZERO_ROWS)))
def test_cumprod_jacobian_and_second_derivatives_at_zeros(row):
    v = ZERO_ROWS[row]
    n = len(v)
    x = sg.variable("x", (n,))
    y = sg.cumprod(x)
    want_j = np.array([[others(v[:k + 1], {i}) if i <= k else 0.0 for i in range(n)]
                       for k in range(n)])
    for mode in ("rev", "fwd"):
        np.testing.assert_allclose(sg.evaluate(sg.jacobian(y, x, mode=mode), {x: v}), want_j,
                                   atol=1e-15)
    w = rng.standard_normal(n)
    loss = sg.sum(y * w)
    want_h = np.zeros((n, n))
    for k in range(n):
        for i, j in itertools.permutations(range(k + 1), 2):
            want_h[i, j] += w[k] * others(v[:k + 1], {i, j})
    np.testing.assert_allclose(sg.evaluate(sg.hessian(loss, x), {x: v}), want_h, atol=1e-14)
    u = rng.standard_normal(n)
    np.testing.assert_allclose(sg.evaluate(sg.hvp(loss, x, u, mode="rev"), {x: v}), want_h @ u,
                               atol=1e-14)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumprod_with_zeros_against_finite_differences(axis):
    v = np.stack([ZERO_ROWS, ZERO_ROWS.T[::-1]])
    check_grads(lambda a: sg.cumprod(a, axis=axis), [v], order=2)
    check_grads(lambda a: sg.cumprod(a[0, :, 1:], axis=axis), [v], order=3)


def test_cumprod_of_a_long_axis_is_exact():
    v = rng.uniform(0.9, 1.1, 37)
    v[[5, 20, 21]] = 0.0
    x = sg.variable("x", (37,))
    w = rng.standard_normal(37)
    g = sg.evaluate(sg.grad(sg.sum(sg.cumprod(x) * w), x), {x: v})
    want = [sum(w[k] * others(v[:k + 1], {i}) for k in range(i, 37)) for i in range(37)]
    np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------
# var, std, cumsum, argmax derivatives
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("ddof", [0, 1, 2.5])
def test_var_gradient_closed_form_and_finite_differences(ddof):
    v = rng.standard_normal((3, 5))
    x = sg.variable("x", (3, 5))
    g = sg.evaluate(sg.grad(sg.sum(sg.var(x, axis=1, ddof=ddof)), x), {x: v})
    np.testing.assert_allclose(g, 2 * (v - v.mean(axis=1, keepdims=True)) / (5 - ddof), rtol=1e-12)
    check_grads(lambda a: sg.var(a, axis=(0, -1), ddof=ddof, keepdims=True), [v.reshape(3, 5, 1)],
                order=3)
    check_grads(lambda a: sg.std(a, axis=0, ddof=ddof), [v], order=2)


def test_std_gradient_at_constant_data_is_not_finite_like_jax():
    x = sg.variable("x", (3,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = sg.evaluate(sg.grad(sg.std(x), x), {x: np.ones(3)})
        safe = sg.evaluate(sg.grad(sg.sqrt(sg.var(x) + 1e-12), x), {x: np.ones(3)})
    assert not np.isfinite(g).any()
    np.testing.assert_array_equal(safe, 0.0)


def test_float32_stays_float32_through_derivatives():
    v = sample((3, 4), "float32")
    x = sg.variable("x", (3, 4), "float32")
    for fn in (lambda a: sg.prod(a, axis=0), lambda a: sg.var(a, axis=1, ddof=1),
               lambda a: sg.std(a), lambda a: sg.cumsum(a, axis=0), lambda a: sg.cumprod(a),
               lambda a: sg.diff(a, n=2)):
        y = fn(x)
        assert y.dtype == np.float32
        loss = sg.sum(y * y)
        g = sg.grad(loss, x)
        h = sg.hvp(loss, x, np.ones((3, 4), np.float32))
        gv, hv = sg.evaluate([g, h], {x: v})
        assert gv.dtype == hv.dtype == np.float32


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_cumsum_gradients(axis):
    check_grads(lambda a: sg.cumsum(a, axis=axis), [rng.standard_normal((3, 4))], order=2)


def test_argmax_has_no_gradient_and_no_error():
    v = np.array([[0.3, 1.2, -0.4], [2.0, 0.1, 0.5]])
    x = sg.variable("x", (2, 3))
    k = sg.cast(sg.argmax(x, axis=1, keepdims=True), x.dtype)
    g = sg.evaluate(sg.grad(sg.sum(x * k), x), {x: v})
    np.testing.assert_array_equal(g, np.broadcast_to([[1.0], [0.0]], (2, 3)))
    with pytest.raises(DTypeError):
        sg.grad(sg.sum(sg.argmin(x)), x)  # an int64 result has no derivative


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

def test_errors_name_the_problem():
    x = sg.variable("x", (2, 3))
    with pytest.raises(ShapeError, match="out of bounds"):
        sg.prod(x, axis=2)
    with pytest.raises(SymgraphError, match="repeated axis"):
        sg.var(x, axis=(0, -2))
    with pytest.raises(SymgraphError, match="ddof"):
        sg.var(x, ddof="1")
    with pytest.raises(SymgraphError, match="ddof"):
        sg.var(x, ddof=True)
    with pytest.raises(SymgraphError, match="ddof"):
        sg.std(x, ddof=float("nan"))
    with pytest.raises(DTypeError, match="complex"):
        sg.var(sg.variable("z", (3,), "complex128"))
    with pytest.raises(SymgraphError, match="None or an int"):
        sg.argmax(x, axis=(0, 1))
    with pytest.raises(SymgraphError, match="None or an int"):
        sg.cumsum(x, axis=(0,))
    with pytest.raises(ShapeError, match="out of bounds"):
        sg.cumprod(x, axis=-3)
    with pytest.raises(ShapeError, match="empty"):
        sg.argmin(sg.variable("e", (2, 0)), axis=1)
    with pytest.raises(ShapeError, match="empty"):
        sg.argmax(sg.variable("e", (0,)))
    with pytest.raises(ShapeError, match="out of bounds"):  # a 0-d array scans as shape (1,)
        sg.cumsum(sg.variable("s"), axis=1)


def test_ops_applied_directly_check_their_parameters():
    from symgraph.ops.cumulative import Cumsum
    from symgraph.ops.reduce import ArgMax, Var

    x = sg.variable("x", (2, 3))
    with pytest.raises(ShapeError):
        Cumsum(2)(x)
    with pytest.raises(ShapeError):
        ArgMax(5, False)(x)
    with pytest.raises(SymgraphError, match="ddof"):
        Var((0,), False, "one")(x)


# ---------------------------------------------------------------------------
# the other doors: compiled code, sympy, save/load
# ---------------------------------------------------------------------------

def test_compiled_code_calls_numpy_directly():
    x = sg.variable("x", (3, 4))
    outs = [sg.prod(x, axis=(0, 1), keepdims=True), sg.var(x, axis=-1, ddof=1.5),
            sg.argmin(x, axis=0, keepdims=True), sg.cumprod(x, axis=1), sg.cumsum(x)]
    f = sg.function([x], outs)
    for line in ("np.prod(x, axis=(0, 1), keepdims=True)", "np.var(x, axis=1, ddof=1.5)",
                 "np.argmin(x, axis=0, keepdims=True)", "np.cumprod(x, axis=1)"):
        assert line in f.source
    v = sample((3, 4), "float64")
    for got, want in zip(f(v), sg.evaluate(outs, {x: v})):
        np.testing.assert_array_equal(got, want)


def test_sympy_translations():
    sympy = pytest.importorskip("sympy")
    x = sg.variable("x", (3,))
    a = sympy.IndexedBase("x")
    assert sympy.simplify(sg.to_sympy(sg.prod(x)) - a[0] * a[1] * a[2]) == 0
    m = (a[0] + a[1] + a[2]) / 3
    want = ((a[0] - m) ** 2 + (a[1] - m) ** 2 + (a[2] - m) ** 2) / 2
    assert sympy.simplify(sg.to_sympy(sg.var(x, ddof=1)) - want) == 0
    assert list(sg.to_sympy(sg.cumsum(x))) == [a[0], a[0] + a[1], a[0] + a[1] + a[2]]
    with pytest.raises(SymgraphError):
        sg.to_sympy(sg.argmax(x))
    with pytest.raises(SymgraphError, match="ddof"):
        sg.to_sympy(sg.var(x, ddof=3))


def test_save_load_keeps_parameters(tmp_path):
    x = sg.variable("x", (3, 4))
    outs = [sg.var(x, axis=0, ddof=0.5, keepdims=True), sg.argmax(x, axis=1), sg.cumprod(x, axis=0)]
    sg.save(outs, tmp_path / "g.json")
    loaded = sg.load(tmp_path / "g.json")
    v = sample((3, 4), "float64")
    for got, want in zip(sg.evaluate(loaded, {"x": v}), sg.evaluate(outs, {x: v})):
        np.testing.assert_array_equal(got, want)


def test_dask_arrays_through_the_compositions():
    da = pytest.importorskip("dask.array")
    v = sample((3, 4), "float64")
    x = sg.variable("x", (3, 4))
    outs = [sg.diff(x, n=2, axis=0, prepend=0.5), sg.std(x, axis=1, ddof=1), sg.prod(x, axis=0),
            sg.argmax(x), sg.cumprod(x, axis=1)]
    outs.append(sg.grad(sg.sum(outs[-1]) + sg.sum(outs[2]), x))
    lazy = sg.evaluate(outs, {x: da.from_array(v, chunks=2)})
    for got, want in zip(lazy, sg.evaluate(outs, {x: v})):
        np.testing.assert_allclose(got.compute(scheduler="synchronous"), want, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "uint8", "uint32", "int64", "float16",
                                   "float32", "complex64"])
def test_sum_and_trace_take_numpys_dtype(dtype):
    v = np.ones((3, 3), dtype)
    x = sg.variable("x", v.shape, dtype)
    for y, want in [(sg.sum(x), np.sum(v)), (sg.sum(x, axis=0), np.sum(v, axis=0)),
                    (sg.trace(x), np.trace(v))]:
        got = sg.evaluate(y, {x: v})
        assert y.dtype == got.dtype == np.asarray(want).dtype, dtype
        np.testing.assert_array_equal(got, want)
        assert np.asarray(sg.function([x], y)(v)).dtype == got.dtype

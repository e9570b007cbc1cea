"""numpy names a newcomer misses (symgraph/ops/numpy_compat.py): identity, tri, dstack,
meshgrid, vander, polyval, convolve, correlate, average, cov, corrcoef, median, quantile,
percentile, nansum, nanmean; the ufunc cbrt; the constants pi, e, inf, nan, newaxis.

Each case is written once, ``lambda m, a: m.median(a, 0)``, and run with ``m`` being numpy
on arrays and symgraph on variables: values and dtypes against numpy, derivatives (orders
1 and 2, both modes) against finite differences, compiled code against the evaluator.
Inputs have no ties where sort decides (median, quantile).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops.numpy_compat import QUANTILE_METHODS

rng = np.random.default_rng(5)


def distinct(*shape: int) -> np.ndarray:
    """Values at least 0.1 apart (no ties for sort), shuffled."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - 0.1 * n + rng.uniform(0, 0.05, n)).reshape(shape)


def normal(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def weights(*shape: int) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


#: name -> (case, input arrays); every input is differentiated
CASES = {
    "dstack": (lambda m, a, b: m.dstack([a, b]), [normal(2, 3), normal(2, 3)]),
    "dstack_1d": (lambda m, a, b: m.dstack((a, b)), [normal(3), normal(3)]),
    "dstack_3d": (lambda m, a, b: m.dstack([a, b]), [normal(2, 1, 2), normal(2, 1, 3)]),
    "meshgrid_xy": (lambda m, a, b: m.meshgrid(a, b), [normal(2), normal(3)]),
    "meshgrid_ij_3": (lambda m, a, b, c: m.meshgrid(a, b, c, indexing="ij"),
                      [normal(2), normal(3), normal(2, 2)]),
    "meshgrid_sparse": (lambda m, a, b, c: m.meshgrid(a, b, c, sparse=True),
                        [normal(2), normal(3), normal(4)]),
    "meshgrid_one": (lambda m, a: m.meshgrid(a), [normal(3)]),
    "vander": (lambda m, a: m.vander(a), [np.array([0.5, -1.2, 0.0, 2.0])]),
    "vander_n_increasing": (lambda m, a: m.vander(a, 5, increasing=True), [normal(3)]),
    "vander_n1": (lambda m, a: m.vander(a, 1), [normal(3)]),
    "polyval": (lambda m, x: m.polyval(np.array([1.5, -2.0, 0.5, 3.0]), x), [normal(2, 3)]),
    "polyval_nodes": (lambda m, p, x: m.polyval(p, x), [normal(4), normal(5)]),
    "polyval_list": (lambda m, p, x: m.polyval([p[0], p[0] * p[1], p[1]], x), [normal(2), normal(3)]),
    "polyval_scalar_x": (lambda m, p: m.polyval(p, 1.5), [normal(3)]),
    "average": (lambda m, a: m.average(a), [normal(3, 4)]),
    "average_axis": (lambda m, a: m.average(a, axis=-1, keepdims=True), [normal(3, 4)]),
    "average_weights": (lambda m, a, w: m.average(a, weights=w), [normal(3, 4), weights(3, 4)]),
    "average_weights_axis": (lambda m, a, w: m.average(a, axis=1, weights=w),
                             [normal(2, 3, 4), weights(3)]),
    "average_weights_axes_order": (lambda m, a, w: m.average(a, axis=(2, 0), weights=w),
                                   [normal(2, 3, 4), weights(4, 2)]),
    "average_returned": (lambda m, a, w: list(m.average(a, 0, w, returned=True)),
                         [normal(3, 2), weights(3)]),
    "average_returned_plain": (lambda m, a: list(m.average(a, 0, returned=True, keepdims=True)),
                               [normal(3, 2)]),
    "cov": (lambda m, a: m.cov(a), [normal(3, 5)]),
    "cov_rowvar_false_bias": (lambda m, a: m.cov(a, rowvar=False, bias=True), [normal(6, 2)]),
    "cov_1d_ddof": (lambda m, a: m.cov(a, ddof=2), [normal(6)]),
    "cov_y": (lambda m, a, b: m.cov(a, b), [normal(2, 5), normal(5)]),
    "cov_y_rowvar_false": (lambda m, a, b: m.cov(a, b, rowvar=False), [normal(5, 2), normal(5, 3)]),
    "cov_weights": (lambda m, a: m.cov(a, fweights=[1, 2, 1, 3, 1], aweights=[0.5, 1, 2, 1, 0.7]),
                    [normal(2, 5)]),
    "cov_fweights_ddof0": (lambda m, a: m.cov(a, fweights=[2, 1, 1, 3], ddof=0), [normal(2, 4)]),
    "corrcoef": (lambda m, a: m.corrcoef(a), [normal(3, 6)]),
    "corrcoef_y": (lambda m, a, b: m.corrcoef(a, b, rowvar=False), [normal(6, 2), normal(6)]),
    "corrcoef_one": (lambda m, a: m.corrcoef(a), [normal(5)]),
    "median_odd": (lambda m, a: m.median(a), [distinct(5)]),
    "median_even": (lambda m, a: m.median(a), [distinct(2, 3)]),
    "median_axis": (lambda m, a: m.median(a, axis=0), [distinct(4, 3)]),
    "median_neg_axis_keepdims": (lambda m, a: m.median(a, axis=-1, keepdims=True),
                                 [distinct(2, 3, 5)]),
    "median_axes": (lambda m, a: m.median(a, axis=(0, 2)), [distinct(2, 3, 2)]),
    "quantile": (lambda m, a: m.quantile(a, 0.3), [distinct(7)]),
    "quantile_q_array_axis": (lambda m, a: m.quantile(a, [0.1, 0.5, 0.95], axis=1),
                              [distinct(3, 6)]),
    "quantile_q_2d_keepdims": (lambda m, a: m.quantile(a, np.array([[0.2, 0.6], [0.0, 1.0]]),
                                                       axis=0, keepdims=True), [distinct(5, 2)]),
    "quantile_axes_hazen": (lambda m, a: m.quantile(a, [0.3, 0.8], axis=(0, 1), method="hazen"),
                            [distinct(2, 3, 2)]),
    "quantile_midpoint": (lambda m, a: m.quantile(a, [0.3, 0.5], method="midpoint"), [distinct(6)]),
    "quantile_nearest": (lambda m, a: m.quantile(a, [0.3, 0.62], axis=-1, method="nearest"),
                         [distinct(2, 5)]),
    "percentile": (lambda m, a: m.percentile(a, [10, 50, 90], axis=0), [distinct(6, 2)]),
    "percentile_weibull": (lambda m, a: m.percentile(a, 40.0, method="weibull"), [distinct(9)]),
    "nansum": (lambda m, a: m.nansum(a, axis=1), [normal(3, 4)]),
    "nanmean": (lambda m, a: m.nanmean(a, axis=(0, 2), keepdims=True), [normal(2, 3, 2)]),
    "convolve": (lambda m, a, v: m.convolve(a, v), [normal(6), normal(3)]),
    "convolve_same_longer_v": (lambda m, a, v: m.convolve(a, v, "same"), [normal(3), normal(6)]),
    "convolve_valid": (lambda m, a, v: m.convolve(a, v, mode="valid"), [normal(7), normal(4)]),
    "correlate": (lambda m, a, v: m.correlate(a, v), [normal(6), normal(3)]),
    "correlate_full_longer_v": (lambda m, a, v: m.correlate(a, v, "full"), [normal(3), normal(5)]),
    "correlate_same_even": (lambda m, a, v: m.correlate(a, v, "same"), [normal(5), normal(4)]),
    "cbrt": (lambda m, a: m.cbrt(a), [np.array([-8.0, -0.3, 0.7, 27.0, 2.5])]),
}


def _build(fn, arrays):
    xs = [sg.variable(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
    out = fn(sg, *xs)
    return xs, (list(out) if isinstance(out, tuple) else out)


def _run(fn, arrays):
    xs, out = _build(fn, arrays)
    return sg.evaluate(out, dict(zip(xs, arrays)))


def _pairs(got, want):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, list) and len(got) == len(want)
        return list(zip(got, want))
    return [(got, want)]


def assert_like_numpy(got, want, rtol=1e-13, atol=1e-14):
    for g, w in _pairs(got, want):
        w = np.asarray(w)
        assert np.shape(g) == w.shape and np.asarray(g).dtype == w.dtype, (np.shape(g), w.shape,
                                                                           np.asarray(g).dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_equal_numpy(case):
    fn, arrays = CASES[case]
    assert_like_numpy(_run(fn, arrays), fn(np, *arrays))


@pytest.mark.parametrize("case", sorted(CASES))
def test_derivatives_match_finite_differences(case):
    fn, arrays = CASES[case]
    sg.testing.check_grads(lambda *xs: _as_list(fn(sg, *xs)), arrays, order=2)


def _as_list(out):
    return list(out) if isinstance(out, tuple) else out


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_function_equals_evaluate(case):
    fn, arrays = CASES[case]
    xs, out = _build(fn, arrays)
    compiled = sg.function(xs, out)(*arrays)
    for c, e in _pairs(compiled, sg.evaluate(out, dict(zip(xs, arrays)))):
        np.testing.assert_array_equal(c, e)


@pytest.mark.parametrize("case", sorted(c for c in CASES if not c.startswith(("cov", "corrcoef",
                                                                               "vander"))))
def test_float32_stays_float32(case):
    """float32 in, float32 out (cov/corrcoef/vander are float64 in numpy too: tested below);
    a float64 constant operand (polyval's p, a q array, a weight array) promotes as numpy."""
    fn, arrays = CASES[case]
    arrays32 = [a.astype(np.float32) for a in arrays]
    want = fn(np, *arrays32)
    assert_like_numpy(_run(fn, arrays32), want, rtol=2e-6, atol=2e-6)


# ---------------------------------------------------------------------------
# batteries of shapes, axes, dtypes, methods (values against numpy)
# ---------------------------------------------------------------------------

DTYPES = [np.float64, np.float32, np.int64]
AXES = [None, 0, -1, (0, 2), (2, 0, 1)]


def _sample(dtype, shape=(3, 4, 5)):
    a = distinct(*shape)
    return (a * 10).astype(dtype) if np.dtype(dtype).kind == "i" else a.astype(dtype)


def _tol(*dtypes):
    return dict(rtol=3e-6, atol=3e-6) if np.float32 in dtypes else dict(rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_median_battery(dtype, axis, keepdims):
    for shape in [(3, 4, 5), (2, 4, 6), (1, 3, 2)]:
        a = _sample(dtype, shape)
        fn = lambda m, x: m.median(x, axis=axis, keepdims=keepdims)  # noqa: E731
        assert_like_numpy(_run(fn, [a]), fn(np, a), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", QUANTILE_METHODS)
@pytest.mark.parametrize("q", [0.0, 0.37, 1.0, 1, np.float32(0.6), np.array(0.5),
                               np.array([0.05, 0.5, 0.999]), np.array([[0.1, 0.9], [0.25, 0.75]])],
                         ids=lambda q: repr(q).replace(" ", ""))
def test_quantile_battery(dtype, method, q):
    a = _sample(dtype)
    for axis, keepdims in [(None, False), (1, False), (-1, True), ((0, 2), True)]:
        fn = lambda m, x: m.quantile(x, q, axis=axis, method=method, keepdims=keepdims)  # noqa: E731
        assert_like_numpy(_run(fn, [a]), fn(np, a), **_tol(dtype))


@pytest.mark.parametrize("q", [0, 12.5, 100, [3, 50.0, 97]])
def test_percentile_battery(q):
    for a in (_sample(np.float64), _sample(np.float32), _sample(np.int64)):
        for method in ("linear", "lower", "median_unbiased"):
            fn = lambda m, x: m.percentile(x, q, axis=(0, 1), method=method)  # noqa: E731
            assert_like_numpy(_run(fn, [a]), fn(np, a), **_tol(a.dtype.type))


@pytest.mark.parametrize("n", range(1, 8))
@pytest.mark.parametrize("m", range(1, 8))
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_and_correlate_every_length_pair(n, m, mode):
    a, v = normal(n), normal(m)
    for fn in (lambda M, x, y: M.convolve(x, y, mode), lambda M, x, y: M.correlate(x, y, mode)):
        assert_like_numpy(_run(fn, [a, v]), fn(np, a, v))


@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.int64, np.int64),
                                    (np.int64, np.float32), (np.float32, np.float64)])
def test_convolve_dtypes_are_numpys(dtypes):
    a, v = (normal(5) * 4).astype(dtypes[0]), (normal(3) * 4).astype(dtypes[1])
    for fn in (lambda M, x, y: M.convolve(x, y), lambda M, x, y: M.correlate(x, y, "same")):
        assert_like_numpy(_run(fn, [a, v]), fn(np, a, v), **_tol(*dtypes))


def test_convolve_takes_scalars_and_lists_as_numpy():
    assert_like_numpy(sg.evaluate(sg.convolve([1.0, 2.0], [1.0, 1.0, 1.0])),
                      np.convolve([1.0, 2.0], [1.0, 1.0, 1.0]))
    assert_like_numpy(sg.evaluate(sg.convolve(2.0, [1.0, 3.0], "same")),
                      np.convolve(2.0, [1.0, 3.0], "same"))
    with pytest.raises(sg.ShapeError, match="one-dimensional"):  # numpy: too small depth
        sg.correlate(2.0, [1.0, 3.0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
def test_average_nansum_nanmean_battery(dtype, axis):
    a = _sample(dtype)
    with_nans = np.where(a > a.mean(), np.nan, a) if a.dtype.kind == "f" else a
    cases = [lambda m, x: m.average(x, axis=axis),
             lambda m, x: m.average(x, axis=axis, keepdims=True, returned=True),
             lambda m, x: m.nansum(x, axis=axis),
             lambda m, x: m.nanmean(x, axis=axis, keepdims=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN means, as numpy
        for fn in cases:
            assert_like_numpy(_run(fn, [with_nans]), fn(np, with_nans), **_tol(dtype))


def test_nan_functions_on_all_nan_slices_and_dtypes():
    a = np.array([[np.nan, np.nan], [1.0, np.nan]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for fn in (lambda m, x: m.nansum(x, 1), lambda m, x: m.nanmean(x, 1),
                   lambda m, x: m.nanmean(x, dtype=np.float64), lambda m, x: m.nansum(x, dtype=int)):
            assert_like_numpy(_run(fn, [a]), fn(np, a))


def test_average_weights_dtypes_and_returned_sum():
    a, w = np.arange(6).reshape(2, 3), np.array([1, 2, 3], np.int64)
    fn = lambda m, x, y: list(m.average(x, axis=1, weights=y, returned=True))  # noqa: E731
    assert_like_numpy(_run(fn, [a, w]), fn(np, a, w))
    a32, w32 = normal(2, 3).astype(np.float32), weights(3).astype(np.float32)
    assert_like_numpy(_run(fn, [a32, w32]), fn(np, a32, w32), rtol=2e-6)


@pytest.mark.parametrize("shape", [(3, 5), (1, 4), (4,), (2, 7)])
@pytest.mark.parametrize("rowvar", [True, False])
def test_cov_and_corrcoef_battery(shape, rowvar):
    m, y = normal(*shape), normal(*shape)
    cases = [lambda M, a: M.cov(a, rowvar=rowvar), lambda M, a: M.cov(a, rowvar=rowvar, bias=True),
             lambda M, a: M.cov(a, rowvar=rowvar, ddof=0),
             lambda M, a: M.cov(a.astype(np.float32), rowvar=rowvar),
             lambda M, a: M.cov(a.astype(np.float32), rowvar=rowvar, dtype=np.float32),
             lambda M, a: M.corrcoef(a, rowvar=rowvar)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # N - ddof <= 0 for some shapes
        for fn in cases:
            assert_like_numpy(_run(fn, [m]), fn(np, m), rtol=2e-6)
        if shape[0] > 1 or rowvar:  # numpy cannot join y in the other case
            for fn in (lambda M, a, b: M.cov(a, b, rowvar=rowvar),
                       lambda M, a, b: M.corrcoef(a, b, rowvar=rowvar)):
                assert_like_numpy(_run(fn, [m, y]), fn(np, m, y))
    n = shape[-1] if rowvar else shape[0]
    if len(shape) == 2 and n > 2:
        fw, aw = rng.integers(1, 4, n), weights(n)
        for ddof in (None, 0, 1, 2):
            for kw in ({"fweights": fw}, {"aweights": aw}, {"fweights": fw, "aweights": aw}):
                fn = lambda M, a: M.cov(a, rowvar=rowvar, ddof=ddof, **kw)  # noqa: E731
                assert_like_numpy(_run(fn, [m]), fn(np, m))


def test_cov_warns_as_numpy_when_there_are_too_few_observations():
    x = sg.variable("x", (2, 1))
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        c = sg.cov(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_like_numpy(sg.evaluate(c, {x: np.ones((2, 1))}), np.cov(np.ones((2, 1))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("N, increasing", [(None, False), (0, False), (1, True), (4, True),
                                           (6, False)])
def test_vander_battery(dtype, N, increasing):
    x = np.array([2, -1, 0, 3], dtype)
    fn = lambda m, a: m.vander(a, N, increasing)  # noqa: E731
    assert_like_numpy(_run(fn, [x]), fn(np, x))


@pytest.mark.parametrize("p_dtype, x_dtype", [(np.float64, np.float32), (np.float32, np.float32),
                                              (np.int64, np.int64), (np.int64, np.float64)])
def test_polyval_dtypes_are_numpys(p_dtype, x_dtype):
    p, x = np.array([3, -1, 2], p_dtype), np.array([[1, 2], [-2, 4]], x_dtype)
    fn = lambda m, c, a: m.polyval(c, a)  # noqa: E731
    assert_like_numpy(_run(fn, [p, x]), fn(np, p, x))
    assert sg.evaluate(sg.polyval([3, 0, 1], 5)) == 76


def test_identity_tri_and_grids_equal_numpy():
    assert_like_numpy(sg.evaluate(sg.identity(3)), np.identity(3))
    assert_like_numpy(sg.evaluate(sg.identity(2, np.float32)), np.identity(2, np.float32))
    for args in [(3,), (3, 5), (4, 2, -1), (3, 3, 1, int), (2, 4, 2, np.float32), (0,)]:
        assert_like_numpy(sg.evaluate(sg.tri(*args)), np.tri(*args))
    x, y = normal(3), normal(2)
    for kw in ({}, {"indexing": "ij"}, {"sparse": True}, {"copy": False, "indexing": "ij"}):
        got = sg.evaluate(list(sg.meshgrid(x, y, **kw)))
        assert_like_numpy(got, list(np.meshgrid(x, y, **kw)))
    assert sg.meshgrid() == () == np.meshgrid()
    assert isinstance(sg.meshgrid(x, y), tuple)
    assert_like_numpy(sg.evaluate(sg.dstack([x, x.astype(np.float32)])),
                      np.dstack([x, x.astype(np.float32)]))


def test_median_and_quantile_give_nan_where_the_sample_holds_one():
    a = np.array([[1.0, np.nan, 2.0, 5.0], [3.0, 4.0, 0.0, -1.0]])
    for fn in (lambda m, x: m.median(x, axis=1), lambda m, x: m.quantile(x, [0.2, 0.7], axis=1),
               lambda m, x: m.percentile(x, 50, axis=1, method="lower"),
               lambda m, x: m.median(x)):
        assert_like_numpy(_run(fn, [a]), fn(np, a))
    x = sg.variable("x", a.shape)
    (g,) = sg.grad(sg.sum(sg.median(x, axis=1)), [x])
    np.testing.assert_array_equal(sg.evaluate(g, {x: a}), [[0, 0, 0, 0], [0.5, 0, 0.5, 0]])


def test_median_of_0d_and_length_one():
    for a in (np.array(2.5), np.array([[1.5]]), np.array([4, 7])):
        assert_like_numpy(sg.evaluate(sg.median(a)), np.median(a))
        assert_like_numpy(sg.evaluate(sg.quantile(a, 0.3)), np.quantile(a, 0.3))


def test_nan_functions_pass_no_gradient_to_nans():
    v = np.array([[1.0, np.nan, 2.0], [np.nan, 3.0, -1.0]])
    kept = np.isfinite(v).astype(float)
    x = sg.variable("x", v.shape)
    s, mu = sg.nansum(x) ** 2, sg.nanmean(x, axis=1)
    gs, gm = sg.grad(s, [x])[0], sg.grad(sg.sum(mu), [x])[0]
    (h,) = sg.grad(sg.sum(gs), [x])  # second order: 2 * (count of non-NaNs) where kept
    got_s, got_gs, got_gm, got_h = sg.evaluate([s, gs, gm, h], {x: v})
    assert got_s == np.nansum(v) ** 2
    np.testing.assert_array_equal(got_gs, 2 * np.nansum(v) * kept)
    np.testing.assert_array_equal(got_gm, [[0.5, 0, 0.5], [0, 0.5, 0.5]])
    np.testing.assert_array_equal(got_h, 8 * kept)


def test_cbrt_matches_numpy_and_keeps_dtypes():
    v = np.array([-27.0, -1e-9, 0.0, 1e-300, 8.0, np.inf, -np.inf, np.nan])
    for dtype in (np.float64, np.float32, np.int8, np.int64):
        a = v[np.isfinite(v)].astype(dtype) if np.dtype(dtype).kind == "i" else v.astype(dtype)
        with np.errstate(invalid="ignore"):
            assert_like_numpy(sg.evaluate(sg.cbrt(a)), np.cbrt(a), rtol=0, atol=0)
    x = sg.variable("x")
    (d,) = sg.grad(sg.cbrt(x), [x])
    np.testing.assert_allclose(sg.evaluate(d, {x: -8.0}), 1 / 12, rtol=1e-15)
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        assert np.isinf(sg.evaluate(d, {x: 0.0}))


def test_constants_are_numpys():
    assert (sg.pi, sg.e, sg.inf, sg.newaxis) == (np.pi, np.e, np.inf, np.newaxis)
    assert np.isnan(sg.nan) and type(sg.pi) is float
    assert {"pi", "e", "inf", "nan", "newaxis"} <= set(sg.__all__)
    x = sg.variable("x", (3,))
    assert x[:, sg.newaxis].shape == (3, 1)


def test_numpy_functions_on_nodes_build_these():
    v = distinct(5)
    x = sg.variable("x", (5,))
    for fn in (lambda m, a: m.median(a), lambda m, a: m.quantile(a, [0.2, 0.9]),
               lambda m, a: m.convolve(a, [1.0, -1.0]), lambda m, a: m.polyval([2.0, 1.0], a),
               lambda m, a: m.average(a, weights=np.arange(1.0, 6.0)),
               lambda m, a: m.cov(m.stack([a, a * a])), lambda m, a: m.nanmean(a),
               lambda m, a: list(m.meshgrid(a, a[:2]))):
        node = fn(np, x)
        got = sg.evaluate(node, {x: v})
        assert_like_numpy(got, fn(np, v))


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------

X2 = sg.variable("x2", (3, 4), graph=sg.Graph())


@pytest.mark.parametrize("call, error, match", [
    (lambda x: sg.tri(2.5), sg.SymgraphError, "integers"),
    (lambda x: sg.tri(-1), sg.ShapeError, "negative"),
    (lambda x: sg.tri(2, k=0.5), sg.SymgraphError, "k must be an integer"),
    (lambda x: sg.identity(2, "U3"), sg.DTypeError, "not numeric"),
    (lambda x: sg.dstack(3.0), sg.SymgraphError, "sequence"),
    (lambda x: sg.dstack([]), sg.SymgraphError, "at least one"),
    (lambda x: sg.meshgrid(x, indexing="yx"), sg.SymgraphError, "indexing"),
    (lambda x: sg.vander(x), sg.ShapeError, "one-dimensional"),
    (lambda x: sg.vander(x[0], -1), sg.ShapeError, "non-negative"),
    (lambda x: sg.polyval(2.0, x), sg.ShapeError, "sequence of coefficients"),
    (lambda x: sg.polyval(np.poly1d([1.0, 2.0]), x), sg.SymgraphError, "poly1d"),
    (lambda x: sg.convolve(x, [1.0]), sg.ShapeError, "one-dimensional"),
    (lambda x: sg.convolve(x[0], []), sg.ShapeError, "v cannot be empty"),
    (lambda x: sg.correlate(x[0], x[1], "middle"), sg.SymgraphError, "mode"),
    (lambda x: sg.correlate(x[0], x[1] * 1j), sg.DTypeError, "conj"),
    (lambda x: sg.average(x, weights=np.ones(4)), sg.SymgraphError, "axis must be given"),
    (lambda x: sg.average(x, axis=1.5), sg.SymgraphError, "axis must be"),
    (lambda x: sg.average(x, axis=1, weights=np.ones(3)), sg.ShapeError, "must match"),
    (lambda x: sg.average(x, axis=0, weights=[1.0, -1.0, 0.0]), sg.SymgraphError, "sum to zero"),
    (lambda x: sg.cov(sg.reshape(x, (3, 2, 2))), sg.ShapeError, "more than 2 dimensions"),
    (lambda x: sg.cov(x, ddof=1.5), sg.SymgraphError, "ddof must be an integer"),
    (lambda x: sg.cov(x, x[:, :3]), sg.ShapeError, "same number of observations"),
    (lambda x: sg.cov(x, fweights=[1, 2, 1.5, 1]), sg.SymgraphError, "fweights must be integers"),
    (lambda x: sg.cov(x, aweights=[1.0, -2.0, 1.0, 1.0]), sg.SymgraphError, "negative"),
    (lambda x: sg.cov(x, aweights=[1.0, 2.0]), sg.ShapeError, "one weight per observation"),
    (lambda x: sg.cov(x, fweights=x[0]), sg.SymgraphError, "not a node"),
    (lambda x: sg.median(x, axis=2), sg.ShapeError, "out of bounds"),
    (lambda x: sg.median(x[:, :0], axis=1), sg.ShapeError, "empty"),
    (lambda x: sg.median(x, out=np.empty(4)), sg.SymgraphError, "out="),
    (lambda x: sg.quantile(x, 1.5), sg.SymgraphError, r"range \[0, 1\]"),
    (lambda x: sg.percentile(x, -3), sg.SymgraphError, r"range \[0, 100\]"),
    (lambda x: sg.quantile(x, x[0, 0]), sg.SymgraphError, "not a node"),
    (lambda x: sg.quantile(x, "half"), sg.SymgraphError, "real numbers"),
    (lambda x: sg.quantile(x, np.full((1, 1, 2), 0.5)), sg.ShapeError, "2-d at most"),
    (lambda x: sg.quantile(x, 0.5, method="cubic"), sg.SymgraphError, "not a valid method"),
    (lambda x: sg.quantile(x, 0.5, weights=np.ones(12)), sg.SymgraphError, "weights"),
    (lambda x: sg.median(x * 1j), sg.DTypeError, "complex"),
    (lambda x: sg.nanmean(x, dtype=np.int64), sg.DTypeError, "dtype must be"),
    (lambda x: sg.nansum(x, out=np.empty(())), sg.SymgraphError, "out="),
])
def test_bad_input_is_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(X2)

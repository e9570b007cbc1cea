"""numpy's other spellings and composites (symgraph/ops/numpy_compat.py), sinc, and the
coverage of autograd's differentiable numpy functions.

Each case is written once, ``lambda m, a: m.rot90(a, 3)``, and run with ``m`` being
numpy on arrays and symgraph on variables: values against numpy, derivatives (orders
1 and 2, both modes) against finite differences with ``sg.testing.check_grads``.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg

#: numpy 2 deprecates 2-vectors in np.cross (the reference here); sg.cross keeps numpy 1's rule
pytestmark = pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")

rng = np.random.default_rng(11)
COORDS = np.array([0.0, 0.5, 1.7, 2.0, 3.1])

#: name -> (case, input arrays)
CASES = {
    "absolute": (lambda m, a: m.absolute(a), [rng.uniform(0.2, 1, (3,)) * [-1, 1, -1]]),
    "fabs": (lambda m, a: m.fabs(a), [rng.uniform(0.2, 1, (2, 2)) * [-1, 1]]),
    "amax": (lambda m, a: m.amax(a, axis=0), [rng.permutation(6).astype(float).reshape(2, 3)]),
    "amin": (lambda m, a: m.amin(a), [rng.permutation(6).astype(float).reshape(2, 3)]),
    "remainder": (lambda m, a: m.remainder(a, 0.7), [np.array([1.1, -2.35, 3.3])]),
    "true_divide": (lambda m, a, b: m.true_divide(a, b), [rng.normal(size=3),
                                                          rng.uniform(0.5, 2, 3)]),
    "deg2rad": (lambda m, a: m.deg2rad(a), [rng.normal(size=3) * 90]),
    "rad2deg": (lambda m, a: m.rad2deg(a), [rng.normal(size=3)]),
    "radians": (lambda m, a: m.radians(a), [rng.normal(size=(2, 2))]),
    "degrees": (lambda m, a: m.degrees(a), [rng.normal(size=(2,))]),
    "atleast_1d": (lambda m, a: m.atleast_1d(a), [np.array(1.5)]),
    "atleast_2d": (lambda m, a: m.atleast_2d(a), [rng.normal(size=3)]),
    "atleast_3d_1d": (lambda m, a: m.atleast_3d(a), [rng.normal(size=3)]),
    "atleast_3d_2d": (lambda m, a: m.atleast_3d(a), [rng.normal(size=(2, 3))]),
    "atleast_2d_many": (lambda m, a, b: m.atleast_2d(a, b)[1], [np.array(2.0), rng.normal(size=2)]),
    "rollaxis": (lambda m, a: m.rollaxis(a, 2), [rng.normal(size=(2, 3, 4))]),
    "rollaxis_start": (lambda m, a: m.rollaxis(a, 0, 3), [rng.normal(size=(2, 3, 4))]),
    "rollaxis_neg": (lambda m, a: m.rollaxis(a, -1, -2), [rng.normal(size=(2, 3, 4))]),
    "fliplr": (lambda m, a: m.fliplr(a), [rng.normal(size=(2, 3))]),
    "flipud": (lambda m, a: m.flipud(a), [rng.normal(size=(3, 2))]),
    "rot90": (lambda m, a: m.rot90(a), [rng.normal(size=(2, 3))]),
    "rot90_k2": (lambda m, a: m.rot90(a, 2), [rng.normal(size=(2, 3))]),
    "rot90_k3_axes": (lambda m, a: m.rot90(a, 3, axes=(2, 0)), [rng.normal(size=(2, 3, 4))]),
    "rot90_negative_k": (lambda m, a: m.rot90(a, -1), [rng.normal(size=(2, 3))]),
    "hsplit": (lambda m, a: m.hsplit(a, 2)[1], [rng.normal(size=(2, 4))]),
    "hsplit_1d": (lambda m, a: m.hsplit(a, [1])[0], [rng.normal(size=(3,))]),
    "vsplit": (lambda m, a: m.vsplit(a, [1, 2])[2], [rng.normal(size=(4, 2))]),
    "dsplit": (lambda m, a: m.dsplit(a, 2)[0], [rng.normal(size=(1, 2, 4))]),
    "cross": (lambda m, a, b: m.cross(a, b), [rng.normal(size=(4, 3)), rng.normal(size=(3,))]),
    "cross_axes": (lambda m, a, b: m.cross(a, b, axisa=0, axisb=1, axisc=0),
                   [rng.normal(size=(3, 2)), rng.normal(size=(2, 3))]),
    "cross_2d_3d": (lambda m, a, b: m.cross(a, b), [rng.normal(size=(2,)), rng.normal(size=(3,))]),
    "gradient_1d": (lambda m, a: m.gradient(a), [rng.normal(size=5)]),
    "gradient_spacing": (lambda m, a: m.gradient(a, 0.5), [rng.normal(size=5)]),
    "gradient_edge2": (lambda m, a: m.gradient(a, 2.0, edge_order=2), [rng.normal(size=6)]),
    "gradient_coords": (lambda m, a: m.gradient(a, COORDS), [rng.normal(size=5)]),
    "gradient_coords_edge2": (lambda m, a: m.gradient(a, COORDS, edge_order=2), [rng.normal(size=5)]),
    "gradient_2d_axis": (lambda m, a: m.gradient(a, axis=0), [rng.normal(size=(4, 3))]),
    "gradient_2d_all": (lambda m, a: m.gradient(a, 1.0, 2.0)[1], [rng.normal(size=(3, 4))]),
    "gradient_2_points": (lambda m, a: m.gradient(a), [rng.normal(size=2)]),
    "sinc": (lambda m, a: m.sinc(a), [np.array([-2.3, -0.5, 0.0, 1e-9, 0.01, 0.4, 3.3])]),
}


def _run(case, arrays):
    fn, _ = CASES[case]
    xs = [sg.variable(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
    return sg.evaluate(fn(sg, *xs), dict(zip(xs, arrays)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_equal_numpy(case):
    fn, arrays = CASES[case]
    want = fn(np, *arrays)
    got = _run(case, arrays)
    assert np.shape(got) == np.shape(want) and got.dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_stays_float32(case):
    fn, arrays = CASES[case]
    arrays32 = [a.astype(np.float32) for a in arrays]
    got = _run(case, arrays32)
    assert got.dtype == np.float32, case
    np.testing.assert_allclose(got, np.asarray(fn(np, *arrays), dtype=np.float64), rtol=2e-5,
                               atol=2e-5)


@pytest.mark.parametrize("case", sorted(set(CASES) - {"sinc"}))
def test_derivatives_match_finite_differences(case):
    fn, arrays = CASES[case]
    sg.testing.check_grads(lambda *xs: fn(sg, *xs), arrays, order=2)


def test_nan_to_num_replaces_and_passes_the_gradient_only_where_finite():
    v = np.array([1.5, np.nan, np.inf, -np.inf, -2.0])
    x = sg.variable("x", v.shape)
    y = sg.nan_to_num(x)
    (g,) = sg.grad(sg.sum(y * np.arange(1.0, 6.0)), [x])
    got, dg = sg.evaluate([y, g], {x: v})
    np.testing.assert_array_equal(got, np.nan_to_num(v))
    np.testing.assert_array_equal(dg, [1.0, 0.0, 0.0, 0.0, 5.0])
    custom = sg.evaluate(sg.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0), {x: v})
    np.testing.assert_array_equal(custom, np.nan_to_num(v, nan=-1.0, posinf=9.0, neginf=-9.0))
    i = sg.variable("i", (2,), "int64")
    assert sg.nan_to_num(i) is i


def test_partition_puts_the_kth_element_where_numpy_does():
    v = rng.permutation(10).astype(float).reshape(2, 5)
    x = sg.variable("x", v.shape)
    got = sg.evaluate(sg.partition(x, 2), {x: v})
    np.testing.assert_array_equal(got[:, 2], np.partition(v, 2)[:, 2])
    assert np.all(got[:, :2] <= got[:, 2:3]) and np.all(got[:, 3:] >= got[:, 2:3])
    flat = sg.evaluate(sg.partition(x, [1, 7], axis=None), {x: v})
    np.testing.assert_array_equal(flat[[1, 7]], np.partition(v, [1, 7], axis=None)[[1, 7]])
    with pytest.raises(sg.ShapeError, match="out of bounds"):
        sg.partition(x, 5)


def _sinc_derivative(k: int, x: np.ndarray) -> np.ndarray:
    """The k-th derivative of sinc from 20 terms of its Maclaurin series (exact for |x| < 0.1)."""
    import math

    y = np.pi * x
    total = np.zeros_like(y)
    for j in range(20):
        if 2 * j >= k:
            c = (-1.0) ** j / math.factorial(2 * j + 1) * math.perm(2 * j, k)
            total = total + c * y ** (2 * j - k)
    return np.pi ** k * total


def test_sinc_derivatives_are_exact_at_and_near_zero():
    """d/dx sinc = 0 and d2/dx2 sinc = -pi**2/3 at 0; near 0 the formula's derivatives
    would cancel to nothing (the second derivative at 1e-9 would be 0)."""
    v = np.array([0.0, 1e-9, 0.02, -0.03])
    x = sg.variable("x", v.shape)
    (d1,) = sg.grad(sg.sum(sg.sinc(x)), [x])
    (d2,) = sg.grad(sg.sum(d1), [x])
    (d3,) = sg.grad(sg.sum(d2), [x])
    got1, got2, got3 = sg.evaluate([d1, d2, d3], {x: v})
    for k, got in ((1, got1), (2, got2), (3, got3)):
        np.testing.assert_allclose(got, _sinc_derivative(k, v), rtol=1e-12, atol=1e-300)
    sg.testing.check_grads(sg.sinc, [np.array([-2.3, -0.5, 0.4, 3.3])], order=2)


def test_errors_name_the_problem():
    x = sg.variable("x", (3,))
    with pytest.raises(sg.ShapeError, match="at least 2-d"):
        sg.fliplr(x)
    with pytest.raises(sg.ShapeError, match="2 or more dimensions"):
        sg.vsplit(x, 3)
    with pytest.raises(sg.ShapeError, match="dimension must be 2 or 3"):
        sg.cross(sg.variable("a", (4,)), x)
    with pytest.raises(sg.SymgraphError, match="must be different"):
        sg.rot90(sg.variable("m", (2, 2)), axes=(1, 1))
    with pytest.raises(sg.ShapeError, match="needs at least 3"):
        sg.gradient(sg.variable("g", (2,)), edge_order=2)


#: autograd's differentiable numpy functions (autograd/numpy/numpy_vjps.py, version 1.9:
#: every function given a vjp there), less the complex-number ones (angle, conj, conjugate,
#: imag, real, real_if_close), autograd's internals (_array_from_scalar_or_array,
#: array_from_args, concatenate_args, make_diagonal: its diag embedding, reached here
#: through sg.diag) and msort (gone from numpy 2).  _astype and _primitive_mean/std/var
#: are astype, mean, std and var.
AUTOGRAD_DIFFERENTIABLE = """
    abs absolute add amax amin arccos arccosh arcsin arcsinh arctan arctan2 arctanh array_split
    astype atleast_1d atleast_2d atleast_3d broadcast_to clip cos cosh cross cumsum deg2rad
    degrees diag diagonal diff divide dot dsplit einsum exp exp2 expand_dims expm1 fabs fliplr
    flipud fmax fmin full gradient hsplit hypot inner kron linspace log log10 log1p log2
    logaddexp logaddexp2 matmul max maximum mean min minimum mod moveaxis multiply nan_to_num
    negative outer pad partition power prod rad2deg radians ravel reciprocal remainder repeat
    reshape roll rollaxis rot90 sin sinc sinh sort split sqrt square squeeze std subtract sum
    swapaxes tan tanh tensordot tile trace transpose tril triu true_divide var vsplit where
""".split()


def test_every_differentiable_autograd_numpy_function_has_a_symgraph_counterpart():
    missing = [name for name in AUTOGRAD_DIFFERENTIABLE
               if name != "astype" and not callable(getattr(sg, name, None))]
    assert not missing, f"no sg.<name> for {missing}"
    assert callable(sg.Node.astype)


#: autograd.numpy.linalg's differentiable functions (autograd 1.9), less ``eig``, whose
#: eigenvalues of a real matrix are complex in general
AUTOGRAD_LINALG = "cholesky det eigh inv norm pinv slogdet solve svd".split()


def test_every_differentiable_autograd_linalg_function_is_in_sg_linalg():
    missing = [name for name in AUTOGRAD_LINALG if not callable(getattr(sg.linalg, name, None))]
    assert not missing, f"no sg.linalg.<name> for {missing}"
    x = sg.variable("x", (3, 3))
    for name in AUTOGRAD_LINALG:  # numpy's own function builds the node too
        getattr(np.linalg, name)(*([x, x] if name == "solve" else [x]))


def test_float_results_take_numpys_dtypes():
    for fn, np_fn in [(sg.fabs, np.fabs), (sg.deg2rad, np.deg2rad), (sg.degrees, np.degrees)]:
        for dtype in ("int8", "int64", "bool", "float32"):
            v = np.array([1, 0], dtype)
            got = sg.evaluate(fn(v))
            assert got.dtype == np_fn(v).dtype, (fn.__name__, dtype)
            np.testing.assert_allclose(got, np_fn(v), rtol=1e-3)
    with pytest.raises(sg.DTypeError, match="fabs"):
        sg.fabs(np.array([3 + 4j]))
    with pytest.raises(sg.DTypeError, match="nan_to_num"):
        sg.nan_to_num(np.array([1j]))


def test_cross_builds_in_its_inputs_graph():
    with sg.Graph() as g:
        a, b = sg.variable("a", (3,)), sg.variable("b", (2,))
    c = sg.cross(a, b)
    assert c.graph is g
    np.testing.assert_array_equal(sg.evaluate(c, {a: [1.0, 2, 3], b: [4.0, 5]}),
                                  np.cross([1.0, 2, 3], [4.0, 5, 0]))


@pytest.mark.parametrize("call, message", [
    (lambda x: sg.gradient(x, axis=1.0), "axis must be None, an int"),
    (lambda x: sg.gradient(x, "a"), "spacing must be a number"),
    (lambda x: sg.rot90(x, "a"), "rot90: k"),
    (lambda x: sg.rot90(x, 1, 0), "axes must name two axes"),
    (lambda x: sg.partition(x, 1.5), "partition: kth"),
])
def test_bad_arguments_are_symgraph_errors(call, message):
    with pytest.raises(sg.SymgraphError, match=message):
        call(sg.variable("x", (3, 4)))


def test_scans_of_a_0d_array_are_1d_as_in_numpy():
    for fn, np_fn in [(sg.cumsum, np.cumsum), (sg.cumprod, np.cumprod)]:
        np.testing.assert_array_equal(sg.evaluate(fn(sg.constant(2.5), axis=0)),
                                      np_fn(np.array(2.5), axis=0))

"""numpy's array-manipulation functions (symgraph/ops/rearrange.py), built from the core
shape ops: values equal to numpy's bit for bit over shapes, axes, negative axes, 0-d and
empty arrays; float32 kept; derivatives (orders 1 and 2, both modes) against finite
differences; compiled code equal to the evaluator; numpy's errors as SymgraphErrors.

Each case is written once, ``lambda m, a: m.roll(a, 2, axis=-1)``, and run with ``m``
being numpy on arrays and symgraph on variables.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_grad, sympy_substitutions

rng = np.random.default_rng(7)

IDX = np.array([[2, 0, 1, 1], [0, 0, 2, 1]])  # take_along_axis on axis 0 of shape (3, 4)
ORDER = np.argsort(np.arange(24.0).reshape(2, 3, 4) % 5, axis=-1, kind="stable")

#: name -> (case, input shapes); each input is a float array of that shape
CASES = {
    # squeeze / expand_dims / ravel
    "squeeze_all": (lambda m, a: m.squeeze(a), [(1, 3, 1)]),
    "squeeze_axis0": (lambda m, a: m.squeeze(a, 0), [(1, 3, 1)]),
    "squeeze_neg": (lambda m, a: m.squeeze(a, axis=-1), [(1, 3, 1)]),
    "squeeze_tuple": (lambda m, a: m.squeeze(a, (0, -1)), [(1, 3, 1)]),
    "squeeze_0d": (lambda m, a: m.squeeze(a), [()]),
    "squeeze_none_to_0d": (lambda m, a: m.squeeze(a), [(1, 1)]),
    "squeeze_empty": (lambda m, a: m.squeeze(a, 1), [(0, 1)]),
    "expand_dims_0": (lambda m, a: m.expand_dims(a, 0), [(2, 3)]),
    "expand_dims_neg": (lambda m, a: m.expand_dims(a, -1), [(2, 3)]),
    "expand_dims_tuple": (lambda m, a: m.expand_dims(a, (0, 3)), [(2, 3)]),
    "expand_dims_tuple_neg": (lambda m, a: m.expand_dims(a, (-1, -3, 0)), [(2, 3)]),
    "expand_dims_0d": (lambda m, a: m.expand_dims(a, 0), [()]),
    "ravel": (lambda m, a: m.ravel(a), [(2, 3, 2)]),
    "ravel_0d": (lambda m, a: m.ravel(a), [()]),
    "ravel_empty": (lambda m, a: m.ravel(a), [(0, 3)]),
    # permutations
    "swapaxes": (lambda m, a: m.swapaxes(a, 0, -1), [(2, 3, 4)]),
    "swapaxes_same": (lambda m, a: m.swapaxes(a, 1, -2), [(2, 3, 4)]),
    "moveaxis": (lambda m, a: m.moveaxis(a, 0, -1), [(2, 3, 4)]),
    "moveaxis_seq": (lambda m, a: m.moveaxis(a, [0, 1], [-1, 0]), [(2, 3, 4)]),
    "moveaxis_seq2": (lambda m, a: m.moveaxis(a, (2, 0), (0, 1)), [(2, 3, 4)]),
    "flip_all": (lambda m, a: m.flip(a), [(2, 3)]),
    "flip_axis": (lambda m, a: m.flip(a, -1), [(2, 3)]),
    "flip_tuple": (lambda m, a: m.flip(a, (0, 2)), [(2, 3, 2)]),
    "flip_0d": (lambda m, a: m.flip(a), [()]),
    "flip_empty": (lambda m, a: m.flip(a, 0), [(0, 2)]),
    "roll_flat": (lambda m, a: m.roll(a, 4), [(2, 3)]),
    "roll_flat_negative": (lambda m, a: m.roll(a, -7), [(2, 3)]),
    "roll_axis": (lambda m, a: m.roll(a, 1, axis=-1), [(2, 3)]),
    "roll_big_shift": (lambda m, a: m.roll(a, 8, axis=0), [(3, 2)]),
    "roll_axes": (lambda m, a: m.roll(a, (1, -1), axis=(0, 1)), [(2, 3)]),
    "roll_repeated_axis": (lambda m, a: m.roll(a, (1, 1), axis=(1, 1)), [(2, 3)]),
    "roll_one_shift_many_axes": (lambda m, a: m.roll(a, 1, axis=(0, 1)), [(2, 3)]),
    "roll_flat_shifts": (lambda m, a: m.roll(a, (1, 2)), [(2, 3)]),
    "roll_0d": (lambda m, a: m.roll(a, 3), [()]),
    "roll_empty": (lambda m, a: m.roll(a, 2, axis=0), [(0, 3)]),
    "roll_zero": (lambda m, a: m.roll(a, 3, axis=1), [(2, 3)]),
    # copies
    "repeat_flat": (lambda m, a: m.repeat(a, 2), [(2, 3)]),
    "repeat_axis": (lambda m, a: m.repeat(a, 3, axis=-1), [(2, 2)]),
    "repeat_counts": (lambda m, a: m.repeat(a, [1, 0, 3], axis=0), [(3, 2)]),
    "repeat_one_count": (lambda m, a: m.repeat(a, [2], axis=1), [(2, 3)]),
    "repeat_zero": (lambda m, a: m.repeat(a, 0, axis=1), [(2, 3)]),
    "repeat_once": (lambda m, a: m.repeat(a, 1, axis=0), [(2, 3)]),
    "repeat_0d": (lambda m, a: m.repeat(a, 3), [()]),
    "repeat_empty": (lambda m, a: m.repeat(a, 2, axis=0), [(0, 3)]),
    "tile_int": (lambda m, a: m.tile(a, 2), [(3,)]),
    "tile_pair": (lambda m, a: m.tile(a, (2, 1)), [(2, 3)]),
    "tile_longer_reps": (lambda m, a: m.tile(a, (2, 1, 3)), [(2, 3)]),
    "tile_shorter_reps": (lambda m, a: m.tile(a, 2), [(2, 1, 3)]),
    "tile_ones": (lambda m, a: m.tile(a, (1, 1, 1)), [(2, 3)]),
    "tile_empty_reps": (lambda m, a: m.tile(a, ()), [(2, 3)]),
    "tile_0d": (lambda m, a: m.tile(a, (2, 3)), [()]),
    "tile_zero": (lambda m, a: m.tile(a, (0, 2)), [(2, 3)]),
    # splitting (lists of nodes)
    "split_sections": (lambda m, a: m.split(a, 2), [(4, 3)]),
    "split_axis": (lambda m, a: m.split(a, 3, axis=-1), [(2, 6)]),
    "split_indices": (lambda m, a: m.split(a, [1, 3], axis=1), [(2, 5)]),
    "split_negative_and_past_end": (lambda m, a: m.split(a, [-2, 9]), [(5, 2)]),
    "split_out_of_order": (lambda m, a: m.split(a, [3, 1]), [(5,)]),
    "split_empty_list": (lambda m, a: m.split(a, []), [(3, 2)]),
    "array_split_uneven": (lambda m, a: m.array_split(a, 3), [(7,)]),
    "array_split_more_than_length": (lambda m, a: m.array_split(a, 4, axis=1), [(2, 3)]),
    "array_split_empty": (lambda m, a: m.array_split(a, 2), [(0, 3)]),
    # stacking: 0-d, 1-d and 2-d pieces
    "hstack_1d": (lambda m, a, b: m.hstack([a, b]), [(2,), (3,)]),
    "hstack_2d": (lambda m, a, b: m.hstack((a, b)), [(2, 1), (2, 3)]),
    "hstack_0d": (lambda m, a, b: m.hstack([a, b, a]), [(), (2,)]),
    "hstack_3d": (lambda m, a, b: m.hstack([a, b]), [(2, 1, 2), (2, 3, 2)]),
    "vstack_1d": (lambda m, a, b: m.vstack([a, b]), [(3,), (3,)]),
    "vstack_mixed": (lambda m, a, b: m.vstack([a, b]), [(3,), (2, 3)]),
    "vstack_0d": (lambda m, a, b: m.vstack([a, b]), [(), ()]),
    "vstack_3d": (lambda m, a, b: m.vstack([a, b]), [(1, 2, 2), (2, 2, 2)]),
    "column_stack": (lambda m, a, b: m.column_stack([a, b]), [(3,), (3, 2)]),
    "column_stack_0d": (lambda m, a, b: m.column_stack([a, b]), [(), ()]),
    "column_stack_3d": (lambda m, a, b: m.column_stack((a, b)), [(2, 1, 2), (2, 3, 2)]),
    # pad
    "pad_constant_int": (lambda m, a: m.pad(a, 1), [(2, 3)]),
    "pad_constant_pairs": (lambda m, a: m.pad(a, ((1, 0), (2, 3)), constant_values=((1.5, 2), (-3, 4))),
                           [(2, 3)]),
    "pad_constant_pair": (lambda m, a: m.pad(a, (0, 2), "constant", constant_values=7), [(2, 2)]),
    "pad_constant_column": (lambda m, a: m.pad(a, [[1], [2]]), [(2, 2)]),
    "pad_constant_empty": (lambda m, a: m.pad(a, 1), [(0, 2)]),
    "pad_0d": (lambda m, a: m.pad(a, 2), [()]),
    "pad_zero_width": (lambda m, a: m.pad(a, 0, "reflect"), [(2, 3)]),
    "pad_edge": (lambda m, a: m.pad(a, ((2, 1), (0, 3)), "edge"), [(2, 3)]),
    "pad_reflect": (lambda m, a: m.pad(a, ((2, 1), (1, 2)), "reflect"), [(3, 3)]),
    "pad_reflect_wide": (lambda m, a: m.pad(a, (7, 5), mode="reflect"), [(3,)]),
    "pad_reflect_one": (lambda m, a: m.pad(a, 2, "reflect"), [(1, 2)]),
    "pad_symmetric": (lambda m, a: m.pad(a, ((1, 3), (2, 0)), "symmetric"), [(2, 3)]),
    "pad_symmetric_wide": (lambda m, a: m.pad(a, (5, 8), "symmetric"), [(3,)]),
    "pad_wrap": (lambda m, a: m.pad(a, ((1, 2), (4, 1)), "wrap"), [(2, 3)]),
    "pad_wrap_wide": (lambda m, a: m.pad(a, (7, 4), "wrap"), [(3,)]),
    "pad_3d": (lambda m, a: m.pad(a, ((1, 0), (0, 1), (2, 2)), "symmetric"), [(2, 2, 3)]),
    "pad_empty_other_axis": (lambda m, a: m.pad(a, ((0, 0), (1, 1)), "edge"), [(0, 2)]),
    # take
    "take_flat": (lambda m, a: m.take(a, [0, 5, 5, -1]), [(2, 3)]),
    "take_scalar": (lambda m, a: m.take(a, 4), [(2, 3)]),
    "take_scalar_axis": (lambda m, a: m.take(a, -1, axis=0), [(2, 3)]),
    "take_axis_2d_indices": (lambda m, a: m.take(a, [[0, 2], [2, -3]], axis=-1), [(2, 3)]),
    "take_repeats": (lambda m, a: m.take(a, [1, 1, 0, 1], axis=0), [(2, 3)]),
    "take_wrap": (lambda m, a: m.take(a, [4, -5, 2], axis=1, mode="wrap"), [(2, 3)]),
    "take_clip": (lambda m, a: m.take(a, [4, -5, 2], axis=1, mode="clip"), [(2, 3)]),
    "take_empty_indices": (lambda m, a: m.take(a, np.zeros(0, int), axis=1), [(2, 3)]),
    "take_from_empty": (lambda m, a: m.take(a, [], axis=0), [(0, 3)]),
    "take_along_axis0": (lambda m, a: m.take_along_axis(a, IDX[:, :3], 0), [(3, 3)]),
    "take_along_last": (lambda m, a: m.take_along_axis(a, ORDER, axis=-1), [(2, 3, 4)]),
    "take_along_default": (lambda m, a: m.take_along_axis(a, ORDER[:, :, :2]), [(2, 3, 4)]),
    "take_along_broadcast": (lambda m, a: m.take_along_axis(a, IDX, 1), [(1, 3)]),
    "take_along_broadcast_x": (lambda m, a: m.take_along_axis(a, IDX[:1], 0), [(3, 4)]),
    "take_along_negative": (lambda m, a: m.take_along_axis(a, -1 - IDX[:, :3], 0), [(3, 3)]),
    "take_along_none": (lambda m, a: m.take_along_axis(a, np.array([5, 0, 5, 2]), None), [(2, 3)]),
}


def _run_numpy(case, arrays):
    out = case(np, *arrays)
    return list(out) if isinstance(out, list) else [out]


def _build(case, arrays):
    xs = [sg.variable(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
    out = case(sg, *xs)
    return xs, (list(out) if isinstance(out, list) else [out])


def _inputs(shapes, dtype="float64"):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_equal_numpy_exactly(name, dtype):
    case, shapes = CASES[name]
    arrays = _inputs(shapes, dtype)
    want = _run_numpy(case, arrays)
    xs, ys = _build(case, arrays)
    assert len(ys) == len(want)
    got = sg.evaluate(ys, dict(zip(xs, arrays)))
    for y, g, w in zip(ys, got, want):
        assert y.shape == w.shape and y.dtype == w.dtype, (name, y, w.shape, w.dtype)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w, err_msg=name)


def _differentiable(name):
    case, shapes = CASES[name]
    arrays = _inputs(shapes)
    return all(a.size for a in arrays) and all(w.size for w in _run_numpy(case, arrays))


GRAD_CASES = sorted(n for n in CASES if _differentiable(n))


@pytest.mark.parametrize("name", GRAD_CASES)
def test_derivatives_match_finite_differences(name):
    """Orders 1 and 2, reverse and forward mode (and <w, Ju> == <J^T w, u>), through a sin so
    the second order differentiates the adjoint ops too."""
    case, shapes = CASES[name]

    def fn(*xs):
        out = case(sg, *xs)
        return [sg.sin(y) for y in (out if isinstance(out, list) else [out])]

    sg.testing.check_grads(fn, _inputs(shapes), order=2)


@pytest.mark.parametrize("name", GRAD_CASES)
def test_gradient_matches_numeric_grad(name):
    """The plain pattern of test_ops_fd: the gradient of <y, R> against central differences."""
    case, shapes = CASES[name]
    arrays = _inputs(shapes)
    xs, ys = _build(case, arrays)
    loss = sg.add_n([sg.sum(sg.square(y) * rng.standard_normal(y.shape)) for y in ys])
    grads = sg.evaluate(sg.grad(loss, xs), dict(zip(xs, arrays)))
    for i, a in enumerate(arrays):
        def f(v, i=i):
            vals = list(arrays)
            vals[i] = v
            return float(sg.evaluate(loss, dict(zip(xs, vals))))
        np.testing.assert_allclose(grads[i], numeric_grad(f, a), rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_function_equals_evaluate(name):
    case, shapes = CASES[name]
    arrays = _inputs(shapes)
    xs, ys = _build(case, arrays)
    loss = sg.add_n([sg.sum(sg.sin(y) * rng.standard_normal(y.shape)) for y in ys])
    grads = sg.grad(loss, xs)
    second = sg.grad(sg.add_n([sg.sum(g * g) for g in grads]), xs)
    tangents = [sg.constant(rng.standard_normal(a.shape)) for a in arrays]
    outputs = [*ys, loss, *grads, *second, *[sg.jvp(y, xs, tangents) for y in ys]]
    got = sg.function(xs, outputs)(*arrays)
    want = sg.evaluate(outputs, dict(zip(xs, arrays)))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_other_doors_save_load_dask_sympy(name, tmp_path):
    """The graphs (output and gradient) survive save/load, run on dask arrays (or are refused
    with a BackendError) and translate to sympy with numpy's values."""
    case, shapes = CASES[name]
    arrays = _inputs(shapes)
    xs, ys = _build(case, arrays)
    loss = sg.add_n([sg.sum(y * rng.standard_normal(y.shape)) for y in ys])
    outs = [*ys, *sg.grad(loss, xs)]
    feed = dict(zip(xs, arrays))
    want = sg.evaluate(outs, feed)
    sg.save(outs, tmp_path / "g.json")
    loaded = sg.evaluate(sg.load(tmp_path / "g.json"), {f"x{i}": a for i, a in enumerate(arrays)})
    for w, g in zip(want, loaded):
        np.testing.assert_array_equal(g, w, err_msg=name)
    da = pytest.importorskip("dask.array")
    try:
        lazy = sg.evaluate(outs, {x: da.from_array(a, chunks=-1) for x, a in feed.items()})
    except sg.BackendError:
        lazy = None
    for w, g in zip(want if lazy is not None else [], lazy or []):
        computed = g.compute(scheduler="synchronous") if hasattr(g, "compute") else g
        np.testing.assert_array_equal(computed, w, err_msg=name)
    pytest.importorskip("sympy")
    subs = sympy_substitutions(arrays)
    for y, w in zip(ys, want):
        exprs = np.asarray(sg.to_sympy(y), dtype=object).reshape(w.shape)
        got = np.array([float(e.xreplace(subs)) for e in exprs.ravel()]).reshape(w.shape)
        np.testing.assert_array_equal(got, w, err_msg=name)


# ---------------------------------------------------------------------------
# graphs: compositions of the core ops, and no-ops
# ---------------------------------------------------------------------------

def _op_names(node):
    seen, todo, names = set(), [node], set()
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            names.add(n.op.name)
            todo.extend(n.inputs)
    return names - {"variable", "constant", "full"}


def test_compositions_use_the_core_ops():
    x = sg.variable("x", (2, 3))
    assert _op_names(sg.squeeze(sg.expand_dims(x, 0))) <= {"reshape"}
    assert _op_names(sg.moveaxis(x, 0, 1)) == {"transpose"}
    assert _op_names(sg.repeat(x, 3, axis=0)) == {"reshape", "broadcast_to"}
    assert _op_names(sg.tile(x, (2, 2))) == {"reshape", "broadcast_to"}
    assert _op_names(sg.repeat(x, [1, 2], axis=0)) == {"getitem"}
    assert _op_names(sg.roll(x, 1, axis=1)) == {"getitem", "concatenate"}
    assert _op_names(sg.pad(x, 1)) == {"concatenate"}
    assert _op_names(sg.pad(x, 1, "reflect")) == {"getitem"}


def test_identities_return_the_node_itself():
    x = sg.variable("x", (2, 3))
    assert sg.squeeze(x) is x
    assert sg.expand_dims(sg.squeeze(sg.expand_dims(x, 1), 1), 0).inputs[0] is x
    assert sg.swapaxes(x, 1, -1) is x
    assert sg.moveaxis(x, 0, 0) is x
    assert sg.flip(sg.variable("s")).op.name == "variable"
    assert sg.roll(x, 3, axis=1) is x
    assert sg.repeat(x, 1, axis=0) is x
    assert sg.pad(x, 0) is x
    assert sg.split(x, 1)[0] is x


def test_repeat_scalar_gradient_is_a_sum_not_a_scatter():
    x = sg.variable("x", (2, 3))
    g = sg.grad(sg.sum(sg.repeat(x, 4, axis=0) ** 2), x)
    assert "scatter_add" not in _op_names(g)


def test_stacking_accepts_array_likes_and_python_scalars_like_numpy():
    x = sg.variable("x", (2,), "float32")
    v = np.array([1.0, 2.0], np.float32)
    for fn, other in (("hstack", 3.0), ("vstack", [3.0, 4.0]), ("column_stack", [3.0, 4.0])):
        want = getattr(np, fn)([v, other])  # Python floats make an array of their own: float64
        y = getattr(sg, fn)([x, other])
        assert y.dtype == want.dtype == np.float64
        np.testing.assert_array_equal(sg.evaluate(y, {x: v}), want)
    y = sg.hstack((x, [5, 6]))
    np.testing.assert_array_equal(sg.evaluate(y, {x: v}), np.hstack((v, [5, 6])))
    rows = sg.variable("r", (2, 3))
    r = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(sg.evaluate(sg.vstack(rows), {rows: r}), np.vstack(r))


@pytest.mark.parametrize("fn", ["hstack", "vstack"])
def test_stacking_dtype_and_casting(fn):
    x = sg.variable("x", (3,), "float64")
    v = rng.standard_normal(3)
    y = getattr(sg, fn)([x, x], dtype="float32")
    want = getattr(np, fn)([v, v], dtype="float32")
    assert y.dtype == np.float32
    np.testing.assert_array_equal(sg.evaluate(y, {x: v}), want)
    with pytest.raises(sg.DTypeError, match="same_kind"):
        getattr(sg, fn)([x, x], dtype="int64")
    assert getattr(sg, fn)([x, x], dtype="int64", casting="unsafe").dtype == np.int64


def test_int_arrays_keep_their_dtype():
    x = sg.variable("x", (2, 3), "int32")
    v = np.arange(6, dtype=np.int32).reshape(2, 3)
    for case in (lambda m, a: m.pad(a, 1, constant_values=2.7), lambda m, a: m.tile(a, 2),
                 lambda m, a: m.take(a, [2, 0], axis=1), lambda m, a: m.roll(a, 1)):
        want = case(np, v)
        got = sg.evaluate(case(sg, x), {x: v})
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_split_returns_a_list_of_nodes():
    x = sg.variable("x", (4, 2))
    parts = sg.split(x, [1])
    assert isinstance(parts, list) and [p.shape for p in parts] == [(1, 2), (3, 2)]


# ---------------------------------------------------------------------------
# errors: numpy's, as SymgraphErrors raised when the graph is built
# ---------------------------------------------------------------------------

BAD = {
    "squeeze_not_one": (lambda x: sg.squeeze(x, 1), sg.ShapeError, "size not equal to one"),
    "squeeze_axis_out": (lambda x: sg.squeeze(x, 3), sg.ShapeError, "out of bounds"),
    "expand_dims_out": (lambda x: sg.expand_dims(x, 4), sg.ShapeError, "out of bounds"),
    "expand_dims_repeated": (lambda x: sg.expand_dims(x, (1, 1)), sg.SymgraphError, "repeated"),
    "expand_dims_float": (lambda x: sg.expand_dims(x, 1.0), sg.SymgraphError, "axis"),
    "swapaxes_out": (lambda x: sg.swapaxes(x, 0, 3), sg.ShapeError, "out of bounds"),
    "moveaxis_lengths": (lambda x: sg.moveaxis(x, (0, 1), 0), sg.SymgraphError, "same number"),
    "moveaxis_float": (lambda x: sg.moveaxis(x, 0.5, 1), sg.SymgraphError, "axis must be"),
    "roll_float_axis": (lambda x: sg.roll(x, 1, (0.0,)), sg.SymgraphError, "axis must be"),
    "moveaxis_repeated": (lambda x: sg.moveaxis(x, (0, 0), (1, 2)), sg.SymgraphError, "repeated"),
    "flip_out": (lambda x: sg.flip(x, -4), sg.ShapeError, "out of bounds"),
    "roll_float_shift": (lambda x: sg.roll(x, 1.5), sg.SymgraphError, "integers"),
    "roll_node_shift": (lambda x: sg.roll(x, sg.constant(1)), sg.SymgraphError, "not nodes"),
    "roll_mismatch": (lambda x: sg.roll(x, (1, 2, 3), (0, 1)), sg.ShapeError, "broadcast"),
    "roll_2d_shift": (lambda x: sg.roll(x, [[1, 2]], (0, 1)), sg.SymgraphError, "1D"),
    "repeat_negative": (lambda x: sg.repeat(x, -1), sg.SymgraphError, "negative"),
    "repeat_counts_length": (lambda x: sg.repeat(x, [1, 2], axis=1), sg.ShapeError, "length 3"),
    "repeat_float": (lambda x: sg.repeat(x, 2.0), sg.SymgraphError, "integers"),
    "repeat_axis_out": (lambda x: sg.repeat(x, 2, axis=2), sg.ShapeError, "out of bounds"),
    "tile_negative": (lambda x: sg.tile(x, (2, -1)), sg.ShapeError, "negative"),
    "tile_float": (lambda x: sg.tile(x, 1.5), sg.SymgraphError, "integers"),
    "split_unequal": (lambda x: sg.split(x, 2, axis=1), sg.ShapeError, "equal division"),
    "split_zero": (lambda x: sg.split(x, 0), sg.SymgraphError, "larger than 0"),
    "split_axis_out": (lambda x: sg.split(x, 1, axis=2), sg.ShapeError, "out of bounds"),
    "split_0d": (lambda x: sg.split(x[0, 0], 1), sg.ShapeError, "0-d"),
    "array_split_negative": (lambda x: sg.array_split(x, -1), sg.SymgraphError, "larger than 0"),
    "hstack_empty": (lambda x: sg.hstack([]), sg.SymgraphError, "at least one"),
    "hstack_generator": (lambda x: sg.hstack(v for v in [x]), sg.SymgraphError, "sequence"),
    "vstack_mismatch": (lambda x: sg.vstack([x, x[0, :2]]), sg.ShapeError, "differ"),
    "vstack_bad_casting": (lambda x: sg.vstack([x], casting="nope"), sg.SymgraphError, "casting"),
    "column_stack_mismatch": (lambda x: sg.column_stack([x, x[0]]), sg.ShapeError, "differ"),
    "pad_mode": (lambda x: sg.pad(x, 1, "mean"), sg.SymgraphError, "mode"),
    "pad_keyword": (lambda x: sg.pad(x, 1, "edge", constant_values=3), sg.SymgraphError, "unsupported"),
    "pad_odd": (lambda x: sg.pad(x, 1, "reflect", reflect_type="odd"), sg.SymgraphError, "even"),
    "pad_negative": (lambda x: sg.pad(x, (1, -1)), sg.ShapeError, "negative"),
    "pad_float": (lambda x: sg.pad(x, 1.5), sg.SymgraphError, "integral"),
    "pad_too_many": (lambda x: sg.pad(x, ((1, 1), (1, 1), (1, 1))), sg.ShapeError, "pair"),
    "pad_empty_axis": (lambda x: sg.pad(x[:0], 1, "edge"), sg.ShapeError, "empty axis"),
    "pad_string_values": (lambda x: sg.pad(x, 1, constant_values="a"), sg.DTypeError, "numbers"),
    "take_out_of_range": (lambda x: sg.take(x, [0, 6]), sg.SymgraphError, "out of bounds"),
    "take_negative_out": (lambda x: sg.take(x, -4, axis=1), sg.SymgraphError, "out of bounds"),
    "take_from_empty": (lambda x: sg.take(x[:0], [0], axis=0), sg.SymgraphError, "empty"),
    "take_float": (lambda x: sg.take(x, [1.0]), sg.SymgraphError, "integers"),
    "take_node": (lambda x: sg.take(x, sg.constant([1])), sg.SymgraphError, "not nodes"),
    "take_mode": (lambda x: sg.take(x, [1], mode="nope"), sg.SymgraphError, "mode"),
    "take_along_ndim": (lambda x: sg.take_along_axis(x, np.array([0, 1]), 1), sg.ShapeError, "same number"),
    "take_along_float": (lambda x: sg.take_along_axis(x, np.zeros((2, 1)), 1), sg.SymgraphError, "integer"),
    "take_along_range": (lambda x: sg.take_along_axis(x, np.array([[3]]), 1), sg.ShapeError, "out of bounds"),
    "take_along_none_2d": (lambda x: sg.take_along_axis(x, np.zeros((1, 1), int), None), sg.ShapeError,
                           "single dimension"),
    "take_along_shape": (lambda x: sg.take_along_axis(x, np.zeros((3, 1), int), 1), sg.ShapeError, "shape"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_errors(name):
    build, error, match = BAD[name]
    x = sg.variable("x", (2, 3))
    with pytest.raises(error, match=match):
        build(x)

"""Batching and sparsity rules of reductions, scans, sorting, softmax and cross-entropy.

What the op-table suites do not show: that the sparsity rules are *exact* on
small examples (not only supersets), that Hessian patterns drop the curvature
of piecewise-linear ops, the batching edge cases (B=1 and B=0, 0-d inputs,
negative axes, keepdims, axis None, an unbatched index or label input), and
that a vectorized graph does not grow with B.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from conftest import numeric_jacobian
from symgraph.ops import control, cumulative, nn, reduce, sorting
from symgraph.ops.sorting import PutAlong, TakeAlong

rng = np.random.default_rng(11)

#: the ops whose rules this file tests: they must never fall back to the per-example loop
MINE = {cls for m in (reduce, cumulative, sorting, nn, control) for cls in vars(m).values()
        if isinstance(cls, type) and issubclass(cls, sg.ops.Op) and cls.__module__ == m.__name__}


@pytest.fixture(autouse=True)
def no_loop_for_these_ops(monkeypatch):
    import importlib

    substitute = importlib.import_module("symgraph.transforms.substitute")
    fallback = substitute.batch_by_loop

    def refuse(op, inputs, batched):
        assert type(op) not in MINE, f"op {op.name!r} ran once per example"
        return fallback(op, inputs, batched)

    monkeypatch.setattr(substitute, "batch_by_loop", refuse)


# ---------------------------------------------------------------------------
# exact sparsity patterns
# ---------------------------------------------------------------------------

def pattern(fn, shape):
    x = sg.variable("x", shape)
    return sg.sparsity(fn(x), x).toarray()


def nonzeros(fn, a):
    """The non-zeros of the Jacobian at a generic point (exact for linear ``fn``)."""
    jac = numeric_jacobian(lambda v: sg.evaluate(fn(sg.constant(v)), {}), a)
    return np.abs(jac.reshape(-1, a.size)) > 1e-8


def same_group(shape, axes):
    """True where input elements i and j agree on every axis not in ``axes``."""
    idx = np.indices(shape).reshape(len(shape), -1)
    kept = [k for k in range(len(shape)) if k not in axes]
    return np.all(idx[kept, :, None] == idx[kept, None, :], axis=0)


@pytest.mark.parametrize("fn, shape", [
    (lambda x: sg.sum(x, axis=1), (2, 3, 4)),
    (lambda x: sg.mean(x, axis=(0, 2), keepdims=True), (2, 3, 4)),
    (lambda x: sg.logsumexp(x, axis=-1), (3, 4)),
    (lambda x: sg.prod(x, axis=0), (3, 2)),
    (lambda x: sg.var(x, axis=1, ddof=1), (2, 3)),
    (lambda x: sg.sum(x), (2, 3)),
    (lambda x: sg.cumsum(x, axis=1), (2, 3, 2)),
    (lambda x: sg.cumprod(x, axis=0), (4, 2)),
    (lambda x: sg.cumsum(x), (2, 3)),
    (lambda x: sg.softmax(x, axis=0), (3, 2)),
    (lambda x: sg.log_softmax(x, axis=1), (2, 3, 2)),
    (lambda x: sg.cross_entropy(x, np.array([0, 2, 1]), "none"), (3, 3)),
    (lambda x: sg.cross_entropy(x, np.array([[0, 2], [1, 1]]), "none"), (2, 2, 3)),
    (lambda x: sg.cross_entropy(x, np.array([0, 2, 1])), (3, 3)),
    (lambda x: TakeAlong(1)(x, np.array([[0, 2, 2, -1], [1, 0, 1, 2]])), (2, 3)),
    (lambda x: PutAlong(0, (2, 3))(x, np.array([[0, 1, 1], [0, 1, 0], [-1, 0, 1]])), (3, 3)),
])
def test_patterns_are_exact(fn, shape):
    a = rng.uniform(0.5, 1.5, shape)
    np.testing.assert_array_equal(pattern(fn, shape), nonzeros(fn, a))


@pytest.mark.parametrize("fn, axes", [
    (lambda x: sg.max(x, axis=1), (1,)),
    (lambda x: sg.min(x, axis=(0, 2), keepdims=True), (0, 2)),
    (lambda x: sg.max(x), (0, 1, 2)),
])
def test_extrema_depend_on_their_whole_group(fn, axes):
    """Which element wins depends on the values: every element of the group may."""
    shape = (2, 3, 2)
    first = np.all(np.indices(shape)[list(axes)] == 0, axis=0).ravel()  # one per output, C order
    np.testing.assert_array_equal(pattern(fn, shape), same_group(shape, axes)[first])


def lanes(shape, axis):
    return same_group(shape, (axis,))


@pytest.mark.parametrize("fn, shape, axis", [
    (lambda x: sg.sort(x, axis=0), (3, 2), 0),
    (lambda x: sg.sort(x), (2, 3), 1),
    (lambda x: TakeAlong(0)(x, sg.argsort(sg.cos(x), axis=0)), (3, 2), 0),
    (lambda x: PutAlong(1, (2, 3))(x, sg.argsort(sg.cos(x), axis=1)), (2, 3), 1),
])
def test_moves_by_value_read_the_whole_lane(fn, shape, axis):
    np.testing.assert_array_equal(pattern(fn, shape), lanes(shape, axis))


def test_take_along_from_a_node_reads_the_lane_of_another_length():
    x = sg.variable("x", (2, 3))
    y = TakeAlong(1)(x, sg.cast(sg.constant(np.zeros((2, 4))) + 1.0, "int64"))
    want = np.repeat(np.kron(np.eye(2, dtype=bool), np.ones((1, 3), bool)), 4, axis=0)
    np.testing.assert_array_equal(sg.sparsity(y, x).toarray(), want)


def test_cumsum_pattern_is_lower_triangular_along_the_axis():
    got = pattern(lambda x: sg.cumsum(x, axis=-1), (2, 3))
    tri = np.tril(np.ones((3, 3), bool))
    np.testing.assert_array_equal(got, np.kron(np.eye(2, dtype=bool), tri))


def test_integer_inputs_have_no_pattern():
    i = sg.variable("i", (2, 3), "int64")
    for y in (sg.sum(i, 0), sg.cumsum(i, 1), sg.sort(i), sg.max(i)):
        assert all(r is None for r in y.op.sparsity(y))


def hess(fn, shape):
    x = sg.variable("x", shape)
    return sg.hessian_sparsity(fn(x), x).toarray()


def test_piecewise_linear_ops_add_no_curvature():
    for fn in (lambda x: sg.sum(sg.max(x, axis=1)), lambda x: sg.sum(sg.sort(x) * np.arange(3.0)),
               lambda x: sg.sum(sg.min(x)), lambda x: sg.sum(sg.cumsum(x, 0))):
        assert not hess(fn, (2, 3)).any()
    # the curvature of what follows still reaches through them
    got = hess(lambda x: sg.sum(sg.max(x, axis=1) ** 2), (2, 3))
    np.testing.assert_array_equal(got, same_group((2, 3), (1,)))


@pytest.mark.parametrize("fn", [
    lambda x: sg.sum(sg.logsumexp(x, axis=1)),
    lambda x: sg.sum(sg.log_softmax(x, axis=1) * np.arange(6.0).reshape(2, 3)),
    lambda x: sg.sum(sg.cross_entropy(x, np.array([0, 2]), "none")),
    lambda x: sg.sum(sg.var(x, axis=1)),
])
def test_row_wise_ops_give_block_diagonal_hessians(fn):
    np.testing.assert_array_equal(hess(fn, (2, 3)), same_group((2, 3), (1,)))


# ---------------------------------------------------------------------------
# batching edge cases, against the per-example evaluation
# ---------------------------------------------------------------------------

def check_vectorize(fn, arrays, batched, size=3):
    """``vectorize`` of ``fn(*xs)`` with inputs ``batched`` (indices) given ``size`` examples
    equals the per-example stack; returns the number of nodes it added."""
    xs = [sg.variable(f"x{k}", np.shape(a), np.asarray(a).dtype) for k, a in enumerate(arrays)]
    y = fn(*xs)
    batches = {}
    for k in batched:
        a = np.asarray(arrays[k])
        batches[k] = (np.stack([a + 0.1 * j for j in range(size)]) if a.dtype.kind == "f"
                      else np.stack([np.roll(a, j, axis=-1) if a.ndim else a for j in range(size)]))
    holders = {k: sg.variable(f"b{k}", (size,) + xs[k].shape, xs[k].dtype) for k in batched}
    before = len(y.graph.nodes)
    v = sg.vectorize(y, {xs[k]: holders[k] for k in batched})
    added = len(y.graph.nodes) - before
    feed = {xs[k]: arrays[k] for k in range(len(xs)) if k not in batched}
    feed.update({holders[k]: batches[k] for k in batched})
    got = sg.evaluate(v, feed)
    assert got.shape == (size,) + y.shape and got.dtype == y.dtype
    for b in range(size):
        want = sg.evaluate(y, {x: batches[k][b] if k in batched else arrays[k]
                               for k, x in enumerate(xs)})
        np.testing.assert_allclose(got[b], want, rtol=1e-12, atol=1e-12)
    return added


A = rng.standard_normal((2, 3, 4))
LAB = np.array([[0, 2, 1], [1, 1, 0]])


@pytest.mark.parametrize("fn", [
    lambda x: sg.sum(x), lambda x: sg.mean(x, axis=-1, keepdims=True),
    lambda x: sg.max(x, axis=(-3, -1)), lambda x: sg.min(x, keepdims=True),
    lambda x: sg.logsumexp(x, axis=-2), lambda x: sg.prod(x, axis=(0, 2), keepdims=True),
    lambda x: sg.var(x, ddof=1), lambda x: sg.std(x, axis=-1, keepdims=True),
    lambda x: sg.argmax(x, axis=-1, keepdims=True), lambda x: sg.argmin(x, axis=0),
    lambda x: sg.cumsum(x, axis=-2), lambda x: sg.cumprod(x, axis=0),
    lambda x: sg.sort(x, axis=0, kind="stable"), lambda x: sg.argsort(x, axis=-2),
    lambda x: sg.softmax(x, axis=-3), lambda x: sg.log_softmax(x),
    lambda x: sg.stop_gradient(x),
    lambda x: sg.sum(sg.cast(x > 0, "int32"), axis=1),  # int32 sums in int64
    lambda x: sg.mean(sg.cast(x > 0, "int64"), axis=(0, 1)),  # integers average in float64
])
@pytest.mark.parametrize("size", [1, 3])
def test_one_input_ops_batch(fn, size):
    check_vectorize(fn, [A], [0], size)


@pytest.mark.parametrize("fn", [lambda x: sg.sum(x), lambda x: sg.max(x), lambda x: sg.var(x),
                                lambda x: sg.logsumexp(x, keepdims=True), lambda x: sg.cumsum(x),
                                lambda x: sg.sort(x, axis=None), lambda x: sg.softmax(x, None)])
def test_zero_dimensional_inputs_batch(fn):
    check_vectorize(fn, [np.float64(0.7)], [0])


def test_an_empty_batch():
    x = sg.variable("x", (3,))
    b = sg.variable("b", (0, 3))
    for y in (sg.sum(x), sg.max(x), sg.sort(x), sg.cumprod(x), sg.softmax(x)):
        v = sg.vectorize(y, {x: b})
        assert sg.evaluate(v, {b: np.zeros((0, 3))}).shape == (0,) + y.shape


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("batched", [[0], [1], [0, 1]])
def test_cross_entropy_with_labels_or_logits_unbatched(reduction, batched):
    check_vectorize(lambda z, lab: sg.cross_entropy(z, lab, reduction), [A[..., :3], LAB], batched)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_of_one_example(reduction):
    check_vectorize(lambda z, lab: sg.cross_entropy(z, lab, reduction),
                    [A[0, 0], np.array(2)], [0, 1])


def test_one_hot_batches_its_labels():
    check_vectorize(lambda lab: sg.one_hot(lab, 4, "float32"), [LAB], [0])


@pytest.mark.parametrize("batched", [[0], [1], [0, 1]])
def test_take_along_and_put_along_with_either_input_unbatched(batched):
    idx = np.array([[0, 2, 2, -1], [1, 0, 1, 2]])
    check_vectorize(lambda x, i: TakeAlong(1)(x, i), [A[0, :2, :3], idx], batched)
    check_vectorize(lambda g, i: PutAlong(1, (2, 3))(g, i), [A[1, :2, :4], idx], batched)
    perm = np.array([[2, 0, 1], [0, 1, 2]])
    check_vectorize(lambda g, i: PutAlong(1, (2, 3), unique=True)(g, i), [A[0, :2, :3], perm],
                    batched)


@pytest.mark.parametrize("fn, arrays, batched", [
    (lambda x: sg.softmax(sg.cumsum(x, 1), axis=0) * sg.max(x, axis=-1, keepdims=True), [A], [0]),
    (lambda x: sg.sort(sg.logsumexp(x, axis=0)) + sg.prod(x, axis=0), [A], [0]),
    (lambda z, lab: sg.cross_entropy(z, lab), [A[..., :3], LAB], [0]),
    (lambda z, lab: sg.cross_entropy(z, lab, "sum"), [A[..., :3], LAB], [1]),
    (lambda x, i: TakeAlong(1)(x, i), [A[0, :2, :3], np.array([[0, 2, 2, -1], [1, 0, 1, 2]])],
     [1]),
])
def test_the_vectorized_graph_does_not_grow_with_the_batch(fn, arrays, batched):
    with sg.Graph():
        few = check_vectorize(fn, arrays, batched, size=2)
    with sg.Graph():
        many = check_vectorize(fn, arrays, batched, size=50)
    assert few == many

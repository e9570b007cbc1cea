"""The same graphs on dask arrays, computed on a real dask.distributed cluster.

Every test evaluates one graph twice, on numpy arrays and on dask arrays
chunked along the batch axis, and checks that the dask results are lazy dask
arrays whose computed values equal the numpy ones within 1e-10.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import symgraph as sg
from symgraph.graph import apply

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

TIMEOUT = 60  # seconds for any one computation on the cluster
N, CHUNK = 60, 16  # rows; chunks of 16, 16, 16, 12 along the batch axis


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, no dashboard: tasks really travel."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        with distributed.Client(cluster, timeout="60s") as c:
            yield c


def run(client, values):
    """Compute dask arrays on the cluster within TIMEOUT; return numpy values."""
    assert all(isinstance(v, da.Array) for v in values), [type(v) for v in values]
    futures = client.compute(list(values))
    distributed.wait(futures, timeout=TIMEOUT)
    return client.gather(futures)


def chunked(a: np.ndarray) -> "da.Array":
    return da.from_array(a, chunks=(CHUNK,) + a.shape[1:])


def check_same(client, outputs, np_feed, dask_feed, tol=1e-10):
    """Evaluate ``outputs`` on both feeds; the dask results are lazy and equal the numpy ones."""
    expected = sg.evaluate(outputs, np_feed)
    lazy = sg.evaluate(outputs, dask_feed)
    got = run(client, lazy)
    for e, g in zip(expected, got):
        assert isinstance(e, np.ndarray)
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=0, atol=tol)
    return expected


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    return rng.normal(size=(N, 5)), rng.integers(0, 4, size=N)


def test_elementwise_and_reductions_over_the_chunked_axis(client, data):
    X, _ = data
    x = sg.variable("x", X.shape)
    w = sg.variable("w", (5,))
    z = sg.tanh(x * w) + sg.exp(-sg.square(x))
    outputs = [sg.sum(z, axis=0), sg.mean(z), sg.max(x, axis=0), sg.logsumexp(z, axis=0),
               sg.softmax(z, axis=0)]
    loss = (sg.sum(outputs[0] ** 2) + outputs[1] + sg.sum(outputs[2]) + sg.sum(outputs[3])
            + sg.sum(outputs[4] * x))
    grads = sg.grad(loss, [x, w])
    W = np.linspace(-1, 1, 5)
    check_same(client, outputs + [loss, *grads], {"x": X, "w": W}, {"x": chunked(X), "w": W})


def test_softmax_cross_entropy_mean_over_chunked_batch(client, data):
    X, y = data
    x = sg.variable("x", X.shape)
    labels = sg.variable("y", (N,), "int64")
    W = sg.variable("W", (5, 4))
    b = sg.variable("b", (4,))
    logits = x @ W + b
    losses = [sg.cross_entropy(logits, labels, reduction=r) for r in ("mean", "sum", "none")]
    total = losses[0] + 0.1 * losses[1] + sg.mean(losses[2] ** 2)
    grads = sg.grad(total, [W, b, x])
    rng = np.random.default_rng(1)
    params = {"W": rng.normal(size=(5, 4)), "b": rng.normal(size=4)}
    expected = check_same(client, [*losses, total, *grads], {"x": X, "y": y, **params},
                          {"x": chunked(X), "y": chunked(y), **params})
    # an independent check of the mean loss
    z = X @ params["W"] + params["b"]
    z -= z.max(axis=1, keepdims=True)
    nll = np.log(np.exp(z).sum(axis=1)) - z[np.arange(N), y]
    np.testing.assert_allclose(expected[0], nll.mean(), rtol=1e-12)


def test_matmul_of_chunked_data_with_numpy_weights(client, data):
    X, _ = data
    x = sg.variable("x", X.shape)
    W = sg.variable("W", (5, 3))
    v = sg.variable("v", (3,))
    y = sg.relu(x @ W) @ v
    loss = sg.sum(y ** 2) + sg.sum(x.T @ x)
    grads = sg.grad(loss, [W, v, x])
    rng = np.random.default_rng(2)
    params = {"W": rng.normal(size=(5, 3)), "v": rng.normal(size=3)}
    check_same(client, [y, loss, *grads], {"x": X, **params}, {"x": chunked(X), **params})


INDICES = [
    (slice(None), slice(1, 3)),             # columns of every row: stays chunked by rows
    (slice(3, 50, 4),),                     # strided rows across chunks
    (slice(None, None, -3), 2),             # reversed rows, one column
    (None, slice(None), 0),                 # a new axis
    (7,),                                   # one row
    (Ellipsis, np.array([4, 0, 4, 1])),     # repeated columns: scatter must accumulate
    (np.array([0, 17, 17, 59]),),           # repeated rows across chunks
    (np.array([3, 3, 40]), np.array([1, 1, 2])),                 # pointwise pairs
    (np.array([[0, 1], [33, 33]]), slice(None, 2)),              # a 2-D row index
    (slice(None), np.array([[0], [4]]), None),                   # mixed with None
    (np.array([-1, 0, -1]), slice(2, -1)),                       # negative indices
]


@pytest.mark.parametrize("index", INDICES, ids=range(len(INDICES)))
def test_getitem_and_its_scatter_gradient(client, data, index):
    X, _ = data
    x = sg.variable("x", X.shape)
    picked = x[index]
    loss = sg.sum(sg.sin(picked) * np.cos(np.arange(picked.size)).reshape(picked.shape))
    (gx,) = sg.grad(loss, [x])
    out = check_same(client, [picked, loss, gx], {"x": X}, {"x": chunked(X)})
    np.testing.assert_array_equal(out[0], X[index])  # numpy's own indexing


def test_embedding_gradient_with_a_chunked_batch(client, data):
    """W[ids] with numpy W and a batch of ids: the scatter runs per batch chunk, then sums."""
    X, y = data
    ids = (y * 3 + 1) % 7  # repeated rows of a 7-row table, one per example
    x = sg.variable("x", X.shape)
    W = sg.variable("W", (7, 5))
    loss = sg.sum(sg.tanh(W[ids] * x))
    (gW,) = sg.grad(loss, [W])
    Wv = np.random.default_rng(3).normal(size=(7, 5))
    out = check_same(client, [loss, gW], {"x": X, "W": Wv}, {"x": chunked(X), "W": Wv})
    expected = np.zeros((7, 5))
    np.add.at(expected, ids, (1 - np.tanh(Wv[ids] * X) ** 2) * X)
    np.testing.assert_allclose(out[1], expected, rtol=1e-12)


def test_jvp_and_concatenate_on_dask(client, data):
    X, _ = data
    x = sg.variable("x", X.shape)
    y = sg.concatenate([sg.sigmoid(x), sg.stack([x[:, 0], x[:, 1]], axis=1)], axis=1)
    t = np.ones(X.shape)
    ty = sg.jvp(y, x, sg.constant(t))
    check_same(client, [y, ty], {"x": X}, {"x": chunked(X)})


def test_the_same_graph_object_runs_on_numpy_then_dask_then_numpy(client, data):
    X, y = data
    x = sg.variable("x", X.shape)
    labels = sg.variable("y", (N,), "int64")
    W = sg.variable("W", (5, 4))
    loss = sg.cross_entropy(x @ W, labels)
    (gW,) = sg.grad(loss, [W])
    Wv = np.full((5, 4), 0.1)
    ev = sg.Evaluator([loss, gW])
    first = ev.run({x: X, labels: y, W: Wv})
    lazy = ev.run({x: chunked(X), labels: chunked(y), W: Wv})
    again = ev.run({x: X, labels: y, W: Wv})
    assert all(isinstance(v, np.ndarray) for v in first + again)
    for a, b, c in zip(first, run(client, lazy), again):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)
        np.testing.assert_array_equal(a, c)


def test_outputs_that_only_depend_on_numpy_feeds_are_dask_too(client, data):
    X, _ = data
    x = sg.variable("x", X.shape)
    W = sg.variable("W", (5,))
    decay = sg.sum(W ** 2)
    outputs = sg.evaluate([x @ W, decay, sg.grad(decay, W)], {"x": chunked(X), "W": np.ones(5)})
    assert all(isinstance(o, da.Array) for o in outputs)
    values = run(client, outputs)
    assert values[1] == 5.0 and np.all(values[2] == 2.0)


def test_a_broadcast_gradient_stays_virtual_in_the_task_graph(client):
    """d mean(x**2)/dx multiplies 2x by a broadcast scalar: that must not travel at full size."""
    big = np.linspace(0, 1, 2 ** 18).reshape(2 ** 15, 8)  # 2 MiB, above backend.PROMOTE_BYTES
    x = sg.variable("x", big.shape)
    (gx,) = sg.grad(sg.mean(x ** 2), [x])
    (ones,) = sg.grad(sg.mean(x), [x])  # the output itself is a broadcast
    lazy = sg.evaluate([gx, ones], {"x": da.from_array(big, chunks=(2 ** 12, 8))})
    for out in lazy:
        shipped = [v for v in dict(out.__dask_graph__()).values()
                   if isinstance(v, np.ndarray) and v.nbytes >= 2 ** 20]
        assert not shipped
    assert lazy[0].chunks[0] == (2 ** 12,) * 8
    got = run(client, lazy)
    np.testing.assert_allclose(got[0], 2 * big / big.size, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(got[1], np.full(big.shape, 1 / big.size))


def test_dask_feeds_are_checked_without_computing(client):
    x = sg.variable("x", (N, 5))
    n = sg.variable("n", (N,), "int64")
    never = da.from_delayed(dask.delayed(_explode)(), shape=(N, 5), dtype=np.float64)
    with pytest.raises(sg.ShapeError, match=r"shape \(60, 4\).*\(60, 5\)"):
        sg.evaluate(x, {"x": never[:, :4]})
    with pytest.raises(sg.DTypeError, match="float64"):
        sg.evaluate(n, {"n": never[:, 0]})
    with pytest.raises(sg.ShapeError, match="unknown shape"):
        sg.evaluate(x, {"x": never[never[:, 0] > 0]})
    lazy = sg.evaluate(2 * x, {"x": never.astype(np.float32)})  # float32 data, float64 variable
    assert isinstance(lazy, da.Array) and lazy.dtype == np.float64


def _explode():
    raise AssertionError("the fed dask array was computed")


class AsArrayOp(sg.Op):
    """A user op whose f converts its input with np.asarray: it cannot stay lazy."""

    name = "needs_numpy"

    def f(self, x):
        return np.asarray(x) * 2


class AddAtOp(sg.Op):
    """A user op built on np.add.at, which dask arrays do not implement."""

    name = "add_at_user_op"

    def f(self, x):
        out = np.zeros_like(x)
        np.add.at(out, (np.array([0, 0]),), x[:2])
        return out


@pytest.mark.parametrize("op, on_ones", [(AsArrayOp(), 2.0 * N * 5), (AddAtOp(), 10.0)],
                         ids=["np.asarray", "np.add.at"])
def test_an_op_without_a_dask_equivalent_fails_clearly(client, op, on_ones):
    x = sg.variable("x", (N, 5))
    y = sg.sum(apply(op, [x]))
    assert sg.evaluate(y, {"x": np.ones((N, 5))}) == on_ones  # fine on numpy
    never = da.from_delayed(dask.delayed(_explode)(), shape=(N, 5), dtype=np.float64)
    with pytest.raises(sg.BackendError, match=rf"op '{op.name}' .*dask") as info:
        sg.evaluate(y, {"x": never})  # refused, and the data was never computed
    assert "dask.array.core.Array (60, 5) float64" in str(info.value)


def test_out_of_range_labels_fail_when_computed(client):
    logits = sg.variable("z", (N, 3))
    labels = sg.variable("y", (N,), "int64")
    y = np.zeros(N, dtype=np.int64)
    y[37] = 3
    lazy = sg.evaluate(sg.cross_entropy(logits, labels), {"z": np.zeros((N, 3)), "y": chunked(y)})
    with pytest.raises(sg.EvaluationError, match="label 3 is out of range for 3 classes"):
        run(client, [lazy])


def test_check_finite_asks_for_numpy(client, data):
    x = sg.variable("x", data[0].shape)
    with pytest.raises(sg.BackendError, match="check_finite needs numpy"):
        sg.evaluate(sg.log(x), {"x": chunked(data[0])}, check_finite=True)

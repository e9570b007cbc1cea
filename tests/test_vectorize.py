"""``sg.vectorize`` against stacked per-example evaluation, for every case of the op table.

For each case ``y = fn(*xs)`` the inputs get a batch of three examples (the
case's arrays and two small perturbations).  The vectorized graph, evaluated
once, must equal the stack of the graph evaluated example by example: with
each input batched alone (the others stay unbatched, exercising the
broadcasting side of every rule), with all inputs batched, and for the
gradient graph and a second-order graph of the case.  ``test_registry``
checks that every built-in op declares a batching rule, so these cases
cover every rule.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from op_table import CASES

B = 3


@pytest.fixture(autouse=True)
def no_loop_fallback(monkeypatch):
    """Built-in ops must batch by their own rule, never by running once per example."""
    import importlib

    # (the package's ``substitute`` attribute is the function: ask for the module itself)
    substitute = importlib.import_module("symgraph.transforms.substitute")
    from symgraph.ops.base import builtin_ops

    builtin = set(builtin_ops().values())
    fallback = substitute.batch_by_loop

    def refuse(op, inputs, batched):
        if type(op) in builtin:
            raise AssertionError(f"op {op.name!r} has no batching rule (ran once per example)")
        return fallback(op, inputs, batched)

    monkeypatch.setattr(substitute, "batch_by_loop", refuse)


def batch_of(a: np.ndarray, seed: int) -> np.ndarray:
    """Three examples near ``a`` (integer and boolean arrays repeat: they are labels)."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        return np.stack([a] * B)
    r = np.random.default_rng(seed)
    return np.stack([a] + [a + 1e-3 * r.standard_normal(a.shape).astype(a.dtype)
                           for _ in range(B - 1)])


def assert_vectorizes(outputs, xs, arrays, batched, what):
    """``vectorize(outputs)`` with ``xs[k]`` batched for k in ``batched`` == the per-example stack."""
    outs = outputs if isinstance(outputs, list) else [outputs]
    batches = {k: batch_of(arrays[k], k) for k in batched}
    holders = {k: sg.variable(f"batch{k}", (B,) + xs[k].shape, xs[k].dtype) for k in batched}
    vec = sg.vectorize(outs, {xs[k]: holders[k] for k in batched})
    feed = {xs[k]: arrays[k] for k in range(len(xs)) if k not in batched}
    feed.update({holders[k]: batches[k] for k in batched})
    got = sg.evaluate(vec, feed)
    for b in range(B):
        example = {x: (batches[k][b] if k in batched else arrays[k]) for k, x in enumerate(xs)}
        want = sg.evaluate(outs, example)
        for j, (g, w) in enumerate(zip(got, want)):
            assert g.shape == (B,) + np.shape(w), f"{what}: output {j} shape"
            np.testing.assert_allclose(g[b], w, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{what}: output {j}, example {b}")


def _build(case):
    fn, arrays = CASES[case]
    arrays = [np.asarray(a) for a in arrays]
    xs = [sg.variable(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
    return xs, fn(*xs), arrays


def _weights(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_graph_vectorizes(case):
    with sg.Graph():
        xs, y, arrays = _build(case)
        for k in range(len(xs)):
            assert_vectorizes(y, xs, arrays, [k], f"{case}, input {k} batched")
        if len(xs) > 1:
            assert_vectorizes(y, xs, arrays, list(range(len(xs))), f"{case}, all batched")


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradient_and_second_order_graphs_vectorize(case):
    with sg.Graph():
        xs, y, arrays = _build(case)
        diff = [k for k, x in enumerate(xs) if x.dtype.kind == "f"]
        if not diff or y.dtype.kind != "f":
            pytest.skip("no floating-point input or output to differentiate")
        loss = sg.sum(y * _weights(y.shape))
        grads = sg.grad(loss, [xs[k] for k in diff])
        assert_vectorizes(grads, xs, arrays, diff, f"{case}: gradient")
        inner = sg.add_n([sg.sum(g * _weights(g.shape, 2)) for g in grads])
        second = sg.grad(inner, [xs[k] for k in diff])
        assert_vectorizes(second, xs, arrays, diff, f"{case}: second order")

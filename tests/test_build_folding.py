"""Derivative graphs are clean by construction: builders fold what is known (``Op.fold``).

The seed example's gradient reads like the hand derivation (df/dl2 = 2*l2,
df/dw = df/dl2 * x, ...) without ``simplify``; every fold gives the values the
unfolded graph gives; ``Graph(fold=False)`` builds exactly what is written.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import graphgen as gg
import symgraph as sg
from _hypothesis import examples
from symgraph.traversal import ancestors

SEED_FEED = {"w": 1.0, "x": 2.0, "y": 3.0}


def gradient_nodes(outputs) -> list[sg.Node]:
    return [n for n in ancestors(list(outputs)) if n.role == "gradient"]


def seed(fold: bool = True):
    with sg.Graph(fold=fold):
        w, x, y = sg.variable("w"), sg.variable("x"), sg.variable("y")
        l1 = w * x
        l2 = l1 - y
        f = l2 ** 2
        grads = sg.grad(f, [w, x, y])
        second = [sg.grad(g, [w, x, y]) for g in grads]
    return (w, x, y, l2), grads, second


def is_constant(node: sg.Node, value: float) -> bool:
    return not node.inputs and node.size == 1 and float(sg.evaluate(node, {})) == value


def test_seed_gradient_is_the_hand_derivation():
    (w, x, y, l2), (dw, dx, dy), _ = seed()
    assert len(gradient_nodes([dw, dx, dy])) == 4  # 7 before, and a multiply by the seed
    # df/dl2 = 2 * l2; df/dl1 = df/dl2; df/dw = df/dl1 * x; df/dx = df/dl1 * w; df/dy = -df/dl2
    assert dw.op.name == "multiply" and dw.inputs[1] is x
    dl2 = dw.inputs[0]
    assert dl2.op.name == "multiply" and is_constant(dl2.inputs[0], 2.0) and dl2.inputs[1] is l2
    assert dx.op.name == "multiply" and dx.inputs == (dl2, w)
    assert dy.op.name == "negative" and dy.inputs == (dl2,)
    assert [float(v) for v in sg.evaluate([dw, dx, dy], SEED_FEED)] == [-4.0, -2.0, 2.0]


def test_seed_second_order_stays_small_and_exact():
    _, grads, second = seed()
    _, raw_grads, raw_second = seed(fold=False)
    flat = [h for row in second for h in row]
    raw_flat = [h for row in raw_second for h in row]
    assert len(gradient_nodes(grads + flat)) <= 16  # 38 built as written
    assert len(gradient_nodes(raw_grads + raw_flat)) > 2 * len(gradient_nodes(grads + flat))
    order_two = [n for n in gradient_nodes(flat) if n.order == 2]
    assert not any(n.op.name in ("power", "subtract") for n in order_two)
    # f = (wx - y)^2 at (1, 2, 3): the Hessian in closed form
    w, x, y = 1.0, 2.0, 3.0
    expected = 2 * np.array([[x * x, 2 * w * x - y, -x], [2 * w * x - y, w * w, -w], [-x, -w, 1.0]])
    np.testing.assert_array_equal(np.array(sg.evaluate(flat, SEED_FEED)).reshape(3, 3), expected)


def test_seed_mlp_gradient_is_smaller_and_equal():
    rng = np.random.default_rng(0)
    feed = {"X": rng.standard_normal((32, 20)), "labels": rng.integers(0, 10, 32),
            "W1": rng.standard_normal((20, 16)) * 0.3, "W2": rng.standard_normal((16, 10)) * 0.3}
    results = {}
    for fold in (True, False):
        with sg.Graph(fold=fold):
            X = sg.variable("X", (32, 20))
            labels = sg.variable("labels", (32,), "int64")
            W1, W2 = sg.variable("W1", (20, 16)), sg.variable("W2", (16, 10))
            loss = sg.cross_entropy(sg.relu(X @ W1) @ W2, labels) \
                + 1e-4 * (sg.sum(W1 ** 2) + sg.sum(W2 ** 2))
            grads = sg.grad(loss, [W1, W2])
            results[fold] = (len(gradient_nodes(grads)), sg.evaluate(grads, feed), grads)
    (folded, values, (g1, _)), (raw, raw_values, _) = results[True], results[False]
    assert folded <= 18 < raw  # 26 as written
    for a, b in zip(values, raw_values):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=0)
    # the weight decay's gradient is 0.0001 * (2 * W1): no broadcast, reshape or power
    decay = [n for n in gradient_nodes([g1]) if n.op.name == "multiply" and n.shape == (20, 16)
             and any(is_constant(i, 1e-4) for i in n.inputs)]
    assert len(decay) == 1
    assert not any(n.op.name in ("power", "broadcast_to", "reshape") for n in gradient_nodes([g1]))


def test_fold_false_builds_exactly_what_is_written():
    with sg.Graph(fold=False):
        x = sg.variable("x")
        assert (x * 1).op.name == "multiply" and (x ** 1).op.name == "power"
        assert (sg.constant(2.0) - 1).op.name == "subtract"
    with sg.Graph():
        x = sg.variable("x")
        assert x * 1 is x and x ** 1 is x and 1 * x is x and x / 1 is x and x - 0 is x
        assert -(-x) is x


SPECIAL = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan])

#: (name, expression builder) pairs: each fold, with operands of several shapes and dtypes
FOLDS = [
    ("x * 1", lambda x: x * 1), ("1 * x", lambda x: 1 * x), ("x * -1", lambda x: x * -1),
    ("x + 0", lambda x: x + 0), ("0 + x", lambda x: 0 + x), ("x - 0", lambda x: x - 0),
    ("0 - x", lambda x: 0 - x), ("x / 1", lambda x: x / 1), ("x ** 1", lambda x: x ** 1),
    ("x ** 0", lambda x: x ** 0), ("--x", lambda x: -(-x)),
    ("x * ones(2, 7)", lambda x: x * sg.ones((2, 7), x.dtype)),
    ("x * int 1", lambda x: x * sg.full((), 1, "int64")),
    ("x * broadcast 3", lambda x: x * sg.broadcast_to(sg.full((), 3.0, x.dtype), x.shape)),
    ("broadcast 3 ** x", lambda x: sg.broadcast_to(sg.full((1,), 3.0, x.dtype), x.shape) ** x),
    ("(2 - 1) * x", lambda x: (sg.full((), 2.0, x.dtype) - 1) * x),
    ("exp(0) + x", lambda x: sg.exp(sg.zeros((), x.dtype)) + x),
]


FOLDS += [("x - -0.0", lambda x: x - sg.full((), -0.0)), ("-0.0 + x", lambda x: -0.0 + x),
          ("-0.0 - x", lambda x: sg.full((), -0.0) - x), ("x / 1 (0-d)", lambda x: x[0] / 1),
          ("x ** True", lambda x: x ** sg.full((), True)), ("x * -1.0", lambda x: x * -1.0),
          ("0.0 - x", lambda x: 0.0 - x)]
INTS = {"int64": [0, 3, 7, 2, 5, 1, 4], "uint8": [0, 3, 255, 2, 5, 1, 4],
        "bool": [True, False, True, True, False, False, True]}


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("name, build", FOLDS, ids=[n for n, _ in FOLDS])
def test_every_fold_gives_the_written_values(name, build, dtype):
    values = SPECIAL.astype(dtype) if dtype.startswith("float") else np.array(INTS[dtype], dtype)
    outs = []
    for fold in (True, False):
        with sg.Graph(fold=fold):
            x = sg.variable("x", (7,), dtype)
            try:
                node = build(x)
            except (sg.SymgraphError, OverflowError) as e:  # refused as written: refused folded
                outs.append((None, type(e)))
                continue
            with np.errstate(all="ignore"):
                outs.append((node, sg.evaluate(node, {x: values})))
    (folded, a), (raw, b) = outs
    if raw is None or folded is None:
        assert raw is None and folded is None and a is b
        return
    assert folded.shape == raw.shape and folded.dtype == raw.dtype
    np.testing.assert_array_equal(a, b)  # NaNs equal
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and len(ancestors([folded])) <= len(ancestors([raw]))
    if a.dtype.kind == "f":  # signed zeros too (only a NaN's sign bit may differ)
        assert np.array_equal(np.signbit(a) | np.isnan(a), np.signbit(b) | np.isnan(b))


def test_a_non_finite_constant_is_left_to_run_time():
    """log(0) of a constant is not folded to -inf: check_finite still names the log."""
    zero = sg.constant(0.0)
    node = sg.log(zero)
    assert node.op.name == "log"
    with pytest.raises(sg.NonFiniteError, match="log"), pytest.warns(RuntimeWarning, match="log"):
        sg.evaluate(node, {}, check_finite=True)
    assert float(sg.evaluate(sg.exp(zero) * 3, {})) == 3.0  # finite: folded
    assert not sg.exp(zero).inputs


def test_folds_inside_bodies():
    w = sg.variable("w", (3,))
    h, _ = sg.scan(lambda c, _: (sg.tanh(c * w * 1.0), None), sg.ones(3), length=2)
    (loop,) = [n for n in ancestors([h]) if n.op.name == "scan"]
    assert not any(n.op.name == "multiply" and any(i.op.name == "full" for i in n.inputs)
                   for n in loop.op.body.nodes())


@examples(1)
@given(gg.programs(max_steps=6))
def test_folded_and_written_graphs_agree(prog):
    """Random programs: value and gradient of the folded graph equal those as written."""
    results = []
    for fold in (True, False):
        with sg.Graph(fold=fold):
            nodes = gg.build(prog)
            xs = [n for n, i in zip(nodes, prog.instrs) if i.kind == "variable"]
            loss = sg.add_n([sg.sum(nodes[i]) for i in prog.outputs]) \
                if len(prog.outputs) > 1 else sg.sum(nodes[prog.outputs[0]])
            grads = [g for g in sg.grad(loss, xs)] if xs else []
            feed = {x: prog.values[k] for k, (x, i) in enumerate(zip(nodes, prog.instrs))
                    if i.kind == "variable"}
            with np.errstate(all="ignore"):
                results.append(sg.evaluate([loss, *grads], feed))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)

"""The op protocol: what an op declares reaches every pass, for user ops as for built-in ones."""

from __future__ import annotations

import json

import numpy as np
import pytest

import symgraph as sg
from symgraph.ops.base import NO_SYMPY, SHAPE, Op
from symgraph.parse import FUNCTIONS
from symgraph.rewrite import register, rules_for
from symgraph.ops.base import builtin_ops


class Softsign(sg.Op):
    """x / (1 + |x|): a user op that says it is elementwise, with no emit."""

    name = "softsign"
    elementwise = True
    calls: list = []

    def f(self, x):
        Softsign.calls.append(np.shape(x))
        return x / (1 + np.abs(x))

    def bprop(self, inputs, out, g):
        (x,) = inputs
        return [g / sg.square(1 + sg.abs(x))]


def test_a_user_elementwise_op_is_folded_and_moved_past_broadcasts_by_simplify():
    x = sg.variable("x", (3,))
    y = Softsign()(sg.broadcast_to(x, (4, 3)))
    stats: dict = {}
    s = sg.simplify(y, stats=stats)
    assert stats.get("elementwise_of_broadcast") == 1
    assert s.op.name == "broadcast_to" and s.inputs[0].op.name == "softsign"
    c = Softsign()(sg.full((1000,), 2.0))  # uniform input: folded on one element, whatever the size
    assert float(sg.evaluate(sg.simplify(c))[0]) == pytest.approx(2 / 3)
    assert sg.simplify(c).op.name == "broadcast_to"


def test_compiled_code_runs_a_user_elementwise_op_on_unbroadcast_inputs():
    x = sg.variable("x", (3,))
    y = Softsign()(sg.broadcast_to(x, (1000, 3))) * 2.0
    f = sg.function([x], y)
    Softsign.calls.clear()
    value = f(np.array([1.0, -2.0, 3.0]))
    assert Softsign.calls == [(3,)]  # not (1000, 3): the broadcast comes after, as for np.tanh
    np.testing.assert_allclose(value, sg.evaluate(y, {x: np.array([1.0, -2.0, 3.0])}))
    assert value.shape == (1000, 3)


class Scale2(sg.Op):
    """2x, declared linear: the jvp comes from the op itself."""

    name = "scale2"
    linear = True

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return 2 * x

    def bprop(self, inputs, out, g):
        return [Scale2()(g)]


class Outer(sg.Op):
    """a[:, None] * b[None, :], declared multilinear: the jvp is the product rule."""

    name = "outer_user"
    multilinear = True

    def infer(self, a, b):
        return (a.shape[0], b.shape[0]), np.result_type(a.dtype, b.dtype)

    def f(self, a, b):
        return np.multiply.outer(a, b)

    def bprop(self, inputs, out, g, needs):
        a, b = inputs
        return [g @ b if needs[0] else None, a @ g if needs[1] else None]


class Floor(sg.Op):
    """Piecewise constant: says so once, and gradients stop here without an error."""

    name = "floor_user"
    elementwise = True
    differentiable = False

    def f(self, x):
        return np.floor(x)


def test_declared_rules_give_both_modes():
    x, v = sg.variable("x", (3,)), np.array([1.0, 2.0, 3.0])
    t = np.array([0.5, -1.0, 2.0])
    assert Scale2.jvp is not None
    np.testing.assert_allclose(sg.evaluate(sg.jvp(Scale2()(x), x, t), {x: v}), 2 * t)
    a, b = sg.variable("a", (2,)), sg.variable("b", (3,))
    av, bv, ta, tb = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]), np.array([1.0, -1.0]), \
        np.array([0.5, 0.0, 2.0])
    got = sg.evaluate(sg.jvp(Outer()(a, b), [a, b], [ta, tb]), {a: av, b: bv})
    np.testing.assert_allclose(got, np.multiply.outer(ta, bv) + np.multiply.outer(av, tb))
    y = sg.sum(Floor()(x) * x)
    np.testing.assert_allclose(sg.evaluate(sg.grad(y, x), {x: np.array([1.5, 2.5, -0.5])}),
                               np.floor([1.5, 2.5, -0.5]))
    assert sg.evaluate(sg.jvp(Floor()(x), x, t), {x: v}).tolist() == [0, 0, 0]


def test_bprop_gets_a_needs_mask_and_builds_only_what_is_needed():
    seen = []

    class Both(sg.Op):
        name = "both_user"

        def infer(self, a, b):
            return a.shape, a.dtype

        def f(self, a, b):
            return a * b

        def bprop(self, inputs, out, g, needs):
            seen.append(list(needs))
            a, b = inputs
            return [g * b if needs[0] else None, g * a if needs[1] else None]

    a, b = sg.variable("a", (2,)), sg.variable("b", (2,))
    before = None
    y = sg.sum(Both()(a, b))
    before = len(y.graph)
    (ga,) = sg.grad(y, [a])
    assert seen == [[True, False]]
    assert not any(n.op.name == "multiply" and a in n.inputs for n in y.graph.nodes[before:])
    np.testing.assert_allclose(sg.evaluate(ga, {a: np.ones(2), b: np.array([3.0, 4.0])}), [3, 4])


def test_user_bprop_returning_plain_nodes_still_works():
    class Cube(sg.Op):
        name = "cube_user"

        def f(self, x):
            return x ** 3

        def bprop(self, inputs, output, grad):
            return [grad * 3 * inputs[0] * inputs[0]]

    t = sg.variable("t")
    assert float(sg.evaluate(sg.grad(sg.grad(Cube()(t), t), t), {t: 2.0})) == pytest.approx(12.0)


def test_declarations_as_class_keywords_are_checked():
    class Twice(sg.Op, name="twice_user", elementwise=True, linear=True):
        def f(self, x):
            return 2 * x

    assert Twice.name == "twice_user" and Twice.elementwise and Twice.jvp is not None
    with pytest.raises(TypeError, match="'elementwize' is not something an op declares"):
        class Typo(sg.Op, elementwize=True):  # noqa: F841 - the class statement is the test
            pass


def test_declared_parameters_are_checked_on_every_path():
    class Pad(sg.Op):
        name = "pad_user"
        param_types = {"shape": SHAPE}

        def __init__(self, shape):
            self.shape = shape

        def infer(self, x):
            return self.shape, x.dtype

        def f(self, x):
            return np.broadcast_to(x, self.shape)

    x = sg.variable("x")
    assert Pad((2, 3))(x).shape == (2, 3)
    with pytest.raises(sg.SymgraphError, match="parameter 'shape' must be shape, got list"):
        Pad([2, 3])(x)
    with pytest.raises(sg.SymgraphError, match="parameter 'shape' must be shape"):
        Pad((2, -1))(x)


def test_rewrite_rules_register_for_flags_and_reject_unknown_ones():
    assert any(r.name == "elementwise_of_broadcast" for r in rules_for(Softsign))
    assert not any(r.name == "elementwise_of_broadcast" for r in rules_for(Scale2))
    assert any(r.name == "zero_propagation" for r in rules_for(Scale2))
    with pytest.raises(sg.SymgraphError, match="flag names"):
        register("elementwize")(lambda node: None)


def test_sympy_translation_declared_with_a_user_op():
    class Cosh(sg.Op):
        name = "cosh_user"
        elementwise = True

        def f(self, x):
            return np.cosh(x)

        def to_sympy(self, bridge, node, x):
            return bridge.elementwise(bridge.sympy.cosh, node, x)

    import sympy

    t = sg.variable("t")
    assert sg.to_sympy(Cosh()(t)) == sympy.cosh(sympy.Symbol("t"))

    class Opaque(sg.Op):
        name = "opaque_user"
        to_sympy = NO_SYMPY

        def f(self, x):
            return x

    with pytest.raises(sg.SymgraphError, match="op 'opaque_user' .* has no sympy translation"):
        sg.to_sympy(Opaque()(t))


def test_the_command_line_calls_exactly_the_ops_that_allow_it():
    declared = {name for cls in builtin_ops().values()
                for name in ((cls.name,) if cls.cli is True else tuple(cls.cli or ()))}
    assert declared == set(FUNCTIONS)
    assert FUNCTIONS["maximum"][1] == 2 and FUNCTIONS["sum"][1] == 1 and "dot" in FUNCTIONS
    assert "where" not in FUNCTIONS and "one_hot" not in FUNCTIONS


def test_files_saved_with_an_op_s_former_name_still_load(tmp_path):
    x = sg.variable("x", (2,))
    y = x + sg.full((2,), 1.5)
    doc = json.loads(sg.serialize.dumps(y))
    full = [n for n in doc["nodes"] if n["op"].endswith(".Full")]
    assert full, "the fill is saved under its class name"
    for n in full:
        n["op"] = "symgraph.ops.sources.Fill"  # what files written before the rename say
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    loaded = sg.load(path)
    np.testing.assert_allclose(sg.evaluate(loaded, {"x": np.array([1.0, 2.0])}), [2.5, 3.5])


def test_every_builtin_op_is_named_like_its_class_and_builder():
    import re

    import symgraph.ops as ops

    for cls in builtin_ops().values():
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
        assert cls.name.replace("_", "") == snake.replace("_", ""), cls
        for module in (ops, sg.linalg):  # linear algebra builds in sg.linalg
            builder = getattr(module, cls.name, None)
            if callable(builder):  # not a family module of the same name (symgraph.ops.qr)
                assert builder.__name__ == cls.name, cls


def test_op_base_declares_no_parameters_for_parameterless_ops():
    assert Op.param_types is None

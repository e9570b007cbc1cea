"""Fusion rules are registered like rewrite rules: class-hierarchy dispatch, explicit priority."""

from __future__ import annotations

import numpy as np
import pytest

import symgraph as sg
from symgraph.codegen import fusion
from symgraph.graph import apply
from symgraph.ops.elementwise import Binary, Multiply, Subtract

rng = np.random.default_rng(12)


def test_rules_are_tried_by_priority_across_the_class_hierarchy():
    names = [r.name for r in fusion.fusions_for(Subtract)]
    assert names.index("softmax_xent_gradient") < names.index("one_hot_subtract")
    names = [r.name for r in fusion.fusions_for(Multiply)]
    assert names.index("scaled_softmax_xent_gradient") < names.index("scaled_product")


def test_a_subclass_of_multiply_is_still_a_multiply():
    class Times(Multiply):
        name = "times"

    x, s = sg.variable("x", (3, 4)), sg.variable("s")
    y = apply(Times(), [sg.broadcast_to(s, (3, 4)), apply(Times(), [sg.constant(2.0), x])])
    f = sg.function([x, s], y)
    assert "(s * _c0) * x" in f.source  # scaled_product fused it
    xv = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(f(xv, 0.3), sg.evaluate(y, {x: xv, s: 0.3}))


def test_a_registered_fusion_applies_to_its_op_and_subclasses_by_priority():
    class Twice(Binary):
        name = "twice"
        ufunc = np.add

    class Thrice(Twice):
        name = "thrice"

    class Named(fusion.FusedOp):
        elementwise = True

        def __init__(self, name):
            self.name = name

        def emit(self, out, ins, ctx):
            return f"{out} = {ins[0]} + {ins[1]}  # {self.name}"

    @fusion.register_fusion(Twice)
    def low(n, view):
        return Named("low"), list(n.inputs)

    @fusion.register_fusion(Thrice, priority=5)
    def high(n, view):
        return Named("high"), list(n.inputs)

    a, b = sg.variable("a", (2,)), sg.variable("b", (2,))
    f = sg.function([a, b], [apply(Twice(), [a, b]), apply(Thrice(), [a, b])])
    assert "# low" in f.source and "# high" in f.source and f.source.count("# low") == 1
    assert [r.name for r in fusion.fusions_for(Thrice)] == ["high", "low"]


def test_register_fusion_wants_op_classes():
    with pytest.raises(sg.SymgraphError, match="expected Op subclasses"):
        fusion.register_fusion(int)
    with pytest.raises(sg.SymgraphError, match="expected Op subclasses"):
        fusion.register_fusion()

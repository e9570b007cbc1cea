"""Ops that steer differentiation rather than compute: stop_gradient."""

from __future__ import annotations

from ..graph import Node, apply
from .base import Op, as_node, translate_with_f


class StopGradient(Op):
    """Identity forward, zero derivative: the node is a constant to autodiff.

    This is how a vector built from the graph is held fixed in a
    Hessian-vector product (the backprop chapter's Krylov remark).
    """

    name = "stop_gradient"
    differentiable = False
    structural = True
    to_sympy = translate_with_f

    def infer(self, x):
        return x.shape, x.dtype

    def f(self, x):
        return x

    def emit(self, out, ins, ctx):
        return f"{out} = {ins[0]}"

    def batch(self, inputs, batched):
        return apply(self, list(inputs))  # the identity, example by example

    def emits_view(self):
        return True


def stop_gradient(x) -> Node:
    """``x`` unchanged, but no derivative flows through it.

    Autodiff treats the result as a constant: a target, a baseline or a
    direction held fixed (the vector of a Hessian-vector product).

    Examples
    --------
    Only the first factor of ``x * x`` is differentiated:

    >>> x = sg.variable("x")
    >>> y = x * sg.stop_gradient(x)
    >>> sg.evaluate([y, sg.grad(y, x)], {"x": 3.0})
    [array(9.), array(3.)]
    """
    x = as_node(x)
    if isinstance(x.op, StopGradient):
        return x
    return apply(StopGradient(), [x])


__all__ = ["stop_gradient"]

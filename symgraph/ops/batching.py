"""Batching rules: how an op runs over one extra leading batch axis (``sg.vectorize``).

A rule is declared on the op (JAX's ``batching.primitive_batchers``, PyTensor's
``_vectorize_node``)::

    def batch(self, inputs, batched) -> Node

``inputs`` are the op's inputs, rebuilt; those with ``batched[k]`` true carry
one extra leading axis of length B, the others are as before.  The rule
returns the op's result with that leading axis: shape ``(B,) + out.shape``.
It is only called when at least one input is batched, and it builds with
ordinary ops (so a batched graph is differentiable, compilable and drawable
like any other).

Most ops need no code of their own:

* elementwise ops get ``batch_elementwise`` from their flag: batched inputs
  gain length-one axes after the batch axis so numpy broadcasting lines the
  examples up;
* ops that already treat leading axes as a stack (matrix functions) declare
  ``stack_core`` (their core axes per input) and get ``batch_leading``;
* ops with axis parameters are rebuilt with the axes moved past the batch
  axis (``with_params`` and ``shifted``);
* an op without a rule (a user op) is run once per example and stacked
  (``batch_by_loop``): correct, but the graph grows with B.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..errors import SymgraphError
from ..graph import Node, apply


def batch_size(inputs: Sequence[Node], batched: Sequence[bool]) -> int:
    """B, the length of the leading axis of the batched inputs."""
    for x, b in zip(inputs, batched):
        if b:
            return x.shape[0]
    raise SymgraphError("batching rule called without a batched input")


def add_batch(x: Node, size: int) -> Node:
    """An unbatched ``x`` repeated along a new leading axis of length ``size`` (a broadcast view)."""
    from .shape import broadcast_to, reshape

    return broadcast_to(reshape(x, (1,) + x.shape), (size,) + x.shape)


def all_batched(inputs: Sequence[Node], batched: Sequence[bool]) -> list[Node]:
    """Every input with the leading batch axis (unbatched ones broadcast along it)."""
    size = batch_size(inputs, batched)
    return [x if b else add_batch(x, size) for x, b in zip(inputs, batched)]


def expand_after_batch(x: Node, ndim: int) -> Node:
    """A batched ``x`` with length-one axes inserted after the batch axis until it has
    ``1 + ndim`` axes, so it broadcasts example by example against unbatched arrays of
    ``ndim`` axes (numpy lines up trailing axes)."""
    missing = ndim - (x.ndim - 1)
    if missing <= 0:
        return x
    from .shape import reshape

    return reshape(x, x.shape[:1] + (1,) * missing + x.shape[1:])


def batch_elementwise(self: Any, inputs: Sequence[Node], batched: Sequence[bool]) -> Node:
    """The rule of every op that maps elements with numpy broadcasting."""
    ndim = max(x.ndim - b for x, b in zip(inputs, batched))
    return apply(self, [expand_after_batch(x, ndim) if b else x for x, b in zip(inputs, batched)])


def batch_leading(self: Any, inputs: Sequence[Node], batched: Sequence[bool],
                  core: Sequence[int], *, broadcasts: bool = True) -> Node:
    """The rule of an op that works on the last ``core[k]`` axes of input ``k`` and treats
    the axes before them as a stack (numpy.linalg's convention).

    ``broadcasts``: the op broadcasts the stack axes of its inputs against each other
    (``solve``, ``matmul``), so unbatched inputs stay as they are; otherwise (the
    stacks must match) unbatched inputs are broadcast along the batch axis first.
    """
    stack = max(x.ndim - b - c for x, b, c in zip(inputs, batched, core))
    if not broadcasts and not all(batched):
        inputs, batched = all_batched(inputs, batched), [True] * len(inputs)
    return apply(self, [expand_after_batch(x, stack + c) if b else x
                        for x, b, c in zip(inputs, batched, core)])


def batch_stacked(self: Any, inputs: Sequence[Node], batched: Sequence[bool]) -> Node:
    """The rule derived from ``Op.stack_core``: ``batch_leading`` with the declared core axes."""
    return batch_leading(self, inputs, batched, self.stack_core, broadcasts=self.stack_broadcasts)


def batch_by_loop(self: Any, inputs: Sequence[Node], batched: Sequence[bool]) -> Node:
    """The fallback for ops without a rule: the op once per example, stacked.

    Correct for any op, but the graph grows with the batch length, so every
    built-in op declares a real rule instead.
    """
    from .shape import getitem, stack

    size = batch_size(inputs, batched)
    if size == 0:
        raise SymgraphError(f"op {self.name!r} has no batching rule, and a batch of length 0 "
                            "cannot be run example by example")
    return stack([apply(self, [getitem(x, (k,)) if b else x for x, b in zip(inputs, batched)])
                  for k in range(size)])


def with_params(op: Any, **changes: Any) -> Any:
    """A copy of ``op`` with some parameters changed (e.g. its axis moved past the batch)."""
    params = {k: getattr(op, k) for k in op.param_types} if op.param_types else op.params()
    params.update(changes)
    return type(op)(**params)


def shifted(axes: Any) -> Any:
    """Non-negative axis numbers (an int, a tuple of them, or None) moved past the batch axis."""
    if axes is None:
        return None
    if isinstance(axes, int):
        return axes + 1
    return tuple(a + 1 for a in axes)


__all__: list[str] = []

"""Flatten nested lists/tuples/dicts of nodes and rebuild them (so results mirror ``wrt``)."""

from __future__ import annotations

from typing import Any, Callable


def flatten(tree: Any, is_leaf: Callable[[Any], bool]) -> tuple[list, Callable[[list], Any]]:
    """Leaves of ``tree`` in order, and a function that rebuilds the same structure.

    Iterative, so arbitrarily nested structures are fine.
    """
    leaves: list = []

    def walk(t):  # structure depth is user-written, never graph depth
        if is_leaf(t):
            leaves.append(t)
            return ("leaf",)
        if isinstance(t, dict):
            return ("dict", [(k, walk(v)) for k, v in t.items()])
        if isinstance(t, (list, tuple)):
            return (type(t), [walk(v) for v in t])
        leaves.append(t)
        return ("leaf",)

    spec = walk(tree)

    def unflatten(values: list) -> Any:
        it = iter(values)

        def build(s):
            if s[0] == "leaf":
                return next(it)
            if s[0] == "dict":
                return {k: build(v) for k, v in s[1]}
            return s[0](build(v) for v in s[1])

        return build(spec)

    return leaves, unflatten

"""Flatten nested lists/tuples/dicts of nodes and rebuild them (so results mirror ``wrt``)."""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["flatten", "Unflatten"]

_LEAF = ("leaf",)


def flatten(tree: Any, is_leaf: Callable[[Any], bool]) -> tuple[list, Unflatten]:
    """Leaves of ``tree`` in order, and a callable that rebuilds the same structure.

    Both are loops over an explicit stack, so arbitrarily nested structures
    are fine, and the rebuilder holds no reference cycle: the values it is
    given (often large arrays) are freed by reference counting as soon as the
    caller drops the result, not whenever the cycle collector next runs.
    """
    leaves: list = []
    # the structure as postorder steps: _LEAF takes the next value; (container, n) or
    # ("dict", keys) takes the last n built items
    steps: list[tuple] = []
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            steps.append(("dict", tuple(t)) if isinstance(t, dict) else (type(t), len(t)))
        elif is_leaf(t) or not isinstance(t, (dict, list, tuple)):
            leaves.append(t)
            steps.append(_LEAF)
        else:
            stack.append((t, True))
            children = t.values() if isinstance(t, dict) else t
            stack.extend((c, False) for c in reversed(list(children)))
    return leaves, Unflatten(tuple(steps))


class Unflatten:
    """Rebuilds the flattened structure from a list of leaf values (no closures, no cycles).

    ``key`` describes the structure (container types, lengths, dict keys) as
    a hashable tuple: two trees with equal keys differ only in their leaves,
    which is what caches of evaluators and compiled functions are keyed on.
    """

    __slots__ = ("key",)

    def __init__(self, steps: tuple[tuple, ...]) -> None:
        self.key = steps

    def __call__(self, values: list) -> Any:
        built: list = []
        k = 0
        for step in self.key:
            if step is _LEAF:
                built.append(values[k])
                k += 1
                continue
            kind, arg = step
            n = len(arg) if kind == "dict" else arg
            start = len(built) - n
            items = built[start:]
            del built[start:]
            if kind == "dict":
                built.append(dict(zip(arg, items)))
            else:  # a named tuple (numpy's SlogdetResult, SVDResult...) takes its fields apart
                built.append(kind(*items) if hasattr(kind, "_fields") else kind(items))
        return built[0]

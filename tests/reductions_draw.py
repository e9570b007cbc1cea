"""How graphgen draws the parameters of prod, var, argmax/argmin, cumsum and cumprod.

The ``params`` functions of their ``op_table.Draw`` entries: each takes
hypothesis's ``draw`` and the operand's value and returns the keyword
arguments of both the symgraph builder and the numpy reference, or None
when the op must not apply to that value.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from hypothesis import strategies as st

#: graphgen.MARGIN: maxima closer than this could swap under finite-difference steps
MARGIN = 1e-3


def axes(draw, ndim: int):
    """None, an int (maybe negative) or a tuple of distinct axes (some negative)."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if ndim == 0 or kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


def reduce_params(draw, v: np.ndarray) -> dict:
    """``axis`` and ``keepdims`` of a reduction (prod)."""
    return {"axis": axes(draw, v.ndim), "keepdims": draw(st.booleans())}


def var_params(draw, v: np.ndarray) -> dict | None:
    """A reduction's ``axis``/``keepdims`` and ``ddof`` 0 or 1, with ``n - ddof > 0``."""
    params = reduce_params(draw, v)
    params["ddof"] = draw(st.sampled_from([0, 1]))
    axis = params["axis"]
    picked = range(v.ndim) if axis is None else [axis] if isinstance(axis, int) else axis
    n = int(np.prod([v.shape[a] for a in picked]))
    return params if n - params["ddof"] > 0 else None


def scan_params(draw, v: np.ndarray) -> dict:
    """``axis`` of cumsum/cumprod: None (flattened) or one axis, maybe negative."""
    if v.ndim == 0 or draw(st.booleans()):
        return {"axis": None}
    return {"axis": draw(st.integers(-v.ndim, v.ndim - 1))}


def arg_params(largest: bool) -> Callable:
    """The ``params`` of argmax (``largest``) or argmin: no near-ties at the extremum."""
    def params(draw, v: np.ndarray) -> dict | None:
        if v.size == 0:
            return None
        axis = None if v.ndim == 0 or draw(st.booleans()) else draw(st.integers(-v.ndim, v.ndim - 1))
        rows = np.moveaxis(v.reshape(-1) if axis is None else v, -1 if axis is None else axis, -1)
        if rows.shape[-1] == 0:
            return None
        ordered = np.sort(rows, axis=-1)
        if ordered.shape[-1] > 1:
            gap = ordered[..., -1] - ordered[..., -2] if largest else ordered[..., 1] - ordered[..., 0]
            if not np.all(gap >= MARGIN):
                return None
        return {"axis": axis, "keepdims": draw(st.booleans())}

    return params

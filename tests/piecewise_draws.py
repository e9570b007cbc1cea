"""How graphgen draws clip and round (``op_table.Draw`` parts for symgraph/ops/piecewise.py).

Bounds and decimals are chosen so every value stays ``graphgen.MARGIN`` away
from a kink (a bound, or a rounding step), where finite differences would
cross it.  ``op_table`` imports this module while it is being built, so
graphgen (which imports ``op_table``) is imported only when drawing.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import symgraph as sg

#: the numbers graphgen may pass as bounds (values are mostly in [-1.5, 1.5])
BOUNDS = [None, -1.0, -0.25, 0.0, 0.5, 1.0]
#: which bounds are nodes (drawn as operands)
NODES = {0: [""], 1: ["a_min", "a_max"], 2: ["both"]}


def _margin() -> float:
    from graphgen import MARGIN

    return MARGIN


def _bounds(bounds, a_min, a_max, nodes):
    lo = bounds[0] if nodes in ("a_min", "both") else a_min
    hi = bounds[-1] if nodes in ("a_max", "both") else a_max
    return lo, hi


def clip_ref(x, *bounds, a_min=None, a_max=None, nodes=""):
    return np.clip(x, *_bounds(bounds, a_min, a_max, nodes))


def clip_build(x, *bounds, a_min=None, a_max=None, nodes=""):
    return sg.clip(x, *_bounds(bounds, a_min, a_max, nodes))


def clip_operands(draw, value):
    """No, one or two node bounds, shaped like ``value`` or broadcasting to it."""
    shapes = [value.shape, value.shape[1:], ()]
    return [draw(st.sampled_from(shapes)) for _ in range(draw(st.integers(0, 2)))]


def clip_params(draw, x, *bounds):
    """Numbers for the bounds that are not nodes; None when a value is near a kink of
    ``minimum(a_max, maximum(a_min, x))``."""
    nodes = draw(st.sampled_from(NODES[len(bounds)]))
    params = {"a_min": None, "a_max": None, "nodes": nodes}
    if nodes not in ("a_min", "both"):
        params["a_min"] = draw(st.sampled_from(BOUNDS))
    if nodes not in ("a_max", "both"):
        params["a_max"] = draw(st.sampled_from(BOUNDS))
    lo, hi = _bounds(bounds, params["a_min"], params["a_max"], nodes)
    if lo is None and hi is None:
        return None
    m = x
    if lo is not None:
        if np.min(np.abs(x - lo), initial=np.inf) < _margin():
            return None
        m = np.maximum(x, lo)
    if hi is not None and np.min(np.abs(m - hi), initial=np.inf) < _margin():
        return None
    return params


def round_params(draw, x):
    """``decimals`` in {0, 1, -1}, if every value is MARGIN away from that rounding's steps."""
    decimals = draw(st.sampled_from([0, 0, 1, -1]))
    scale = 10.0 ** decimals
    y = x * scale - 0.5  # the steps are at the half-integers of x * scale
    return {"decimals": decimals} if np.all(np.abs(y - np.round(y)) >= _margin() * scale) else None


CLIP = {"ref": clip_ref, "params": clip_params, "operands": clip_operands, "build": clip_build}

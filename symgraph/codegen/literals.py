"""Exact Python source for numpy values, so compiled ``.source`` runs on its own.

Scalars and arrays of up to ``INLINE_LIMIT`` elements are written as numpy
literals (``np.float64(0.5)``, ``np.array([...], dtype=np.int64).reshape(...)``);
floats use ``repr``, which round-trips exactly.  Larger arrays are written as
base64 of their bytes, which is exact too and keeps the source short.
"""

from __future__ import annotations

import base64
import math

import numpy as np

INLINE_LIMIT = 64


def dtype_source(dtype: np.dtype) -> str:
    """``np.float64``-style source for a dtype (``np.dtype('>f8')`` when not native)."""
    dtype = np.dtype(dtype)
    if not dtype.isnative:
        return f"np.dtype({dtype.str!r})"
    if dtype == np.bool_:
        return "np.bool_"
    return f"np.{dtype.name}"


def _scalar(x) -> str:
    if isinstance(x, bool):
        return repr(x)
    if isinstance(x, complex):
        return f"complex({_scalar(x.real)}, {_scalar(x.imag)})"
    if isinstance(x, float) and not math.isfinite(x):
        return f"float({repr(x)!r})"
    return repr(x)


def literal(value) -> str:
    """Source that rebuilds ``value`` (a numpy scalar or array) with its exact dtype and bits."""
    arr = np.asarray(value)
    dt = dtype_source(arr.dtype)
    if arr.ndim == 0 and not isinstance(value, np.ndarray):
        return f"{dt}({_scalar(arr.item())})"
    if arr.size <= INLINE_LIMIT:
        flat = "[" + ", ".join(_scalar(v) for v in arr.ravel().tolist()) + "]"
        out = f"np.array({flat}, dtype={dt})"
        return out if arr.ndim == 1 else f"{out}.reshape({arr.shape})"
    data = base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii")
    return (f"np.frombuffer(base64.b64decode({data!r}), dtype={arr.dtype.str!r})"
            f".reshape({arr.shape})")

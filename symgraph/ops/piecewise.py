"""Piecewise elementwise functions: clip, floor, ceil, round, mod, fmax, fmin
(numpy/JAX conventions at ties and steps, stated per op).
"""

from __future__ import annotations

__all__: list[str] = []

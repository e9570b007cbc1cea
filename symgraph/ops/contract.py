"""Tensor contractions: einsum (the derivative of an einsum is an einsum), tensordot,
outer, inner, kron and dot with numpy's N-D semantics.
"""

from __future__ import annotations

__all__: list[str] = []

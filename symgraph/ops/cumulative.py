"""Reductions along one axis that keep it: cumsum, cumprod, diff.
"""

from __future__ import annotations

__all__: list[str] = []

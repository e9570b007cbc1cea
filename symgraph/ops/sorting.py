"""Sorting: sort (its derivative routes each cotangent back to the element it came from).
"""

from __future__ import annotations

__all__: list[str] = []

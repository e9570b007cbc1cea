"""Numerically stable elementwise functions that are single ops, not compositions:
softplus, log_sigmoid, logaddexp, logaddexp2, xlogy, hypot, arctan2.
"""

from __future__ import annotations

__all__: list[str] = []

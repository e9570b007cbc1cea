"""Vector and matrix norms with numpy.linalg.norm's ord/axis/keepdims semantics.
"""

from __future__ import annotations

__all__: list[str] = []

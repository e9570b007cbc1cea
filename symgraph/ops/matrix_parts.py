"""Parts of matrices: diag, diagonal, trace, triu, tril.
"""

from __future__ import annotations

__all__: list[str] = []

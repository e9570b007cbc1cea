"""numpy's array-manipulation functions built from the core shape ops: squeeze,
expand_dims, ravel, swapaxes, moveaxis, flip, roll, repeat, tile, split, array_split,
hstack, vstack, column_stack, pad, take, take_along_axis.
"""

from __future__ import annotations

__all__: list[str] = []

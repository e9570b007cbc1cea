"""Measured peak memory of a compiled call, shared by the memory-plan tests."""

from __future__ import annotations

import tracemalloc


def measured_peak(f, values) -> int:
    """tracemalloc's peak over one call beyond what was allocated before it (numpy reports
    its buffers to tracemalloc), kept workspace included."""
    f(*values)  # warm up caches and the allocator
    f.free_workspace()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        f(*values)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()

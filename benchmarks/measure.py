"""Measuring helpers shared by the benchmarks: interleaved timing rounds and traced peaks.

Rounds are interleaved (every method once per round) so that load on a shared
machine hits all methods alike; callers report the min and the median.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any, Callable


def interleaved(fns: dict[str, Callable[[], Any]], rounds: int, clock) -> dict[str, list[float]]:
    """Seconds of each call of each callable, round by round, after one warm-up call each."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(rounds):
        for k, f in fns.items():
            start = clock()
            f()
            times[k].append(clock() - start)
    return times


def traced_peak(fn: Callable[[], Any], before: Callable[[], Any] | None = None) -> int:
    """tracemalloc's peak over one call of ``fn`` beyond what was allocated before it (numpy
    reports its buffers to tracemalloc), after a warm-up call and ``before()``."""
    fn()
    if before is not None:
        before()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()

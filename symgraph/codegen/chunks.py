"""A long function written as several: chunks of about ``CHUNK_LINES`` lines.

CPython compiles one function as a whole: a 10^6-line ``def`` takes gigabytes
(its syntax tree, symbol table and code object at once) and passes over it
that grow faster than its length.  A function whose body is longer than
``CHUNK_LINES`` is written instead as functions ``_chunk0``, ``_chunk1``, ...
of at most about that many lines each (split between statements), compiled
one at a time, and a main function calling them in turn:

    def _chunk0(_s, _ws):
        _w0, _w1 = _ws[0:2]
        x = _s['x']             # read again by a later chunk: stays
        sin1 = np.sin(x, out=_w0)
        ...
        _s.update(mul7=mul7)    # read by a later chunk

    def compiled(x, _ws=None):
        _ws = _workspace() if _ws is None else _ws
        _s = {"x": x}
        _chunk0(_s, _ws)
        return _chunk1(_s, _ws)

A value crossing chunks goes through the dict ``_s``: stored by the chunk
that makes it, loaded by the chunks that read it, and taken out (``pop``) by
the last of them (``a, b = map(_s.pop, ('a', 'b'))``), so it is freed as the
single function would free it.
``Chunker`` records, while the statements are written, the names each chunk
reads before writing them and the ones it writes: every step is linear.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Mapping
from types import CodeType
from typing import Iterator

from ..graph import Node

#: a function body longer than this many lines is split into chunk functions
CHUNK_LINES = 2000
#: names moved to or from ``_s`` (or workspace buffers unpacked) by one statement, at most:
#: a statement per name would add half the statements of a long gradient
PER_LINE = 8


class Chunker:
    """Where a function's body splits into chunks and the names crossing them.

    The writer calls ``group(at)`` before each statement (``at``: its first
    body line; a chunk closes there once it holds ``limit`` lines), ``read``
    for each local an expression reads and ``wrote`` for each local a
    statement binds; ``slot`` for each workspace buffer it writes into.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.starts = [0]  # each chunk's first body line
        self.exposed: list[dict[str, None]] = [{}]  # names read before written in the chunk
        self.written: list[dict[str, None]] = [{}]
        self.slots: list[set[int]] = [set()]
        self.last_read: dict[str, int] = {}  # name -> the last chunk reading it from _s

    def group(self, at: int) -> None:
        if at - self.starts[-1] >= self.limit:
            self.starts.append(at)
            self.exposed.append({})
            self.written.append({})
            self.slots.append(set())

    def read(self, name: str) -> None:
        c = len(self.starts) - 1
        if name not in self.written[c]:
            self.exposed[c][name] = None
            self.last_read[name] = c

    def wrote(self, name: str) -> None:
        self.written[-1][name] = None

    def slot(self, k: int) -> None:
        self.slots[-1].add(k)

    def prologue(self, c: int) -> list[str]:
        """Chunk ``c``'s first lines: its workspace buffers, then the values of earlier
        chunks it reads (taken out of ``_s`` by their last reader)."""
        lines = []
        slots = sorted(self.slots[c])
        runs: list[list[int]] = []  # consecutive slots: one slice
        for k in slots:
            if runs and runs[-1][-1] + 1 == k and len(runs[-1]) < PER_LINE:
                runs[-1].append(k)
            else:
                runs.append([k])
        for run in runs:
            lines.append(f"_w{run[0]} = _ws[{run[0]}]" if len(run) == 1 else
                         f"{', '.join(f'_w{k}' for k in run)} = _ws[{run[0]}:{run[-1] + 1}]")
        taken = [n for n in self.exposed[c] if self.last_read[n] == c]
        lines += [f"{n} = _s[{n!r}]" for n in self.exposed[c] if self.last_read[n] != c]
        for k in range(0, len(taken), PER_LINE):
            names = taken[k:k + PER_LINE]
            lines.append(f"{names[0]} = _s.pop({names[0]!r})" if len(names) == 1 else
                         f"{', '.join(names)} = map(_s.pop, ({', '.join(map(repr, names))}))")
        return lines

    def done(self, c: int) -> None:
        """Chunk ``c`` is written: forget its names."""
        self.exposed[c] = self.written[c] = {}
        self.slots[c] = set()

    def epilogue(self, c: int) -> list[str]:
        """Chunk ``c``'s last lines: the values it made that later chunks read."""
        kept = [n for n in self.written[c] if self.last_read.get(n, -1) > c]
        return [f"_s.update({', '.join(f'{n}={n}' for n in kept[k:k + PER_LINE])})"
                for k in range(0, len(kept), PER_LINE)]


class LineNodes(Mapping):
    """Line of the source -> the node it computes, in 12 bytes a line (a dict takes
    about 100): the lines, increasing, in an array, the nodes in a list."""

    def __init__(self) -> None:
        self.lines = array("q")
        self.nodes: list[Node] = []

    def add(self, line: int, node: Node) -> None:
        """Map ``line`` (greater than any added so far) to ``node``."""
        self.lines.append(line)
        self.nodes.append(node)

    def __getitem__(self, line: int) -> Node:
        k = bisect_left(self.lines, line) if isinstance(line, int) else len(self.lines)
        if k == len(self.lines) or self.lines[k] != line:
            raise KeyError(line)
        return self.nodes[k]

    def __iter__(self) -> Iterator[int]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


def shift_lines(code: CodeType, by: int) -> CodeType:
    """``code`` (and the code nested in it: comprehensions, lambdas) moved ``by`` lines
    down: a chunk compiled alone reports the lines of the whole source."""
    consts = tuple(shift_lines(c, by) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + by, co_consts=consts)

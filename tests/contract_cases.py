"""How graphgen draws ``einsum`` (the test table's "einsum" entry): numpy subscripts for
one operand, or for two sharing some dimensions.

The subscripts cover what numpy's parser takes: implicit and explicit outputs,
letters of both cases (the implicit output sorts them by character code),
diagonals (a letter repeated in one operand), letters summed out, ``...``
(broadcast between the operands), and size-1 dimensions broadcast against a
letter's size.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import symgraph as sg

POOL = "ijkabXY"


def ref(*arrays: np.ndarray, subscripts: str) -> np.ndarray:
    return np.einsum(subscripts, *arrays)


def build(*nodes: sg.Node, subscripts: str) -> sg.Node:
    return sg.einsum(subscripts, *nodes)


def operands(draw, a: np.ndarray) -> list[tuple[int, ...]] | None:
    """No second operand, or one whose dimensions mostly repeat sizes of ``a``'s."""
    if a.ndim > 4:
        return None
    if draw(st.booleans()):
        return []
    sizes = list(a.shape) + [1, 2, 3]
    return [tuple(draw(st.sampled_from(sizes)) for _ in range(draw(st.integers(0, 3))))]


def params(draw, a: np.ndarray, b: np.ndarray | None = None) -> dict | None:
    """Subscripts for ``a`` (and ``b``): letters shared where the sizes allow it."""
    letters = list(draw(st.permutations(POOL)))

    def name(d: int, term: dict[str, int], other: dict[str, int]) -> str:
        """A letter for a dimension of size ``d``: a repeat in its own operand (a diagonal)
        needs the same size, a letter of the other operand a size that broadcasts."""
        reuse = [c for c, e in term.items() if e == d] + [
            c for c, e in other.items() if c not in term and (e == d or 1 in (d, e))]
        c = draw(st.sampled_from(reuse)) if reuse and draw(st.booleans()) else letters.pop()
        term.setdefault(c, d)
        return c

    ell_a = draw(st.integers(0, a.ndim)) if draw(st.booleans()) else None
    start = ell_a or 0
    dims_a: dict[str, int] = {}
    term_a = "".join(name(d, dims_a, {}) for d in a.shape[start:])
    terms = ["..." * (ell_a is not None) + term_a]
    ell_b = None
    if b is not None:
        ell_shape = a.shape[:start] if ell_a is not None else None
        if ell_shape is not None and draw(st.booleans()):
            r = draw(st.integers(0, min(len(ell_shape), b.ndim)))
            try:
                np.broadcast_shapes(ell_shape, b.shape[:r])
                ell_b = r
            except ValueError:
                pass
        dims_b: dict[str, int] = {}
        term_b = "".join(name(d, dims_b, dims_a) for d in b.shape[ell_b or 0:])
        terms.append("..." * (ell_b is not None) + term_b)
    inputs = ",".join(terms)
    if draw(st.booleans()):
        return {"subscripts": inputs}  # implicit output
    used = sorted(set("".join(terms).replace(".", "")))
    out = [c for c in draw(st.permutations(used)) if draw(st.booleans())]
    if ell_a is not None or ell_b is not None:
        out.insert(draw(st.integers(0, len(out))), "...")
    return {"subscripts": inputs + "->" + "".join(out)}

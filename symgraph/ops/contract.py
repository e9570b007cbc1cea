"""Tensor contractions: einsum (the derivative of an einsum is an einsum), tensordot,
outer, inner, kron and dot with numpy's N-D semantics.

One op, ``Einsum``, holds a contraction in a canonical explicit form: letters
only, each operand's subscripts as long as its rank, the output always given,
and every letter of one size in all operands (``"ij,jk->ik"``).  Its builder
``einsum`` does what numpy's parser does (implicit output, ``...``, size-1
dimensions broadcast against a letter's size, numpy's sublist form) and turns
all of it into that form, so the op and its rules see no special case: an
ellipsis is a few more letters and a broadcast size-1 dimension is reshaped
away (its adjoint, a reshape back, then gets the dimension summed out).

The order of the pairwise contractions is searched once, when the node is
built (``np.einsum_path`` on shapes only), and stored on the op: evaluation and
compiled code pass it to ``np.einsum`` and never search again.

The other builders are compositions of ``einsum`` and ``reshape`` (``dot`` of
vectors and matrices stays a ``matmul``).
"""

from __future__ import annotations

import functools
import numbers
import operator
import re
import string
from typing import Any, Sequence

import numpy as np

from ..errors import ShapeError, SymgraphError
from ..graph import Node, apply
from .base import Op, ParamKind, as_nodes, broadcast_shapes
from .linalg import matmul
from .linalg_patterns import einsum_pairs, einsum_pattern
from .patterns import differentiable_input, nonzero_mask
from .shape import broadcast_to, reshape, transpose
from .sources import constant

#: numpy's subscripts: 52 letters (an einsum has at most 52 distinct dimensions)
LETTERS = string.ascii_letters

_CANONICAL = re.compile(r"[a-zA-Z]*(?:,[a-zA-Z]*)*->[a-zA-Z]*")


def _is_path(v: Any) -> bool:
    return isinstance(v, tuple) and len(v) > 0 and all(
        isinstance(step, tuple) and len(step) > 0
        and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in step)
        for step in v)


#: An einsum in canonical explicit form, e.g. ``"ij,jk->ik"``.
SUBSCRIPTS = ParamKind("einsum subscripts like 'ij,jk->ik' (letters, commas, one '->')",
                       lambda v: isinstance(v, str) and len(v) <= 10_000
                       and _CANONICAL.fullmatch(v) is not None)
#: The order of contractions, as ``np.einsum_path`` gives it without its leading "einsum_path".
PATH = ParamKind("contraction path (a non-empty tuple of non-empty tuples of operand positions)",
                 _is_path)


def split(subscripts: str) -> tuple[list[str], str]:
    """The operands' subscripts and the output's of a canonical ``"ij,jk->ik"``."""
    ins, out = subscripts.split("->")
    return ins.split(","), out


class Einsum(Op):
    """``np.einsum(subscripts, *operands)`` in canonical form (see the module docstring).

    Multilinear: the jvp is the product rule, and the adjoint for an operand is
    another einsum of the cotangent with the other operands, to that operand's
    subscripts (see ``adjoint``).
    """

    name = "einsum"
    param_types = {"subscripts": SUBSCRIPTS, "path": PATH}
    multilinear = True

    def __init__(self, subscripts: str, path: tuple[tuple[int, ...], ...]) -> None:
        self.subscripts = subscripts
        self.path = path

    def describe(self) -> str:
        """``einsum[ij,jk->ik]``: the subscripts say it all (the path is an implementation detail)."""
        return f"einsum[{self.subscripts}]"

    def infer(self, *inputs):
        terms, out = split(self.subscripts)
        sizes = letter_sizes(self.subscripts, [x.shape for x in inputs])
        check_path(self.path, len(inputs), self.subscripts)
        dtype = np.result_type(*[x.dtype for x in inputs])
        return tuple(sizes[c] for c in out), dtype

    def optimize(self) -> Any:
        """``np.einsum``'s ``optimize`` argument: the stored path (one operand: nothing to order)."""
        return False if len(self.path) == 1 and len(self.path[0]) == 1 else ["einsum_path", *self.path]

    def f(self, *arrays):
        return np.einsum(self.subscripts, *arrays, optimize=self.optimize())

    def emit(self, out, ins, ctx):
        return f"{out} = np.einsum({self.subscripts!r}, {', '.join(ins)}, optimize={self.optimize()!r})"

    def to_sympy(self, bridge, node, *arrays):
        return np.asarray(np.einsum(self.subscripts, *arrays, optimize=False), dtype=object)

    def bprop(self, inputs, out, g, needs):
        return [self.adjoint(k, inputs, g) if need else None for k, need in enumerate(needs)]

    def batch(self, inputs, batched):
        """One more letter, for the batch axis, on the batched operands and first in the
        output; the contraction order is searched again (with the batch, contracting the
        unbatched operands first may pay)."""
        terms, out = split(self.subscripts)
        letter = next((c for c in LETTERS if c not in self.subscripts), None)
        if letter is None:
            raise SymgraphError(f"einsum {self.subscripts!r} uses all 52 letters numpy allows: "
                                "none is left to name a batch axis")
        subs = ",".join(letter + t if b else t for t, b in zip(terms, batched))
        return contract(f"{subs}->{letter}{out}", inputs)

    def _masks(self, node: Node) -> tuple[list[str], str, dict[str, int], dict[int, np.ndarray]]:
        terms, out = split(self.subscripts)
        sizes = letter_sizes(self.subscripts, [x.shape for x in node.inputs])
        masks = {}
        for j, x in enumerate(node.inputs):
            m = nonzero_mask(x)
            if m is not None:
                masks[j] = m
        return terms, out, sizes, masks

    def sparsity(self, node):
        """An output element reads the operand elements whose shared letters agree with it,
        and only where the constant operands can be non-zero (found by an einsum of masks)."""
        terms, out, sizes, masks = self._masks(node)
        return [einsum_pattern(terms, out, sizes, k, masks) if differentiable_input(x) else None
                for k, x in enumerate(node.inputs)]

    def hessian_pairs(self, node, a, b, rows):
        """Operand elements meet only within one product term (shared letters agreeing)."""
        terms, out, sizes, masks = self._masks(node)
        return einsum_pairs(terms, out, sizes, a, b, masks, rows)

    def adjoint(self, k: int, inputs: Sequence[Node], g: Node) -> Node:
        """The gradient for operand ``k``: an einsum of ``g`` with the other operands.

        Letters operand ``k`` repeats (a diagonal, ``"ii"``) are renamed apart in
        the result and tied to their first occurrence by identity matrices among
        the operands (``"i,ib->ib"`` for ``"ii->i"``), which puts the values on
        the diagonal.  Letters found only in operand ``k`` (summed in the
        forward) cannot be made by an einsum: they are broadcast afterwards.
        """
        terms, out = split(self.subscripts)
        sizes = letter_sizes(self.subscripts, [x.shape for x in inputs])
        others = [j for j in range(len(inputs)) if j != k]
        fresh = iter([c for c in LETTERS if c not in sizes] + [None] * len(terms[k]))
        renamed, eyes = [], []
        for pos, c in enumerate(terms[k]):
            if c in terms[k][:pos]:
                c2 = next(fresh)
                if c2 is None:
                    raise SymgraphError(f"einsum {self.subscripts!r}: no letters left to name the "
                                        f"diagonal of operand {k} in its gradient")
                renamed.append(c2)
                eyes.append(c + c2)
            else:
                renamed.append(c)
        made = set(out).union(*[terms[j] for j in others], *eyes)
        kept = "".join(c for c in renamed if c in made)
        eye_nodes = [constant(np.eye(sizes[e[0]], dtype=g.dtype), graph=g.graph) for e in eyes]
        subs = ",".join([out] + [terms[j] for j in others] + eyes) + "->" + kept
        grad = contract(subs, [g] + [inputs[j] for j in others] + eye_nodes)
        if len(kept) < len(renamed):
            x = inputs[k]
            grad = reshape(grad, tuple(d if c in made else 1 for c, d in zip(renamed, x.shape)))
            grad = broadcast_to(grad, x.shape)
        return grad


# ---------------------------------------------------------------------------
# checks shared by the op and the builders
# ---------------------------------------------------------------------------

def letter_sizes(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> dict[str, int]:
    """The size of each letter of a canonical einsum, or the error naming what disagrees."""
    terms, out = split(subscripts)
    if len(terms) != len(shapes):
        raise SymgraphError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands, "
                            f"got {len(shapes)}")
    sizes: dict[str, int] = {}
    where: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        if len(term) != len(shape):
            raise ShapeError(f"einsum: operand {k} has shape {tuple(shape)} ({len(shape)} "
                             f"dimensions) but subscripts {term!r} name {len(term)}")
        for c, d in zip(term, shape):
            if c not in sizes:
                sizes[c], where[c] = d, k
            elif sizes[c] != d:
                place = "repeats" if where[c] == k else f"has size {sizes[c]} in operand {where[c]} and"
                raise ShapeError(f"einsum: subscript {c!r} {place} size {d} in operand {k} "
                                 f"(shapes {', '.join(str(tuple(s)) for s in shapes)}; "
                                 f"subscripts {subscripts!r})")
    for pos, c in enumerate(out):
        if c in out[:pos]:
            raise SymgraphError(f"einsum: output subscript {c!r} is repeated in {subscripts!r}")
        if c not in sizes:
            raise SymgraphError(f"einsum: output subscript {c!r} appears in no operand of "
                                f"{subscripts!r}")
    return sizes


def check_path(path: tuple[tuple[int, ...], ...], n: int, subscripts: str) -> None:
    """A contraction order must contract ``n`` operands down to one, each step over live ones."""
    for step in path:
        if len(set(step)) != len(step) or max(step) >= n:
            raise SymgraphError(f"einsum {subscripts!r}: contraction path {path} is invalid for "
                                f"{'one operand' if n == 1 else f'{n} operands'} at step {step}")
        n -= len(step) - 1
    if n != 1:
        raise SymgraphError(f"einsum {subscripts!r}: contraction path {path} leaves {n} operands")


# ---------------------------------------------------------------------------
# numpy's subscripts to the canonical form
# ---------------------------------------------------------------------------

def _parse(subscripts: str) -> tuple[list[str], str | None]:
    """The terms (``...`` kept) and the output (None: implicit) of numpy's subscripts."""
    s = subscripts.replace(" ", "")
    ins, arrow, out = s.partition("->")
    if "->" in out:
        raise SymgraphError(f"einsum: subscripts {subscripts!r} have more than one '->'")
    terms = ins.split(",")
    for what, term in [(f"operand {k}", t) for k, t in enumerate(terms)] + (
            [("the output", out)] if arrow else []):
        rest = term.replace("...", "", 1)
        bad = next((c for c in rest if c not in LETTERS), None)
        if bad is not None:
            why = ("a '.' that is not part of one ellipsis ('...')" if bad == "." else
                   f"{bad!r}; subscripts are letters, one '...' per operand, ',' and '->'")
            raise SymgraphError(f"einsum: subscripts {subscripts!r} have {why} (in {what})")
    return terms, (out if arrow else None)


def _sublist_letters(sub: Any) -> str:
    """One sublist of numpy's interleaved form as subscripts: 0-25 are ``A-Z``, 26-51 ``a-z``
    (numpy's C parser: its implicit output is sorted by them)."""
    if isinstance(sub, (str, Node)) or not hasattr(sub, "__iter__"):
        raise SymgraphError(f"einsum: expected subscripts (a string) or a sublist of ints, got "
                            f"{type(sub).__name__} {sub!r:.40}")
    text = ""
    for s in sub:
        if s is Ellipsis:
            text += "..."
            continue
        try:
            i = operator.index(s)
        except TypeError:
            i = -1
        if not 0 <= i < 52 or isinstance(s, bool):
            raise SymgraphError(f"einsum: sublist subscripts are ints in [0, 52) or Ellipsis, "
                                f"got {s!r:.40}")
        text += LETTERS[26 + i] if i < 26 else LETTERS[i - 26]
    return text


def _from_sublists(args: Sequence[Any]) -> tuple[str, list[Any]]:
    """numpy's other form ``einsum(op0, sublist0, op1, sublist1, ..., [sublistout])`` as a
    subscripts string and the operands."""
    operands = list(args[0::2])
    out = operands.pop() if len(args) % 2 else None
    subs = ",".join(_sublist_letters(s) for s in args[1::2])
    if out is not None:
        subs += "->" + _sublist_letters(out)
    return subs, operands


def normalize(subscripts: str, shapes: Sequence[tuple[int, ...]]) -> tuple[str, list[tuple[int, ...]]]:
    """numpy's ``subscripts`` for operands of ``shapes`` in canonical form, and the shape each
    operand is reshaped to first (its size-1 dimensions that broadcast are dropped).

    Ellipses become letters no operand uses (each operand's ellipsis taking the
    last ones, as numpy aligns them to the right); the implicit output is the
    ellipsis followed by the letters used once, in order of character code.
    """
    terms, out = _parse(subscripts)
    if len(terms) != len(shapes):
        raise SymgraphError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands, "
                            f"got {len(shapes)}")
    ell_shapes = []
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term.replace("...", ""))
        if ("..." in term and named > len(shape)) or ("..." not in term and named != len(shape)):
            raise ShapeError(f"einsum: operand {k} has shape {tuple(shape)} ({len(shape)} "
                             f"dimensions) but subscripts {term!r} name {named}")
        if "..." in term:
            start = term.index("...")
            ell_shapes.append(tuple(shape[start:start + len(shape) - named]))
    ell = broadcast_shapes(ell_shapes, f"einsum {subscripts!r}: the ellipsis dimensions") \
        if ell_shapes else ()
    used = set("".join(terms))
    free = [c for c in LETTERS if c not in used]
    if len(ell) > len(free):
        raise SymgraphError(f"einsum: {subscripts!r} needs more than the 52 letters numpy allows")
    ell_letters = "".join(free[:len(ell)])
    full = []
    for term, shape in zip(terms, shapes):
        n_ell = len(shape) - len(term.replace("...", ""))
        full.append(term.replace("...", ell_letters[len(ell) - n_ell:] if n_ell else ""))
    if out is None:
        counts = "".join(terms).replace(".", "")
        out = ell_letters + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    elif "..." in out:
        out = out.replace("...", ell_letters)
    elif ell:
        raise SymgraphError(f"einsum: the operands of {subscripts!r} have ellipsis dimensions "
                            f"(broadcast shape {ell}) but the output has no '...' for them")
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(full, shapes)):
        for pos, (c, d) in enumerate(zip(term, shape)):
            if c in term[:pos] and shape[term.index(c)] != d:
                raise ShapeError(f"einsum: operand {k} (shape {tuple(shape)}) repeats subscript "
                                 f"{c!r} over dimensions of sizes {shape[term.index(c)]} and {d} "
                                 f"(subscripts {subscripts!r})")
            if sizes.get(c, 1) == 1:
                sizes[c] = d
            elif d not in (1, sizes[c]):
                raise ShapeError(f"einsum: subscript {c!r} has sizes {sizes[c]} and {d} that cannot "
                                 f"be broadcast (shapes {', '.join(str(tuple(s)) for s in shapes)}; "
                                 f"subscripts {subscripts!r})")
    kept_terms, kept_shapes = [], []
    for term, shape in zip(full, shapes):
        keep = [p for p, (c, d) in enumerate(zip(term, shape)) if d == sizes[c]]
        kept_terms.append("".join(term[p] for p in keep))
        kept_shapes.append(tuple(shape[p] for p in keep))
    canonical = ",".join(kept_terms) + "->" + out
    letter_sizes(canonical, kept_shapes)  # the output's own checks
    return canonical, kept_shapes


# ---------------------------------------------------------------------------
# the contraction order
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _searched_path(subscripts: str, shapes: tuple[tuple[int, ...], ...], how: str) -> tuple:
    dummies = [np.broadcast_to(np.zeros(()), s) for s in shapes]  # shapes only: no memory
    return tuple(tuple(int(i) for i in step)
                 for step in np.einsum_path(subscripts, *dummies, optimize=how)[0][1:])


def contraction_path(subscripts: str, shapes: Sequence[tuple[int, ...]], optimize: Any) -> tuple:
    """The stored contraction order for numpy's ``optimize``: True/"greedy", "optimal", False
    (all operands in one step) or an explicit ``["einsum_path", (0, 1), ...]``."""
    n = len(shapes)
    if optimize is False or n == 1:
        return (tuple(range(n)),)
    if optimize is True:
        optimize = "greedy"
    if isinstance(optimize, str) and optimize in ("greedy", "optimal"):
        return _searched_path(subscripts, tuple(tuple(s) for s in shapes), optimize)
    if isinstance(optimize, (list, tuple)) and optimize and optimize[0] == "einsum_path":
        try:
            path = tuple(tuple(operator.index(i) for i in step) for step in optimize[1:])
        except TypeError:
            path = ()
        if _is_path(path):
            check_path(path, n, subscripts)
            return path
    raise SymgraphError(f"einsum: optimize must be True, False, 'greedy', 'optimal' or a path "
                        f"['einsum_path', (0, 1), ...], got {optimize!r:.80}")


def contract(subscripts: str, operands: Sequence[Any], optimize: Any = "greedy") -> Node:
    """An einsum already in canonical form (``"ij,jk->ik"``, every letter of one size).

    Builders and rules call this one: one operand in the output's own order is
    the operand, a permutation of it a ``transpose``; anything else an ``Einsum``
    with its contraction order searched now.
    """
    nodes = as_nodes(*operands)
    shapes = [x.shape for x in nodes]
    letter_sizes(subscripts, shapes)
    terms, out = split(subscripts)
    if len(nodes) == 1 and len(set(terms[0])) == len(terms[0]) and sorted(terms[0]) == sorted(out):
        return transpose(nodes[0], tuple(terms[0].index(c) for c in out))
    return apply(Einsum(subscripts, contraction_path(subscripts, shapes, optimize)), nodes)


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------

def einsum(subscripts: Any, *operands: Any, optimize: Any = "greedy") -> Node:
    """``np.einsum(subscripts, *operands)``: any subscripts numpy accepts.

    Implicit output (``"ij,jk"``), ``...`` with broadcasting, repeated letters
    (``"ii->i"`` a diagonal, ``"ii"`` a trace), scalars, size-1 dimensions
    broadcast against a letter's size, and numpy's sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.  ``optimize`` (default "greedy",
    where numpy's default is False; values agree up to rounding) picks the
    contraction order once, now: True/"greedy", "optimal", False (one step), or
    an explicit ``["einsum_path", (0, 1), ...]``.  Derivatives are einsums too.

    Examples
    --------
    A batched matrix product, and the gradient of a squared Frobenius norm:

    >>> a, b = sg.variable("a", (2, 2, 3)), sg.variable("b", (2, 3, 2))
    >>> sg.einsum("bij,bjk->bik", a, b).shape
    (2, 2, 2)
    >>> A = sg.variable("A", (2, 2))
    >>> sg.evaluate(sg.grad(sg.einsum("ij,ij", A, A), A), {"A": np.array([[1., 2.], [3., 4.]])})
    array([[2., 4.],
           [6., 8.]])
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists((subscripts, *operands))
    nodes = as_nodes(*operands)
    canonical, shapes = normalize(subscripts, [x.shape for x in nodes])
    return contract(canonical, [reshape(x, s) for x, s in zip(nodes, shapes)], optimize)


def _axes_list(axes: Any, ndim: int, what: str) -> list[int]:
    items = [axes] if isinstance(axes, numbers.Integral) else list(axes)
    out = []
    for a in items:
        if not isinstance(a, numbers.Integral) or isinstance(a, bool):
            raise SymgraphError(f"tensordot: axes must be ints, got {a!r:.40}")
        if not -ndim <= a < ndim:
            raise ShapeError(f"tensordot: axis {a} is out of bounds for {what} with {ndim} dimensions")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise SymgraphError(f"tensordot: duplicate axes {items} for {what}")
    return out


def tensordot(a: Any, b: Any, axes: Any = 2) -> Node:
    """``np.tensordot``: sum products over ``axes`` of ``a`` and ``b``.

    ``axes=N`` (a non-negative int) pairs the last N axes of ``a`` with the
    first N of ``b``; ``axes=(axes_a, axes_b)`` pairs them explicitly (ints or
    equal-length sequences, negative allowed).  The result has ``a``'s free
    axes then ``b``'s.  Paired dimensions must be equal (no broadcasting, as
    numpy).  Contracting several axes at once (a layer over image patches, a
    tensor network) needs no reshapes.

    Examples
    --------
    >>> x, w = sg.variable("x", (2, 3, 4)), sg.variable("w", (3, 4, 5))
    >>> sg.tensordot(x, w, axes=([1, 2], [0, 1])).shape
    (2, 5)
    >>> u, v = sg.variable("u", (3,)), sg.variable("v", (3,))
    >>> sg.evaluate(sg.grad(sg.tensordot(u, v, axes=1), u), {"u": np.ones(3), "v": [1., 2., 3.]})
    array([1., 2., 3.])
    """
    a, b = as_nodes(a, b)
    if isinstance(axes, numbers.Integral) and not isinstance(axes, bool):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: axes={n} must be between 0 and the smaller rank of shapes "
                             f"{a.shape} and {b.shape}")
        axes_a, axes_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        try:
            first, second = axes
        except (TypeError, ValueError):
            raise SymgraphError(f"tensordot: axes must be an int or a pair (axes_a, axes_b), "
                                f"got {axes!r:.60}") from None
        axes_a = _axes_list(first, a.ndim, f"shape {a.shape}")
        axes_b = _axes_list(second, b.ndim, f"shape {b.shape}")
        if len(axes_a) != len(axes_b):
            raise ShapeError(f"tensordot: {len(axes_a)} axes of a but {len(axes_b)} of b")
    for i, j in zip(axes_a, axes_b):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(f"tensordot: shape-mismatch for sum: axis {i} of shape {a.shape} has "
                             f"size {a.shape[i]}, axis {j} of shape {b.shape} has {b.shape[j]}")
    n_letters = a.ndim + b.ndim - len(axes_a)
    if n_letters > len(LETTERS):
        raise SymgraphError(f"tensordot: shapes {a.shape} and {b.shape} have more than 52 "
                            "dimensions to name")
    ta = LETTERS[:a.ndim]
    extra = iter(LETTERS[a.ndim:])
    paired = dict(zip(axes_b, axes_a))
    tb = "".join(ta[paired[j]] if j in paired else next(extra) for j in range(b.ndim))
    out = "".join(c for i, c in enumerate(ta) if i not in axes_a) + \
        "".join(c for j, c in enumerate(tb) if j not in paired)
    return contract(f"{ta},{tb}->{out}", [a, b])


def outer(a: Any, b: Any) -> Node:
    """``np.outer``: both operands flattened, ``out[i, j] = a[i] * b[j]``.

    Each ``a[i]``'s gradient sums over the row it scales.

    Examples
    --------
    >>> u, v = sg.variable("u", (2,)), sg.variable("v", (3,))
    >>> o = sg.outer(u, v)
    >>> feed = {"u": np.array([1., 2.]), "v": np.array([1., 10., 100.])}
    >>> sg.evaluate(o, feed)
    array([[  1.,  10., 100.],
           [  2.,  20., 200.]])
    >>> sg.evaluate(sg.grad(o.sum(), u), feed)
    array([111., 111.])
    """
    a, b = as_nodes(a, b)
    return contract("i,j->ij", [reshape(a, (-1,)), reshape(b, (-1,))])


def inner(a: Any, b: Any) -> Node:
    """``np.inner``: sum of products over the last axes; shape ``a.shape[:-1] + b.shape[:-1]``.

    A 0-d operand multiplies (numpy's rule).  Each row of a matrix dotted with a
    vector, without transposing.

    Examples
    --------
    >>> B, q = sg.variable("B", (4, 3)), sg.variable("q", (3,))
    >>> sg.evaluate(sg.inner(B, q), {"B": np.arange(12.).reshape(4, 3), "q": [1., 0., -1.]})
    array([-2., -2., -2., -2.])
    """
    a, b = as_nodes(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"inner: shapes {a.shape} and {b.shape} not aligned: last dimensions "
                         f"{a.shape[-1]} != {b.shape[-1]}")
    return tensordot(a, b, ([-1], [-1]))


def kron(a: Any, b: Any) -> Node:
    """``np.kron``: the Kronecker product of ``a`` and ``b``.

    The operand of lower rank gets leading 1s first; the result's shape is the
    elementwise product of the shapes.  ``kron(eye(n), A)`` is the block diagonal
    with ``n`` copies of ``A``, and each copy passes its gradient back to ``A``.

    Examples
    --------
    >>> A = sg.variable("A", (2, 2))
    >>> K = sg.kron(sg.eye(2), A)
    >>> sg.evaluate(K, {"A": np.array([[1., 2.], [3., 4.]])})
    array([[1., 2., 0., 0.],
           [3., 4., 0., 0.],
           [0., 0., 1., 2.],
           [0., 0., 3., 4.]])
    >>> sg.evaluate(sg.grad(K.sum(), A), {"A": np.zeros((2, 2))})
    array([[2., 2.],
           [2., 2.]])
    """
    a, b = as_nodes(a, b)
    nd = max(a.ndim, b.ndim)
    if 2 * nd > len(LETTERS):
        raise SymgraphError(f"kron: shapes {a.shape} and {b.shape} have more than 26 dimensions")
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    ta, tb = LETTERS[:nd], LETTERS[nd:2 * nd]
    pairs = contract(f"{ta},{tb}->" + "".join(x + y for x, y in zip(ta, tb)),
                     [reshape(a, sa), reshape(b, sb)])
    return reshape(pairs, tuple(x * y for x, y in zip(sa, sb)))


def dot(a: Any, b: Any) -> Node:
    """``np.dot`` with its N-D rule: a sum over the last axis of ``a`` and one of ``b``.

    That axis of ``b`` is its second-to-last (the only one of a 1-D ``b``); a
    0-d operand multiplies.  The shape is
    ``a.shape[:-1] + b.shape[:-2] + b.shape[-1:]`` (unlike ``matmul``, N-D
    operands do not broadcast as batches).
    Vectors and matrices (and N-D with 1-D) are a ``matmul``; other N-D pairs a
    ``tensordot``.

    Examples
    --------
    >>> sg.dot(sg.variable("T", (2, 3, 4)), sg.variable("S", (5, 4, 6))).shape
    (2, 3, 5, 6)
    >>> w, x = sg.variable("w", (2,)), sg.variable("x", (2,))
    >>> sg.evaluate(sg.grad(sg.dot(w, x) ** 2, w), {"w": [1., 2.], "x": [3., 4.]})
    array([66., 88.])
    """
    a, b = as_nodes(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    jb = 0 if b.ndim == 1 else b.ndim - 2
    if a.shape[-1] != b.shape[jb]:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} "
                         f"(dim {a.ndim - 1}) != {b.shape[jb]} (dim {jb})")
    if a.ndim == 1 or b.ndim == 1 or (a.ndim == 2 and b.ndim == 2):
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [jb]))


__all__ = ["einsum", "tensordot", "outer", "inner", "kron", "dot"]

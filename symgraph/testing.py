"""Finite-difference checks of derivatives, for users writing their own ops.

``check_grads`` is symgraph's ``jax.test_util.check_grads`` /
``pytensor.gradient.verify_grad``: it differentiates a function (or an
``sg.Op``) symbolically in reverse mode (bprop) and forward mode (jvp), and
compares every element with central finite differences.  For ``order`` > 1 it
repeats the check on the derivative itself (reverse of reverse, forward of
reverse, ...), so the derivatives of a bprop rule -- which are what Hessians
and Hessian-vector products use -- are checked too.

On disagreement it raises ``GradientCheckError`` (an ``AssertionError``, so it
reads naturally in pytest) naming the mode, the order, the input and the
element, with the analytic and numeric values side by side.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .autodiff import grad, jvp
from .errors import DTypeError, GradientCheckError, SymgraphError
from .evaluate import Evaluator
from .graph import Graph, Node, apply
from .ops.base import Op
from .ops.elementwise import add_n, cast
from .ops.reduce import sum as reduce_sum
from .ops.sources import constant, variable
from .structure import flatten

__all__ = ["check_grads", "GradientCheckError", "CheckReport", "default_tolerances"]

MODES = ("fwd", "rev")
_MODE_NAMES = {"fwd": "forward mode (jvp)", "rev": "reverse mode (bprop)"}

#: (eps, rtol, atol) by the least precise floating dtype involved.  Central
#: differences err by ~eps**2 (truncation) + machine_eps/eps (rounding), so eps
#: sits near machine_eps**(1/3) and the tolerances well above both errors.
_DEFAULTS = {
    np.dtype("float64"): (1e-6, 1e-5, 1e-5),
    np.dtype("float32"): (1e-3, 2e-3, 2e-3),
    np.dtype("float16"): (3e-2, 1e-1, 1e-1),
}


def default_tolerances(dtype: Any) -> tuple[float, float, float]:
    """``(eps, rtol, atol)`` that ``check_grads`` uses for ``dtype``.

    Chosen so that central differences, whose error is about ``eps**2``
    (truncation) plus ``machine_eps / eps`` (rounding), pass for correct
    derivatives and fail for wrong ones; float32 is looser.

    Parameters
    ----------
    dtype : numpy dtype or str
        A real floating dtype.

    Returns
    -------
    tuple of float
        ``(eps, rtol, atol)``.

    Raises
    ------
    DTypeError
        For other dtypes.

    Examples
    --------
    >>> sg.testing.default_tolerances(np.float64)
    (1e-06, 1e-05, 1e-05)
    >>> sg.testing.default_tolerances("float32")
    (0.001, 0.002, 0.002)
    """
    dtype = np.dtype(dtype)
    if dtype not in _DEFAULTS:
        raise DTypeError(f"check_grads: no default tolerances for dtype {dtype}; "
                         "only real floating dtypes are checked")
    return _DEFAULTS[dtype]


@dataclass
class CheckReport:
    """What ``check_grads`` compared: the checks run, elements compared, worst error/tolerance.

    Attributes
    ----------
    checks : list of str
        The checks made, e.g. ``"rev x0"`` (reverse mode, input 0),
        ``"fwd x0 out0"``, ``"adjoint"`` (``<w, J u> == <J^T w, u>``); a prefix
        such as ``"rev.fwd"`` is the same check on a derivative.
    compared : int
        Elements compared in all.
    worst : float
        The largest error as a fraction of its tolerance (below 1: passed).

    Examples
    --------
    >>> report = sg.testing.check_grads(lambda x: sg.sum(sg.sin(x) * x), np.array([0.5, 1.0]),
    ...                                 order=1, modes=["rev"])
    >>> report.checks, report.compared, report.worst < 1
    (['rev x0'], 2, True)
    """

    checks: list[str] = field(default_factory=list)
    compared: int = 0
    worst: float = 0.0

    def _note(self, label: str, err: np.ndarray, tol: np.ndarray) -> None:
        self.checks.append(label)
        self.compared += int(err.size)
        if err.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                self.worst = max(self.worst, float(np.max(np.where(err == 0, 0, err / tol))))


def check_grads(fn_or_op: Callable | Op | type, inputs: Any, order: int = 2,
                modes: Sequence[str] = MODES, eps: float | None = None,
                rtol: float | None = None, atol: float | None = None, *,
                seed: int = 0) -> CheckReport:
    """Check the derivatives of ``fn_or_op`` at ``inputs`` against finite differences.

    ``fn_or_op`` is an ``sg.Op`` instance (or an Op class constructible without
    arguments), or a Python function from nodes to a node (or a list of nodes).
    ``inputs`` is one array or a list of arrays; floating ones are
    differentiated, integer ones (labels, indices) are only fed.

    Reverse mode is checked element by element: the gradient of ``<w, f(x)>``
    for a random ``w`` against central differences of ``<w, f(x)>`` in each
    element of each input.  Forward mode is checked per input: the jvp along a
    random tangent against central differences of ``f`` along it, element by
    element of the output.  With both modes, ``<w, J u> == <J^T w, u>`` is also
    checked to tight precision.  ``order=k`` repeats all of this on the
    derivatives, k levels deep (each level in every mode).

    ``eps`` is the relative step (scaled by ``max(1, |x|)``); an element passes
    when ``|analytic - numeric| <= atol * scale + rtol * |numeric|`` with
    ``scale = max(1, max |numeric|, max |analytic|)`` over the compared array.
    Defaults depend on the least precise floating dtype involved (float32 is
    looser); see ``default_tolerances``.

    Returns a ``CheckReport``; raises ``GradientCheckError`` on disagreement.

    Parameters
    ----------
    fn_or_op : Op, Op class or callable
        What to check.
    inputs : array_like or list of array_like
        The point; one array per argument.
    order : int, default 2
        How many levels of derivatives to check.
    modes : sequence of {"fwd", "rev"}, default ("fwd", "rev")
        Which modes to check, at every level.
    eps : float, optional
        Relative finite-difference step; default from ``default_tolerances``.
    rtol, atol : float, optional
        Tolerances; defaults from ``default_tolerances``.
    seed : int, default 0
        Seed of the random weights and tangents.

    Returns
    -------
    CheckReport

    Raises
    ------
    GradientCheckError
        The first derivative that disagrees, by mode, order, input and element.

    Examples
    --------
    >>> class Cube(sg.Op):
    ...     name = "cube"
    ...     def f(self, x):
    ...         return x ** 3
    ...     def bprop(self, inputs, output, grad):
    ...         return [grad * 3 * inputs[0] ** 2]
    >>> report = sg.testing.check_grads(Cube(), np.array([0.5, -2.0]), order=2)
    >>> report.checks[:3], report.compared
    (['rev x0', 'fwd x0 out0', 'adjoint'], 15)

    Functions of several inputs, integer ones only fed:

    >>> report = sg.testing.check_grads(lambda z, labels: sg.cross_entropy(z, labels),
    ...                                 [np.zeros((2, 3)), np.array([0, 2])], order=1)
    >>> report.worst < 1
    True
    """
    if not isinstance(order, int) or order < 1:
        raise SymgraphError(f"check_grads: order must be a positive int, got {order!r}")
    modes = tuple(modes)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise SymgraphError(f"check_grads: modes must be a non-empty subset of {MODES}, got {modes!r}")
    fn, label = _as_function(fn_or_op)
    arrays = _as_arrays(inputs)
    op_type = fn_or_op if isinstance(fn_or_op, type) else type(fn_or_op)
    no_jvp = issubclass(op_type, Op) and op_type.jvp is None
    checker = _Checker(fn, label, arrays, eps, rtol, atol, seed, no_jvp)
    return checker.run(order, modes)


# ---------------------------------------------------------------------------
# argument handling
# ---------------------------------------------------------------------------


def _as_function(fn_or_op: Any) -> tuple[Callable, str]:
    if isinstance(fn_or_op, type) and issubclass(fn_or_op, Op):
        fn_or_op = fn_or_op()
    if isinstance(fn_or_op, Op):
        op = fn_or_op
        return (lambda *xs: apply(op, xs)), f"op {op.name!r}"
    if callable(fn_or_op):
        return fn_or_op, f"function {getattr(fn_or_op, '__name__', repr(fn_or_op))!r}"
    raise SymgraphError(f"check_grads: expected an sg.Op or a function of nodes, got "
                        f"{type(fn_or_op).__name__}")


def _as_arrays(inputs: Any) -> list[np.ndarray]:
    if isinstance(inputs, (list, tuple)):
        values = list(inputs)
    else:
        values = [inputs]
    arrays = []
    for k, v in enumerate(values):
        if isinstance(v, Node):
            raise SymgraphError(f"check_grads: input {k} is a Node; pass the numeric value at "
                                "which to check the derivatives")
        a = np.array(v)
        if a.dtype.kind not in "biuf":
            raise DTypeError(f"check_grads: input {k} has dtype {a.dtype}; inputs must be real "
                             "floating arrays (differentiated) or integer/boolean arrays (fed only)")
        arrays.append(a)
    if not any(a.dtype.kind == "f" for a in arrays):
        raise DTypeError("check_grads: no floating-point input to differentiate with respect to")
    return arrays


def _least_precise(dtypes: Sequence[np.dtype]) -> np.dtype:
    floats = [np.dtype(d) for d in dtypes if np.dtype(d).kind == "f"]
    return min(floats, key=lambda d: d.itemsize)


def _index_str(index: tuple) -> str:
    return "()" if not index else "(" + ", ".join(str(i) for i in index) + ("," if len(index) == 1 else "") + ")"


def _path_str(path: tuple[str, ...]) -> str:
    """``("rev", "fwd")`` -> 'forward mode (jvp) of the reverse-mode derivative'."""
    text = _MODE_NAMES[path[-1]]
    for m in reversed(path[:-1]):
        text += f" of the {'reverse' if m == 'rev' else 'forward'}-mode derivative"
    return text


def _path_label(path: tuple[str, ...]) -> str:
    """``("rev", "fwd")`` -> 'fwd.rev' (outermost first, like function composition)."""
    return ".".join(reversed(path))


# ---------------------------------------------------------------------------
# the checker
# ---------------------------------------------------------------------------


class _Checker:
    """Holds the private graph, the variables and the feed; runs the level-by-level checks."""

    def __init__(self, fn: Callable, label: str, arrays: list[np.ndarray], eps, rtol, atol,
                 seed: int, jvp_from_bprop: bool = False) -> None:
        self.label = label
        self.jvp_from_bprop = jvp_from_bprop
        self.arrays = arrays
        self.rng = np.random.default_rng(seed)
        self.graph = Graph("check_grads")
        with self.graph:
            self.xs = [variable(f"x{k}", a.shape, a.dtype) for k, a in enumerate(arrays)]
            out = fn(*self.xs)
        leaves, _ = flatten(out, lambda t: isinstance(t, Node))
        for k, leaf in enumerate(leaves):
            if not isinstance(leaf, Node):
                raise SymgraphError(f"check_grads: {label} returned {type(leaf).__name__} (output "
                                    f"{k}); it must return a Node or a list of Nodes")
            if leaf.graph is not self.graph:
                raise SymgraphError(f"check_grads: {label} returned a node of another graph; build "
                                    "the result from the nodes it is given")
        self.outputs = [n for n in leaves if n.dtype.kind == "f"]
        if not self.outputs:
            raise DTypeError(f"check_grads: {label} has no floating-point output to differentiate")
        self.diff = [k for k, a in enumerate(arrays) if a.dtype.kind == "f"]
        self.dtype = _least_precise([a.dtype for a in arrays] + [o.dtype for o in self.outputs])
        d_eps, d_rtol, d_atol = default_tolerances(self.dtype)
        self.eps = d_eps if eps is None else float(eps)
        self.rtol = d_rtol if rtol is None else float(rtol)
        self.atol = d_atol if atol is None else float(atol)
        self.feed = dict(zip(self.xs, arrays))
        self.report = CheckReport()

    def run(self, order: int, modes: tuple[str, ...]) -> CheckReport:
        level: list[tuple[tuple[str, ...], list[Node]]] = [((), self.outputs)]
        for _ in range(order):
            nxt = []
            for path, fs in level:
                derived = {}
                for mode in sorted(modes, reverse=True):  # bprop first: it is the primary rule
                    check = self._check_rev if mode == "rev" else self._check_fwd
                    derived[mode] = check(fs, path + (mode,))
                if len(modes) == 2:
                    self._check_adjoint(fs, derived["rev"], derived["fwd"], path)
                nxt.extend((path + (m,), derived[m][0]) for m in modes)
            level = [(p, [n for n in fs if n.dtype.kind == "f"]) for p, fs in nxt]
        return self.report

    # -- helpers ------------------------------------------------------------
    def _random(self, node_or_array) -> np.ndarray:
        shape, dtype = np.shape(node_or_array), node_or_array.dtype
        return self.rng.standard_normal(shape).astype(dtype)

    def _eval(self, ev: Evaluator, feed: dict) -> list[np.ndarray]:
        return [np.asarray(v, dtype=np.float64) for v in ev.run(feed)]

    def _contract(self, fs: list[Node], ws: list[np.ndarray]) -> Node:
        """``sum_k <fs[k], ws[k]>`` as one scalar node."""
        with self.graph:
            terms = [reduce_sum(f * constant(w)) for f, w in zip(fs, ws)]
            dtype = np.result_type(*[t.dtype for t in terms])
            return add_n([cast(t, dtype) for t in terms])

    # -- reverse mode: element by element ----------------------------------
    def _check_rev(self, fs: list[Node], path: tuple[str, ...]):
        ws = [self._random(f) for f in fs]
        s = self._contract(fs, ws)
        wrt = [self.xs[k] for k in self.diff]
        grads = grad(s, wrt)
        analytic = self._eval(Evaluator(grads), self.feed)
        ev = Evaluator([s])
        for k, a_k in zip(self.diff, analytic):
            x = self.arrays[k]
            numeric = np.zeros(x.shape)
            for idx in itertools.product(*map(range, x.shape)):
                h = self.eps * max(1.0, abs(float(x[idx])))
                xp, xm = x.copy(), x.copy()
                xp[idx] = x[idx] + h
                xm[idx] = x[idx] - h
                step = float(xp[idx]) - float(xm[idx])  # the step actually taken in x's dtype
                hi = self._eval(ev, {**self.feed, self.xs[k]: xp})[0]
                lo = self._eval(ev, {**self.feed, self.xs[k]: xm})[0]
                numeric[idx] = (hi - lo) / step
            self._compare(a_k, numeric, path, k, f"input {k} (x{k}, shape {x.shape}, {x.dtype})",
                          "element", f"{_path_label(path)} x{k}")
        return grads, ws

    # -- forward mode: one input at a time, element by element of the output
    def _check_fwd(self, fs: list[Node], path: tuple[str, ...]):
        us = {k: self._random(self.arrays[k]) for k in self.diff}
        ev_f = Evaluator(fs)
        for k in self.diff:
            x, u = self.arrays[k], us[k]
            with self.graph:
                ts = jvp(fs, [self.xs[k]], [constant(u)])
            analytic = self._eval(Evaluator(ts), self.feed)
            h = self.eps * max(1.0, float(np.max(np.abs(x), initial=0.0)))
            hi = self._eval(ev_f, {**self.feed, self.xs[k]: (x + h * u).astype(x.dtype)})
            lo = self._eval(ev_f, {**self.feed, self.xs[k]: (x - h * u).astype(x.dtype)})
            for j, (a_j, p, m) in enumerate(zip(analytic, hi, lo)):
                numeric = (p - m) / (2 * h)
                where = f"input {k} (x{k}, shape {x.shape}, {x.dtype}) along a random tangent"
                self._compare(a_j, numeric, path, k, where, f"output {j} element",
                              f"{_path_label(path)} x{k} out{j}")
        with self.graph:
            tangents = jvp(fs, [self.xs[k] for k in self.diff], [constant(us[k]) for k in self.diff])
        return tangents, us

    # -- both: <w, J u> == <J^T w, u> ---------------------------------------
    def _check_adjoint(self, fs, rev, fwd, path) -> None:
        (grads, ws), (tangents, us) = rev, fwd
        values = self._eval(Evaluator(list(grads) + list(tangents)), self.feed)
        g_vals, t_vals = values[:len(grads)], values[len(grads):]
        terms_l = [np.asarray(w, np.float64) * t for w, t in zip(ws, t_vals)]
        terms_r = [g * np.asarray(us[k], np.float64) for k, g in zip(self.diff, g_vals)]
        lhs = float(sum(np.sum(t) for t in terms_l))
        rhs = float(sum(np.sum(t) for t in terms_r))
        scale = max(1.0, sum(float(np.sum(np.abs(t))) for t in terms_l + terms_r))
        tol = 1000 * float(np.finfo(self.dtype).eps) * scale
        err = abs(lhs - rhs)
        self.report._note(f"adjoint{'.' + _path_label(path) if path else ''}",
                          np.array([err]), np.array([tol]))
        if not err <= tol:
            order = len(path) + 1
            raise GradientCheckError(
                f"check_grads: forward and reverse mode of {self.label} are not adjoint at order "
                f"{order}: <w, J u> = {lhs:.9g} but <J^T w, u> = {rhs:.9g} (|diff| {err:.3g} > "
                f"tolerance {tol:.3g}); bprop and jvp describe different derivatives")

    # -- comparison and reporting --------------------------------------------
    def _compare(self, analytic: np.ndarray, numeric: np.ndarray, path, input_index: int,
                 where: str, what: str, note: str) -> None:
        analytic = np.asarray(analytic, np.float64)
        if analytic.shape != numeric.shape:
            raise GradientCheckError(f"check_grads: {_path_str(path)} of {self.label}: analytic "
                                     f"derivative has shape {analytic.shape}, expected {numeric.shape}")
        finite = np.concatenate([np.abs(numeric[np.isfinite(numeric)]),
                                 np.abs(analytic[np.isfinite(analytic)]), [1.0]])
        scale = float(np.max(finite))
        tol = self.atol * scale + self.rtol * np.abs(numeric)
        err = np.abs(analytic - numeric)
        err = np.where(np.isnan(err), np.inf, err)  # NaN on either side always fails
        self.report._note(note, err.ravel(), np.broadcast_to(tol, err.shape).ravel())
        bad = ~(err <= tol)
        if not bad.any():
            return
        ratio = np.where(bad, err / np.where(tol > 0, tol, np.finfo(np.float64).tiny), -1)
        worst = np.unravel_index(int(np.argmax(ratio)), err.shape) if err.ndim else ()
        a, n = float(analytic[worst]), float(numeric[worst])
        hint = ""
        if path[-1] == "fwd" and self.jvp_from_bprop:
            hint = f" ({self.label} defines no jvp: forward mode transposes its bprop)"
        e = GradientCheckError(
            f"check_grads: {_path_str(path)} of {self.label}{hint} disagrees with finite "
            f"differences at order {len(path)} for {where}, at {what} "
            f"{_index_str(tuple(int(i) for i in worst))}: analytic "
            f"{a:.9g}, numeric {n:.9g} (|diff| {abs(a - n):.3g} > tolerance "
            f"{float(np.broadcast_to(tol, err.shape)[worst]):.3g}); {int(bad.sum())} of "
            f"{bad.size} elements disagree [eps={self.eps:g}, rtol={self.rtol:g}, "
            f"atol={self.atol:g}, dtype={self.dtype}]")
        e.mode, e.order, e.path, e.input = path[-1], len(path), path, input_index
        e.where, e.element, e.analytic, e.numeric = where, tuple(int(i) for i in worst), a, n
        raise e

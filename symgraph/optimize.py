"""scipy bridge: a symbolic loss as ``fun``/``jac``/``hessp`` on one flat float64 vector.

scipy's second-order minimizers (``Newton-CG``, ``trust-krylov``, ``trust-ncg``)
and its Krylov solvers (``cg``, ``minres``, ``eigsh``) only need Hessian-vector
products, never the Hessian.  ``objective`` builds the gradient and the HVP
graphs once, keeps one ``Evaluator`` per callable, and only moves numbers
between scipy's flat vector and the parameters' arrays on each call::

    obj = sg.optimize.objective(loss, [W, b], feed={"X": X, "y": y, W: W0, b: b0})
    res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp,
                                  method="Newton-CG")
    W_opt, b_opt = obj.unflatten(res.x)

scipy is imported only when a ``LinearOperator`` is asked for.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .autodiff import build_grad, build_jvp, check_wrt, same_graph
from .traversal import ancestors
from .derivatives import scalar_y
from .errors import ShapeError, SymgraphError
from .evaluate import Evaluator
from .runtime import NameScope, normalize_feed
from .graph import Node
from .ops.elementwise import add_n
from .ops.reduce import sum as reduce_sum
from .ops.sources import full, variable

HVP_MODES = ("fwd", "rev")


class Objective:
    """``loss`` as a function of the flat vector of ``params`` (see ``objective``).

    Attributes: ``params`` (the parameter nodes, flattened), ``size`` (length of
    the flat vector), ``x0`` (the fed parameter values, flat; zeros for those not
    fed), and counters ``nfev`` (loss/gradient evaluations) and ``nhev``
    (Hessian-vector products).
    """

    def __init__(self, loss: Node, params: Any, feed: Mapping | None = None,
                 hvp_mode: str = "fwd") -> None:
        if hvp_mode not in HVP_MODES:
            raise SymgraphError(f"objective: hvp_mode must be 'fwd' or 'rev', got {hvp_mode!r}")
        self.loss = scalar_y(loss, "objective")
        self.params, self._unflatten = check_wrt(params, "objective")
        if len(set(self.params)) != len(self.params):
            raise SymgraphError("objective: a parameter node is listed twice")
        graph = self.graph = same_graph([loss] + self.params, "objective")
        self.shapes = [p.shape for p in self.params]
        self.sizes = [p.size for p in self.params]
        self.offsets = np.cumsum([0] + self.sizes)
        self.size = int(self.offsets[-1])

        fed = normalize_feed(graph, feed or {}, NameScope([loss]))
        self._static = {n: v for n, v in fed.items() if n not in set(self.params)}
        self.x0 = np.zeros(self.size)
        for k, p in enumerate(self.params):
            if p in fed:
                self.x0[self.offsets[k]:self.offsets[k + 1]] = np.ravel(fed[p])

        one = full((), 1, loss.dtype, graph=graph)
        grads = build_grad([loss], [one], self.params)
        # HVP directions are fresh variables of the graph: leaves, fed on every call.
        self._directions = [variable(f"hvp_direction[{p.name or p.id}]", p.shape, p.dtype,
                                     graph=graph) for p in self.params]
        if hvp_mode == "fwd":
            hvps = build_jvp(grads, self.params, self._directions)
        else:
            inner = add_n([reduce_sum(g * d) for g, d in zip(grads, self._directions)])
            hvps = build_grad([inner], [full((), 1, inner.dtype, graph=graph)], self.params)
        self._value_and_grad = Evaluator([loss, grads])
        self._hvp = Evaluator(hvps)
        self._frontier = _direction_frontier(hvps, self._directions)
        self._linearize = Evaluator(self._frontier)
        self._linear_at: tuple[np.ndarray, dict] | None = None
        self._last: tuple[np.ndarray, float, np.ndarray] | None = None
        self.nfev = 0
        self.nhev = 0

    # -- flat vector <-> parameter arrays -----------------------------------
    def split(self, x: Any) -> list[np.ndarray]:
        """Views of the flat vector ``x``, one array per parameter (in ``params`` order)."""
        x = self._flat(x)
        return [x[a:b].reshape(s) for a, b, s in zip(self.offsets, self.offsets[1:], self.shapes)]

    def unflatten(self, x: Any) -> Any:
        """Parameter arrays for the flat vector ``x``, in the structure ``params`` was given."""
        return self._unflatten([np.array(v, dtype=p.dtype) for v, p in zip(self.split(x), self.params)])

    def flatten(self, values: Any) -> np.ndarray:
        """One flat float64 vector from per-parameter arrays (a list in ``params`` order
        or a mapping from parameter nodes)."""
        if isinstance(values, Mapping):
            missing = [p for p in self.params if p not in values]
            if missing:
                raise SymgraphError(f"flatten: no value for parameter {missing[0]!r}")
            values = [values[p] for p in self.params]
        if len(values) != len(self.params):
            raise SymgraphError(f"flatten: {len(self.params)} parameters but {len(values)} arrays")
        out = np.empty(self.size)
        for k, (v, p) in enumerate(zip(values, self.params)):
            v = np.asarray(v, dtype=np.float64)
            if v.shape != p.shape:
                raise ShapeError(f"flatten: array of shape {v.shape} for parameter of shape {p.shape}")
            out[self.offsets[k]:self.offsets[k + 1]] = v.ravel()
        return out

    def _flat(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.size,):
            raise ShapeError(f"expected a flat vector of shape ({self.size},), got shape {x.shape}")
        return x

    def _feed(self, x: np.ndarray) -> dict:
        feed = dict(self._static)
        for p, v in zip(self.params, self.split(x)):
            feed[p] = v if p.dtype == np.float64 else v.astype(p.dtype)
        return feed

    # -- the callables scipy wants ------------------------------------------
    def value_and_grad(self, x: Any) -> tuple[float, np.ndarray]:
        """Loss and flat gradient at ``x`` (one evaluation; for ``minimize(jac=True)``)."""
        x = self._flat(x)
        if self._last is not None and np.array_equal(self._last[0], x):
            return self._last[1], self._last[2].copy()
        value, grads = self._value_and_grad.run(self._feed(x))
        self.nfev += 1
        g = np.concatenate([np.ravel(a) for a in grads]).astype(np.float64, copy=False)
        self._last = (x.copy(), float(value), g)
        return float(value), g.copy()

    def fun(self, x: Any) -> float:
        """The loss at ``x``; computed together with the gradient and cached for ``jac``."""
        return self.value_and_grad(x)[0]

    def jac(self, x: Any) -> np.ndarray:
        """The flat gradient at ``x``."""
        return self.value_and_grad(x)[1]

    def hessp(self, x: Any, p: Any) -> np.ndarray:
        """The Hessian at ``x`` times the flat vector ``p``.

        Krylov solvers call this many times at one ``x``.  The HVP graph's
        nodes that do not depend on ``p`` (the forward pass and most of the
        gradient) are evaluated once per ``x`` and fed back afterwards, so
        each further product only runs the part that is linear in ``p``.
        """
        x, p = self._flat(x), self._flat(p)
        if self._linear_at is None or not np.array_equal(self._linear_at[0], x):
            values = self._linearize.run(self._feed(x))
            self._linear_at = (x.copy(), dict(zip(self._frontier, values)))
        feed = self._feed(x)
        feed.update(self._linear_at[1])
        for d, v, node in zip(self._directions, self.split(p), self.params):
            feed[d] = v if node.dtype == np.float64 else v.astype(node.dtype)
        out = self._hvp.run(feed)
        self.nhev += 1
        return np.concatenate([np.ravel(a) for a in out]).astype(np.float64, copy=False)

    def hessian_operator(self, x: Any):
        """The Hessian at ``x`` as a symmetric ``scipy.sparse.linalg.LinearOperator``."""
        from scipy.sparse.linalg import LinearOperator

        x = self._flat(x).copy()

        def matvec(p):
            return self.hessp(x, np.ravel(p))

        return LinearOperator((self.size, self.size), matvec=matvec, rmatvec=matvec,
                              dtype=np.float64)


def objective(loss: Node, params: Any, feed: Mapping | None = None, *,
              hvp_mode: str = "fwd") -> Objective:
    """Wrap scalar ``loss`` as a function of the flat vector of ``params`` for scipy.

    ``params`` is a node or a (nested) list/tuple/dict of floating nodes
    (usually variables).  ``feed`` gives every other input the loss needs (by
    node or name); values it gives for the parameters become ``x0``.  The
    result has ``fun(x)``, ``jac(x)``, ``hessp(x, p)``, ``value_and_grad(x)``,
    ``hessian_operator(x)``, ``x0``, ``unflatten(x)`` and ``flatten(values)``.
    ``hvp_mode`` picks forward-over-reverse ("fwd", default) or
    reverse-over-reverse ("rev") Hessian-vector products.  Parameters of
    dtype float32 are fed in float32; scipy always sees float64.
    """
    return Objective(loss, params, feed, hvp_mode)


def hessian_operator(loss: Node, params: Any, at: Any = None, feed: Mapping | None = None, *,
                     hvp_mode: str = "fwd"):
    """The Hessian of ``loss`` with respect to ``params`` as a ``LinearOperator``.

    ``at`` is where the Hessian is taken: a flat vector, a list of arrays in
    ``params`` order, a mapping from parameter nodes to arrays, or None to use
    the parameter values in ``feed``.  Each ``matvec`` is one Hessian-vector
    product (one evaluation of a prebuilt graph), so ``scipy.sparse.linalg.cg``,
    ``minres`` and ``eigsh`` work at the cost of a few gradients per iteration.
    """
    obj = Objective(loss, params, feed, hvp_mode)
    if at is None:
        x = obj.x0
    elif isinstance(at, Mapping) or _per_parameter(at, obj.params):
        x = obj.flatten(at)
    else:
        x = obj._flat(at)
    return obj.hessian_operator(x)


def _direction_frontier(outputs: list[Node], directions: list[Node]) -> list[Node]:
    """Computed nodes that do not depend on ``directions`` but feed nodes that do.

    Their values at a given ``x`` are all the direction-dependent part of the
    graph needs (outputs that do not depend on the directions are included).
    """
    order = ancestors(outputs)
    dependent = set(directions)
    for n in order:
        if n not in dependent and any(i in dependent for i in n.inputs):
            dependent.add(n)
    frontier = {i for n in order if n in dependent for i in n.inputs if i not in dependent}
    frontier.update(o for o in outputs if o not in dependent)
    return sorted((n for n in frontier if n.inputs), key=lambda n: n.id)


def _per_parameter(at: Any, params: list[Node]) -> bool:
    """Is ``at`` a list of arrays shaped like ``params``?  (For scalar parameters
    both readings give the same flat vector, so the ambiguity is harmless.)"""
    return (isinstance(at, (list, tuple)) and len(at) == len(params)
            and all(np.shape(a) == p.shape for a, p in zip(at, params)))


__all__ = ["Objective", "objective", "hessian_operator"]

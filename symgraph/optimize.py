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

When the Hessian is sparse (grids, chains, graphs: each parameter meets a
few others), scipy can use the matrix itself: ``obj.hess(x)`` is a
``scipy.sparse.csr_matrix`` built with ``sg.sparse_hessian`` -- its pattern
found from the graph once, then a handful of coloured directional
derivatives per call however many parameters there are -- for
``minimize(method="trust-constr")``, and ``newton`` is a Newton method
with a sparse direct solve::

    res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hess=obj.hess,
                                  method="trust-constr")
    res = sg.optimize.newton(loss, [u], feed={"f": f}, tol=1e-10)

scipy is imported only when a ``LinearOperator``, a sparse Hessian or a
Newton solve is asked for.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .autodiff import build_grad, build_jvp, check_wrt, same_graph
from .traversal import ancestors
from .derivatives import scalar_y
from .errors import DTypeError, MissingInputError, ShapeError, SymgraphError
from .evaluate import Evaluator
from .runtime import NameScope, normalize_feed
from .graph import Node
from .ops.elementwise import add_n, cast
from .ops.reduce import sum as reduce_sum
from .ops.shape import reshape
from .ops.sources import full, variable
from .sparse import SparseDerivative, sparse_hessian
from .transforms.substitute import substitute

HVP_MODES = ("fwd", "rev")


class Objective:
    """``loss`` as a function of the flat vector of ``params`` (see ``objective``).

    The gradient and Hessian-vector-product graphs are built once, when it is
    made; each call only moves numbers between scipy's flat float64 vector and
    the parameters' arrays, and evaluates.

    Parameters
    ----------
    loss : Node
        A floating-point scalar.
    params : Node or list, tuple or dict of Node
        The independent floating-point nodes to optimise (usually variables).
    feed : dict, optional
        Values of the other inputs of ``loss``, by node or name; values given for
        parameters become ``x0``.
    hvp_mode : {"fwd", "rev"}, default "fwd"
        Hessian-vector products by forward-over-reverse or reverse-over-reverse.

    Attributes
    ----------
    params : list of Node
        The parameter nodes, flattened.
    size : int
        Length of the flat vector.
    x0 : numpy.ndarray
        The fed parameter values, flat; zeros for those not fed.
    nfev : int
        Loss and gradient evaluations so far.
    nhev : int
        Hessian-vector products so far.
    nhess : int
        Sparse Hessians (``hess(x)``) so far; the first builds them from
        ``sparse_hessian()``.

    Examples
    --------
    >>> A, b = sg.variable("A", (2,)), sg.variable("b")
    >>> obj = sg.optimize.Objective(sg.sum((A - 1) ** 2) * b, {"A": A}, feed={"b": 2.0, A: [3.0, 3.0]})
    >>> obj.x0, obj.fun(obj.x0), obj.jac(obj.x0)
    (array([3., 3.]), 16.0, array([8., 8.]))
    >>> obj.unflatten(np.array([1.0, 2.0]))
    {'A': array([1., 2.])}
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
        param_set = set(self.params)
        for p in self.params:
            others = [a for a in ancestors([p]) if a in param_set and a is not p]
            if others:
                raise SymgraphError(f"objective: parameter {p.name or f'#{p.id}'!r} is computed "
                                    f"from parameter {others[0].name or f'#{others[0].id}'!r}; "
                                    "parameters must be independent (list only the leaves)")
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
        self._sparse: tuple[SparseDerivative, Any, list[tuple[Node, Node]], Node] | None = None
        self.nfev = 0
        self.nhev = 0
        self.nhess = 0

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

    # -- the sparse Hessian ---------------------------------------------------
    def sparse_hessian(self) -> SparseDerivative:
        """The loss's Hessian with respect to the flat vector, as ``sg.sparse_hessian`` gives it.

        Built on first use and kept: ``.pattern`` (found from the graph, nothing
        evaluated), ``.colors``, ``.n_colors``.  ``sg.sparse_hessian`` wants one
        variable, so several parameters are first rewritten (``sg.substitute``)
        as pieces ``reshape(z[a:b], shape)`` of one flat vector ``z``; the
        pattern is then over scipy's flat vector, blocks between parameters
        included.  A single parameter needs no rewriting (its C-order
        flattening is the flat vector).
        """
        return self._sparse_parts()[0]

    def _sparse_parts(self) -> tuple[SparseDerivative, Any, list[tuple[Node, Node]], Node]:
        if self._sparse is None:
            for p in self.params:
                if p.dtype.kind != "f":
                    raise DTypeError(f"hess: parameter {p.name or p.id!r} has dtype {p.dtype}; "
                                     "the sparse Hessian needs real floating parameters")
            fed = {n: n for n in self._static}  # node of the Hessian's graph -> feed key
            if len(self.params) == 1:
                z, loss = self.params[0], self.loss
            else:
                dtypes = {p.dtype for p in self.params}
                dtype = dtypes.pop() if len(dtypes) == 1 else np.dtype(np.float64)
                z = variable("flat_params", (self.size,), dtype, graph=self.graph)
                pieces = {}
                for p, a, b in zip(self.params, self.offsets, self.offsets[1:]):
                    piece = reshape(z[int(a):int(b)], p.shape)
                    pieces[p] = piece if piece.dtype == p.dtype else cast(piece, p.dtype)
                # a fed computed node is rebuilt too: its feed goes to the rebuilt node, so
                # hess means what fun, jac and hessp mean
                computed = [n for n in self._static if n.inputs]
                loss, *rebuilt = substitute([self.loss, *computed], pieces)
                fed.update(zip(rebuilt, computed))
            derivative = sparse_hessian(loss, z)
            needed = set(ancestors([derivative.compressed]))
            static = [(n, key) for n, key in fed.items() if n in needed and n is not z]
            try:
                compiled = derivative.function([z] + [n for n, _ in static])
            except MissingInputError as e:
                raise MissingInputError(f"hess: {e.args[0].split(':')[0]}: give it a value in "
                                        "the objective's feed") from None
            self._sparse = (derivative, compiled, static, z)
        return self._sparse

    def hess(self, x: Any) -> Any:
        """The Hessian at ``x`` as a ``scipy.sparse.csr_matrix`` (float64, size x size).

        For ``scipy.optimize.minimize(..., hess=obj.hess, method="trust-constr")``
        and for sparse direct solves (``newton``).  The first call builds the
        sparse Hessian (``sparse_hessian``) and compiles it (``sg.function``);
        each call then costs about ``n_colors`` gradients -- a constant number
        for banded and grid problems, where dense ``sg.hessian`` would cost
        ``size`` of them and ``size**2`` memory.
        """
        x = self._flat(x)
        derivative, compiled, static, z = self._sparse_parts()
        value = x if z.dtype == np.float64 else x.astype(z.dtype)
        if len(self.params) == 1:
            value = value.reshape(z.shape)
        H = compiled(value, *(self._static[key] for _, key in static))
        self.nhess += 1
        return H if H.dtype == np.float64 else H.astype(np.float64)


def objective(loss: Node, params: Any, feed: Mapping | None = None, *,
              hvp_mode: str = "fwd") -> Objective:
    """Wrap scalar ``loss`` as a function of the flat vector of ``params`` for scipy.

    ``params`` is a node or a (nested) list/tuple/dict of floating nodes
    (usually variables).  ``feed`` gives every other input the loss needs (by
    node or name); values it gives for the parameters become ``x0``.  The
    result has ``fun(x)``, ``jac(x)``, ``hessp(x, p)``, ``value_and_grad(x)``,
    ``hessian_operator(x)``, ``hess(x)`` (the sparse Hessian as a
    ``scipy.sparse.csr_matrix``, for ``minimize(method="trust-constr")`` or
    ``newton``), ``sparse_hessian()`` (its ``SparseDerivative``: pattern,
    colours), ``x0``, ``unflatten(x)`` and ``flatten(values)``.
    ``hvp_mode`` picks forward-over-reverse ("fwd", default) or
    reverse-over-reverse ("rev") Hessian-vector products.  Parameters of
    dtype float32 are fed in float32; scipy always sees float64.

    Parameters
    ----------
    loss : Node
        A floating-point scalar.
    params : Node or list, tuple or dict of Node
        The independent floating-point nodes to optimise.
    feed : dict, optional
        Values of every other input of ``loss`` (by node or name), and starting
        values of parameters.
    hvp_mode : {"fwd", "rev"}, default "fwd"
        How ``hessp`` computes Hessian-vector products.

    Returns
    -------
    Objective

    See Also
    --------
    newton, hessian_operator

    Examples
    --------
    >>> import scipy.optimize
    >>> w = sg.variable("w", (2,))
    >>> loss = sg.sum((w - np.array([1.0, 2.0])) ** 2) + w[0] ** 4
    >>> obj = sg.optimize.objective(loss, w)
    >>> obj.fun(obj.x0), obj.jac(obj.x0), obj.hessp(obj.x0, np.array([1.0, 0.0]))
    (5.0, array([-2., -4.]), array([2., 0.]))
    >>> res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp,
    ...                               method="Newton-CG")
    >>> res.success, res.x.round(3)
    (True, array([0.59, 2.  ]))
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

    Parameters
    ----------
    loss : Node
        A floating-point scalar.
    params : Node or list, tuple or dict of Node
        The nodes the Hessian is taken with respect to.
    at : array_like, list of arrays or dict, optional
        The point; default None: the parameter values in ``feed``.
    feed : dict, optional
        Values of the other inputs (and of the parameters, when ``at`` is None).
    hvp_mode : {"fwd", "rev"}, default "fwd"
        As for ``objective``.

    Returns
    -------
    scipy.sparse.linalg.LinearOperator
        Symmetric, of size ``(n, n)`` for ``n`` parameter elements in all.

    Examples
    --------
    >>> import scipy.sparse.linalg
    >>> x = sg.variable("x", (3,))
    >>> H = sg.optimize.hessian_operator(sg.sum(x ** 2) + x[0] * x[1], x, at=np.zeros(3))
    >>> H @ np.array([1.0, 0.0, 0.0])
    array([2., 1., 0.])
    >>> scipy.sparse.linalg.eigsh(H, k=1, return_eigenvectors=False).round(6)
    array([3.])
    """
    obj = Objective(loss, params, feed, hvp_mode)
    if at is None:
        x = obj.x0
    elif isinstance(at, Mapping) or _per_parameter(at, obj.params):
        x = obj.flatten(at)
    else:
        x = obj._flat(at)
    return obj.hessian_operator(x)


def newton(loss: Any, params: Any = None, feed: Mapping | None = None, *, tol: float = 1e-8,
           max_iter: int = 50, callback: Any = None) -> Any:
    """Minimise scalar ``loss`` over ``params`` by Newton's method with sparse direct solves.

    Each iteration takes the sparse Hessian ``H`` (``Objective.hess``: a few
    coloured directional derivatives however many parameters there are) and
    the gradient ``g``, and solves ``H p = -g`` with a sparse LU factorization
    (SuperLU, as ``scipy.sparse.linalg.spsolve``; fill-in stays small for
    banded and grid problems, so 10^5 unknowns take a fraction of a second).
    Where ``H`` is not positive definite the Newton step need not go downhill,
    so ``H + mu I`` is solved instead with ``mu`` just large enough to make it
    definite (``newton_direction``).  A backtracking line search then halves
    the step from 1 until the Armijo condition ``f(x + t p) <= f(x) + 1e-4 t
    g.p`` holds; a non-finite loss counts as too large, and numpy warnings
    raised at rejected trial points are dropped.  Close to the minimum the
    loss changes by less than its rounding error, so there a step is also
    accepted when the loss is unchanged up to rounding and the gradient's
    norm decreases.  Near a minimum with a positive definite Hessian the full
    step is taken and convergence is quadratic: the exponent of ``|g|``
    doubles each iteration.

    ``loss`` is a scalar node with ``params`` and ``feed`` as for
    ``objective`` (fed parameter values are the start; zeros otherwise), or
    an ``Objective`` (whose sparse Hessian, once built, is reused).  Stops with
    success when the gradient's 2-norm is at most ``tol``; otherwise after
    ``max_iter`` iterations, or when the line search cannot decrease the loss.
    ``callback(x)`` is called with the flat vector after each iteration.

    Returns a ``scipy.optimize.OptimizeResult`` with ``x`` (flat), ``params``
    (arrays in the structure of ``params``), ``fun``, ``jac``, ``nit``,
    ``success``, ``status`` (0 converged, 1 ``max_iter`` reached, 2 line
    search failed, 3 the Hessian is not finite or could not be made positive
    definite, 4 the gradient vanished where the Hessian has negative
    curvature: a saddle point or a maximum, not a minimum), ``message``, ``nfev``, ``nhess``, and per iteration:
    ``history`` (``|g|``, from the start: ``nit + 1`` values), ``losses``
    (likewise), ``steps`` (step lengths ``t``), ``step_norms`` (``|t p|``) and
    ``shifts`` (``mu``).

    Parameters
    ----------
    loss : Node or Objective
        A floating-point scalar (or an ``Objective`` made of one).
    params : Node or list, tuple or dict of Node, optional
        The nodes to optimise; required unless ``loss`` is an ``Objective``.
    feed : dict, optional
        Other inputs, and the starting parameter values (zeros otherwise).
    tol : float, default 1e-8
        Stop when the gradient's 2-norm is at most this.
    max_iter : int, default 50
        Most iterations.
    callback : callable, optional
        Called as ``callback(x)`` with the flat vector after each iteration.

    Returns
    -------
    scipy.optimize.OptimizeResult
        With the fields listed above.

    See Also
    --------
    objective, newton_direction, symgraph.sparse_hessian

    Examples
    --------
    >>> x = sg.variable("x", (100,))
    >>> f = sg.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)   # Rosenbrock chain
    >>> res = sg.optimize.newton(f, x, {x: np.full(100, 0.5)}, tol=1e-9)
    >>> res.success, res.status, bool(np.abs(res.x - 1).max() < 1e-9)
    (True, 0, True)
    """
    import warnings

    from scipy.optimize import OptimizeResult

    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 0):
        raise SymgraphError(f"newton: max_iter must be an integer >= 0, got {max_iter!r}")
    if not (isinstance(tol, (int, float, np.integer, np.floating)) and tol >= 0):
        raise SymgraphError(f"newton: tol must be a number >= 0, got {tol!r}")
    if isinstance(loss, Objective):
        if params is not None or feed is not None:
            raise SymgraphError("newton: given an Objective, pass no params or feed (it has them)")
        obj = loss
    else:
        if params is None:
            raise SymgraphError("newton: params is missing (the nodes to minimise over)")
        obj = Objective(loss, params, feed)
    x = obj.x0.copy()
    nfev0, nhess0 = obj.nfev, obj.nhess
    f, g = obj.value_and_grad(x)
    if not np.isfinite(f) or not np.all(np.isfinite(g)):
        raise SymgraphError(f"newton: the loss or its gradient is not finite at the start "
                            f"(loss {f})")
    history, losses, steps, step_norms, shifts = [float(np.linalg.norm(g))], [f], [], [], []
    status, message = 1, f"stopped after max_iter={max_iter} iterations"
    nit = 0
    while True:
        if history[-1] <= tol:
            status, message = 0, f"|grad| = {history[-1]:.3g} <= tol = {tol:g}"
            if negative_curvature(obj.hess(x)):
                status, message = 4, (f"|grad| = {history[-1]:.3g} <= tol = {tol:g}, but the "
                                      "Hessian has negative curvature here: a saddle point or "
                                      "a maximum, not a minimum")
            break
        if nit >= max_iter:
            break
        try:
            p, mu = newton_direction(obj.hess(x), g)
        except SymgraphError as e:
            status, message = 3, str(e)
            break
        eps = np.finfo(np.float64).eps
        slope = float(g @ p)
        t, accepted = 1.0, False
        while t >= 1e-12:
            trial = x + t * p
            with warnings.catch_warnings(record=True) as caught:  # overflow at a rejected trial
                warnings.simplefilter("always")                     # point is no news
                f_new, g_new = obj.value_and_grad(trial)
            if np.isfinite(f_new) and (f_new <= f + 1e-4 * t * slope or (
                    abs(f_new - f) <= 8 * eps * max(abs(f), abs(f_new))
                    and np.linalg.norm(g_new) < (1 - 1e-4 * t) * history[-1])):
                accepted = True
                for w in caught:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                break
            t *= 0.5
        if not accepted:
            status, message = 2, "the line search could not decrease the loss along the Newton step"
            break
        x = trial
        f, g = obj.value_and_grad(x)
        nit += 1
        history.append(float(np.linalg.norm(g)))
        losses.append(f)
        steps.append(t)
        step_norms.append(float(t * np.linalg.norm(p)))
        shifts.append(mu)
        if callback is not None:
            callback(x.copy())
    return OptimizeResult(x=x, params=obj.unflatten(x), fun=f, jac=g, nit=nit,
                          success=status == 0, status=status, message=message,
                          nfev=obj.nfev - nfev0, nhess=obj.nhess - nhess0, history=history, losses=losses, steps=steps,
                          step_norms=step_norms, shifts=shifts)


def newton_direction(H: Any, g: np.ndarray) -> tuple[np.ndarray, float]:
    """``p`` solving ``(H + mu I) p = -g`` with the smallest tried ``mu >= 0`` that makes
    ``H + mu I`` positive definite, and that ``mu`` (Nocedal and Wright, Algorithm 3.3).

    The factorization is SuperLU's (what ``scipy.sparse.linalg.spsolve`` runs)
    in symmetric mode with diagonal pivots only, so it is ``L D L^T`` in a
    fill-reducing order and the signs of the pivots are the signs of ``D``:
    all positive exactly when the matrix is positive definite (Sylvester's
    law of inertia).  A definite ``H`` is solved as is (the pure Newton step);
    otherwise ``mu`` starts at ``-min(diag H) + beta`` (or ``beta``), ``beta =
    1e-3 max|H|``, and doubles until the pivots are positive, which makes
    ``p`` a descent direction.

    Parameters
    ----------
    H : scipy.sparse matrix or array_like
        The symmetric Hessian, ``(n, n)``.
    g : numpy.ndarray
        The gradient, ``(n,)``.

    Returns
    -------
    p : numpy.ndarray
        The step.
    mu : float
        The shift used (0 for a positive definite ``H``).

    Raises
    ------
    SymgraphError
        ``H`` is not finite or cannot be made positive definite.

    Examples
    --------
    >>> import scipy.sparse
    >>> p, mu = sg.optimize.newton_direction(scipy.sparse.diags([2.0, 4.0]), np.array([2.0, 4.0]))
    >>> p, float(mu)
    (array([-1., -1.]), 0.0)
    >>> g = np.array([2.0, 1.0])
    >>> p, mu = sg.optimize.newton_direction(scipy.sparse.diags([2.0, -1.0]), g)
    >>> bool(mu > 0), bool(g @ p < 0)           # shifted to a descent direction
    (True, True)
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    H = sp.csc_matrix(H, dtype=np.float64)
    n = H.shape[0]
    diagonal = H.diagonal()
    beta = 1e-3 * max(1.0, float(abs(H).max()) if H.nnz else 0.0)
    mu = 0.0 if n and diagonal.min() > 0 else (beta - diagonal.min() if n else 0.0)
    for _ in range(200):
        A = H if mu == 0 else sp.csc_matrix(H + mu * sp.identity(n, format="csc"))
        try:
            lu = splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                      options={"SymmetricMode": True})
        except RuntimeError:  # an exactly zero pivot: singular
            lu = None
        if lu is not None:
            pivots = lu.U.diagonal()
            if np.all(pivots > 0) and np.all(np.isfinite(pivots)):
                return lu.solve(-np.asarray(g, np.float64)), mu
        mu = max(2 * mu, beta)
    bad = "is not finite" if not np.all(np.isfinite(H.data)) else "could not be made positive definite"
    raise SymgraphError(f"newton: the Hessian {bad} at this point (a kink of the loss, such as "
                        "abs(x) ** 1.5 at 0, has an infinite second derivative); start elsewhere")


def negative_curvature(H: Any) -> bool:
    """Whether the symmetric sparse ``H`` has a negative eigenvalue (beyond rounding).

    The signs of the pivots of an ``L D L^T`` factorization are the signs of the
    eigenvalues (Sylvester's law of inertia); a tiny shift keeps a singular but
    semi-definite ``H`` (``x**4`` at its minimum) from counting as indefinite.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    H = sp.csc_matrix(H, dtype=np.float64)
    if H.shape[0] == 0 or not np.all(np.isfinite(H.data)):
        return False
    scale = max(1.0, float(abs(H).max()) if H.nnz else 0.0)
    A = sp.csc_matrix(H + 1e-10 * scale * sp.identity(H.shape[0], format="csc"))
    try:
        lu = splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
    except RuntimeError:
        return False
    return bool(np.any(lu.U.diagonal() < 0))


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


__all__ = ["Objective", "objective", "hessian_operator", "newton", "newton_direction"]

"""Newton-Krylov training with Hessian-vector products vs plain gradient descent.

Multinomial logistic regression (softmax cross-entropy plus L2) on a generated
data set.  The Hessian is never formed: scipy's Newton-CG and trust-krylov
only ask for products ``H p``, which symgraph builds once as a
forward-over-reverse graph (``sg.hvp``) and evaluates per CG step.  The same
products give the largest Hessian eigenvalue (``eigsh`` on
``sg.optimize.hessian_operator``), which sets the step of gradient descent.

    python examples/newton_krylov.py
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import scipy.optimize
import scipy.sparse.linalg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

N, D, C, LAM = 1000, 30, 5, 1e-3
GTOL = 1e-6
GD_MAX_ITER = 1000


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)) * rng.uniform(0.2, 3.0, D)  # badly scaled features
    W_true = rng.standard_normal((D, C))
    y = (X @ W_true + rng.gumbel(size=(N, C))).argmax(axis=1)
    return X, y


def main() -> None:
    X, y = make_data()
    Xn, yn = sg.variable("X", (N, D)), sg.variable("y", (N,), "int64")
    W, b = sg.variable("W", (D, C)), sg.variable("b", (C,))
    loss = sg.cross_entropy(Xn @ W + b, yn) + LAM / 2 * sg.sum(W * W)
    data = {Xn: X, yn: y}

    rows = []

    # -- gradient descent with step 1/L, L = largest Hessian eigenvalue at the start
    obj = sg.optimize.objective(loss, [W, b], data)
    H0 = obj.hessian_operator(obj.x0)
    L = float(scipy.sparse.linalg.eigsh(H0, k=1, which="LA", return_eigenvectors=False)[0])
    t = time.perf_counter()
    x = obj.x0.copy()
    trace = []
    for it in range(1, GD_MAX_ITER + 1):
        f, g = obj.value_and_grad(x)
        if np.linalg.norm(g) < GTOL:
            break
        x -= g / L
        if it in (1, 10, 100):
            trace.append((it, f))
    rows.append(("gradient descent", it, obj.fun(x), np.linalg.norm(obj.jac(x)), obj.nfev, 0,
                 time.perf_counter() - t))

    # -- second-order methods: only Hessian-vector products
    for method, options in (("Newton-CG", {"xtol": 1e-12}), ("trust-krylov", {"gtol": GTOL})):
        obj = sg.optimize.objective(loss, [W, b], data)
        t = time.perf_counter()
        res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp,
                                      method=method, options=options)
        rows.append((method, res.nit, res.fun, np.linalg.norm(obj.jac(res.x)), obj.nfev, obj.nhev,
                     time.perf_counter() - t))

    print(f"softmax regression, N={N}, D={D}, C={C}, lambda={LAM}; stop at |grad| < {GTOL:g}")
    print(f"largest Hessian eigenvalue at the start (eigsh on HVPs): L = {L:.4g}")
    print("gradient descent loss at iteration " + ", ".join(f"{i}: {f:.6f}" for i, f in trace))
    print()
    print(f"(gradient descent stops after {GD_MAX_ITER} iterations)")
    print(f"{'method':<18}{'iterations':>11}{'loss':>14}{'|grad|':>11}{'grad evals':>12}"
          f"{'HVPs':>7}{'seconds':>9}")
    for name, it, f, gn, nf, nh, sec in rows:
        print(f"{name:<18}{it:>11}{f:>14.9f}{gn:>11.1e}{nf:>12}{nh:>7}{sec:>9.2f}")


if __name__ == "__main__":
    main()

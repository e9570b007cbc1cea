"""Logistic regression on a real data set, fitted with Newton-CG, stable at any logit scale.

The Wisconsin breast-cancer data shipped with scikit-learn (569 samples, 30
features, standardised).  The textbook loss
``-mean(y*log(sigmoid(z)) + (1-y)*log(1-sigmoid(z)))`` overflows once the
logits are large: ``1 - sigmoid(z)`` rounds to 0 and its log is -inf.
Written with ``softplus`` (one op with a stable value, gradient and second
derivative), the same loss is finite everywhere:

    log(1 + exp(-z)) = softplus(-z),   log(1 + exp(z)) = softplus(z)

The fit minimises scikit-learn's objective exactly (``C`` times the summed log
loss plus half the squared weights; the intercept is not penalised) with
scipy's Newton-CG, which only asks for Hessian-vector products: symgraph
builds them once as a graph (``sg.optimize.objective``).  The coefficients
agree with ``sklearn.linear_model.LogisticRegression`` to 1e-5.

    python examples/logistic_regression.py
"""

from __future__ import annotations

import os
import sys

import numpy as np
import scipy.optimize

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

C_REG = 1.0  # scikit-learn's C: the inverse regularisation strength


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """The breast-cancer features (standardised) and 0/1 labels."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y.astype(np.float64)


def build_loss(n: int, d: int):
    """scikit-learn's L2 logistic objective as a graph: (loss, w, b, X, y)."""
    X, y = sg.variable("X", (n, d)), sg.variable("y", (n,))
    w, b = sg.variable("w", (d,)), sg.variable("b")
    z = X @ w + b
    log_loss = sg.sum(y * sg.softplus(-z) + (1 - y) * sg.softplus(z))
    loss = C_REG * log_loss + 0.5 * sg.sum(w * w)
    return loss, w, b, X, y


def fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, scipy.optimize.OptimizeResult]:
    """Newton-CG with symbolic Hessian-vector products; returns (w, b, scipy's result)."""
    n, d = X.shape
    loss, w, b, Xn, yn = build_loss(n, d)
    obj = sg.optimize.objective(loss, [w, b], {Xn: X, yn: y})
    res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp,
                                  method="Newton-CG", options={"xtol": 1e-12, "maxiter": 200})
    w_opt, b_opt = obj.unflatten(res.x)
    return w_opt, float(b_opt), res


def fit_sklearn(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C_REG, tol=1e-12, max_iter=10_000).fit(X, y)
    return model.coef_[0], float(model.intercept_[0])


def losses_at_scale(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, scale: float):
    """The softplus loss and the textbook loss (and gradient norms) at ``scale`` times the optimum."""
    n, d = X.shape
    loss, wn, bn, Xn, yn = build_loss(n, d)
    z = Xn @ wn + bn
    naive = C_REG * -sg.sum(y * sg.log(sg.sigmoid(z)) + (1 - y) * sg.log(1 - sg.sigmoid(z))) \
        + 0.5 * sg.sum(wn * wn)
    feed = {Xn: X, yn: y, wn: scale * w, bn: scale * b}
    (gw,) = sg.grad(loss, [wn])
    (gw_naive,) = sg.grad(naive, [wn])
    with np.errstate(all="ignore"):
        values = sg.evaluate([loss, naive, gw, gw_naive], feed)
    return values[0], values[1], np.linalg.norm(values[2]), np.linalg.norm(values[3])


def main() -> dict:
    X, y = load_data()
    w, b, res = fit(X, y)
    w_sk, b_sk = fit_sklearn(X, y)
    gap = max(np.max(np.abs(w - w_sk)), abs(b - b_sk))
    print(f"breast cancer: {X.shape[0]} samples, {X.shape[1]} features")
    print(f"Newton-CG: {res.nit} iterations, {res.nfev} loss evaluations, "
          f"{res.nhev} Hessian-vector products, loss {res.fun:.10g}")
    print(f"largest |coefficient difference| vs scikit-learn: {gap:.2e}")
    accuracy = np.mean(((X @ w + b) > 0) == (y > 0.5))
    print(f"training accuracy: {accuracy:.4f}")
    print()
    print(f"{'scale':>8} {'softplus loss':>15} {'textbook loss':>15} {'|grad| softplus':>16} "
          f"{'|grad| textbook':>16}")
    for scale in (1.0, 10.0, 100.0, 1000.0):
        stable, naive, g, g_naive = losses_at_scale(X, y, w, b, scale)
        print(f"{scale:8g} {stable:15.6g} {naive:15.6g} {g:16.6g} {g_naive:16.6g}")
    return {"w": w, "b": b, "w_sklearn": w_sk, "b_sklearn": b_sk, "gap": gap, "result": res}


if __name__ == "__main__":
    main()

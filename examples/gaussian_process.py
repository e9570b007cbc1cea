"""Gaussian-process regression: kernel hyperparameters by Newton-CG on the marginal likelihood.

The data: scikit-learn's diabetes set (442 patients), body-mass index against
disease progression one year later, both standardised.  The model: a GP with
kernel ``sf2 * exp(-(x - x')^2 / (2 ell^2))`` plus noise of variance ``sn2``,
scikit-learn's ``ConstantKernel * RBF + WhiteKernel``.  The three
hyperparameters are fitted in log space, ``theta = log([sf2, ell, sn2])``
(scikit-learn's order), by minimising the negative log marginal likelihood

    K = sf2 exp(-D / (2 ell^2)) + sn2 I,   L = cholesky(K),   alpha = L^-1 y,
    NLL = 0.5 alpha.alpha + sum(log diag L) + n/2 log(2 pi),

written with ``sg.linalg.cholesky`` and ``sg.linalg.solve_triangular``.
symgraph differentiates through the factorisation: the gradient and the
Hessian-vector products that scipy's Newton-CG asks for are graphs built once
(``sg.optimize.objective``).  The log marginal likelihood at the optimum
agrees with scikit-learn's ``log_marginal_likelihood(theta)`` to 1e-6, and
scikit-learn's own L-BFGS fit lands on the same hyperparameters.  The
posterior mean and standard deviation on a grid come from the same factor
(``sg.linalg.cho_solve``) and agree with ``GaussianProcessRegressor.predict``.

    python examples/gaussian_process.py [--plot [gaussian_process.png]]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import scipy.optimize

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

NAMES = ("signal variance", "length scale", "noise variance")
# Start: the target's variance (1) split between signal and noise, length scale
# the inputs' standard deviation (1).
THETA0 = np.log([0.5, 1.0, 0.5])


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """Body-mass index and disease progression (442 patients), both standardised."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = data.data[:, data.feature_names.index("bmi")]
    y = data.target
    return (x - x.mean()) / x.std(), (y - y.mean()) / y.std()


def rbf(a, b, log_sf2, log_ell):
    """``sf2 exp(-(a_i - b_j)^2 / (2 ell^2))`` for 1-D point sets ``a`` and ``b`` (nodes)."""
    sq = (a[:, None] - b[None, :]) ** 2
    return sg.exp(log_sf2 - 0.5 * sq * sg.exp(-2 * log_ell))


def build_nll(n: int):
    """The negative log marginal likelihood as a graph: (nll, [log_sf2, log_ell, log_sn2], x, y)."""
    x, y = sg.variable("x", (n,)), sg.variable("y", (n,))
    theta = [sg.variable("log_sf2"), sg.variable("log_ell"), sg.variable("log_sn2")]
    log_sf2, log_ell, log_sn2 = theta
    K = rbf(x, x, log_sf2, log_ell) + sg.exp(log_sn2) * sg.eye(n)
    L = sg.linalg.cholesky(K)
    alpha = sg.linalg.solve_triangular(L, y, lower=True)
    nll = (0.5 * sg.sum(alpha * alpha) + sg.sum(sg.log(sg.linalg.diagonal(L)))
           + 0.5 * n * np.log(2 * np.pi))
    return nll, theta, x, y


def fit(x: np.ndarray, y: np.ndarray):
    """Newton-CG from ``THETA0`` with symbolic Hessian-vector products.

    Returns (theta, NLL, gradient at theta, scipy's result).
    """
    nll, theta, xn, yn = build_nll(len(x))
    feed = {xn: x, yn: y, **dict(zip(theta, THETA0))}
    obj = sg.optimize.objective(nll, theta, feed)
    res = scipy.optimize.minimize(obj.fun, obj.x0, jac=obj.jac, hessp=obj.hessp,
                                  method="Newton-CG", options={"xtol": 1e-12, "maxiter": 200})
    value, grad = obj.value_and_grad(res.x)
    return res.x, value, grad, res


def sklearn_kernel(theta: np.ndarray):
    """scikit-learn's ``ConstantKernel * RBF + WhiteKernel`` at ``theta = log([sf2, ell, sn2])``."""
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    sf2, ell, sn2 = np.exp(theta)
    kernel = ConstantKernel(sf2) * RBF(ell) + WhiteKernel(sn2)
    assert np.allclose(kernel.theta, theta)  # kernel.theta is in log space, in this order
    return kernel


def sklearn_reference(x: np.ndarray, y: np.ndarray, theta: np.ndarray, grid: np.ndarray) -> dict:
    """scikit-learn at our optimum (LML, posterior) and its own L-BFGS fit from ``THETA0``.

    ``alpha=0``: scikit-learn adds ``alpha`` (1e-10 by default) to the kernel's
    diagonal; the white noise is already there.
    """
    from sklearn.gaussian_process import GaussianProcessRegressor

    at_ours = GaussianProcessRegressor(sklearn_kernel(theta), alpha=0.0, optimizer=None)
    at_ours.fit(x[:, None], y)
    mean, std = at_ours.predict(grid[:, None], return_std=True)
    own = GaussianProcessRegressor(sklearn_kernel(THETA0), alpha=0.0).fit(x[:, None], y)
    return {"lml": at_ours.log_marginal_likelihood(theta), "mean": mean, "std": std,
            "theta": own.kernel_.theta, "lml_at_own": own.log_marginal_likelihood_value_}


def posterior(x: np.ndarray, y: np.ndarray, theta: np.ndarray, grid: np.ndarray):
    """Posterior mean and standard deviation of the latent function on ``grid`` (symgraph).

    mean = K*' K^-1 y (``cho_solve``),  var = sf2 - |L^-1 K*|^2 per grid point.
    """
    n, m = len(x), len(grid)
    xn, yn, gn = sg.variable("x", (n,)), sg.variable("y", (n,)), sg.variable("grid", (m,))
    log_sf2, log_ell, log_sn2 = (sg.variable(name) for name in ("log_sf2", "log_ell", "log_sn2"))
    K = rbf(xn, xn, log_sf2, log_ell) + sg.exp(log_sn2) * sg.eye(n)
    L = sg.linalg.cholesky(K)
    K_star = rbf(xn, gn, log_sf2, log_ell)                        # (n, m)
    mean = K_star.T @ sg.linalg.cho_solve((L, True), yn)
    V = sg.linalg.solve_triangular(L, K_star, lower=True)
    std = sg.sqrt(sg.exp(log_sf2) - sg.sum(V * V, axis=0))
    feed = {xn: x, yn: y, gn: grid, log_sf2: theta[0], log_ell: theta[1], log_sn2: theta[2]}
    return sg.evaluate([mean, std], feed)


def plot(x, y, grid, mean, std, theta, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sf2, ell, sn2 = np.exp(theta)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.scatter(x, y, s=8, color="0.55", label="patients")
    ax.fill_between(grid, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.25,
                    label="mean ± 2 sd (latent function)")
    ax.plot(grid, mean, color="C0", lw=2, label="posterior mean")
    ax.set(xlabel="body-mass index (standardised)",
           ylabel="disease progression (standardised)",
           title=f"GP fit: sf² = {sf2:.3g}, ℓ = {ell:.3g}, sn² = {sn2:.3g}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plot", nargs="?", const="gaussian_process.png", default=None,
                    metavar="PATH", help="save the posterior plot (default gaussian_process.png)")
    args = ap.parse_args(argv)

    x, y = load_data()
    theta, nll, grad, res = fit(x, y)
    grid = np.linspace(x.min() - 0.5, x.max() + 0.5, 200)
    mean, std = posterior(x, y, theta, grid)
    ref = sklearn_reference(x, y, theta, grid)

    lml_gap = abs(-nll - ref["lml"])
    theta_gap = np.max(np.abs(theta - ref["theta"]))
    # scikit-learn's predictive sd includes the white noise (WhiteKernel.diag)
    sd_gap = np.max(np.abs(np.sqrt(std ** 2 + np.exp(theta[2])) - ref["std"]))
    mean_gap = np.max(np.abs(mean - ref["mean"]))

    print(f"diabetes: {len(x)} patients, body-mass index -> disease progression (standardised)")
    print(f"Newton-CG: {res.nit} iterations, {res.nfev} NLL evaluations, "
          f"{res.nhev} Hessian-vector products")
    for name, t in zip(NAMES, theta):
        print(f"  {name:16} {np.exp(t):.6f}   (log {t:+.6f})")
    print(f"NLL at the optimum: {nll:.10f}   |gradient| = {np.linalg.norm(grad):.1e}")
    print(f"scikit-learn log_marginal_likelihood(theta): {ref['lml']:.10f}   "
          f"|difference| = {lml_gap:.1e} ({'within' if lml_gap < 1e-6 else 'NOT within'} 1e-6)")
    print(f"scikit-learn's own fit (L-BFGS): theta differs by {theta_gap:.1e}, "
          f"LML {ref['lml_at_own']:.10f}")
    print(f"posterior vs scikit-learn predict: mean {mean_gap:.1e}, sd {sd_gap:.1e}")
    if args.plot:
        plot(x, y, grid, mean, std, theta, args.plot)
        print(f"wrote {args.plot}")
    return {"theta": theta, "nll": nll, "grad": grad, "result": res, "lml_sklearn": ref["lml"],
            "lml_gap": lml_gap, "theta_sklearn": ref["theta"], "theta_gap": theta_gap,
            "mean_gap": mean_gap, "sd_gap": sd_gap, "grid": grid, "mean": mean, "std": std}


if __name__ == "__main__":
    main(sys.argv[1:])

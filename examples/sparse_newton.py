"""Newton's method on 10^4-10^5 unknowns with sparse Hessians from the graph.

Two classic large problems whose Hessians are sparse:

(a) a nonlinear Poisson problem on the unit square, -Laplace(u) + exp(u) = f
    with u = 0 on the boundary, as the minimiser of its discretised energy
    sum over a grid x grid interior of  1/2 |grad_h u|^2 + exp(u) - f u
    (five-point stencil: 5 non-zeros per Hessian row).  f is manufactured
    from u*(x, y) = 2 sin(pi x) sin(2 pi y), so the discrete solution must
    also be within O(h^2) of u*.
(b) the Rosenbrock chain sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, whose
    Hessian is tridiagonal, from scipy's tutorial start (1.3, 0.7, 0.8, 1.9,
    1.2) repeated; the minimiser is all ones.

symgraph finds each Hessian's pattern from the graph (``sg.hessian_sparsity``,
nothing evaluated), colours its columns, and evaluates the whole Hessian as
one sweep batched over the colours: a handful of directional derivatives
however many unknowns (a dense Hessian would need 13 GB for (a) and 80 GB for
(b)).  ``sg.optimize.newton`` solves each Newton system with a sparse LU, and
the table shows quadratic convergence: the exponent of |grad| doubles once the
full step is taken.

    python examples/sparse_newton.py                 # grid 200 (4x10^4 unknowns), n = 10^5
    python examples/sparse_newton.py --grid 30 --n 1000
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import symgraph as sg  # noqa: E402

TUTORIAL_START = [1.3, 0.7, 0.8, 1.9, 1.2]  # scipy.optimize.minimize's Rosenbrock example


def poisson_problem(grid: int):
    """The energy of -Laplace(u) + exp(u) = f on a grid x grid interior (zero boundary)."""
    h = 1.0 / (grid + 1)
    s = np.arange(1, grid + 1) * h
    X, Y = np.meshgrid(s, s, indexing="ij")
    exact = 2 * np.sin(np.pi * X) * np.sin(2 * np.pi * Y)
    f_values = 5 * np.pi ** 2 * exact + np.exp(exact)  # -Laplace(u*) + exp(u*)
    u = sg.variable("u", (grid, grid))
    f = sg.variable("f", (grid, grid))
    U = sg.pad(u, 1)                                   # the zero boundary values
    du_x = U[1:, 1:-1] - U[:-1, 1:-1]                  # differences across the grid's edges
    du_y = U[1:-1, 1:] - U[1:-1, :-1]
    energy = 0.5 * (sg.sum(du_x ** 2) + sg.sum(du_y ** 2)) + h ** 2 * sg.sum(sg.exp(u) - f * u)
    return energy, u, {f: f_values}, exact


def poisson_residual(u: np.ndarray, f: np.ndarray) -> np.ndarray:
    """-Laplace_h(u) + exp(u) - f with the five-point Laplacian (scipy.sparse, not symgraph)."""
    grid = u.shape[0]
    h = 1.0 / (grid + 1)
    T = sp.diags([-np.ones(grid - 1), 2 * np.ones(grid), -np.ones(grid - 1)], [-1, 0, 1])
    A = (sp.kron(T, sp.identity(grid)) + sp.kron(sp.identity(grid), T)) / h ** 2
    return (A @ u.ravel() + np.exp(u.ravel()) - f.ravel()).reshape(u.shape)


def rosenbrock_problem(n: int):
    x = sg.variable("x", (n,))
    loss = sg.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    return loss, x, {x: np.resize(TUTORIAL_START, n)}


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1000


def median_time(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def solve(title: str, loss, params, feed, tol: float, max_iter: int) -> dict:
    """Build the sparse Hessian, time it against a gradient, run Newton, print the table."""
    obj = sg.optimize.objective(loss, params, feed)
    t = time.perf_counter()
    H = obj.sparse_hessian()            # pattern, colouring, batched graph, compiled
    obj.hess(obj.x0)
    build = time.perf_counter() - t
    rng = np.random.default_rng(0)
    points = iter(obj.x0 + 1e-3 * rng.standard_normal((100, obj.size)))
    t_grad = median_time(lambda: obj.jac(next(points)))   # a fresh point: no cache
    t_hess = median_time(lambda: obj.hess(obj.x0))
    n, nnz = obj.size, H.pattern.nnz
    print(f"== {title}: {n} unknowns")
    print(f"Hessian pattern: {nnz} non-zeros ({nnz / n:.2f} per row), {H.n_colors} colours "
          f"(a dense one: {human_bytes(8.0 * n * n)})")
    print(f"build (pattern + colouring + graph + compile): {build:.2f} s; one sparse Hessian "
          f"{1e3 * t_hess:.2f} ms = {t_hess / t_grad:.1f} gradients ({1e3 * t_grad:.2f} ms)")

    stamps = [time.perf_counter()]
    res = sg.optimize.newton(obj, tol=tol, max_iter=max_iter,
                             callback=lambda x: stamps.append(time.perf_counter()))
    print(f"{'iter':>4} {'loss':>13} {'|grad|':>10} {'step t':>8} {'|dx|':>10} {'shift mu':>9} "
          f"{'seconds':>8}")
    for k in range(res.nit + 1):
        if k == 0:
            print(f"{k:>4} {res.losses[0]:>13.6e} {res.history[0]:>10.3e}")
            continue
        print(f"{k:>4} {res.losses[k]:>13.6e} {res.history[k]:>10.3e} {res.steps[k - 1]:>8.4g} "
              f"{res.step_norms[k - 1]:>10.3e} {res.shifts[k - 1]:>9.3g} "
              f"{stamps[k] - stamps[k - 1]:>8.3f}")
    print(f"{res.message}; {res.nit} iterations in {stamps[-1] - stamps[0]:.2f} s "
          f"({res.nhess} Hessians, {res.nfev} loss+gradient evaluations)")
    return {"result": res, "objective": obj, "n_colors": H.n_colors, "nnz": nnz,
            "build_seconds": build, "hessian_seconds": t_hess, "gradient_seconds": t_grad}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--grid", type=int, default=200,
                        help="interior grid points per side (at least 2)")
    parser.add_argument("--n", type=int, default=100_000,
                        help="length of the Rosenbrock chain (at least 2)")
    args = parser.parse_args(argv)
    if args.grid < 2 or args.n < 2:
        parser.error("--grid and --n must be at least 2")

    with sg.Graph():
        energy, u, feed, exact = poisson_problem(args.grid)
        poisson = solve(f"nonlinear Poisson -Laplace(u) + exp(u) = f, grid {args.grid}x{args.grid}",
                        energy, u, feed, tol=1e-10, max_iter=30)
        u_opt = poisson["result"].params
        f_values = next(iter(feed.values()))
        residual = float(np.abs(poisson_residual(u_opt, f_values)).max())
        error = float(np.abs(u_opt - exact).max())
        print(f"check (scipy.sparse five-point Laplacian): max |-Laplace_h(u) + exp(u) - f| = "
              f"{residual:.2e} (f up to {np.abs(f_values).max():.3g}); "
              f"max |u - u*| = {error:.2e} (h^2 = {(args.grid + 1) ** -2.0:.1e})")
        print()

    with sg.Graph():
        loss, x, feed = rosenbrock_problem(args.n)
        rosenbrock = solve(f"Rosenbrock chain, n = {args.n}", loss, x, feed, tol=1e-9, max_iter=100)
        distance = float(np.abs(rosenbrock["result"].x - 1).max())
        print(f"check: max |x - 1| = {distance:.2e}")

    return {"poisson": poisson, "poisson_residual": residual, "poisson_error": error,
            "rosenbrock": rosenbrock, "rosenbrock_distance": distance}


if __name__ == "__main__":
    main()

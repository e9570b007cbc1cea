"""The examples run and print what they promise."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgraph as sg

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_seed_backprop_prints_the_gradient_table():
    out = subprocess.run([sys.executable, str(EXAMPLES / "seed_backprop.py")], check=True,
                         capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["f", "l2", "y", "l1", "x", "w"]
    assert [float(r[2]) for r in rows] == [1, -2, 2, -2, -2, -4]


def test_mlp_train_learns_digits():
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    module = runpy.run_path(str(EXAMPLES / "mlp_train.py"))
    accuracy = module["main"](["--epochs", "5"])
    assert accuracy > 0.85


def test_logistic_regression_matches_sklearn_and_stays_finite():
    pytest.importorskip("sklearn")
    module = runpy.run_path(str(EXAMPLES / "logistic_regression.py"))
    result = module["main"]()
    assert result["gap"] < 1e-5
    assert result["result"].success
    X, y = module["load_data"]()
    stable, naive, grad_norm, _ = module["losses_at_scale"](X, y, result["w"], result["b"], 1000.0)
    assert np.isfinite(stable) and np.isfinite(grad_norm) and grad_norm > 0
    assert not np.isfinite(naive)  # the textbook form overflows: what the example is about


def test_gaussian_process_matches_sklearn(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    module = runpy.run_path(str(EXAMPLES / "gaussian_process.py"))
    png = tmp_path / "gp.png"
    result = module["main"](["--plot", str(png)])
    assert result["result"].success
    assert np.linalg.norm(result["grad"]) < 1e-6          # a stationary point
    assert result["lml_gap"] < 1e-6                        # sklearn's LML at our theta
    assert abs(-result["nll"] - result["lml_sklearn"]) < 1e-6
    assert result["theta_gap"] < 1e-3                      # sklearn's own optimiser agrees
    assert result["mean_gap"] < 1e-6 and result["sd_gap"] < 1e-6
    assert np.all(result["std"] > 0)
    assert png.stat().st_size > 0


def test_sparse_newton_converges_quadratically_to_the_checked_answers(capsys):
    pytest.importorskip("networkx")
    module = runpy.run_path(str(EXAMPLES / "sparse_newton.py"))
    out = module["main"](["--grid", "24", "--n", "2000"])
    printed = capsys.readouterr().out
    assert "Hessian pattern" in printed and "iter" in printed and "check" in printed

    poisson = out["poisson"]["result"]
    assert poisson.success and poisson.nit <= 8
    # Independent check: the discrete equations, with scipy's five-point Laplacian.
    assert out["poisson_residual"] < 1e-8
    assert out["poisson_error"] < 0.02            # O(h^2) from the manufactured u*
    assert out["poisson"]["n_colors"] <= 8        # five-point stencil: a few colours
    assert out["poisson"]["nnz"] == 5 * 24 ** 2 - 4 * 24
    # Quadratic convergence once the full step is taken: the exponent of |grad| doubles.
    h = poisson.history
    assert h[-2] < 1e-6 and h[-1] < 1e-10 and all(t == 1 for t in poisson.steps)

    rosenbrock = out["rosenbrock"]["result"]
    assert rosenbrock.success and rosenbrock.nit < 40
    assert out["rosenbrock_distance"] < 1e-8      # the minimiser is all ones
    assert out["rosenbrock"]["n_colors"] == 3 and out["rosenbrock"]["nnz"] == 3 * 2000 - 2
    tail = [g for g in rosenbrock.history if 0 < g < 1e-1]
    assert len(tail) >= 2 and all(b < 10 * a ** 1.5 for a, b in zip(tail, tail[1:]))


def test_rnn_scan_learns_to_forecast_noisy_sines_better_than_repeating_the_last_value():
    pytest.importorskip("tqdm")
    module = runpy.run_path(str(EXAMPLES / "rnn.py"))
    out = module["main"](["--quick"])
    assert out["test"] < 0.6 * out["baseline"]          # a real forecast, not a copy
    assert out["test"] > out["noise_floor"]              # and no magic: the noise stays
    assert np.mean(out["history"][-50:]) < 0.6 * np.mean(out["history"][:10])
    assert out["late"] < out["early"]                    # it learns each wave's frequency
    # checkpointing changes the memory, not the gradient: the same training run
    again = module["main"](["--quick", "--steps", "20", "--checkpoint", "6"])
    stored = module["main"](["--quick", "--steps", "20"])
    np.testing.assert_allclose(again["history"], stored["history"], rtol=1e-9)


def test_ode_fit_recovers_the_lotka_volterra_rates_by_newton_cg_through_the_scan():
    module = runpy.run_path(str(EXAMPLES / "ode_fit.py"))
    out = module["main"](["--quick"])
    res = out["result"]
    assert res.success and np.linalg.norm(res.jac) < 1e-4
    assert out["hvps"] > 0                                # Newton-CG used the scan's HVPs
    true = module["TRUE_RATES"]
    assert np.all(np.abs(out["rates"] - true) < 4 * out["se"])   # within the noise's reach
    assert np.all(np.abs(out["rates"] - true) < 0.1 * true)
    assert np.all(out["se"] < 0.1 * true)


def test_readme_loops_snippet_prints_what_it_shows(capsys):
    text = (EXAMPLES.parent / "README.md").read_text()
    section = text.split("### Loops and branches", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    with sg.Graph():
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    shown = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    assert capsys.readouterr().out.splitlines() == shown

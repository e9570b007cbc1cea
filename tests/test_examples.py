"""The examples run and print what they promise."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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

"""The examples run and print what they promise."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

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

"""Smoke tests: benchmark scripts still run end to end at tiny sizes (timings are not checked)."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_quick(script: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), "--quick"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_bench_jacobians_quick():
    out = run_quick("bench_jacobians.py")
    assert "(a) dense Hessian" in out and "(b) sparse Hessians" in out
    assert out.count("targets (reported, not asserted)") == 2


def test_bench_scan_quick():
    out = run_quick("bench_scan.py")
    assert "symgraph scan" in out and "symgraph unrolled" in out
    assert "targets (reported, not asserted)" in out


def run_script(script: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", script), *args],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_bench_build_codegen_table_at_small_sizes():
    out = run_script("bench_build.py", "--levels", "100", "200", "--repeat", "1",
                     "--nodes", "2000", "4000")
    assert "codegen: sg.function" in out and "grad of grad" in out
    rows = [line.split() for line in out.splitlines() if line.strip().endswith(" ok")]
    assert len(rows) == 2  # each compiled chain checked against its closed form


def test_bench_mlp_floor_row_at_few_rounds():
    out = run_script("bench_mlp.py", "--only", "no-peer", "--passes", "1", "--rounds", "2",
                     "--levels", "20")
    assert "| BLAS floor" in out and "| sg.function" in out and "x floor" in out

"""The command line: the seed example's output, options checked against closed forms, and
malformed or malicious input (one-line error, exit status 2, no traceback, nothing executed)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symgraph import render
from symgraph.cli import main
from test_parse import numpy_value, valid_expressions

ROOT = Path(__file__).resolve().parents[1]
SEED = ["grad", "(w*x - y)**2", "--at", "w=1", "x=2", "y=3"]
SEED_OUTPUT = """\
f(w, x, y) = (w*x - y)**2
at w = 1, x = 2, y = 3

f     = 1
df/dw = -4
df/dx = -2
df/dy = 2
"""

needs_dot = pytest.mark.skipif(not render.dot_available(),
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def run_module(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "symgraph", *argv], capture_output=True,
                          text=True, env=env, timeout=120)


# ---------------------------------------------------------------------------
# the main job
# ---------------------------------------------------------------------------


def test_seed_example_in_process(capsys):
    code, out, err = run(SEED, capsys)
    assert (code, out, err) == (0, SEED_OUTPUT, "")


def test_seed_example_as_python_dash_m():
    proc = run_module(*SEED)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == SEED_OUTPUT and proc.stderr == ""


def test_bad_input_as_python_dash_m_is_one_line_and_exit_2():
    proc = run_module("grad", "__import__('os').system('echo pwned')", "--at", "x=1")
    assert proc.returncode == 2
    assert proc.stdout == "" and "pwned" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("symgraph: error: ")


def test_expression_starting_with_minus_is_not_an_option(capsys):
    code, out, _ = run(["grad", "-x**2", "--at", "x=3"], capsys)
    assert code == 0 and out.splitlines()[3:] == ["f     = -9", "df/dx = -6"]
    code, out, _ = run(["grad", "--at", "x=3", "--order=2", "--", "-x**2"], capsys)
    assert code == 0 and out.splitlines()[-1] == "d2f/dx2 = -2"


def test_wrt_selects_variables(capsys):
    code, out, _ = run(SEED + ["--wrt", "y", "w"], capsys)
    assert code == 0
    assert out.splitlines()[3:] == ["f     = 1", "df/dy = 2", "df/dw = -4"]


def test_order_lists_each_distinct_partial_against_closed_forms(capsys):
    # f = x^2 y^3: every partial of order <= 3 has a closed form
    code, out, _ = run(["grad", "x**2 * y**3", "--at", "x=1.5", "y=-2", "--order", "3"], capsys)
    assert code == 0
    x, y = 1.5, -2.0
    want = {
        "f": x**2 * y**3, "df/dx": 2 * x * y**3, "df/dy": 3 * x**2 * y**2,
        "d2f/dx2": 2 * y**3, "d2f/dx dy": 6 * x * y**2, "d2f/dy2": 6 * x**2 * y,
        "d3f/dx3": 0.0, "d3f/dx2 dy": 6 * y**2, "d3f/dx dy2": 12 * x * y, "d3f/dy3": 6 * x**2,
    }
    got = dict(line.split(" = ") for line in out.splitlines()[3:])
    assert [k.strip() for k in got] == list(want)
    for k, v in got.items():
        assert math.isclose(float(v), want[k.strip()], abs_tol=1e-12), k


def test_sin_to_order_four(capsys):
    code, out, _ = run(["grad", "sin(x)", "--at", "x=0.5", "--order", "4"], capsys)
    assert code == 0
    values = [float(line.split(" = ")[1]) for line in out.splitlines()[3:]]
    assert np.allclose(values, [math.sin(0.5 + k * math.pi / 2) for k in range(5)], atol=1e-9)


def test_hessian_table_of_the_seed(capsys):
    code, out, _ = run(SEED + ["--hessian"], capsys)
    assert code == 0
    table = out.split("Hessian (d2f/da db):\n")[1].splitlines()
    assert table[0].split() == ["w", "x", "y"]
    matrix = np.array([[float(v) for v in row.split()[1:]] for row in table[1:]])
    w, x, y = 1.0, 2.0, 3.0  # H of (wx - y)^2 = 2 * J^T J with J = (x, w, -1), plus 2 r d2r
    jac = np.array([x, w, -1.0])
    r = w * x - y
    want = 2 * np.outer(jac, jac) + 2 * r * np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert np.array_equal(matrix, want)


def test_vector_values_and_hessian_over_coordinates(capsys):
    code, out, _ = run(["grad", "sum(x**3) + x @ A @ x", "--at", "x=[1, -2, 3]",
                        "A=[[1, 2, 0], [0, 1, 0], [0, 0, 2]]", "--wrt", "x", "--hessian",
                        "--json"], capsys)
    assert code == 0
    res = json.loads(out)
    x = np.array([1.0, -2.0, 3.0])
    A = np.array([[1.0, 2, 0], [0, 1, 0], [0, 0, 2]])
    assert math.isclose(res["value"], np.sum(x**3) + x @ A @ x)
    assert np.allclose(res["gradient"]["x"], 3 * x**2 + (A + A.T) @ x)
    assert res["hessian"]["coordinates"] == ["x[0]", "x[1]", "x[2]"]
    assert np.allclose(res["hessian"]["matrix"], np.diag(6 * x) + A + A.T)
    assert list(res["gradient"]) == ["x"]


def test_json_of_the_seed(capsys):
    code, out, _ = run(SEED + ["--json", "--order", "2"], capsys)
    res = json.loads(out)
    assert code == 0
    assert res["value"] == 1.0 and res["gradient"] == {"w": -4.0, "x": -2.0, "y": 2.0}
    assert res["at"] == {"w": 1.0, "x": 2.0, "y": 3.0}
    d2 = {d["label"]: d["value"] for d in res["derivatives"] if d["order"] == 2}
    assert d2 == {"d2f/dw2": 8.0, "d2f/dw dx": 2.0, "d2f/dw dy": -4.0, "d2f/dx2": 2.0,
                  "d2f/dx dy": -2.0, "d2f/dy2": 2.0}


def test_non_finite_results_are_printed_with_a_warning(capsys):
    code, out, err = run(["grad", "log(x)", "--at", "x=-1", "--json"], capsys)
    assert code == 0 and json.loads(out)["value"] == "nan"
    assert err.startswith("symgraph: warning:")


def test_dot_output_is_the_augmented_graph_with_values(capsys):
    code, out, _ = run(SEED + ["--dot"], capsys)
    assert code == 0 and out.startswith("digraph")
    assert "df/dw" in out and "gradient, order 1" in out and ">-4</FONT>" in out


def test_a_derivative_that_is_a_variable_keeps_its_name_in_the_picture(capsys):
    """d(x*y)/dx is the node y itself: drawn as "y = df/dx", not as "df/dx" alone."""
    code, out, _ = run(["grad", "x*y", "--at", "x=1", "y=2", "--dot"], capsys)
    assert code == 0 and "<B>y = df/dx</B>" in out and "<B>x = df/dy</B>" in out


def test_hessian_pictures_draw_the_second_order(capsys):
    code, out, _ = run(["grad", "x*y**3", "--at", "x=1", "y=2", "--hessian", "--dot"], capsys)
    assert code == 0 and "<B>d2f/dy2</B>" in out and "gradient, order 2" in out


def test_an_output_that_is_a_constant_is_in_the_picture(capsys):
    code, out, _ = run(["grad", "sqrt(2)*x", "--at", "x=1", "--dot"], capsys)
    assert code == 0 and "<B>df/dx</B>" in out and "1.414" in out


@needs_dot
def test_svg_file_is_written_and_parses(capsys, tmp_path):
    path = tmp_path / "seed.svg"
    code, out, _ = run(SEED + ["--svg", str(path)], capsys)
    assert code == 0 and out.endswith(f"wrote {path}\n")
    root = ET.parse(path).getroot()
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"df/dw", "-4", "∂f/∂value"} <= texts


@needs_dot
def test_svg_into_a_missing_directory_is_a_one_line_error(capsys, tmp_path):
    code, out, err = run(SEED + ["--svg", str(tmp_path / "no" / "such.svg")], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "cannot write the picture" in err and "internal error" not in err


def test_help_shows_examples(capsys):
    code, out, _ = run(["grad", "--help"], capsys)
    assert code == 0 and "examples:" in out and '--at "x=[1, 2, 3]"' in out
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and "grad" in out


# ---------------------------------------------------------------------------
# a CLI that forgives: argument order, repeated options, constants, -0, JSON, pictures
# ---------------------------------------------------------------------------

ANY_ORDER = [  # the seed, its options and expression moved around; the output is the same
    ["grad", "--at", "w=1", "x=2", "y=3", "(w*x - y)**2"],
    ["grad", "--at", "w=1", "--at", "x=2", "(w*x - y)**2", "--at", "y=3"],
    ["grad", "--at", "y=3", "x=2", "w=1", "--wrt", "w", "x", "y", "(w*x - y)**2"],
    ["grad", "--wrt", "w", "x", "--wrt", "y", "(w*x - y)**2", "--at", "w=1", "x=2", "y=3"],
    ["grad", "--at", "w=1", "x=2", "y=3", "--", "(w*x - y)**2"],
]


@pytest.mark.parametrize("argv", ANY_ORDER, ids=[" ".join(a[1:]) for a in ANY_ORDER])
def test_expression_and_options_in_any_order(argv, capsys):
    code, out, err = run(argv, capsys)
    assert (code, out, err) == (0, SEED_OUTPUT, "")


def test_expression_after_at_or_wrt_is_not_swallowed(capsys):
    code, out, _ = run(["grad", "--at", "x=1", "x**2"], capsys)
    assert code == 0 and out.splitlines()[3:] == ["f     = 1", "df/dx = 2"]
    code, out, _ = run(["grad", "--wrt", "x", "x*y", "--at", "x=1", "y=2"], capsys)
    assert code == 0 and out.splitlines()[3:] == ["f     = 2", "df/dx = 2"]
    code, out, _ = run(["grad", "--order", "2", "--at", "x=3", "-x**2"], capsys)
    assert code == 0 and out.splitlines()[3:] == ["f       = -9", "df/dx   = -6", "d2f/dx2 = -2"]
    code, out, _ = run(["grad", "--x", "--at", "x=3"], capsys)  # --x is EXPR when x has a value
    assert code == 0 and out.splitlines()[3:] == ["f     = 3", "df/dx = 1"]


def test_repeated_at_and_wrt_merge(capsys):
    code, out, _ = run(["grad", "x*y*z", "--at", "x=1", "--at", "y=2", "z=3", "--wrt", "z",
                        "--wrt", "x"], capsys)
    assert code == 0
    assert out.splitlines()[1:] == ["at x = 1, y = 2, z = 3", "", "f     = 6", "df/dz = 2",
                                    "df/dx = 6"]


def test_caret_points_at_the_power_sign_on_a_terminal(capsys, monkeypatch):
    argv = ["grad", "  sin(x)*(w*x - y)^2 + x^3", "--at", "w=1", "x=2", "y=3"]
    code, out, err = run(argv, capsys)  # not a terminal: the one line only
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "did you mean **" in err and "(at column 19)" in err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(argv, capsys)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 3 and "(at column 19)" in lines[0]
    assert lines[1] == "  " + argv[1] and lines[2].strip() == "^"
    assert lines[1][lines[2].index("^")] == "^"
    assert lines[1][:lines[2].index("^")] == "    sin(x)*(w*x - y)"  # the first ^, not x^3


def test_caret_under_a_long_expression_shows_the_part_with_the_error(capsys, monkeypatch):
    text = "sin(x) + " * 30 + "sine(x)"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(["grad", text, "--at", "x=1"], capsys)
    first, shown, caret = err.splitlines()
    assert code == 2 and "did you mean sin" in first and len(shown) <= 80
    assert shown[caret.index("^"):].startswith("sine(x)")


def test_e_is_eulers_number_unless_given_a_value(capsys):
    code, out, _ = run(["grad", "e**x + pi", "--at", "x=1"], capsys)
    assert code == 0 and out.splitlines()[0] == "f(x) = e**x + pi"
    values = dict(line.split(" = ") for line in out.splitlines()[3:])
    assert math.isclose(float(values["f    "]), math.e + math.pi, rel_tol=1e-9)
    assert math.isclose(float(values["df/dx"]), math.e, rel_tol=1e-9)
    code, out, _ = run(["grad", "e*x", "--at", "x=1", "e=2"], capsys)  # --at e=2: a variable
    assert code == 0
    assert out.splitlines() == ["f(e, x) = e*x", "at e = 2, x = 1", "", "f     = 2", "df/de = 1",
                                "df/dx = 2"]


def test_negative_zero_is_printed_as_zero(capsys):
    code, out, _ = run(["grad", "-x*y", "--at", "x=0", "y=1"], capsys)  # f = -0, df/dy = -0
    assert code == 0 and out.splitlines()[3:] == ["f     = 0", "df/dx = -1", "df/dy = 0"]
    code, out, _ = run(["grad", "sum(x*y)", "--at", "x=[0, 1]", "y=-0"], capsys)
    assert code == 0 and "-0" not in out
    assert out.splitlines()[1] == "at x = [0, 1], y = 0" and "df/dx = [0, 0]" in out
    code, out, _ = run(["grad", "sum(x*y)", "--at", "x=[0, 1]", "y=-0", "--json"], capsys)
    res = json.loads(out)
    assert code == 0 and "-0" not in out
    assert [math.copysign(1, v) for v in [res["value"], res["at"]["y"], *res["gradient"]["x"]]] \
        == [1, 1, 1, 1]


def _no_constants(name: str):
    raise AssertionError(f"{name} is not JSON")


def test_json_writes_non_finite_numbers_as_strings_and_stays_valid(capsys):
    code, out, err = run(["grad", "sum(log(x))", "--at", "x=[-1, 0, 2]", "--json", "--order",
                          "2"], capsys)
    assert code == 0 and err.startswith("symgraph: warning:")
    res = json.loads(out, parse_constant=_no_constants)  # no NaN/Infinity literals
    assert res["value"] == "nan"
    assert res["gradient"]["x"] == [-1.0, "inf", 0.5]
    second = {tuple(d["wrt"]): d["value"] for d in res["derivatives"]}
    assert second[("x[1]", "x[1]")] == "-inf" and second[("x[0]", "x[0]")] == -1.0
    code, out, _ = run(["grad", "--help"], capsys)
    assert '"nan", "inf"' in " ".join(out.split()) and '"-inf"' in out


@needs_dot
@pytest.mark.parametrize("option, suffix, magic", [("-o", "png", b"\x89PNG"),
                                                   ("--out", "pdf", b"%PDF"),
                                                   ("--svg", "svg", b"<?xml")])
def test_out_draws_in_the_format_of_the_extension(option, suffix, magic, capsys, tmp_path):
    path = tmp_path / f"seed.{suffix}"
    code, out, _ = run(SEED + [option, str(path)], capsys)
    assert code == 0 and out == SEED_OUTPUT + f"\nwrote {path}\n"
    assert path.read_bytes().startswith(magic)


def test_numbers_come_before_a_drawing_that_fails_without_dot(tmp_path):
    """No dot on the PATH: the numbers are printed, then one line says what to install."""
    empty = tmp_path / "bin"
    empty.mkdir()
    path = tmp_path / "seed.svg"
    env = {**os.environ, "PATH": str(empty),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "symgraph", *SEED, "-o", str(path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and proc.stdout == SEED_OUTPUT
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("symgraph: error: ")
    assert "cannot draw" in proc.stderr and "apt-get install graphviz" in proc.stderr
    assert proc.stderr.count("`dot`") == 1, proc.stderr  # said once
    assert not path.exists()


def test_json_is_complete_before_a_drawing_fails(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(render.shutil, "which", lambda name, *a, **k: None)
    code, out, err = run(SEED + ["--json", "--out", str(tmp_path / "f.png")], capsys)
    assert code == 2 and json.loads(out)["gradient"] == {"w": -4.0, "x": -2.0, "y": 2.0}
    assert err.count("\n") == 1 and "cannot draw" in err


def test_help_documents_the_forgiving_parts(capsys):
    code, out, _ = run(["grad", "--help"], capsys)
    text = " ".join(out.split())
    assert code == 0
    for phrase in ["any order", "-o FILE, --out FILE, --svg FILE", "--svg is an older name",
                   "may be repeated", "-0 is printed as 0", "the constants pi and e",
                   "^ is not", "before a picture (--out) is drawn"]:
        assert phrase in text, phrase


# ---------------------------------------------------------------------------
# errors: one line, exit 2
# ---------------------------------------------------------------------------

BAD_ARGS = [
    ([], "required: COMMAND"),
    (["frobnicate"], "invalid choice"),
    (["grad", "(w*x - y)**2"], "required: --at"),
    (["grad", "(w*x - y)**2", "--at", "w=1", "x=2"], "no value for 'y'"),
    (["grad", "x", "--at", "x=1", "z=2"], "does not use"),
    (["grad", "x", "--at", "x"], "NAME=VALUE"),
    (["grad", "x", "--at", "x=1", "--heesian"], "unknown option '--heesian'"),
    (["grad", "x", "--heesian", "--at", "x=1"], "unrecognized arguments"),
    (["grad", "x", "--at", "x=1", "x=2"], "twice"),
    (["grad", "x", "--at", "x=abc"], "must be a number"),
    (["grad", "x", "--at", "x=[1, 'a']"], "only numbers"),
    (["grad", "x", "--at", "x=[1, [2]]"], "ragged|only numbers"),
    (["grad", "x", "--at", "x=[__import__('os')]"], "not a list of numbers"),
    (["grad", "x", "--at", "x=[True]"], "only numbers"),
    (["grad", "x * 2", "--at", "x=[1, 2]"], "scalar"),
    (["grad", "x @ y", "--at", "x=[1, 2]", "y=[1, 2, 3]"], "shapes"),
    (["grad", "x", "--at", "x=1", "--wrt", "q"], "not a variable"),
    (["grad", "x", "--at", "x=1", "--order", "0"], "between 1 and"),
    (["grad", "x", "--at", "x=1", "--order", "99"], "between 1 and"),
    (["grad", "x", "--at", "x=1", "--order", "two"], "invalid int"),
    (["grad", "sum(x)", "--at", f"x={list(range(100))}", "--order", "2"], "too many"),
    (["grad", "2 + 3", "--at", "x=1"], "no variables"),
    (["grad", "x", "--at", "x=1", "--svg", "out.txt"], "must end in"),
    (["grad", "x", "--at", "x=1", "--json", "--dot"], "not allowed with"),
    (["grad", "x" * 5000, "--at", "x=1"], "too long"),
    (["grad", "x", "--at", "x=[" + "1," * 60000 + "1]"], "too long"),
    # options in any order: what cannot be told apart is said so
    (["grad", "--at", "x=1", "y=2", "--wrt", "x", "y"], r"no expression.*'y'.*write it first"),
    (["grad", "--at", "x=1"], r"no expression: give EXPR"),
    (["grad", "--at", "x=1", "y:2", "x*y"], r"which is the expression, 'y:2' or 'x\*y'"),
    (["grad", "x*y", "--at", "x=1", "y=2", "--wrt", "x", "y*2"],
     r"--wrt expects variable names, got 'y\*2'"),
    (["grad", "x*y", "--at", "x=1", "y=2", "x+1"], r"--at expects NAME=VALUE, got 'x\+1'"),
    (["grad", "--heesian", "x", "--at", "x=1"], r"unknown option '--heesian' \(did you mean "
                                                 r"--hessian\?\)"),
    (["grad", "x", "--at", "x=1", "--ordr", "2"], r"unknown option '--ordr' \(did you mean "
                                                   r"--order\?\)"),
    (["grad", "x", "--wrt", "x", "--ordr=2", "--at", "x=1"], r"'--ordr=2'.*did you mean --order"),
    (["grad", "x", "+", "y", "--at", "x=1", "y=2"], r"unrecognized arguments: '\+' 'y' .*quoted"),
    (["grad", "x*y", "--at", "x=1", "--at", "y=2", "x=3"], "--at gives 'x' twice"),
    (["grad", "x", "--at", "x=1", "-o", "f.txt"], r"--out 'f.txt'.*must end in"),
    (["grad", "e*x", "--at", "x=1", "--wrt", "e"],
     r"--wrt 'e' is not a variable.*e is the constant 2.71828 unless --at gives it a value"),
    (["grad", "(w*x - y)^2", "--at", "w=1", "x=2", "y=3"],
     r"\^ is not a power here; did you mean \*\*, as in \(w\*x - y\)\*\*2\? \(at column 10\)"),
    (["grad", "sine(x)", "--at", "x=1"], r"unknown function 'sine' \(did you mean sin, sinh or "
                                         r"sign\?\)"),
]


@pytest.mark.parametrize("argv, why", BAD_ARGS, ids=[" ".join(a)[:40] for a, _ in BAD_ARGS])
def test_bad_arguments_are_one_line_errors(argv, why, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("symgraph: error: "), err
    assert "Traceback" not in err
    assert re.search(why, err), err


# ---------------------------------------------------------------------------
# malicious input never runs
# ---------------------------------------------------------------------------

_SENTINEL = Path(os.environ.get("TMPDIR", "/tmp")) / f"symgraph-cli-pwned-{os.getpid()}"
_FORBIDDEN_EVENTS = ("os.system", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn",
                     "os.fork", "os.remove", "os.rename", "shutil.rmtree", "socket.connect")
_events: list[str] = []
_watching = [False]


def _audit(event: str, args) -> None:
    if _watching[0] and event.startswith(_FORBIDDEN_EVENTS):
        _events.append(event)
    if _watching[0] and event == "open" and len(args) > 1 and isinstance(args[1], str) \
            and any(c in args[1] for c in "wax+"):
        _events.append(f"open for writing {args[0]!r}")


sys.addaudithook(_audit)

PAYLOADS = [
    f"__import__('os').system('touch {_SENTINEL}')",
    f"open('{_SENTINEL}', 'w')",
    f"exec(\"open('{_SENTINEL}', 'w')\")",
    f"eval(\"__import__('os').system('touch {_SENTINEL}')\")",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    f"(lambda: __import__('os').system('touch {_SENTINEL}'))()",
    "x.__class__.__mro__[1].__subclasses__()",
    f"getattr(__builtins__, 'open')('{_SENTINEL}', 'w')",
    "breakpoint()",
    "__builtins__",
    "globals()",
    "x; import os",
    f"sin(x) + __import__('subprocess').call(['touch', '{_SENTINEL}'])",
]


def _check_safe(text: str, capsys) -> tuple[int, str, str]:
    _events.clear()
    _watching[0] = True
    try:
        code = main(["grad", text, "--at", "x=1"])
    finally:
        _watching[0] = False
    out, err = capsys.readouterr()
    assert code in (0, 2), code
    assert "Traceback" not in out + err
    assert not _events, _events
    assert not _SENTINEL.exists(), f"{text!r} was executed"
    if code == 2:
        assert out == "" and err.count("\n") == 1 and err.startswith("symgraph: error: ")
    return code, out, err


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_are_rejected_and_never_run(payload, capsys):
    code, _, err = _check_safe(payload, capsys)
    assert code == 2, err


# Text that contains any of these can never be a valid expression (see symgraph.parse):
# dunder names, indexing, strings, statements, assignments, dict/set braces, comments,
# non-arithmetic operators, the lambda and import keywords.
_GARBAGE = ["__", "[", "]", "'", '"', ";", "=", "{", "}", "#", "%", "&", "|", "^", "~", "<",
            ">", "!", "$", "?", "`", ":", "\\", " lambda ", " import ", "\n"]
_PIECES = ["x", "exp", "sin", "(", ")", "+", "-", "*", "/", "**", "@", ",", " ", ".", "1",
           "2.5", "1e3", "pi", "maximum", "sum", "open", "os", "system", "class"]
_piece_text = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(before=_piece_text, bad=st.sampled_from(_GARBAGE + PAYLOADS), after=_piece_text)
def test_garbage_never_exits_0(before, bad, after, capsys):
    code, out, err = _check_safe(before + bad + after, capsys)
    assert code == 2, (before + bad + after, out)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(_piece_text, st.text(max_size=40)))
def test_any_text_is_a_result_or_a_one_line_error(text, capsys):
    code, out, _ = _check_safe(text, capsys)
    if code == 0:
        assert out.startswith("f(x) = ")


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=valid_expressions)
def test_valid_expressions_exit_0_with_numpys_value(text, capsys):
    at = {"x": 0.37, "y": -0.61}
    used = [n for n in at if re.search(rf"\b{n}\b", text)]
    if not used:
        return  # no variables: an error by design, covered above
    code, out, err = run(["grad", text, "--at", *(f"{n}={at[n]}" for n in used)], capsys)
    assert code == 0, err
    value = float(out.splitlines()[3].split(" = ")[1])
    assert math.isclose(value, numpy_value(text, at["x"], at["y"]), rel_tol=1e-9, abs_tol=1e-12)



def test_simplify_flag_keeps_values_and_shrinks_the_graph(capsys):
    args = ["grad", "sin(w*x) * exp(y) + (w*x - y)**2 + log(exp(w))", "--at", "w=0.5", "x=2", "y=-1",
            "--order", "2", "--json"]
    assert main(args) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(args + ["--simplify"]) == 0
    simple = json.loads(capsys.readouterr().out)
    assert simple["value"] == pytest.approx(plain["value"], rel=1e-12)
    for name in plain["gradient"]:
        assert simple["gradient"][name] == pytest.approx(plain["gradient"][name], rel=1e-12)
    assert [d["label"] for d in simple["derivatives"]] == [d["label"] for d in plain["derivatives"]]
    for a, b in zip(plain["derivatives"], simple["derivatives"]):
        assert b["value"] == pytest.approx(a["value"], rel=1e-12, abs=1e-14)
    assert main(args[:-1] + ["--dot"]) == 0
    edges = capsys.readouterr().out.count("->")
    assert main(args[:-1] + ["--dot", "--simplify"]) == 0
    assert capsys.readouterr().out.count("->") < edges

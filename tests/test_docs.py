"""The documentation site builds with warnings as errors, and has what it promises.

One build of ``docs/`` per test run (into a temporary directory, as the README
says: ``python -m sphinx -W --keep-going -b html docs <out>``) executes the
notebooks and renders every docstring; the tests then read the built site:
every public name has an entry, every notebook page shows its pictures, the
README's quick start and the architecture and reliability pages are there.
A second, tiny build with the same configuration shows that a broken
reference or bad markup in a docstring fails the build.
"""

from __future__ import annotations

import copy
import html
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from notebook_runs import NOTEBOOKS, executed
from symgraph import render
from test_docstrings import PUBLIC, VALUES

pytest.importorskip("sphinx", reason="the docs build needs Sphinx: pip install -e '.[docs]'")

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def sphinx_build(source: Path, out: Path, *options: str, confdir: Path | None = None,
                 pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m sphinx -W --keep-going -b html`` in a fresh process (autodoc imports modules)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), str(pythonpath or ""), os.environ.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", *options]
    if confdir is not None:
        cmd += ["-c", str(confdir)]
    return subprocess.run(cmd + [str(source), str(out)], capture_output=True, text=True, env=env,
                          timeout=1800)


def problems(run: subprocess.CompletedProcess) -> str:
    """The warning and error lines of a build (what to read when it fails)."""
    lines = (run.stdout + run.stderr).splitlines()
    found = [ln for ln in lines if re.search(r"WARNING|ERROR|CRITICAL|Error|Traceback", ln)
             and "Kernel is running over TCP" not in ln]
    return "\n".join(found[-60:]) or "\n".join(lines[-60:])


def primed_cache(path: Path) -> Path:
    """A jupyter-cache holding the notebooks as ``notebook_runs`` executed them.

    The site's configuration executes every notebook ("force"); the test build
    uses this cache instead ("cache" mode: a notebook whose code matches a cached
    one gets its outputs), so that a test run executes each notebook once, for
    this test and tests/test_notebooks.py together.  Pages with code that is not
    cached (the command-line page) are executed by the build as usual.
    """
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(path))
    for notebook in NOTEBOOKS:
        run = copy.deepcopy(executed(notebook))
        # the cache matches notebooks by their code and its cells' metadata, to which the
        # run added timings: give it the stored notebook's
        for cell, stored in zip(run.cells, nbformat.read(notebook, as_version=4).cells):
            cell.metadata = stored.metadata
        cache.cache_notebook_bundle(CacheBundleIn(run, str(notebook)), check_validity=False,
                                    overwrite=True)
    return path


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The one build of the site: the process (for its warnings) and the output directory."""
    tmp = tmp_path_factory.mktemp("docs")
    if render.dot_available():
        cache = primed_cache(tmp / "jupyter_cache")
        options = ("-D", "nb_execution_mode=cache", "-D", f"nb_execution_cache_path={cache}")
    else:  # the notebooks draw with Graphviz: build their pages unexecuted (as
        # tests/test_notebooks.py skips), and skip the picture checks below
        options = ("-D", "nb_execution_mode=off")
    return sphinx_build(DOCS, tmp / "html", *options), tmp / "html"


@pytest.fixture(scope="module")
def site(build) -> Path:
    """The built site; --keep-going writes it even when a warning fails the build."""
    run, out = build
    assert (out / "index.html").is_file(), f"the docs build stopped early:\n{problems(run)}"
    return out


def test_the_site_builds_without_a_warning(build):
    run, _ = build
    assert run.returncode == 0, f"the docs build failed:\n{problems(run)}"


def inventory(site: Path) -> dict[str, tuple[str, str]]:
    """``name -> (domain:role, page#anchor)`` from the site's ``objects.inv`` (Sphinx format 2)."""
    data = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four text lines, then zlib-compressed entries
        header_end = data.index(b"\n", header_end) + 1
    entries = {}
    for line in zlib.decompress(data[header_end:]).decode().splitlines():
        m = re.match(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S+)\s+(.*)", line)
        if m:
            name, role, _, uri, _ = m.groups()
            entries[name] = (role, uri.replace("$", name))
    return entries


def text_of(page: Path) -> str:
    """A page's text without tags (code blocks are split into highlighted spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


def test_every_public_name_has_an_entry_in_the_reference(site):
    entries = inventory(site)
    names = [name.replace("sg.", "symgraph.", 1) for name in PUBLIC]
    names += [f"symgraph.{v}" for v in sorted(VALUES)]
    missing = [n for n in names if n not in entries or not entries[n][0].startswith("py:")]
    assert not missing, (f"{len(missing)} public names have no entry in the API reference; add "
                         f"them to a family page in docs/api/: {missing[:20]}")
    for name in names:
        page, _, anchor = entries[name][1].partition("#")
        assert f'id="{anchor}"' in (site / page).read_text(encoding="utf-8"), (name, page, anchor)


def test_the_reference_is_organised_by_family(site):
    api = site / "api"
    for page, names in {"differentiation": ["grad", "hvp", "sparse_hessian", "vectorize"],
                        "running": ["evaluate", "function"], "flow": ["scan", "cond"],
                        "linalg": ["linalg.cholesky"], "tools": ["simplify", "save", "draw"],
                        "optimize": ["optimize.newton"], "testing": ["testing.check_grads"],
                        "errors": ["ShapeError", "NonFiniteError"]}.items():
        content = (api / f"{page}.html").read_text(encoding="utf-8")
        for name in names:
            assert f'id="symgraph.{name}"' in content, (page, name)
    assert "usage: symgraph grad" in text_of(api / "cli.html")  # the CLI page ran --help


@pytest.mark.skipif(not render.dot_available(),
                    reason="the notebooks draw graphs, which needs Graphviz's dot")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_a_page_with_its_outputs(site, path):
    page = site / "notebooks" / f"{path.stem}.html"
    content = page.read_text(encoding="utf-8")
    pictures = re.findall(r'<img [^>]*src="([^"]+\.(?:svg|png))"', content)
    assert pictures, f"{page.name} shows no picture: were the notebooks executed?"
    for src in pictures:
        assert (page.parent / src).resolve().is_file(), src
    if "plt." in path.read_text(encoding="utf-8"):  # matplotlib figures are PNG outputs
        assert any(src.endswith(".png") for src in pictures), f"{page.name} lost its plots"
    assert "cell_output" in content
    assert "Traceback (most recent call last)" not in text_of(page)


def test_the_quick_start_architecture_and_reliability_pages(site):
    quick_start = text_of(site / "quickstart.html")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install -e ".[dev]"' in quick_start and 'pip install -e ".[dev]"' in readme
    assert "python -m symgraph grad" in quick_start
    assert "Linear algebra" in text_of(site / "guide.html")
    assert "How symgraph is built" in text_of(site / "architecture.html")
    assert "Threat model" in text_of(site / "reliability.html")


BAD_MODULE = '''
def broken_reference():
    """Refers to :func:`symgraph.no_such_function`."""


def bad_markup():
    """An ``unclosed literal."""


def misnamed_section():
    """Summary.

    Example
    -------
    >>> 1 + 1
    2
    """


def unknown_parameter(x):
    """Summary.

    Parameters
    ----------
    y : int
        Not its parameter.
    """


def good_reference():
    """Docstrings may write sg. for symgraph.

    See Also
    --------
    sg.grad
    """
'''


def test_docstring_mistakes_fail_the_build(tmp_path):
    """The site's configuration (-c docs) on a one-page project documenting bad docstrings."""
    (tmp_path / "bad_module.py").write_text(BAD_MODULE)
    src = tmp_path / "src"
    src.mkdir()
    (src / "index.rst").write_text("Bad\n===\n\n.. autofunction:: symgraph.grad\n\n"
                                   ".. automodule:: bad_module\n   :members:\n")
    run = sphinx_build(src, tmp_path / "out", confdir=DOCS, pythonpath=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "symgraph.no_such_function" in output and "reference target not found" in output
    assert "Inline literal start-string without end-string" in output
    assert 'unknown section "Example"' in output
    assert "Unknown parameters {'y'}" in output
    assert "sg.grad" not in output  # resolved to symgraph.grad

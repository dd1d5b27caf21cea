"""A ``%%cql`` cell is highlighted as CQL by cassnb's JupyterLab extension; a Python cell stays Python.

The styles are read from the page: each token's computed colour (and weight) against the colour JupyterLab's
theme gives that kind of token (``--jp-mirror-editor-keyword-color`` and the others), so the test does not
depend on CodeMirror's generated class names. The screenshot of the highlighted cell is the one in the README.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import REPO, SHOTS, Notebook, _missing

CQL = "%%cql --out lisbon\n-- note\nSELECT name, total FROM orders WHERE city = 'Lisbon' AND id = :city_id"
TYPES = (
    "%%cql\nCREATE TABLE t (k int PRIMARY KEY, v vector<float, 3>, d duration, m map<text, int>, b blob)\n"
    "INSERT INTO t (k, b) VALUES (1, 0xCAFE) /* a block\ncomment */"
)
PYTHON = "-- note\nSELECT name, total FROM orders WHERE city = 'Lisbon' AND id = :city_id"

STYLE_OF = """([cell, text, property = 'color']) => {
    const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
    const content = cells[cell].querySelector('.cm-content');
    const walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const at = node.textContent.indexOf(text);
        if (at === -1) continue;
        return getComputedStyle(node.parentElement)[property];
    }
    return null;
}"""

THEME_COLOUR = """name => {
    const probe = document.createElement('span');
    probe.style.color = `var(--jp-mirror-editor-${name}-color)`;
    document.querySelector('.cm-content').appendChild(probe);
    const colour = getComputedStyle(probe).color;
    probe.remove();
    return colour;
}"""


def styles(notebook: Notebook, cell: int, *texts: str) -> dict[str, Any]:
    return {text: notebook.page.evaluate(STYLE_OF, [cell, text]) for text in texts}


def test_the_wheel_ships_the_extension_enabled(tmp_path: Path) -> None:
    """``pip install`` of the wheel is all it takes: the extension is listed as enabled and OK from there."""
    if not (REPO / "labextension" / "dist" / "package.json").is_file():
        _missing("the extension is not built (make labextension; it needs Node.js and npm)")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp_path / "wheel"), str(REPO)],
                   check=True, capture_output=True)  # fmt: skip
    wheel = next((tmp_path / "wheel").glob("cassnb-*.whl"))
    # A fresh environment of its own (pip --python installs there, never touching this one's cassnb).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True)
    subprocess.run([*pip, "--python", str(tmp_path / "env" / "bin" / "python"), "install", "--no-deps", str(wheel)],
                   check=True, capture_output=True)  # fmt: skip
    prefix = tmp_path / "env"
    extensions = prefix / "share" / "jupyter" / "labextensions"
    listing = subprocess.run(
        [sys.executable, "-m", "jupyterlab.labextensions", "list"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter"), "NO_COLOR": "1"},
    )  # fmt: skip
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    section = text.split(str(extensions), 1)[1].split("\n\n", 1)[0]  # what that environment has
    assert re.search(r"cassnb-cql v[\d.]+ enabled OK \(python, cassnb\)", section), text


@pytest.mark.parametrize("app", ["lab", "notebook"], ids=["JupyterLab", "Notebook 7"])
def test_a_cql_cell_is_highlighted_as_cql_and_a_python_cell_is_not(
    open_notebook: Callable[..., Notebook], app: str
) -> None:
    notebook = open_notebook([CQL, PYTHON, TYPES], app=app)
    theme = {name: notebook.page.evaluate(THEME_COLOUR, name)
             for name in ("keyword", "string", "comment", "variable-2", "meta", "attribute", "builtin",
                          "number")}  # fmt: skip
    distinct = {name: colour for name, colour in theme.items() if name != "builtin"}  # builtin: keyword's green
    assert len(set(distinct.values())) == len(distinct), theme  # the theme tells them apart

    def cql_styles() -> dict[str, Any]:
        return styles(notebook, 0, "SELECT", "FROM", "WHERE", "'Lisbon'", "-- note", ":city_id", "%%cql", "--out")

    notebook.page.wait_for_function(f"() => ({STYLE_OF})([0, 'SELECT']) === {theme['keyword']!r}", timeout=30_000)
    shown = cql_styles()
    assert shown["SELECT"] == shown["FROM"] == shown["WHERE"] == theme["keyword"], (shown, theme)
    assert shown["'Lisbon'"] == theme["string"], (shown, theme)
    assert shown["-- note"] == theme["comment"], (shown, theme)
    assert shown[":city_id"] == theme["variable-2"], (shown, theme)  # markers: a style of their own
    assert shown["%%cql"] == theme["meta"] and shown["--out"] == theme["attribute"], (shown, theme)
    SHOTS.mkdir(parents=True, exist_ok=True)
    notebook.cell(0).screenshot(path=str(SHOTS / f"cql-highlighting-{app}.png"))  # the README's picture
    notebook.screenshot("highlighted")

    types = styles(notebook, 2, "vector", "duration", "map", "0xCAFE", "/* a block", "comment */")
    assert types["vector"] == types["duration"] == types["map"] == theme["builtin"], (types, theme)
    weight = notebook.page.evaluate(STYLE_OF, [2, "vector", "fontWeight"])
    assert weight != notebook.page.evaluate(STYLE_OF, [2, "CREATE", "fontWeight"])  # a type is not a keyword
    assert types["0xCAFE"] == theme["number"], (types, theme)
    assert types["/* a block"] == types["comment */"] == theme["comment"], (types, theme)  # across lines

    python = styles(notebook, 1, "SELECT", "FROM", "-- note", ":city_id")
    assert python["SELECT"] != theme["keyword"] and python["FROM"] != theme["keyword"], python
    assert python["-- note"] != theme["comment"] and python[":city_id"] != theme["variable-2"], python

    # Removing the %%cql line turns the cell back into Python; typing it again makes it CQL.
    notebook.set_source(0, PYTHON)
    notebook.page.wait_for_function(f"() => ({STYLE_OF})([0, 'SELECT']) !== {theme['keyword']!r}", timeout=30_000)
    assert styles(notebook, 0, "-- note")["-- note"] != theme["comment"]
    notebook.set_source(0, "%%cql\nSELECT 1")
    notebook.page.wait_for_function(f"() => ({STYLE_OF})([0, 'SELECT']) === {theme['keyword']!r}", timeout=30_000)
    notebook.screenshot("switched back")

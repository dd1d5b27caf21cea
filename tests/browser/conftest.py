"""The browser tier: a real JupyterLab, opened in a real (headless) Chromium driven by Playwright.

One JupyterLab server runs for the session, on a free loopback port, with a token and a temporary root
directory; each test writes a notebook of its own there and opens it in a fresh page, acting as a user does:
it clicks into a cell, presses Ctrl+Enter, clicks buttons, types and presses Tab, and waits on what the page
shows (never a fixed delay). Each test leaves screenshots under ``build/browser/``, so a failure can be looked
at.

Chromium is Debian's (``/usr/bin/chromium``, or ``$CASSNB_CHROMIUM``); Playwright is launched with
``executable_path`` since its own browser downloads do not work here. Without a browser the tier skips with
one line on a developer machine and fails under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import ServerAddress

REPO = Path(__file__).parents[2]
SHOTS = REPO / "build" / "browser"
ROWS = 300_000
TABLE = "browser_big"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = os.environ.get("CASSNB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        _missing(f"no Chromium at {path} (install Debian's chromium package, or set CASSNB_CHROMIUM)")
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Lab:
    """The JupyterLab server: where notebooks go, and the URL to open them at."""

    def __init__(self, root: Path, base: str, token: str) -> None:
        self.root, self.base, self.token = root, base, token

    def notebook(self, name: str, cells: list[str]) -> Path:
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = self.root / f"{name}.ipynb"
        nbformat.write(notebook, path)
        return path

    def url(self, path: Path, app: str = "lab") -> str:
        """JupyterLab's URL of a notebook (a fresh workspace: no tabs of earlier tests), or Notebook 7's."""
        if app == "lab":
            return f"{self.base}/lab/tree/{path.name}?reset&token={self.token}"
        return f"{self.base}/notebooks/{path.name}?token={self.token}"

    def api(self, method: str, route: str) -> Any:
        request = urllib.request.Request(f"{self.base}/api/{route}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None


@pytest.fixture(scope="session")
def lab(chromium: str, cassandra_address: ServerAddress, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    settings = tmp_path_factory.mktemp("lab-settings")
    # No "would you like news?" toast over the cells.
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    # Every cell rendered (no windowing), so that cells below the fold can be clicked and read.
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = _free_port(), secrets.token_hex(16)
    env = {key: value for key, value in os.environ.items() if not key.startswith("CASSNB_")}
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path_factory.mktemp("lab-workspaces")),
        CASSNB_CONNECTIONS_FILE=str(root / "no-connections.ini"),
        PYTHONPATH=str(REPO),
    )
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(root.parent / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail(f"JupyterLab did not start: {(root.parent / 'jupyterlab.log').read_text()[-2000:]}")
            time.sleep(0.2)
    yield Lab(root, base, token)
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """Chromium, for the tests of one module: Playwright's sync API keeps an event loop running on this thread
    while it is open, which would stop later tests (pytest-asyncio, ``asyncio.run``) from running theirs."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Notebook:
    """One open notebook, as a user works with it."""

    def __init__(self, page: Any, lab: Lab, path: Path, name: str) -> None:
        self.page, self.lab, self.path, self.name = page, lab, path, name
        self._shots = 0
        self._cells = f"{self.PANEL} .jp-Notebook .jp-Cell"

    # ------------------------------------------------------------------ what is on the page
    PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"

    def cell(self, index: int) -> Any:
        return self.page.locator(f"{self.PANEL} .jp-Notebook .jp-Cell").nth(index)

    def output(self, index: int) -> Any:
        return self.cell(index).locator(".jp-OutputArea")

    def output_text(self, index: int) -> str:
        return str(self.output(index).inner_text())

    def prompt(self, index: int) -> str:
        return str(self.cell(index).locator(".jp-InputPrompt").inner_text())

    # ------------------------------------------------------------------ acting
    def wait_for_kernel(self, timeout: float = 60) -> None:
        self.page.wait_for_selector(f"{self.PANEL} .jp-Notebook .jp-Cell .cm-content", timeout=timeout * 1000)
        self.page.wait_for_selector(
            f"{self.PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout * 1000
        )

    def accept_kernel_dialog(self) -> None:
        """JupyterLab now and then asks which kernel to start although the notebook names one (the dialog can
        appear after the kernel shows as idle): take the kernel it proposes, as a user would."""
        dialog = self.page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():
            dialog.locator(".jp-mod-accept").click()
            dialog.wait_for(state="detached")

    def run(self, index: int) -> None:
        """Click into cell ``index`` and run it in place (Ctrl+Enter), and wait until the kernel has it.

        A key press that lands while the page is still settling is sometimes lost; the prompt tells (it turns
        to ``[*]:`` or a new count), so the press is repeated until the cell is queued.
        """
        before = self.prompt(index)
        queued = f"""([i, before]) => {{
            const prompt = document.querySelectorAll({json.dumps(self._cells)})[i].querySelector('.jp-InputPrompt');
            return prompt.textContent !== before && /\\[[\\d*]+\\]/.test(prompt.textContent);
        }}"""
        for _attempt in range(5):
            self.accept_kernel_dialog()
            try:
                self.cell(index).locator(".cm-content").click(timeout=10_000)
            except Exception:  # Playwright's TimeoutError: something covered the cell; look again
                continue
            self.page.keyboard.press("Control+Enter")
            try:
                self.page.wait_for_function(queued, arg=[index, before], timeout=10_000)
                return
            except Exception:  # Playwright's TimeoutError: not queued yet
                continue
        raise AssertionError(f"cell {index} could not be run")

    def wait_done(self, index: int, timeout: float = 120) -> None:
        """Wait until cell ``index`` shows an execution count (``[n]:``, not ``[*]:``)."""
        done = f"""i => /\\[\\d+\\]/.test(
            document.querySelectorAll({json.dumps(self._cells)})[i].querySelector('.jp-InputPrompt').textContent)"""
        self.page.wait_for_function(done, arg=index, timeout=timeout * 1000)

    def run_and_wait(self, index: int, timeout: float = 120) -> str:
        self.run(index)
        self.wait_done(index, timeout)
        return self.output_text(index)

    def set_source(self, index: int, text: str) -> None:
        """Replace the cell's text by typing it, as a user would."""
        editor = self.cell(index).locator(".cm-content")
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.type(text)

    def run_and_stop(self, index: int, *, also_shown: str | None = None) -> float:
        """Run cell ``index``, wait for its Stop button (a widget's, not text) and ``also_shown``, click it;
        return the seconds from the click to the cell's end."""
        self.run(index)
        stop = self.cell(index).locator(".jupyter-widgets button", has_text="Stop")
        stop.wait_for(state="visible", timeout=120_000)
        if also_shown is not None:
            self.cell(index).get_by_text(also_shown).first.wait_for(timeout=120_000)
        self.screenshot(f"cell {index} running")
        clicked = time.monotonic()
        stop.click()
        self.wait_done(index)
        latency = time.monotonic() - clicked
        self.screenshot(f"cell {index} stopped")
        return latency

    def complete(self, index: int, *, line: int = -1, column: int = -1) -> list[str]:
        """Put the cursor in cell ``index`` (at ``line``/``column``; -1: the end), press Tab, and return what
        the completer's list offers (an empty list when there is nothing to offer or one offer was inserted)."""
        self.cell(index).locator(".cm-content").click()
        self.page.keyboard.press("Control+End")
        if line != -1:
            lines = self.cell(index).locator(".cm-line")
            for _ in range(lines.count() - 1 - line):
                self.page.keyboard.press("ArrowUp")
        if column != -1:
            self.page.keyboard.press("Home")
            for _ in range(column):
                self.page.keyboard.press("ArrowRight")
        self.page.keyboard.press("Tab")
        items = self.page.locator(".jp-Completer:not(.lm-mod-hidden) .jp-Completer-item .jp-Completer-match")
        items.first.wait_for(state="visible", timeout=30_000)
        offered = [text.strip() for text in items.all_inner_texts()]
        self.screenshot(f"cell {index} completion")
        self.page.keyboard.press("Escape")
        return offered

    def save(self, timeout: float = 30) -> None:
        """Ctrl+S, and wait until the file on disk is the saved one and the tab is no longer dirty."""
        before = self.path.stat().st_mtime_ns
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function(
            "() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')", timeout=timeout * 1000
        )
        deadline = time.monotonic() + timeout
        while self.path.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.path.name} was not saved")
            time.sleep(0.05)

    def screenshot(self, label: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self._shots += 1
        path = SHOTS / f"{self.name}-{self._shots:02d}-{re.sub(r'[^a-z0-9]+', '-', label.lower())}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def open_notebook(lab: Lab, browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``open_notebook(cells, app="lab")``: write a notebook for this test and open it in a new page."""
    pages: list[Notebook] = []
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:80]

    def open_(cells: list[str], app: str = "lab") -> Notebook:
        path = lab.notebook(f"{name}-{len(pages)}", cells)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(lab.url(path, app))
        notebook = Notebook(page, lab, path, f"{name}-{len(pages)}")
        pages.append(notebook)
        notebook.wait_for_kernel()
        return notebook

    yield open_
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for notebook in pages:
        if failed:
            notebook.screenshot("failure")
        notebook.page.context.close()
    for session in lab.api("GET", "sessions"):
        lab.api("DELETE", f"sessions/{session['id']}")  # each test's kernels end with it


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def big(driver_session: Any, keyspace: str) -> str:
    """A table of 300,000 rows in 300 partitions (``browser_big``), written once for the session."""
    from cassandra.concurrent import execute_concurrent
    from cassandra.query import BatchStatement, BatchType

    driver_session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.{TABLE} (p int, k int, v text, PRIMARY KEY (p, k))")
    insert = driver_session.prepare(f"INSERT INTO {keyspace}.{TABLE} (p, k, v) VALUES (?, ?, ?)")

    def batches() -> Any:
        for start in range(0, ROWS, 100):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for k in range(start, start + 100):
                batch.add(insert, (k // 1000, k, f"value {k}"))
            yield batch, ()

    execute_concurrent(driver_session, batches(), concurrency=32, raise_on_first_error=True, results_generator=False)
    return TABLE


def setup_cell(address: ServerAddress, keyspace: str) -> str:
    return f"%load_ext cassnb\n%cql connect {address.host} --port {address.port} --keyspace {keyspace}"

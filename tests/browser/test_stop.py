"""Stop, clicked in the browser, ends every kind of read within a page and keeps what was fetched.

Each path reads a 300,000-row table at 500 rows a page: a plain ``%%cql`` cell (past the progress
threshold), ``%%cql --stream``, ``%cql more``, ``%%cql --export`` and ``await session.query_df``; the toolbar's
interrupt is tried too. The Stop latency (click to the cell's end) of each path is measured, printed, and kept
in ``build/browser/stop_latency.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.browser.conftest import ROWS, SHOTS, Notebook, setup_cell
from tests.conftest import ServerAddress

LATENCY: dict[str, float] = {}


def click_stop(notebook: Notebook, index: int, path: str, *, also_shown: str | None = None) -> float:
    """Stop the read of cell ``index`` with its Stop button; record and return the latency."""
    latency = notebook.run_and_stop(index, also_shown=also_shown)
    LATENCY[path] = round(latency, 3)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "stop_latency.json").write_text(json.dumps(LATENCY, indent=1))
    print(f"\nStop latency, {path}: {latency:.2f} s")
    return latency


def numbers(text: str) -> list[str]:
    return text.strip().split()


@pytest.mark.parametrize("option", ["", "--stream "], ids=["plain", "stream"])
def test_stop_in_a_cql_cell_keeps_the_rows_and_more_completes_them(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str, big: str, option: str
) -> None:
    notebook = open_notebook([
        setup_cell(cassandra_address, keyspace),
        f"%%cql {option}--fetch-size 500 --out big_df\nSELECT * FROM {big}",
        "print(len(big_df), big_df.attrs['cassnb']['complete'])",
        "%cql more big_df",
        "print(len(big_df), big_df['k'].is_unique, big_df.attrs['cassnb']['complete'])",
    ])  # fmt: skip
    assert notebook.run_and_wait(0).startswith("connected default")
    path = "%%cql --stream" if option else "%%cql"
    # A stream shows the same bar and Stop button, with its live preview of the first rows under it.
    assert click_stop(notebook, 1, path, also_shown="pages so far" if option else None) < 2.0
    shown = notebook.output_text(1)
    assert "· stopped — the rows so far are in big_df (incomplete): `%cql more big_df` continues" in shown
    assert "more on the server" in shown and "Error" not in shown
    kept, complete = numbers(notebook.run_and_wait(2))
    assert 0 < int(kept) < ROWS and complete == "False"
    notebook.run_and_wait(3, timeout=180)
    assert numbers(notebook.run_and_wait(4)) == [str(ROWS), "True", "True"]
    notebook.screenshot(f"{path} completed")


def test_stop_during_cql_more_and_then_more_again(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str, big: str
) -> None:
    notebook = open_notebook([
        setup_cell(cassandra_address, keyspace),
        f"%%cql --fetch-size 500 --limit 1000 --out part\nSELECT * FROM {big}",
        "%cql more part",
        "print(len(part), part['k'].is_unique, part.attrs['cassnb']['complete'])",
    ])  # fmt: skip
    notebook.run_and_wait(0)
    assert "more on the server" in notebook.run_and_wait(1)
    assert click_stop(notebook, 2, "%cql more") < 2.0
    assert "`%cql more part` continues" in notebook.output_text(2)
    rows, unique, complete = numbers(notebook.run_and_wait(3))
    assert 1000 < int(rows) < ROWS and unique == "True" and complete == "False"
    notebook.run_and_wait(2, timeout=180)
    assert numbers(notebook.run_and_wait(3)) == [str(ROWS), "True", "True"]


def test_stop_during_an_export_leaves_nothing(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str, big: str
) -> None:
    target = f"{keyspace}_export.csv"
    notebook = open_notebook([
        setup_cell(cassandra_address, keyspace),
        f"%%cql --export {target} --fetch-size 500\nSELECT * FROM {big}",
        f"import os; print(os.path.exists({target!r}), [n for n in os.listdir('.') if {target!r} in n])",
    ])  # fmt: skip
    notebook.run_and_wait(0)
    assert click_stop(notebook, 1, "%%cql --export") < 2.0
    shown = notebook.output_text(1)
    assert "export stopped after" in shown and f"nothing was written to {target}" in shown
    assert notebook.run_and_wait(2).strip() == "False []"


def test_query_df_stop_and_the_toolbar_interrupt(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str, big: str
) -> None:
    notebook = open_notebook([
        f"import cassnb\nsession = await cassnb.connect('{cassandra_address.host}:{cassandra_address.port}', "
        f"keyspace='{keyspace}')",
        f"df = await session.query_df('SELECT * FROM {big}', fetch_size=500)",
        "print(len(df), df.attrs['cassnb']['complete'])",
        "%load_ext cassnb\n%cql attach session",
        f"%%cql --fetch-size 500 --out via_magic\nSELECT * FROM {big}",
        "print(len(via_magic), via_magic.attrs['cassnb']['complete'])",
    ])  # fmt: skip
    notebook.run_and_wait(0)
    assert click_stop(notebook, 1, "await session.query_df") < 2.0
    assert "· stopped —" in notebook.output_text(1)
    rows, complete = numbers(notebook.run_and_wait(2))
    assert 0 < int(rows) < ROWS and complete == "False"
    notebook.run_and_wait(3)
    for cell, check in ((1, 2), (4, 5)):  # the toolbar's interrupt: the first one stops the read, rows kept
        notebook.run(cell)
        notebook.cell(cell).locator(".jupyter-widgets button", has_text="Stop").wait_for(timeout=120_000)
        notebook.page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']").click()
        notebook.wait_done(cell)
        assert "· stopped —" in notebook.output_text(cell), notebook.output_text(cell)
        rows, complete = numbers(notebook.run_and_wait(check))
        assert 0 < int(rows) < ROWS and complete == "False"
    notebook.screenshot("interrupted")


def test_stop_in_jupyter_notebook_7(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str, big: str
) -> None:
    notebook = open_notebook([
        setup_cell(cassandra_address, keyspace),
        f"%%cql --fetch-size 500 --out nb7_df\nSELECT * FROM {big}",
        "print(len(nb7_df), nb7_df.attrs['cassnb']['complete'])",
    ], app="notebook")  # fmt: skip
    notebook.run_and_wait(0)
    assert click_stop(notebook, 1, "%%cql in Notebook 7") < 2.0
    assert "`%cql more nb7_df` continues" in notebook.output_text(1)
    kept, complete = numbers(notebook.run_and_wait(2))
    assert 0 < int(kept) < ROWS and complete == "False"

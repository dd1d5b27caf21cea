"""What a notebook shows after save, kernel restart and reload: the end state of every read, never a dead widget.

A read's live widget is replaced, in its output slot, by a static summary (text/plain and text/html) when the
read ends; so the saved file holds the summary, and a reopened notebook (or one rendered where no kernel
runs) shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.browser.conftest import Notebook, setup_cell
from tests.conftest import ServerAddress

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_final_states_survive_save_restart_and_reload(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str, big: str
) -> None:
    notebook = open_notebook([
        setup_cell(cassandra_address, keyspace),
        f"%%cql --fetch-size 500 --limit 5000 --out done_df\nSELECT * FROM {big}",
        f"%%cql --fetch-size 500 --out stopped_df\nSELECT * FROM {big}",
        f"import cassnb\nsession = await cassnb.connect('{cassandra_address.host}:{cassandra_address.port}', "
        f"keyspace='{keyspace}')\ndf = await session.query_df('SELECT * FROM {big} LIMIT 3000', fetch_size=500)",
    ])  # fmt: skip
    notebook.run_and_wait(0)
    notebook.run(1)
    notebook.wait_done(1)
    notebook.run_and_stop(2)
    notebook.run_and_wait(3)
    summaries = {
        1: "5,000 rows · 10 pages ·",
        2: "· stopped — the rows so far are in stopped_df (incomplete): `%cql more stopped_df` continues",
        3: "3,000 rows · 6 pages ·",
    }
    for index, summary in summaries.items():
        assert summary in notebook.output_text(index), notebook.output_text(index)
    assert "· done" in notebook.output_text(1) and "· done" in notebook.output_text(3)
    notebook.save()

    saved = json.loads(notebook.path.read_text())
    for index, summary in summaries.items():
        outputs = saved["cells"][index]["outputs"]
        assert not any(WIDGET_VIEW in output.get("data", {}) for output in outputs), outputs
        plain = [output for output in outputs if summary in "".join(output.get("data", {}).get("text/plain", ""))]
        assert plain, outputs
        assert "text/html" in plain[0]["data"]
        html = "".join(plain[0]["data"]["text/html"])
        assert summary.split(" · ")[0].lstrip("· ") in html, html

    kernel = next(s["kernel"]["id"] for s in notebook.lab.api("GET", "sessions") if s["path"] == notebook.path.name)
    notebook.lab.api("POST", f"kernels/{kernel}/restart")
    notebook.page.reload()
    notebook.wait_for_kernel()
    notebook.screenshot("reloaded")
    page = str(notebook.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").inner_text())
    assert "Error displaying widget" not in page and "model not found" not in page
    for index, summary in summaries.items():
        assert summary in notebook.output_text(index), notebook.output_text(index)
    # Stopped is a warning, not an error; done is a success.
    assert notebook.output(2).locator(".cassnb-progress.cassnb-warning").count() == 1
    assert notebook.output(1).locator(".cassnb-progress.cassnb-success").count() == 1

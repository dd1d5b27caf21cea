"""Tab in JupyterLab completes CQL from the schema in ``%%cql`` cells, and Python as before in Python cells.

The completions come from the kernel (IPython's completer API), so this is what every front end gets; the
finer rules are in ``tests/integration/test_magics_complete.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.browser.conftest import Notebook, setup_cell
from tests.conftest import ServerAddress


def test_tab_offers_tables_columns_options_and_python_names(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str, big: str
) -> None:
    notebook = open_notebook([
        setup_cell(cassandra_address, keyspace),
        "%%cql\nSELECT * FROM ",
        f"%%cql\nSELECT  FROM {big} WHERE p = 1",
        "%%cql --",
        "import os",
        "os.pa",
    ])  # fmt: skip
    notebook.run_and_wait(0)
    notebook.run_and_wait(4)
    tables = notebook.complete(1)
    assert big in tables, tables
    assert "print" not in tables and "os" not in tables  # no Python names in a CQL cell
    columns = notebook.complete(2, line=1, column=len("SELECT "))
    assert {"p", "k", "v"} <= set(columns), columns
    options = notebook.complete(3)
    assert {"--out", "--fetch-size", "--stream", "--export"} <= set(options), options
    python = notebook.complete(5)
    assert {"path", "pathsep", "pardir"} <= set(python), python
    assert not {"SELECT", "FROM", big} & set(python)

"""Tab completion in ``%%cql`` cells and ``%cql`` lines, through IPython's own completer, from a real schema.

These ask the shell's completer exactly what a front end asks the kernel (the cell's text and the cursor's
offset); the browser tier (``tests/browser/test_completion.py``) checks the same through JupyterLab.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from tests.conftest import ServerAddress
from tests.integration.test_magics import private_shell

CURSOR = "|"


@pytest.fixture(scope="module")
def ip(
    cassandra_address: ServerAddress, driver_session: Any, keyspace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InteractiveShell]:
    driver_session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.orders (id int PRIMARY KEY, total decimal, "
                           f'"Placed At" timestamp)')  # fmt: skip
    driver_session.execute(f"CREATE TABLE IF NOT EXISTS {keyspace}.order_lines (id int, line int, item text, "
                           "PRIMARY KEY (id, line))")  # fmt: skip
    with private_shell(tmp_path_factory.mktemp("complete")) as shell:
        with capture_output():
            shell.run_line_magic(
                "cql", f"connect {cassandra_address.host} --port {cassandra_address.port} --keyspace {keyspace}"
            )
        shell.user_ns["customer_id"] = 7
        shell.user_ns["cutoff"] = "2026-01-01"
        yield shell


def offered(ip: InteractiveShell, text: str) -> list[str]:
    """What Tab offers with the cursor at ``|`` in ``text``, each as the text the cell would then hold there."""
    offset = text.index(CURSOR)
    source = text.replace(CURSOR, "", 1)
    with provisionalcompleter():
        completions = list(ip.Completer.completions(source, offset))
    return [completion.text for completion in completions]  # each replaces the word being typed


def test_tables_of_the_keyspace_after_from(ip: InteractiveShell) -> None:
    offers = offered(ip, "%%cql\nSELECT * FROM |")
    assert {"orders", "order_lines"} <= set(offers)
    assert "print" not in offers and "ip" not in offers  # no Python names in a CQL cell
    assert offered(ip, "%%cql\nSELECT * FROM order_l|") == ["order_lines"]
    assert "orders" in offered(ip, "%%cql\nINSERT INTO |")
    assert "orders" in offered(ip, "%%cql\nUPDATE ord|")
    assert "orders" in offered(ip, "%%cql\nTRUNCATE |")
    assert "orders" in offered(ip, "%%cql\nDESCRIBE TABLE |")
    assert offered(ip, "%cql SELECT * FROM order_l|") == ["order_lines"]  # a line magic too


def test_tables_of_a_named_keyspace_and_keyspaces(ip: InteractiveShell, keyspace: str) -> None:
    assert {"orders", "order_lines"} <= set(offered(ip, f"%%cql\nSELECT * FROM {keyspace}.|"))
    assert "system_schema" in offered(ip, "%%cql\nUSE sys|")
    assert keyspace in offered(ip, f"%%cql --keyspace {keyspace[:8]}|\nSELECT 1")
    assert f"{keyspace}." in offered(ip, f"%%cql\nSELECT * FROM {keyspace[:8]}|")
    assert {"local", "peers_v2"} <= set(offered(ip, "%%cql\nSELECT * FROM system.|"))


def test_columns_of_the_statements_table(ip: InteractiveShell) -> None:
    columns = offered(ip, "%%cql\nSELECT | FROM orders WHERE id = 1")
    assert {"id", "total", '"Placed At"'} <= set(columns)  # a mixed-case name comes quoted, ready to run
    assert "item" not in columns
    assert offered(ip, "%%cql\nSELECT * FROM order_lines WHERE li|") == ["line"]
    assert "item" in offered(ip, "%%cql\nUPDATE order_lines SET |")
    assert "line" in offered(ip, "%%cql\nSELECT * FROM order_lines WHERE id = 1 ORDER BY |")
    assert {"id", "line", "item"} <= set(offered(ip, "%%cql\nINSERT INTO order_lines (|"))
    assert {"id", "line", "item"} <= set(offered(ip, "%%cql\nINSERT INTO order_lines (id, |"))


def test_keywords_types_and_functions_in_the_case_typed(ip: InteractiveShell) -> None:
    assert "SELECT" in offered(ip, "%%cql\nSEL|")
    assert "select" in offered(ip, "%%cql\nsel|")
    assert "timestamp" in offered(ip, "%%cql\nCREATE TABLE t (k int PRIMARY KEY, at times|")
    assert "toTimestamp" in offered(ip, "%%cql\nSELECT toTime|")
    assert offered(ip, "%%cql\nSELECT * FROM orders WHERE id = 'FRO|") == []  # inside a string: nothing


def test_magic_options_and_python_variables(ip: InteractiveShell) -> None:
    options = offered(ip, "%%cql --|\nSELECT 1")
    assert {"--out", "--fetch-size", "--stream", "--export", "--keyspace"} <= set(options)
    assert offered(ip, "%%cql --fetch-s|\nSELECT 1") == ["--fetch-size"]
    assert "--out" in offered(ip, "%cql --o|")
    variables = offered(ip, "%%cql\nSELECT * FROM orders WHERE id = :|")
    assert {"customer_id", "cutoff"} <= set(variables)
    assert offered(ip, "%%cql\nSELECT * FROM orders WHERE id = :cust|") == ["customer_id"]


def test_a_python_cell_completes_as_python(ip: InteractiveShell) -> None:
    assert "customer_id" in offered(ip, "x = custom|")
    assert "print" in offered(ip, "pri|")
    assert "startswith" in offered(ip, "'FROM'.starts|")
    # A Python cell that only mentions FROM is still Python.
    assert "customer_id" in offered(ip, "query = 'SELECT * FROM t'\ncustom|")


def test_an_unknown_connection_offers_no_schema_names_and_no_python_names(ip: InteractiveShell) -> None:
    offers = offered(ip, "%%cql --conn nosuch\nSELECT * FROM |")
    assert "orders" not in offers and "customer_id" not in offers and "print" not in offers
    assert "WHERE" in offers  # what is left to offer: CQL's words
    assert "SELECT" in offered(ip, "%%cql --conn nosuch\nSEL|")

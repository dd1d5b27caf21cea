"""Mistakes show as one line in the browser, worded as Cassandra meant them; through the Python API, one block.

The line count is taken from the page: the text's own lines, and the rendered height of the error output over
its line height (which counts a line that wraps at the page's width).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.browser.conftest import Notebook, setup_cell
from tests.conftest import ServerAddress


def rendered_lines(notebook: Notebook, index: int) -> tuple[int, int]:
    """(lines of text, lines on screen) of cell ``index``'s error output."""
    output = notebook.output(index).locator(".jp-OutputArea-output").last
    text = str(output.inner_text()).strip()
    on_screen = output.evaluate(
        """element => {
            const pre = element.querySelector('pre') || element;
            const style = getComputedStyle(pre);
            const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.2;
            const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
            return Math.round((pre.getBoundingClientRect().height - padding) / line);
        }"""
    )
    return len(text.splitlines()), int(on_screen)


def test_a_typo_an_unknown_table_and_a_bad_option_each_show_one_line(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str
) -> None:
    notebook = open_notebook([
        setup_cell(cassandra_address, keyspace),
        "%%cql\nSELEC * FROM system.local",
        "%%cql\nSELECT * FROM no_such_table",
        "%%cql --fetch-size lots\nSELECT * FROM system.local",
        "%cql SELECT release_version FROM system.local",
    ])  # fmt: skip
    notebook.run_and_wait(0)
    expected = {
        1: ("InvalidQueryError: line 1:0 no viable alternative at input 'SELEC'", "while running: SELEC"),
        2: ("InvalidQueryError: table no_such_table does not exist", "while running: SELECT * FROM no_such_table"),
        3: ("--fetch-size", "lots"),
    }
    for index, words in expected.items():
        shown = notebook.run_and_wait(index)
        notebook.screenshot(f"error in cell {index}")
        assert all(word in shown for word in words), shown
        assert "code=" not in shown and "Error from server" not in shown and "Traceback" not in shown, shown
        text_lines, screen_lines = rendered_lines(notebook, index)
        # One line of text; on screen it may wrap once (the server's own words for a syntax error are long).
        assert text_lines == 1 and screen_lines <= 2, (text_lines, screen_lines, shown)
    # The session is still usable after each of them.
    assert "release_version" in notebook.run_and_wait(4)


def test_a_server_error_through_the_python_api_is_one_block(
    open_notebook: Callable[..., Notebook], cassandra_address: ServerAddress, keyspace: str
) -> None:
    notebook = open_notebook([
        f"import cassnb\nsession = await cassnb.connect('{cassandra_address.host}:{cassandra_address.port}', "
        f"keyspace='{keyspace}')",
        "await session.execute('SELECT * FROM no_such_table')",
        "try:\n    await session.execute('SELECT * FROM no_such_table')\nexcept cassnb.QueryError as e:\n"
        "    print(type(e).__name__, '|', e.server_message, '|', type(e.driver_error).__name__)",
    ])  # fmt: skip
    notebook.run_and_wait(0)
    shown = notebook.run_and_wait(1)
    notebook.screenshot("python api error")
    assert "table no_such_table does not exist" in shown, shown
    assert "direct cause" not in shown and "During handling" not in shown, shown  # one traceback, not two
    assert "code=2200" not in shown and "Error from server" not in shown, shown
    assert notebook.output(1).locator(".jp-OutputArea-output").count() == 1
    assert notebook.run_and_wait(2).strip() == (
        "InvalidQueryError | table no_such_table does not exist | InvalidRequest"
    )

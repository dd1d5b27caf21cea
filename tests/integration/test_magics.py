"""``%cql`` / ``%%cql`` in a real IPython shell against the real server: CQL, options, display, errors."""

from __future__ import annotations

import _thread
import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cassandra.concurrent import execute_concurrent_with_args
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from cassnb.frames import frame_info
from cassnb.magics import CqlMagic
from tests.conftest import ServerAddress

CONFIG_TRAITS = ("displaylimit", "fetch_size", "autolimit", "progress")


@dataclass
class Shown:
    """What one magic call returned and put on screen."""

    value: Any
    outputs: list[dict[str, Any]]
    stdout: str
    stderr: str

    @property
    def texts(self) -> list[str]:
        return [output["text/plain"] for output in self.outputs]


def show(ip: InteractiveShell, line: str, cell: str | None = None) -> Shown:
    with capture_output() as captured:
        value = ip.run_line_magic("cql", line) if cell is None else ip.run_cell_magic("cql", line, cell)
    return Shown(value, [o.data for o in captured.outputs], captured.stdout, captured.stderr)


def run_cell(ip: InteractiveShell, source: str) -> Shown:
    with capture_output() as captured:
        result = ip.run_cell(source)
    return Shown(result, [o.data for o in captured.outputs], captured.stdout, captured.stderr)


def the_magic(ip: InteractiveShell) -> CqlMagic:
    magic = ip.magics_manager.registry["CqlMagic"]
    assert isinstance(magic, CqlMagic)
    return magic


@contextlib.contextmanager
def private_shell(workdir: Path) -> Iterator[InteractiveShell]:
    """A real InteractiveShell with the magics loaded, whose profile and history stay in ``workdir``.

    The shell is a process-wide singleton: it is cleared at the end so later tests see no IPython.
    """
    with pytest.MonkeyPatch.context() as env:
        env.setenv("IPYTHONDIR", str(workdir / "ipython"))
        env.setenv("CASSNB_CONNECTIONS_FILE", str(workdir / "connections.ini"))
        for variable in ("CASSNB_HOSTS", "CASSNB_USER", "CASSNB_PASSWORD", "CASSNB_PROGRESS"):
            env.delenv(variable, raising=False)
        created = not InteractiveShell.initialized()
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        ip = InteractiveShell.instance(config=config)
        ip.run_line_magic("load_ext", "cassnb.magics")
        try:
            yield ip
        finally:
            ip.run_line_magic("unload_ext", "cassnb.magics")
            if created:
                InteractiveShell.clear_instance()


@pytest.fixture(scope="module")
def loaded(
    cassandra_address: ServerAddress, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InteractiveShell]:
    with private_shell(tmp_path_factory.mktemp("magics")) as ip:
        yield ip


@pytest.fixture
def ip(loaded: InteractiveShell, cassandra_address: ServerAddress) -> Iterator[InteractiveShell]:
    """The shell with the "default" connection current and the configuration at its defaults."""
    magic = the_magic(loaded)
    if "default" not in magic.connections:
        with capture_output():
            loaded.run_line_magic("cql", f"connect {cassandra_address.host} --port {cassandra_address.port}")
    magic.connections.current = "default"
    yield loaded
    magic = the_magic(loaded)
    for name in CONFIG_TRAITS:
        setattr(magic, name, magic.trait_defaults(name))
    loaded.config.pop("CqlMagic", None)


@pytest.fixture
def table(ip: InteractiveShell, driver_session: Any, keyspace: str) -> str:
    """A fresh table ``KS.tN (id int PRIMARY KEY, name text)`` with 25 rows."""
    name = f"{keyspace}.t{uuid.uuid4().hex[:8]}"
    driver_session.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, name text)")
    insert = driver_session.prepare(f"INSERT INTO {name} (id, name) VALUES (?, ?)")
    execute_concurrent_with_args(driver_session, insert, [(i, f"n{i}") for i in range(25)])
    return name


# ------------------------------------------------------------------------------------------ loading, help


def test_the_magics_and_their_aliases_are_registered(ip: InteractiveShell) -> None:
    for kind in ("line", "cell"):
        assert {"cql", "cassnb"} <= set(ip.magics_manager.magics[kind])
    assert show(ip, "SELECT release_version FROM system.local").value.iloc[0, 0].startswith("5.0")
    shown = show(ip, "", "SELECT release_version FROM system.local")
    assert shown.value is None and "5.0" in shown.texts[0]
    assert ip.run_line_magic("cassnb", "SELECT release_version FROM system.local").shape == (1, 1)
    with capture_output() as captured:
        ip.run_cell_magic("cassnb", "--out via_alias", "SELECT release_version FROM system.local")
    assert ip.user_ns["via_alias"].shape == (1, 1) and captured.outputs


def test_cell_help_is_the_full_reference(ip: InteractiveShell) -> None:
    shown = run_cell(ip, "%%cql?")
    text = shown.stdout + "".join(shown.texts)
    for needle in ("Run CQL on Apache Cassandra", "--consistency", "--password-env", ":name", "describe"):
        assert needle in text, needle


def test_config_through_traitlets(ip: InteractiveShell) -> None:
    run_cell(ip, "%config CqlMagic.displaylimit = 20\n%config CqlMagic.fetch_size = 100")
    magic = the_magic(ip)
    assert (magic.displaylimit, magic.fetch_size) == (20, 100)
    run_cell(ip, "%config CqlMagic.progress = 'OFF'\n%config CqlMagic.autolimit = 3")
    assert (magic.progress, magic.autolimit) == ("off", 3)
    run_cell(ip, "%config CqlMagic.fetch_size = 0")  # %config logs the TraitError and keeps the old value
    assert magic.fetch_size == 100


# ------------------------------------------------------------------------------------- statements, display


def test_every_statement_of_a_cell_is_shown(ip: InteractiveShell, keyspace: str) -> None:
    name = f"{keyspace}.multi"
    shown = show(ip, "", f"""
        CREATE TABLE IF NOT EXISTS {name} (id int PRIMARY KEY, v text);
        INSERT INTO {name} (id, v) VALUES (1, 'one');
        INSERT INTO {name} (id, v) VALUES (2, 'two; still two');  -- a comment; with a semicolon
        SELECT * FROM {name} WHERE id = 1;
        UPDATE {name} SET v = 'uno' WHERE id = 1;
        SELECT v FROM {name} WHERE id IN (1, 2)
    """)  # fmt: skip
    texts = shown.texts
    assert len(texts) == 6, texts
    assert texts[0].startswith(f"CREATE TABLE IF NOT EXISTS {name}") and texts[0].endswith("— OK")
    assert texts[1].endswith("— OK") and texts[2].endswith("— OK") and texts[4].endswith("— OK")
    assert "one" in texts[3] and texts[3].endswith("1 row")
    assert "uno" in texts[5] and "two; still two" in texts[5] and texts[5].endswith("2 rows")
    assert "text/html" in shown.outputs[3] and "<table" in shown.outputs[3]["text/html"]
    assert shown.value is None


def test_lightweight_transactions_show_applied(ip: InteractiveShell, table: str) -> None:
    first = show(ip, "", f"INSERT INTO {table} (id, name) VALUES (100, 'new') IF NOT EXISTS")
    assert first.texts == [
        f"INSERT INTO {table} (id, name) VALUES (100, 'new') IF NOT EXISTS — [applied] True"
    ]
    again = show(ip, "--out lwt", f"INSERT INTO {table} (id, name) VALUES (100, 'other') IF NOT EXISTS")
    assert again.texts[0].endswith("— [applied] False (current: id=100, name='new')")
    assert list(ip.user_ns["lwt"].columns) == ["[applied]", "id", "name"]
    update = show(ip, "", f"UPDATE {table} SET name = 'x' WHERE id = 100 IF name = 'new'")
    assert update.texts[0].endswith("[applied] True")


def test_results_into_variables(ip: InteractiveShell, table: str) -> None:
    show(ip, "--out by_option", f"SELECT * FROM {table}")
    show(ip, "by_arrow <<", f"SELECT id FROM {table} WHERE id = 3; SELECT * FROM {table} WHERE id IN (1, 2)")
    run_cell(ip, f"by_assignment = %cql SELECT * FROM {table} WHERE id = 7")
    frames = {name: ip.user_ns[name] for name in ("by_option", "by_arrow", "by_assignment")}
    assert all(isinstance(frame, pd.DataFrame) for frame in frames.values())
    assert len(frames["by_option"]) == 25  # every fetched row, not only the displayed ones
    assert sorted(frames["by_arrow"]["id"]) == [1, 2]  # the last statement's result
    assert frames["by_assignment"]["name"].tolist() == ["n7"]
    assert str(frames["by_option"]["id"].dtype) == "Int32"
    ddl = show(ip, "--out after_ddl", f"INSERT INTO {table} (id, name) VALUES (500, 'x')")
    assert ddl.value is None and ip.user_ns["after_ddl"].empty
    with pytest.raises(UsageError, match="either `a <<` or --out b"):
        show(ip, "a << --out b", "SELECT 1 FROM system.local")
    with pytest.raises(UsageError, match="Python variable name"):
        show(ip, "--out class", "SELECT * FROM system.local")


def test_display_limit_and_footers(ip: InteractiveShell, table: str) -> None:
    def table_footer(line: str) -> tuple[str, int]:
        shown = show(ip, f"{line} --out shown_rows", f"SELECT * FROM {table}")
        view_text = shown.texts[0]
        return view_text.splitlines()[-1], len(ip.user_ns["shown_rows"])

    assert table_footer("") == ("first 10 of 25 rows shown", 25)
    run_cell(ip, "%config CqlMagic.displaylimit = 20")
    assert table_footer("") == ("first 20 of 25 rows shown", 25)
    run_cell(ip, "%config CqlMagic.displaylimit = 0")
    assert table_footer("") == ("25 rows", 25)
    run_cell(ip, "%config CqlMagic.displaylimit = 10")
    assert table_footer("--limit 5") == ("first 5 rows shown — more on the server", 5)
    assert table_footer("--limit 12 --fetch-size 5") == (
        "first 10 rows shown (12 fetched) — more on the server",
        12,
    )
    assert table_footer("--limit 25 --fetch-size 5") == ("first 10 of 25 rows shown", 25)  # nothing more
    assert table_footer("--limit 40") == ("first 10 of 25 rows shown", 25)
    run_cell(ip, "%config CqlMagic.autolimit = 7")
    assert table_footer("") == ("first 7 rows shown — more on the server", 7)
    assert table_footer("--limit 0") == ("first 10 of 25 rows shown", 25)
    html = show(ip, "", f"SELECT * FROM {table}").outputs[0]["text/html"]
    assert html.count("<tr") == 8 and "more on the server" in html


def test_progress_is_shown_for_reads_of_several_pages(ip: InteractiveShell, table: str) -> None:
    run_cell(ip, "%config CqlMagic.progress = 'static'")
    multi_page = show(ip, "--fetch-size 10", f"SELECT * FROM {table}")
    assert multi_page.stdout.strip() == "fetched 25 rows in 3 pages"
    single_page = show(ip, "", f"SELECT * FROM {table}")
    assert single_page.stdout == ""
    run_cell(ip, "%config CqlMagic.progress = 'off'")
    assert show(ip, "--fetch-size 10", f"SELECT * FROM {table}").stdout == ""


# ------------------------------------------------------------------------------------------ parameters


@pytest.fixture
def typed_table(driver_session: Any, keyspace: str) -> str:
    name = f"{keyspace}.typed{uuid.uuid4().hex[:8]}"
    driver_session.execute(
        f"CREATE TABLE {name} (id uuid PRIMARY KEY, name text, n int, tags list<text>, attrs map<text, int>, "
        "note text)"
    )
    return name


def test_named_markers_bind_python_values_as_real_parameters(
    ip: InteractiveShell, typed_table: str, driver_session: Any
) -> None:
    values = {
        "row_id": uuid.uuid4(), "name": "Zoë {name} $name :name ; '' \"q\"", "n": 42,
        "tags": ["a", "b;c", "{d}"], "attrs": {"k": 1, "x:y": 2}, "note": None,
    }  # fmt: skip
    ip.user_ns.update(values)
    show(ip, "", f"""
        INSERT INTO {typed_table} (id, name, n, tags, attrs, note)
        VALUES (:row_id, :name, :n, :tags, :attrs, :note)
    """)  # fmt: skip
    frame = show(ip, "", f"SELECT * FROM {typed_table} WHERE id = :row_id").value
    assert frame is None  # a cell returns nothing; read it back with the line form
    frame = ip.run_line_magic("cql", f"SELECT * FROM {typed_table} WHERE id = :row_id")
    row = frame.iloc[0]
    assert row["id"] == values["row_id"]
    assert row["name"] == values["name"] and row["n"] == 42
    assert list(row["tags"]) == values["tags"] and dict(row["attrs"]) == values["attrs"]
    assert pd.isna(row["note"])
    stored = driver_session.execute(
        f"SELECT note, name FROM {typed_table} WHERE id = %s", [values["row_id"]]
    ).one()
    assert stored.note is None and stored.name == values["name"]


def test_literals_keep_braces_dollars_colons_and_semicolons(
    ip: InteractiveShell, typed_table: str, driver_session: Any
) -> None:
    ip.user_ns.update(name="EXPANDED", lit_id=uuid.uuid4(), other_id=uuid.uuid4(), line_id=uuid.uuid4())
    shown = show(ip, "", f"""
        INSERT INTO {typed_table} (id, name, attrs)
        VALUES (:lit_id, 'a {{name}} $name :name ; b::c', {{'k':1, 'j': 2}});
        INSERT INTO {typed_table} (id, name) VALUES (:other_id, $$dollar ; :name {{x}}$$)
    """)  # fmt: skip
    assert len(shown.texts) == 2
    # The line form goes through IPython's input transformation: {name} and $name must not be expanded.
    run_cell(ip, f"%cql INSERT INTO {typed_table} (id, name) VALUES (:line_id, '{{name}} $name')")
    rows = {row.id: row for row in driver_session.execute(f"SELECT id, name, attrs FROM {typed_table}")}
    assert rows[ip.user_ns["lit_id"]].name == "a {name} $name :name ; b::c"
    assert dict(rows[ip.user_ns["lit_id"]].attrs) == {"k": 1, "j": 2}
    assert rows[ip.user_ns["other_id"]].name == "dollar ; :name {x}"
    assert rows[ip.user_ns["line_id"]].name == "{name} $name"


def test_an_injection_attempt_is_stored_verbatim(
    ip: InteractiveShell, table: str, driver_session: Any
) -> None:
    ip.user_ns["evil"] = "'); DROP TABLE x; --"
    ip.user_ns["evil_table"] = f"x'); DROP TABLE {table}; --"
    show(ip, "", f"INSERT INTO {table} (id, name) VALUES (900, :evil); INSERT INTO {table} (id, name) "
                 "VALUES (901, :evil_table)")  # fmt: skip
    stored = {
        row.id: row.name for row in driver_session.execute(f"SELECT * FROM {table} WHERE id IN (900, 901)")
    }
    assert stored == {900: "'); DROP TABLE x; --", 901: f"x'); DROP TABLE {table}; --"}
    assert len(ip.run_line_magic("cql", f"SELECT * FROM {table}")) == 27


def test_an_unknown_variable_is_named_and_nothing_runs(
    ip: InteractiveShell, keyspace: str, driver_session: Any
) -> None:
    ip.user_ns.pop("nope", None)
    name = f"never_{uuid.uuid4().hex[:8]}"
    with pytest.raises(UsageError, match=r"no Python variable named 'nope'"):
        show(
            ip,
            "",
            f"CREATE TABLE {keyspace}.{name} (a int PRIMARY KEY);\n"
            f"INSERT INTO {keyspace}.{name} (a) VALUES (:nope)",
        )
    query = "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s"
    assert driver_session.execute(query, [keyspace, name]).one() is None


def test_values_of_the_wrong_type_are_a_clear_error(ip: InteractiveShell, table: str) -> None:
    ip.user_ns["wrong"] = "not a number"
    with pytest.raises(UsageError) as caught:
        show(ip, "", f"SELECT * FROM {table} WHERE id = :wrong")
    assert str(caught.value) == (
        ":wrong is bound to a marker of CQL type int but holds str 'not a number' (expected an integer, got "
        "'not a number'); give it a value of that type"
    )


def test_line_magic_sees_function_locals(ip: InteractiveShell, table: str) -> None:
    defined = run_cell(
        ip,
        f"def lookup(wanted):\n    rows = %cql SELECT name FROM {table} WHERE id = :wanted\n    return rows",
    )
    assert defined.value.success
    run_cell(ip, "found = lookup(4)")
    assert ip.user_ns["found"]["name"].tolist() == ["n4"]


# ------------------------------------------------------------------------------------------ per-run options


def trace_of(shown: Shown) -> str:
    return next(text for text in shown.texts if text.startswith("trace "))


def test_tracing_shows_coordinator_duration_and_events(ip: InteractiveShell, table: str) -> None:
    shown = show(ip, "--tracing", f"SELECT * FROM {table} WHERE id = 1")
    assert len(shown.texts) == 2
    header, *events = trace_of(shown).splitlines()
    assert "coordinator 127.0.0.1" in header and " ms, " in header and "events" in header
    assert events and any("Parsing" in event or "Read" in event for event in events)
    assert "<details" in shown.outputs[1]["text/html"]


def test_consistency_and_fetch_size_reach_the_server(ip: InteractiveShell, table: str) -> None:
    quorum = trace_of(show(ip, "--consistency quorum --tracing --fetch-size 7", f"SELECT * FROM {table}"))
    assert "consistency_level=QUORUM" in quorum and "page_size=7" in quorum
    ip.user_ns["n"] = 3
    bound = trace_of(show(ip, "--consistency ALL --tracing", f"SELECT * FROM {table} WHERE id = :n"))
    assert "consistency_level=ALL" in bound
    run_cell(ip, "%config CqlMagic.fetch_size = 4")
    assert "page_size=4," in trace_of(show(ip, "--tracing", f"SELECT * FROM {table}"))
    with pytest.raises(UsageError, match="unknown consistency level 'most'"):
        show(ip, "--consistency most", f"SELECT * FROM {table}")
    with pytest.raises(UsageError, match="Cannot achieve consistency level TWO"):
        show(ip, "--consistency two", f"SELECT * FROM {table}")
    assert len(ip.run_line_magic("cql", f"SELECT * FROM {table}")) == 25


def test_serial_consistency_for_lightweight_transactions(ip: InteractiveShell, table: str) -> None:
    ip.user_ns["n"] = 1
    for line, where in (("", "WHERE id = 1"), ("", "WHERE id = :n")):
        lwt = show(ip, f"{line}--serial-consistency local_serial --tracing",
                   f"UPDATE {table} SET name = 'u' {where} IF EXISTS")  # fmt: skip
        assert lwt.texts[0].endswith("[applied] True")
        assert "serial_consistency_level=LOCAL_SERIAL" in trace_of(lwt)
    with pytest.raises(UsageError, match="SERIAL or LOCAL_SERIAL"):
        show(ip, "--serial-consistency quorum", f"UPDATE {table} SET name = 'u' WHERE id = 1 IF EXISTS")


def test_timeout_per_request(ip: InteractiveShell, table: str) -> None:
    with pytest.raises(UsageError, match="client timeout"):
        show(ip, "--timeout 0.000001", f"SELECT * FROM {table}")
    assert len(show(ip, "--timeout 30 --out timed", f"SELECT * FROM {table}").texts) == 1
    assert len(ip.user_ns["timed"]) == 25
    with pytest.raises(UsageError, match="--timeout must be positive"):
        show(ip, "--timeout -1", f"SELECT * FROM {table}")


def test_keyspace_per_run_leaves_the_connection_alone(ip: InteractiveShell, table: str) -> None:
    keyspace, bare = table.split(".")
    session = the_magic(ip).connections.get().session
    assert session.keyspace is None
    ip.user_ns["wanted"] = 5
    frame = ip.run_line_magic("cql", f"--keyspace {keyspace} SELECT name FROM {bare} WHERE id = :wanted")
    assert frame["name"].tolist() == ["n5"]
    assert len(ip.run_line_magic("cql", f"-k {keyspace} SELECT * FROM {bare}")) == 25
    assert session.keyspace is None
    with pytest.raises(UsageError, match="InvalidQueryError: No keyspace has been specified"):
        show(ip, "", f"SELECT * FROM {bare}")


def test_describe(ip: InteractiveShell, table: str) -> None:
    keyspace, bare = table.split(".")
    keyspaces = show(ip, "describe keyspaces").texts[0].splitlines()
    assert keyspace in keyspaces and "system" in keyspaces
    create = show(ip, f"describe keyspace {keyspace}")
    assert create.texts[0].startswith(f"CREATE KEYSPACE {keyspace} WITH replication")
    assert f"CREATE TABLE {table} (" in create.texts[0]
    described = show(ip, f"describe table {table}")
    assert described.texts[0].startswith(f"CREATE TABLE {table} (\n    id int PRIMARY KEY,\n    name text\n)")
    assert described.outputs[0]["text/html"].startswith('<pre><code class="language-sql">CREATE TABLE')
    tables = show(ip, "DESCRIBE TABLES").texts[0]
    assert f"{keyspace}: " in tables and bare in tables
    with pytest.raises(UsageError, match="use %cql describe keyspaces"):
        show(ip, "describe table")
    with pytest.raises(UsageError, match="is not a keyspace or table name"):
        show(ip, "describe table x;DROP")
    assert show(ip, "describe types --conn default").texts  # other forms go to the server as written
    assert show(ip, "describe keyspaces --conn default").texts == ["\n".join(keyspaces)]
    with pytest.raises(UsageError) as unknown:
        show(ip, "describe everything")
    assert str(unknown.value) == (
        "InvalidQueryError: 'everything' not found in keyspaces (while running: DESCRIBE everything)"
    )
    with pytest.raises(UsageError, match="use %cql describe keyspaces"):
        show(ip, "describe")


# ------------------------------------------------------------------------------------------ errors


def test_mistakes_are_one_line_usage_errors_and_the_connection_stays_usable(
    ip: InteractiveShell, table: str
) -> None:
    cases = {
        f"%cql SELEC * FROM {table}": "UsageError: InvalidQueryError: line 1:0 no viable alternative at input 'SELEC'",
        f"%cql SELECT * FROM {table}_missing": "_missing does not exist",
        "%cql --limit lots SELECT 1": "invalid int value: 'lots'",
        "%cql --bogus SELECT 1": "unknown option --bogus",
        "%cql --conn nowhere SELECT * FROM system.local": "no open connection named 'nowhere'",
        "%cql SELECT 'unterminated FROM system.local": "unterminated string literal",
        "%cql": "there is no CQL to run",
        "%%cql --limit 1 SELECT\nSELECT 1": "unexpected text on the %%cql line",
        "%%cql\n-- only a comment": "there is no CQL to run",
    }
    for source, message in cases.items():
        shown = run_cell(ip, source)
        assert isinstance(shown.value.error_in_exec, UsageError), source
        lines = shown.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("UsageError: "), (source, shown.stderr)
        assert message in lines[0], (source, lines[0])
        assert "Traceback" not in shown.stdout + shown.stderr
    assert len(ip.run_line_magic("cql", f"SELECT * FROM {table}")) == 25


def test_an_error_in_a_later_statement_names_it_after_showing_the_earlier_ones(
    ip: InteractiveShell, table: str
) -> None:
    with capture_output() as captured:
        result = ip.run_cell(f"%%cql\nSELECT * FROM {table} WHERE id = 1;\nSELECT nothing FROM {table}")
    assert isinstance(result.error_in_exec, UsageError)
    assert str(result.error_in_exec).startswith("statement 2 of 2: InvalidQueryError: Undefined column name")
    assert "Undefined column name nothing" in str(result.error_in_exec)
    assert len(captured.outputs) == 1 and "n1" in captured.outputs[0].data["text/plain"]


def test_no_connection_is_a_usage_error(ip: InteractiveShell) -> None:
    registry = the_magic(ip).connections
    current, registry.current = registry.current, None
    try:
        with pytest.raises(UsageError, match=r"no connection: run `%cql connect"):
            show(ip, "SELECT * FROM system.local")
    finally:
        registry.current = current


# ------------------------------------------------------------------------------------------ interrupts


@pytest.fixture(scope="module")
def big_table(driver_session: Any, keyspace: str) -> str:
    name = f"{keyspace}.magics_big_{uuid.uuid4().hex[:8]}"
    driver_session.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, payload text)")
    insert = driver_session.prepare(f"INSERT INTO {name} (id, payload) VALUES (?, ?)")
    execute_concurrent_with_args(
        driver_session, insert, [(i, "x" * 40) for i in range(3000)], concurrency=100
    )
    return name


class InterruptMidRead:
    """Interrupts the main thread once the session has sent ``pages`` more requests: in the middle of a read.

    Waiting for real progress (rather than a fixed delay) keeps the test independent of the machine's speed;
    if the read never gets going, no interrupt is sent at all, so none can hit pytest itself.
    """

    def __init__(self, session: Any, pages: int = 20, wait: float = 10.0) -> None:
        self._session, self._pages, self._wait = session, pages, wait
        self._done = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        start = self._session.metrics().pages_streamed
        deadline = time.monotonic() + self._wait
        while not self._done.wait(0.005) and time.monotonic() < deadline:
            if self._session.metrics().pages_streamed - start >= self._pages:
                self.fired = True
                _thread.interrupt_main()
                return

    def __enter__(self) -> InterruptMidRead:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()


def test_an_interrupt_stops_a_blocking_read_after_its_page_and_keeps_the_rows(
    ip: InteractiveShell, big_table: str
) -> None:
    """A magic run through IPython's plain call (here ``run_cell_magic``) blocks its thread: the interrupt is
    the way to stop it, and the first one stops the read after its page, keeping what was fetched."""
    session = the_magic(ip).connections.get().session
    with capture_output() as captured, InterruptMidRead(session) as interrupt:
        ip.run_cell_magic("cql", "--fetch-size 1 --out kept", f"SELECT * FROM {big_table}")
    assert interrupt.fired
    pages_after_stop = session.metrics().pages_streamed
    kept = ip.user_ns["kept"]
    info = frame_info(kept)
    assert not info.complete and 0 < len(kept) < 3000 and info.rows == len(kept)
    assert session.metrics().pages_streamed == pages_after_stop, "the read went on after it stopped"
    assert "first 10 rows shown" in captured.outputs[-1].data["text/plain"]
    assert not session.is_closed
    assert ip.run_line_magic("cql", f"SELECT count(*) AS n FROM {big_table}")["n"].tolist() == [3000]
    assert ip.run_line_magic("cql", f"SELECT * FROM {big_table} WHERE id = 7")["id"].tolist() == [7]
    show(ip, "more kept")
    assert len(ip.user_ns["kept"]) == 3000 and ip.user_ns["kept"]["id"].is_unique


def test_an_interrupt_through_run_cell_stops_the_awaited_read_and_recovers(
    ip: InteractiveShell, big_table: str
) -> None:
    """``run_cell`` awaits a top-level ``%%cql`` cell: the interrupt is a stop request as for ``query_df``."""
    session = the_magic(ip).connections.get().session
    with InterruptMidRead(session) as interrupt:
        shown = run_cell(ip, f"%%cql --fetch-size 1 --out awaited\nSELECT * FROM {big_table}")
    assert interrupt.fired and shown.value.error_in_exec is None
    assert not frame_info(ip.user_ns["awaited"]).complete
    assert len(ip.run_line_magic("cql", f"--limit 10 SELECT * FROM {big_table}")) == 10

"""The magics' pure parts: line parsing, connection settings, run options, planning and rendering."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import pytest
from IPython.core.error import UsageError

from cassnb._cqltext import UnknownVariableError
from cassnb._hosts import split_endpoint, split_hosts
from cassnb.magics import CqlMagic
from cassnb.magics._connections import (
    MASK,
    Defaults,
    Registry,
    read_connection_file,
    read_password,
    resolve_settings,
)
from cassnb.magics._display import CqlText, RowsView, StatusLine, TraceView, describe_view, footer, views_for
from cassnb.magics._run import Outcome, RunOptions, TraceEvent, TraceSummary, plan_cell
from cassnb.options import Consistency

# ---------------------------------------------------------------------------------------------- line parsing


@pytest.fixture(scope="module")
def magic() -> CqlMagic:
    return CqlMagic(shell=None)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("SELECT * FROM t", (None, "", "SELECT * FROM t")),
        ("--limit 5 SELECT * FROM t", (None, "--limit 5", "SELECT * FROM t")),
        ("--limit=5 --tracing SELECT 1", (None, "--limit=5 --tracing", "SELECT 1")),
        ("df << --out x", ("df", "--out x", "")),
        ("df <<", ("df", "", "")),
        ("  rows<<SELECT 'a -- b'", ("rows", "", "SELECT 'a -- b'")),
        ("-c other -k ks SELECT '{x} $y :z'", (None, "-c other -k ks", "SELECT '{x} $y :z'")),
        ("", (None, "", "")),
    ],
)
def test_split_line_keeps_the_cql_verbatim(magic: CqlMagic, line: str, expected: tuple[object, ...]) -> None:
    assert magic._split_line(line) == expected


def test_split_line_rejects_unknown_and_abbreviated_options(magic: CqlMagic) -> None:
    with pytest.raises(UsageError, match="unknown option --bogus"):
        magic._split_line("--bogus 1 SELECT 1")
    with pytest.raises(UsageError, match="unknown option --lim"):
        magic._split_line("--lim 1 SELECT 1")
    with pytest.raises(UsageError, match="--limit needs a value"):
        magic._split_line("--limit")


def test_the_docstring_is_the_complete_reference() -> None:
    doc = CqlMagic.cql.__doc__ or ""
    for needle in [
        "%%cql [VAR <<] [options]", ":name", "--out", "--conn", "--consistency", "--serial-consistency",
        "--fetch-size", "--limit", "--timeout", "--tracing", "--keyspace", "connect", "connections", "use",
        "close", "attach", "describe", "--password-env", "CASSNB_CONNECTIONS_FILE", "displaylimit",
        "autolimit", "progress", "KeyboardInterrupt",
    ]:  # fmt: skip
        assert needle in doc, needle


def test_load_ext_cassnb_registers_the_magics(tmp_path: Path) -> None:
    """Needs ``from .magics import load_ipython_extension, unload_ipython_extension`` in cassnb/__init__."""
    code = textwrap.dedent(
        """
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets.config import Config
        config = Config()
        config.HistoryManager.hist_file = ":memory:"
        ip = InteractiveShell.instance(config=config)
        assert ip.extension_manager.load_extension("cassnb") is None, "cassnb is not an IPython extension"
        for kind in ("line", "cell"):
            assert {"cql", "cassnb"} <= set(ip.magics_manager.magics[kind]), kind
        assert any(type(c).__name__ == "CqlMagic" for c in ip.configurables)
        ip.extension_manager.unload_extension("cassnb")
        assert "cql" not in ip.magics_manager.magics["cell"]
        print("ok")
        """
    )
    env = {**os.environ, "IPYTHONDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ---------------------------------------------------------------------------------------------- settings


def test_split_hosts_takes_the_port_from_host_entries() -> None:
    assert split_hosts("a, b:9142", None) == (("a", "b"), 9142)
    assert split_hosts("a", 9042) == (("a",), 9042)
    assert split_hosts("::1", None) == (("::1",), None)
    assert split_hosts(["a", " b:9142 ", ""], 9042) == (("a", "b"), 9142)  # connect()'s list form
    assert split_hosts(None, 9042) == ((), 9042)


def test_split_endpoint_reads_the_port_after_the_last_colon() -> None:
    assert split_endpoint("127.0.0.11:9042") == ("127.0.0.11", 9042)
    assert split_endpoint("::1:9142") == ("::1", 9142)  # a replica's address as the token planner writes it


def test_settings_precedence_line_then_file_then_config_then_environment() -> None:
    env = {"CASSNB_HOSTS": "env-host", "CASSNB_USER": "env-user", "CASSNB_PASSWORD": "x"}
    file = {"prod": {"hosts": "file-host", "port": "9142", "keyspace": "file_ks"}}
    config = Defaults(hosts="config-host", port=9500, user="config-user", keyspace="config_ks")

    from_env = resolve_settings("default", environ=env, file_sections={})
    assert (from_env.hosts, from_env.port, from_env.user) == (("env-host",), 9042, "env-user")
    assert from_env.password_from == "env CASSNB_PASSWORD"

    from_config = resolve_settings("default", defaults=config, environ=env, file_sections=file)
    assert (from_config.hosts, from_config.port, from_config.user, from_config.keyspace) == (
        ("config-host",), 9500, "config-user", "config_ks",
    )  # fmt: skip

    from_file = resolve_settings("prod", defaults=config, environ=env, file_sections=file)
    assert (from_file.hosts, from_file.port, from_file.keyspace) == (("file-host",), 9142, "file_ks")

    from_line = resolve_settings(
        "prod", hosts="line-host:9999", keyspace="line_ks", user="line-user", password_env="MY_SECRET",
        defaults=config, environ=env, file_sections=file,
    )  # fmt: skip
    assert (from_line.hosts, from_line.port, from_line.keyspace, from_line.user) == (
        ("line-host",), 9999, "line_ks", "line-user",
    )  # fmt: skip
    assert from_line.password_from == "env MY_SECRET"

    with pytest.raises(UsageError, match="--password-env needs a user"):
        resolve_settings("default", password_env="X", environ={}, file_sections={})
    nothing = resolve_settings("default", environ={}, file_sections={})
    assert (nothing.hosts, nothing.port, nothing.user, nothing.password_from) == (
        ("127.0.0.1",),
        9042,
        None,
        None,
    )
    assert resolve_settings("default", user="u", environ={}, file_sections={}).password_from == "prompt"


def test_connection_file_sections_and_typos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "connections.ini"
    monkeypatch.setenv("CASSNB_CONNECTIONS_FILE", str(path))
    assert read_connection_file() == {}
    path.write_text("[prod]\nhosts = h1,h2\nuser = app\npassword = s3cr%t\n[dev]\nhosts = localhost\n")
    sections = read_connection_file()
    assert sections["prod"]["password"].reveal() == "s3cr%t"  # no interpolation of %; masked from the start
    assert "s3cr%t" not in repr(sections)
    settings = resolve_settings("prod", environ={})
    assert settings.password_from == "file"
    password = read_password(settings)
    assert password is not None and password.reveal() == "s3cr%t"
    path.write_text("[prod]\nhots = h1\n")
    with pytest.raises(UsageError, match=r"unknown key hots in section \[prod\]"):
        read_connection_file()


def test_read_password_from_a_named_variable_or_the_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PASSWORD_VAR", "from-env")
    with_env = resolve_settings(
        "default", user="u", password_env="SOME_PASSWORD_VAR", environ={}, file_sections={}
    )
    from_env = read_password(with_env)
    assert from_env is not None and from_env.reveal() == "from-env" and "from-env" not in repr(from_env)
    missing = resolve_settings(
        "default", user="u", password_env="NOT_SET_ANYWHERE", environ={}, file_sections={}
    )
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(UsageError, match=r"NOT_SET_ANYWHERE .* is not set"):
        read_password(missing)
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or "typed")
    prompted = resolve_settings("default", user="u", hosts="h", environ={}, file_sections={})
    typed = read_password(prompted)
    assert typed is not None and typed.reveal() == "typed"
    assert prompts == ["Password for u@h:9042: "]


def test_the_registry_masks_passwords_and_tracks_the_current_connection() -> None:
    registry = Registry()
    with pytest.raises(UsageError, match="no connection: run `%cql connect"):
        registry.get()
    table = registry.table({"prod": {"hosts": "h", "user": "app", "password": "hunter2"}})
    assert table.loc[0, "password"] == MASK
    assert "hunter2" not in table.to_string()
    with pytest.raises(UsageError, match="no open connection named 'x'"):
        registry.get("x")


# ---------------------------------------------------------------------------------------------- planning


def test_plan_cell_resolves_every_marker_before_anything_runs() -> None:
    planned = plan_cell(
        "INSERT INTO t (a, b) VALUES (:a, :b); SELECT * FROM t WHERE a = :a", {"a": 1, "b": "x"}
    )
    assert [p.text for p in planned] == ["INSERT INTO t (a, b) VALUES (?, ?)", "SELECT * FROM t WHERE a = ?"]
    assert [p.values for p in planned] == [(1, "x"), (1,)]
    with pytest.raises(UnknownVariableError, match="'missing'"):
        plan_cell("SELECT 1; SELECT * FROM t WHERE a = :missing", {})


def test_run_options_validate_early() -> None:
    with pytest.raises(ValueError, match="SERIAL or LOCAL_SERIAL"):
        RunOptions(serial_consistency=Consistency.QUORUM)
    with pytest.raises(ValueError, match="--limit must be a positive"):
        RunOptions(limit=0)
    with pytest.raises(ValueError, match="fetch size"):
        RunOptions(fetch_size=0)
    with pytest.raises(ValueError, match="--timeout"):
        RunOptions(timeout=-1.0)


# ---------------------------------------------------------------------------------------------- display


def test_footers_say_what_is_left_out() -> None:
    assert footer(1, 1, False) == "1 row"
    assert footer(3, 3, False) == "3 rows"
    assert footer(10, 25, False) == "first 10 of 25 rows shown"
    assert footer(10, 10, True) == "first 10 rows shown — more on the server"
    assert footer(10, 25, True) == "first 10 rows shown (25 fetched) — more on the server"


def test_rows_view_renders_only_the_shown_rows_and_escapes_html() -> None:
    frame = pd.DataFrame({"id": range(25), "text": ["<b>bold</b>"] * 25})
    view = RowsView(frame, displaylimit=10)
    html = view._repr_html_()
    assert html.count("<tr") == 11  # header + 10 rows
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert "first 10 of 25 rows shown" in html
    assert repr(view).splitlines()[-1] == "first 10 of 25 rows shown"
    assert len(repr(view).splitlines()) == 12
    everything = RowsView(frame, displaylimit=0)
    assert repr(everything).endswith("25 rows")


def test_status_lines_for_statements_and_lightweight_transactions() -> None:
    assert repr(StatusLine.for_outcome(Outcome("CREATE TABLE t (a int PRIMARY KEY)", None))) == (
        "CREATE TABLE t (a int PRIMARY KEY) — OK"
    )
    applied = Outcome("INSERT INTO t (a) VALUES (1) IF NOT EXISTS", pd.DataFrame({"[applied]": [True]}))
    assert repr(StatusLine.for_outcome(applied)).endswith("— [applied] True")
    refused = Outcome("INSERT ... IF NOT EXISTS", pd.DataFrame({"[applied]": [False], "a": [1], "b": ["x"]}))
    assert repr(StatusLine.for_outcome(refused)).endswith("— [applied] False (current: a=1, b='x')")
    assert [type(v) for v in views_for(refused, 10)] == [StatusLine]


def test_trace_view_shows_coordinator_duration_and_events() -> None:
    trace = TraceSummary(
        str(uuid.uuid4()), "10.0.0.1", 1234, "Execute CQL3 query", {"consistency_level": "QUORUM"},
        (TraceEvent(12, "10.0.0.1", "Native-Transport-1", "Parsing <x>"),
         TraceEvent(None, "10.0.0.1", "", "Done")),
    )  # fmt: skip
    view = TraceView(trace)
    text = repr(view)
    assert text.splitlines()[0].endswith(": coordinator 10.0.0.1, duration 1.234 ms, 2 events")
    assert text.splitlines()[1] == "  consistency_level=QUORUM"
    assert "Parsing <x>" in text
    assert "Parsing &lt;x&gt;" in view._repr_html_()
    outcome = Outcome("SELECT 1", pd.DataFrame({"a": [1]}), trace=trace, warnings=["careful"])
    views = views_for(outcome, 10)
    assert [type(v) for v in views] == [RowsView, TraceView, StatusLine]
    assert repr(views[2]) == "server warning: careful"


def test_describe_view_shows_cql_or_names() -> None:
    ddl = pd.DataFrame(
        {"keyspace_name": ["k"], "type": ["table"], "name": ["t"], "create_statement": ["CREATE x;"]}
    )
    assert repr(describe_view(ddl)) == "CREATE x;"
    keyspaces = pd.DataFrame({"keyspace_name": ["a", "b"], "type": ["keyspace"] * 2, "name": ["a", "b"]})
    assert repr(describe_view(keyspaces)) == "a\nb"
    tables = pd.DataFrame(
        {"keyspace_name": ["a", "a", "b"], "type": ["table"] * 3, "name": ["t1", "t2", "t3"]}
    )
    assert repr(describe_view(tables)) == "a: t1 t2\nb: t3"
    assert CqlText("a < b")._repr_html_() == '<pre><code class="language-sql">a &lt; b</code></pre>'


def test_outcome_applied_is_only_for_lightweight_transactions() -> None:
    assert Outcome("x", None).applied is None
    assert Outcome("x", pd.DataFrame({"a": [1]})).applied is None
    assert Outcome("x", pd.DataFrame({"[applied]": [False]})).applied is False
    assert Outcome("x", pd.DataFrame({"when": [datetime.date(2020, 1, 1)]})).applied is None

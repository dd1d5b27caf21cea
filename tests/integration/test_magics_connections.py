"""Connections of the magics: named connections, settings sources, ``attach``, and logins that never leak."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from cassnb.magics import CqlMagic
from cassnb.magics._connections import MASK
from tests.conftest import ServerAddress
from tests.integration.test_magics import Shown, private_shell, run_cell, show


def the_magic(ip: InteractiveShell) -> CqlMagic:
    magic = ip.magics_manager.registry["CqlMagic"]
    assert isinstance(magic, CqlMagic)
    return magic


@pytest.fixture(scope="module")
def loaded(
    cassandra_address: ServerAddress, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InteractiveShell]:
    with private_shell(tmp_path_factory.mktemp("magics_connections")) as ip:
        yield ip


@pytest.fixture
def ip(
    loaded: InteractiveShell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    """The shell with no connection open, an empty connection file and no CASSNB_* variables."""
    monkeypatch.setenv("CASSNB_CONNECTIONS_FILE", str(tmp_path / "connections.ini"))
    for variable in ("CASSNB_HOSTS", "CASSNB_USER", "CASSNB_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)
    yield loaded
    if "CqlMagic" in loaded.magics_manager.registry:
        with capture_output():
            loaded.run_line_magic("cql", "close --all")
        for name in ("hosts", "port", "user", "keyspace", "default_connection"):
            setattr(the_magic(loaded), name, the_magic(loaded).trait_defaults(name))


def plain(address: ServerAddress) -> str:
    return f"{address.host} --port {address.port}"


def connections_table(ip: InteractiveShell) -> pd.DataFrame:
    table = ip.run_line_magic("cql", "connections")
    assert isinstance(table, pd.DataFrame)
    return table.set_index("name")


# ------------------------------------------------------------------------------------------ plain server


def test_named_connections_conn_use_and_close(
    ip: InteractiveShell, cassandra_address: ServerAddress, keyspace: str
) -> None:
    first = show(ip, f"connect {plain(cassandra_address)}")
    assert first.stdout.strip() == f"connected default: {cassandra_address.host}:{cassandra_address.port}"
    second = show(ip, f"connect {cassandra_address.host}:{cassandra_address.port} --name other -k {keyspace}")
    assert second.stdout.strip().endswith(f"(keyspace {keyspace})")
    table = connections_table(ip)
    assert list(table.index) == ["default", "other"]
    assert table.loc["other", "current"] == "*" and table.loc["other", "keyspace"] == keyspace
    assert table.loc["default", "state"] == "open"

    assert ip.run_line_magic(
        "cql", "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = 'system'"
    ).shape == (1, 1)
    show(ip, "", "CREATE TABLE IF NOT EXISTS conn_t (id int PRIMARY KEY)")  # the current connection: "other"
    assert ip.run_line_magic("cql", "SELECT * FROM conn_t").shape == (0, 1)
    with pytest.raises(UsageError, match="No keyspace has been specified"):
        show(ip, "--conn default", "SELECT * FROM conn_t")
    assert show(ip, "use system --conn default").stdout.strip() == "using keyspace system on default"
    assert the_magic(ip).connections.get("default").session.keyspace == "system"

    assert show(ip, "close").stdout.strip() == "closed other"
    assert the_magic(ip).connections.current == "default"
    with pytest.raises(UsageError, match="no open connection named 'other'"):
        show(ip, "--conn other SELECT * FROM system.local")
    with pytest.raises(UsageError, match="invalid keyspace name"):
        show(ip, "use 'bad name'")


def test_connecting_again_under_a_name_replaces_the_connection(
    ip: InteractiveShell, cassandra_address: ServerAddress
) -> None:
    show(ip, f"connect {plain(cassandra_address)}")
    old = the_magic(ip).connections.get().session
    show(ip, f"connect {plain(cassandra_address)}")
    new = the_magic(ip).connections.get().session
    assert old is not new and old.is_closed and not new.is_closed
    assert len(connections_table(ip)) == 1


def test_settings_from_the_connection_file(
    ip: InteractiveShell, cassandra_address: ServerAddress, keyspace: str, tmp_path: Path
) -> None:
    (tmp_path / "connections.ini").write_text(
        f"[analytics]\nhosts = {cassandra_address.host}:{cassandra_address.port}\nkeyspace = {keyspace}\n"
        "[elsewhere]\nhosts = 10.9.9.9\nuser = reader\npassword = not-shown-anywhere\n"
    )
    show(ip, "connect --name analytics")
    assert the_magic(ip).connections.get("analytics").session.keyspace == keyspace
    table = connections_table(ip)
    assert table.loc["analytics", "state"] == "open"
    assert table.loc["elsewhere", "state"] == "not connected" and table.loc["elsewhere", "password"] == MASK
    assert "not-shown-anywhere" not in table.to_string() + table.to_html()
    run_cell(ip, "%config CqlMagic.default_connection = 'analytics'")
    assert show(ip, "connect").stdout.strip().startswith("connected analytics:")


def test_settings_from_the_environment_and_config(
    ip: InteractiveShell, cassandra_address: ServerAddress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASSNB_HOSTS", f"{cassandra_address.host}:{cassandra_address.port}")
    assert (
        show(ip, "connect --name from_env")
        .stdout.strip()
        .startswith(f"connected from_env: {cassandra_address.host}")
    )
    monkeypatch.setenv("CASSNB_HOSTS", "10.255.255.1:1")  # %config wins over the environment
    run_cell(ip, f"%config CqlMagic.hosts = '{cassandra_address.host}'")
    run_cell(ip, f"%config CqlMagic.port = {cassandra_address.port}")
    assert show(ip, "connect --name from_config").stdout.strip().startswith("connected from_config:")


def test_unreachable_hosts_are_one_line(ip: InteractiveShell) -> None:
    shown = run_cell(ip, "%cql connect 127.0.0.1 --port 1")
    assert isinstance(shown.value.error_in_exec, UsageError)
    assert shown.stderr.strip().startswith("UsageError: no Cassandra host could be reached")
    assert len(shown.stderr.strip().splitlines()) == 1


def test_attach_a_session_opened_with_await(ip: InteractiveShell, cassandra_address: ServerAddress) -> None:
    where = f"{cassandra_address.host}:{cassandra_address.port}"
    opened = run_cell(ip, f"import cassnb\nnb_session = await cassnb.connect('{where}')")
    assert opened.value.success, opened.stderr
    assert show(ip, "attach nb_session").stdout.strip().startswith("attached nb_session:")
    assert ip.run_line_magic("cql", "SELECT release_version FROM system.local").shape == (1, 1)
    # The same session keeps working from await cells on the shell's own loop.
    awaited = run_cell(
        ip, "(await nb_session.execute('SELECT release_version FROM system.local')).to_dataframe()"
    )
    assert awaited.value.success and isinstance(awaited.value.result, pd.DataFrame)
    assert connections_table(ip).loc["nb_session", "source"] == "attach"
    assert show(ip, "close nb_session").stdout.strip().startswith("detached nb_session")
    session = ip.user_ns["nb_session"]
    assert not session.is_closed  # the notebook's session is the notebook's to close
    assert run_cell(ip, "await nb_session.close()").value.success
    ip.user_ns["not_a_session"] = 42
    with pytest.raises(UsageError, match="'not_a_session' is a int, not a session"):
        show(ip, "attach not_a_session")
    with pytest.raises(UsageError, match="no variable named 'missing_var'"):
        show(ip, "attach missing_var")
    with pytest.raises(UsageError, match="is closed"):
        show(ip, "attach nb_session")


# ------------------------------------------------------------------------------------------ logins


@pytest.fixture(scope="module")
def role(auth_cassandra_address: ServerAddress) -> Iterator[tuple[str, str]]:
    """A login role with a random password, so any leak of it into an output can be spotted."""
    name, password = f"magics_{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}"
    cluster = Cluster(
        [auth_cassandra_address.host], port=auth_cassandra_address.port,
        auth_provider=PlainTextAuthProvider("cassandra", "cassandra"),
    )  # fmt: skip
    session = cluster.connect()
    session.execute(f"CREATE ROLE {name} WITH PASSWORD = %s AND LOGIN = true", [password])
    session.execute(f"GRANT SELECT ON KEYSPACE system TO {name}")
    yield name, password
    session.execute(f"DROP ROLE IF EXISTS {name}")
    cluster.shutdown()


def everything_shown(ip: InteractiveShell, *shown: Shown) -> str:
    """Every output, repr and listing a user could see, as one string."""
    magic = the_magic(ip)
    parts = [
        text for s in shown for text in (s.stdout, s.stderr, *(str(v) for o in s.outputs for v in o.values()))
    ]
    parts += [repr(c) for c in magic.connections] + [repr(c.session) for c in magic.connections]
    parts += [repr(c.session.cluster) for c in magic.connections]
    table = ip.run_line_magic("cql", "connections")
    return "\n".join([*parts, table.to_string(), table.to_html()])


def test_login_with_a_password_variable_and_masked_listing(
    ip: InteractiveShell,
    auth_cassandra_address: ServerAddress,
    role: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password = role
    monkeypatch.setenv("MAGICS_TEST_PASSWORD", password)
    connected = show(
        ip, f"connect {plain(auth_cassandra_address)} --user {user} --password-env MAGICS_TEST_PASSWORD"
    )
    assert (
        connected.stdout.strip()
        == f"connected default: {user}@{auth_cassandra_address.host}:{auth_cassandra_address.port}"
    )
    query = show(ip, "", "SELECT release_version FROM system.local")
    table = connections_table(ip)
    assert table.loc["default", "password"] == MASK and table.loc["default", "user"] == user
    assert password not in everything_shown(ip, connected, query)


def test_a_wrong_password_is_one_line_that_never_repeats_it(
    ip: InteractiveShell,
    auth_cassandra_address: ServerAddress,
    role: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, _ = role
    wrong = f"Wrong-{uuid.uuid4().hex}"
    monkeypatch.setenv("MAGICS_WRONG_PASSWORD", wrong)
    shown = run_cell(
        ip, f"%cql connect {plain(auth_cassandra_address)} --user {user} --password-env MAGICS_WRONG_PASSWORD"
    )
    error = shown.value.error_in_exec
    assert isinstance(error, UsageError)
    assert str(error).startswith(
        f"could not log in to {auth_cassandra_address.host}:{auth_cassandra_address.port} as '{user}'"
    )
    assert "rejected the credentials" in str(error)
    assert len(shown.stderr.strip().splitlines()) == 1 and "Traceback" not in shown.stderr
    assert wrong not in everything_shown(ip, shown) + str(error) + repr(error)
    assert user not in the_magic(ip).connections  # nothing half-registered


def test_the_password_prompt_and_the_environment_defaults(
    ip: InteractiveShell,
    auth_cassandra_address: ServerAddress,
    role: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user, password = role
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or password)
    prompted = show(ip, f"connect {plain(auth_cassandra_address)} --user {user} --name prompted")
    assert prompts == [f"Password for {user}@{auth_cassandra_address.host}:{auth_cassandra_address.port}: "]
    monkeypatch.setenv("CASSNB_USER", user)
    monkeypatch.setenv("CASSNB_PASSWORD", password)
    from_env = show(ip, f"connect {plain(auth_cassandra_address)} --name from_env")
    assert len(prompts) == 1
    assert ip.run_line_magic("cql", "--conn from_env SELECT release_version FROM system.local").shape == (
        1,
        1,
    )
    assert password not in everything_shown(ip, prompted, from_env)


def test_a_login_is_asked_for_when_the_server_needs_one(
    ip: InteractiveShell, auth_cassandra_address: ServerAddress
) -> None:
    with pytest.raises(UsageError, match=r"requires a login: run %cql connect again with --user NAME"):
        show(ip, f"connect {plain(auth_cassandra_address)}")


def test_passwords_on_the_command_line_are_refused_without_being_echoed(
    ip: InteractiveShell, auth_cassandra_address: ServerAddress
) -> None:
    secret = f"Typed-{uuid.uuid4().hex}"
    for line in (
        f"connect {plain(auth_cassandra_address)} --user cassandra --password {secret}",
        f"connect {plain(auth_cassandra_address)} --user cassandra --password={secret}",
        f"connect {plain(auth_cassandra_address)} --user cassandra -p {secret}",
        f"connect {plain(auth_cassandra_address)} --user cassandra {secret}",
    ):
        shown = run_cell(ip, f"%cql {line}")
        assert isinstance(shown.value.error_in_exec, UsageError), line
        assert secret not in shown.stderr + shown.stdout + str(shown.value.error_in_exec), line
    assert "cassandra" not in [c.user for c in the_magic(ip).connections]


def test_unloading_closes_what_the_magics_opened(
    loaded: InteractiveShell,
    cassandra_address: ServerAddress,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CASSNB_CONNECTIONS_FILE", str(tmp_path / "none.ini"))
    show(loaded, f"connect {plain(cassandra_address)}")
    session = the_magic(loaded).connections.get().session
    with capture_output():
        loaded.run_line_magic("reload_ext", "cassnb.magics")
    assert session.is_closed
    assert list(the_magic(loaded).connections) == []
    assert "cql" in loaded.magics_manager.magics["cell"]
    loaded.run_line_magic("unload_ext", "cassnb.magics")
    assert "cql" not in loaded.magics_manager.magics["cell"]
    assert not any(isinstance(c, CqlMagic) for c in loaded.configurables)
    loaded.run_line_magic("load_ext", "cassnb.magics")

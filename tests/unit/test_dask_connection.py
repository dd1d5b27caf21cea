"""cassnb.dask connections: small, picklable, holding where the password is, never the password."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from cassnb._secret import Secret
from cassnb.dask import Connection, connection
from cassnb.dask._connection import as_connection
from cassnb.exceptions import ConfigurationError


def test_contact_point_strings_become_connections() -> None:
    assert as_connection("127.0.0.1") == Connection(("127.0.0.1",), 9042)
    assert as_connection("h1,h2:9142") == Connection(("h1", "h2"), 9142)
    assert connection(["a", "b"], port=9300, keyspace="ks").settings()["port"] == 9300
    with pytest.raises(ConfigurationError, match="contact point string"):
        as_connection(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no hosts"):
        connection(" , ")


def test_the_password_is_read_where_the_connection_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSNB_UNIT_PW", "hunter2")
    conn = connection("db1", user="ana", password_env="CASSNB_UNIT_PW")
    shipped = pickle.dumps(conn)
    assert b"hunter2" not in shipped and "hunter2" not in repr(conn)
    settings = pickle.loads(shipped).settings()
    assert isinstance(settings["password"], Secret) and settings["password"].reveal() == "hunter2"
    assert "hunter2" not in repr(settings)
    monkeypatch.delenv("CASSNB_UNIT_PW")
    with pytest.raises(ConfigurationError, match=r"CASSNB_UNIT_PW .* is not set in this process"):
        conn.settings()


def test_a_password_given_as_password_env_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="the \\*name\\* of an environment variable"):
        connection("db1", user="ana", password_env="correct horse battery staple")
    with pytest.raises(ConfigurationError, match="needs a password"):
        connection("db1", user="ana").settings()


def test_a_profile_is_read_from_the_connection_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "connections.ini"
    file.write_text("[prod]\nhosts = 10.0.0.1,10.0.0.2\nport = 9142\nuser = etl\npassword_env = CASSNB_PROD_PW\n")
    monkeypatch.setenv("CASSNB_CONNECTIONS_FILE", str(file))
    monkeypatch.setenv("CASSNB_PROD_PW", "pw-from-env")
    settings = connection(profile="prod").settings()
    assert settings["hosts"] == ["10.0.0.1", "10.0.0.2"] and settings["port"] == 9142
    assert settings["username"] == "etl" and settings["password"].reveal() == "pw-from-env"
    with pytest.raises(ConfigurationError, match=r"no section \[staging\]"):
        connection(profile="staging").settings()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"consistency": "most"}, "unknown consistency level 'most'; choose one of ANY"),
        ({"concurrency": 0}, "concurrency must be a positive integer, got 0"),
        ({"errors": "ignore"}, "errors must be 'raise' or 'report', got 'ignore'"),
    ],
)
def test_to_table_refuses_bad_options_before_any_work(options: dict[str, object], message: str) -> None:
    import dask.dataframe as dd
    import pandas as pd

    from cassnb.dask import to_table

    ddf = dd.from_pandas(pd.DataFrame({"k": [1, 2]}), npartitions=1)
    with pytest.raises(ConfigurationError, match=message):
        to_table(ddf, "127.0.0.1:1", "ks.t", **options)  # type: ignore[arg-type]

"""What a notebook holds binds as CQL means it: pandas' nulls as null, a dict as a UDT, and a clear line otherwise."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from tests.conftest import ServerAddress
from tests.integration.test_magics import private_shell, show


@pytest.fixture(scope="module")
def ip(cassandra_address: ServerAddress, keyspace: str, tmp_path_factory: pytest.TempPathFactory,
       driver_session: Any) -> Iterator[InteractiveShell]:  # fmt: skip
    driver_session.execute(f"CREATE TYPE IF NOT EXISTS {keyspace}.address (street text, zip int)")
    driver_session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.binding (k int PRIMARY KEY, n int, at timestamp, f double, "
        "home frozen<address>, tags set<text>)"
    )
    with private_shell(tmp_path_factory.mktemp("binding")) as shell:
        show(shell, f"connect {cassandra_address.host} --port {cassandra_address.port} --keyspace {keyspace}")
        yield shell


def _row(driver_session: Any, keyspace: str, k: int) -> Any:
    return driver_session.execute(f"SELECT * FROM {keyspace}.binding WHERE k = {k}").one()


@pytest.mark.parametrize("null", [None, pd.NA, pd.NaT, float("nan"), np.nan, np.float64("nan")], ids=repr)
def test_pandas_and_numpy_nulls_bind_as_null_where_nan_is_no_value(
    ip: InteractiveShell, driver_session: Any, keyspace: str, null: object
) -> None:
    ip.user_ns.update(k=1, nothing=null)
    show(ip, "", "INSERT INTO binding (k, n, at) VALUES (:k, :nothing, :nothing)")
    row = _row(driver_session, keyspace, 1)
    assert row.n is None and row.at is None


def test_nan_in_a_double_column_is_stored_as_nan(ip: InteractiveShell, driver_session: Any, keyspace: str) -> None:
    ip.user_ns.update(k=2, value=float("nan"))
    show(ip, "", "INSERT INTO binding (k, f) VALUES (:k, :value)")
    assert math.isnan(_row(driver_session, keyspace, 2).f)


def test_a_dict_binds_a_udt_and_numpy_scalars_and_sets_bind(
    ip: InteractiveShell, driver_session: Any, keyspace: str
) -> None:
    ip.user_ns.update(k=np.int64(3), n=np.int32(7), home={"street": "Rua Augusta", "zip": 1100}, tags={"a", "b"})
    show(ip, "", "INSERT INTO binding (k, n, home, tags) VALUES (:k, :n, :home, :tags)")
    row = _row(driver_session, keyspace, 3)
    assert (row.n, row.home.street, row.home.zip, row.tags) == (7, "Rua Augusta", 1100, {"a", "b"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("seven", ":n is bound to a marker of CQL type int but holds str 'seven'"),
        (pd.Timestamp("2024-01-01"), ":n is bound to a marker of CQL type int but holds Timestamp"),
        ({"street": 5}, None),
    ],
    ids=["text-for-int", "timestamp-for-int", "bad-udt-field"],
)
def test_a_value_that_does_not_fit_names_the_marker_the_cql_type_and_the_python_type(
    ip: InteractiveShell, value: object, expected: str | None
) -> None:
    ip.user_ns.update(k=4, n=value, home=value)
    marker = ":home" if expected is None else ":n"
    with pytest.raises(UsageError) as caught:
        show(ip, "", f"INSERT INTO binding (k, {marker[1:]}) VALUES (:k, {marker})")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(expected or ":home is bound to a marker of CQL type frozen<address>")
    assert "give it a value of that type" in message
    show(ip, "", "SELECT k FROM binding WHERE k = 1")  # the connection goes on working

"""Quoted, case-sensitive and unicode names work the way CQL spells them, everywhere a table is named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import cassnb
from cassnb import AsyncSession, ConfigurationError
from cassnb._identifiers import parse_qualified
from tests.conftest import ServerAddress
from tests.integration.test_magics import private_shell, show


@pytest.fixture(scope="module")
def mixed(driver_session: Any, keyspace: str) -> str:
    driver_session.execute(
        f'CREATE TABLE IF NOT EXISTS {keyspace}."Mixed" ("Key" int PRIMARY KEY, "naïve" text, "with space" text)'
    )
    insert = driver_session.prepare(f'INSERT INTO {keyspace}."Mixed" ("Key", "naïve", "with space") VALUES (?, ?, ?)')
    for k in range(30):
        driver_session.execute(insert, (k, f"café {k}", f"a b {k}"))
    return f'{keyspace}."Mixed"'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('ks."Mixed"', ("ks", "Mixed")),
        ("KS.Events", ("ks", "events")),
        ('"My KS"."a""b"', ("My KS", 'a"b')),
        ('"naïve"', ("session_ks", "naïve")),
        ("  ks.t  ", ("ks", "t")),
    ],
)
def test_the_one_parser_reads_names_as_cql_does(text: str, expected: tuple[str, str]) -> None:
    assert parse_qualified(text, "session_ks") == expected


@pytest.mark.parametrize("text", ["ks.", ".t", "a.b.c", '"unclosed', "1abc", "", "ks.t;DROP"])
def test_what_is_not_a_name_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_qualified(text, "ks")
    assert "\n" not in str(caught.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("target", ["mixed.csv", "mixed_dir/"])
async def test_export_table_and_load_take_a_quoted_table(
    session: AsyncSession, mixed: str, keyspace: str, tmp_path: Path, target: str, driver_session: Any
) -> None:
    report = await cassnb.export_table(session, mixed, f"{tmp_path}/{target}", progress=False, splits=2)
    assert report.rows == 30
    driver_session.execute(
        f'CREATE TABLE IF NOT EXISTS {keyspace}."MixedBack" ("Key" int PRIMARY KEY, "naïve" text, "with space" text)'
    )
    source = tmp_path / "mixed.csv"
    if not source.exists():
        await cassnb.export(session, f"SELECT * FROM {mixed}", source, progress=False)
    loaded = await cassnb.load(session, f'{keyspace}."MixedBack"', source, progress=False)
    assert (loaded.rows_written, loaded.rows_failed) == (30, 0)
    back = await session.query_df(f'SELECT "Key", "naïve", "with space" FROM {keyspace}."MixedBack"', progress=False)
    assert sorted(back["naïve"]) == sorted(f"café {k}" for k in range(30))


@pytest.fixture
def ip(cassandra_address: ServerAddress, keyspace: str, tmp_path: Path) -> Iterator[InteractiveShell]:
    with private_shell(tmp_path) as shell:
        show(shell, f"connect {cassandra_address.host} --port {cassandra_address.port} --keyspace {keyspace}")
        yield shell


def test_magic_describe_and_select_a_quoted_table(ip: InteractiveShell, mixed: str) -> None:
    described = show(ip, f"describe table {mixed}")
    assert any('"Mixed"' in text for text in described.texts)
    frame = show(ip, "", 'SELECT "Key", "naïve" FROM "Mixed" WHERE "Key" = 3').value
    shown = show(ip, "--out picked", 'SELECT "Key", "naïve" FROM "Mixed" WHERE "Key" = 3')
    assert frame is None and shown.outputs
    picked = ip.user_ns["picked"]
    assert isinstance(picked, pd.DataFrame) and picked["naïve"].tolist() == ["café 3"]

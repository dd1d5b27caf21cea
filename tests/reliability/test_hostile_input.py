"""Hostile input against the real server: only documented exceptions, values stored verbatim, no secret leaks.

Every property runs 1,000 generated examples. A single event loop is reused across examples so each one
costs a server round trip, not a loop start.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cassnb import (
    AsyncCluster,
    AsyncSession,
    AuthenticationError,
    ConfigurationError,
    InvalidQueryError,
)
from tests.conftest import ServerAddress

THOROUGH = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))

DANGEROUS = ["'", "''", '"', ";", "--", "//", "/*", "*/", "$$", ":", "?", "%s", "{", "}", "DROP TABLE kv;",
             "'); DROP TABLE hostile; --", " OR 1=1", "\\", "\n", "\x00", "é", "🙂", "APPLY BATCH", "USING TTL 1"]  # fmt: skip
hostile_text = st.lists(st.sampled_from(DANGEROUS) | st.text(max_size=6), max_size=8).map("".join)


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    runner = asyncio.Runner()
    yield runner.get_loop()
    runner.close()


@pytest.fixture(scope="module")
def hostile(session: AsyncSession, loop: asyncio.AbstractEventLoop) -> str:
    loop.run_until_complete(session.execute(
        "CREATE TABLE IF NOT EXISTS hostile (k uuid PRIMARY KEY, v text, n bigint, tags list<text>)"
    ))  # fmt: skip
    return "hostile"


def test_values_are_stored_verbatim_never_executed(
    session: AsyncSession, hostile: str, loop: asyncio.AbstractEventLoop
) -> None:
    @THOROUGH
    @given(value=hostile_text, tags=st.lists(hostile_text, max_size=3))
    def check(value: str, tags: list[str]) -> None:
        for placeholder in ("?", "%s"):  # prepared binding and the driver's escaped formatting
            key = uuid.uuid4()
            insert = f"INSERT INTO hostile (k, v, tags) VALUES ({placeholder}, {placeholder}, {placeholder})"
            loop.run_until_complete(session.execute(insert, [key, value, tags]))
            row = loop.run_until_complete(session.execute("SELECT v, tags FROM hostile WHERE k = ?", [key])).one()
            assert row.v == value and (row.tags or []) == tags

    check()
    assert loop.run_until_complete(session.execute("SELECT count(*) FROM hostile")).one()[0] > 0


values = st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5), st.binary(max_size=5),
                   st.uuids(), st.lists(st.integers(), max_size=2), st.booleans())  # fmt: skip


def test_wrong_types_and_counts_raise_only_documented_errors(
    session: AsyncSession, hostile: str, loop: asyncio.AbstractEventLoop
) -> None:
    @THOROUGH
    @given(params=st.lists(values, max_size=5))
    def check(params: list[Any]) -> None:
        try:
            loop.run_until_complete(session.execute("INSERT INTO hostile (k, v, n) VALUES (?, ?, ?)", params))
        except InvalidQueryError as exc:
            assert "INSERT INTO hostile" in str(exc)

    check()
    assert loop.run_until_complete(session.execute("SELECT now() FROM system.local")).one() is not None


def test_keyspace_names_are_validated(session: AsyncSession, keyspace: str, loop: asyncio.AbstractEventLoop) -> None:
    @THOROUGH
    @given(name=st.text(max_size=60) | st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,50}", fullmatch=True))
    def check(name: str) -> None:
        try:
            loop.run_until_complete(session.set_keyspace(name))
        except ConfigurationError as exc:
            assert "invalid keyspace name" in str(exc)
        except InvalidQueryError as exc:
            assert "does not exist" in str(exc) or "Keyspace" in str(exc)

    check()
    loop.run_until_complete(session.set_keyspace(keyspace))
    assert session.keyspace == keyspace


@pytest.mark.auth
def test_passwords_never_appear_in_reprs_logs_or_errors(
    auth_cassandra_address: ServerAddress, loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    address = auth_cassandra_address
    wrong = f"Wr0ng-{uuid.uuid4().hex}"
    texts: list[str] = []

    async def scenario() -> None:
        good = AsyncCluster.create_with_auth([address.host], "cassandra", "cassandra", port=address.port)
        async with good, good.connect() as s:
            texts.extend([repr(good), str(good), repr(s), repr(good.driver_cluster.auth_provider)])
        bad = AsyncCluster.create_with_auth([address.host], "cassandra", wrong, port=address.port)
        with pytest.raises(AuthenticationError) as refused:
            await bad.connect()
        error: BaseException | None = refused.value
        while error is not None:
            texts.extend([str(error), repr(error)])
            error = getattr(error, "driver_error", None) or error.__cause__ or error.__context__
        texts.extend([repr(bad), str(bad.driver_cluster.auth_provider.__dict__.keys())])
        await bad.shutdown()

    with caplog.at_level(logging.DEBUG):
        loop.run_until_complete(scenario())
    texts += [record.getMessage() for record in caplog.records]
    assert texts and not [t for t in texts if wrong in t]

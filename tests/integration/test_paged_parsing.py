"""Large pages arrive unparsed and are parsed on the event loop a piece at a time (cassnb._decode, _bridge).

Against the real server: the rows are the driver's own, for every row shape and both I/O modes; the parsing
happens on the loop's thread in pieces; a value the driver cannot decode fails that read with a clear error
and leaves the connection and the session as they were.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cassandra.query import SimpleStatement

from cassnb import AsyncCluster, RowFormat, StreamConfig
from cassnb._decode import PIECE_ROWS, Unparsed
from cassnb.exceptions import CassnbError

pytestmark = pytest.mark.integration

ROWS = 3000  # a page of these is over cassnb._decode.PIECE_BYTES: the pieces counted below show it


@pytest.fixture(scope="module")
def paged_table(driver_session: Any, keyspace: str) -> str:
    """3,000 rows of several types in one partition, some of them null."""
    table = f"{keyspace}.paged_parsing"
    driver_session.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (p int, c int, u uuid, t text, ts timestamp, l list<int>, "
        "d double, PRIMARY KEY (p, c))"
    )
    insert = driver_session.prepare(f"INSERT INTO {table} (p, c, u, t, ts, l, d) VALUES (0, ?, ?, ?, ?, ?, ?)")
    only_keys = driver_session.prepare(f"INSERT INTO {table} (p, c) VALUES (0, ?)")  # nulls, without tombstones
    for c in range(ROWS):
        if c % 11 == 0:
            driver_session.execute(only_keys, (c,))
            continue
        stamp = datetime(2020, 1, 1, tzinfo=UTC).replace(microsecond=(c % 1000) * 1000)
        values = (c, uuid.UUID(int=c * 7919 + 1), f"text {c} " + "x" * (c % 90), stamp, list(range(c % 4)), c / 3)
        driver_session.execute(insert, values)
    return table


def _drivers_rows(driver_session: Any, table: str) -> list[tuple[Any, ...]]:
    statement = SimpleStatement(f"SELECT * FROM {table} WHERE p = 0", fetch_size=ROWS)
    return [tuple(row) for row in driver_session.execute(statement)]


@pytest.fixture
def pieces(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The thread of each piece parsed, as it is parsed."""
    taken: list[str] = []
    take = Unparsed.take

    def recording(self: Unparsed, count: int) -> list[Any]:
        taken.append(threading.current_thread().name)
        return take(self, count)

    monkeypatch.setattr(Unparsed, "take", recording)
    return taken


@pytest.mark.parametrize("io", ["loop", "thread"])
def test_a_large_page_is_parsed_on_the_loop_in_pieces_into_the_drivers_rows(
    cassandra_address: Any, driver_session: Any, paged_table: str, pieces: list[str], io: str
) -> None:
    expected = _drivers_rows(driver_session, paged_table)
    assert len(expected) == ROWS

    async def read() -> tuple[list[Any], list[Any], list[Any], list[Any], str]:
        async with AsyncCluster([cassandra_address.host], port=cassandra_address.port, io=io) as cluster:
            session = await cluster.connect()
            query = f"SELECT * FROM {paged_table} WHERE p = 0"
            named = list(await session.execute(query, fetch_size=ROWS))
            plain = list(await session.execute(query, fetch_size=ROWS, row_format=RowFormat.TUPLE))
            dicts = list(await session.execute(query, fetch_size=ROWS, row_format=RowFormat.DICT))
            async with session.execute_stream(query, stream_config=StreamConfig(fetch_size=ROWS)) as stream:
                streamed = [row async for row in stream]
            return named, plain, dicts, streamed, threading.current_thread().name

    named, plain, dicts, streamed, loop_thread = asyncio.run(read())
    assert [tuple(row) for row in named] == expected
    assert named[5].u == expected[5][6] and named[5].t == expected[5][4]  # attribute access, as always (p c d l t ts u)
    assert plain == expected
    assert [tuple(row.values()) for row in dicts] == expected and list(dicts[0]) == ["p", "c", "d", "l", "t", "ts", "u"]
    assert [tuple(row) for row in streamed] == expected
    # Four reads of one large page each, every page parsed in pieces, all of them on the loop's thread.
    assert len(pieces) >= 4 * (ROWS // PIECE_ROWS)
    assert set(pieces) == {loop_thread}


def test_a_small_page_is_parsed_at_once(session: Any, paged_table: str, pieces: list[str]) -> None:
    rows = asyncio.run(session.execute(f"SELECT * FROM {paged_table} WHERE p = 0 LIMIT 20"))
    assert len(list(rows)) == 20
    assert pieces == []  # well under PIECE_BYTES: nothing left for later


def test_an_undecodable_value_in_a_large_page_fails_the_read_and_not_the_connection(
    cassandra_address: Any, driver_session: Any, keyspace: str
) -> None:
    """A timestamp past year 9999 cannot become a ``datetime``: the read fails with the column named, and the
    connection, which received a well-formed answer, stays in service (the driver on its own marks it defunct)."""
    table = f"{keyspace}.paged_far_timestamp"
    driver_session.execute(f"CREATE TABLE IF NOT EXISTS {table} (p int, c int, t text, ts timestamp, PRIMARY KEY (p, c))")
    insert = driver_session.prepare(f"INSERT INTO {table} (p, c, t, ts) VALUES (0, ?, ?, ?)")
    for c in range(ROWS):
        driver_session.execute(insert, (c, "y" * 40, datetime(2024, 5, 1, tzinfo=UTC)))
    year_10000 = 253402300800000  # milliseconds since the epoch of 10000-01-01
    driver_session.execute(f"UPDATE {table} SET ts = {year_10000} WHERE p = 0 AND c = {ROWS - 10}")

    async def read() -> tuple[str, int, list[Any]]:
        async with AsyncCluster([cassandra_address.host], port=cassandra_address.port) as cluster:
            session = await cluster.connect()
            connections = _connections(session)
            with pytest.raises(CassnbError) as failed:
                await session.execute(f"SELECT * FROM {table} WHERE p = 0", fetch_size=ROWS)
            with pytest.raises(CassnbError, match='column "ts"'):  # in a small page, parsed at once: the same
                await session.execute(f"SELECT * FROM {table} WHERE p = 0 AND c >= {ROWS - 20}")
            after = await session.execute(f"SELECT c, t FROM {table} WHERE p = 0", fetch_size=ROWS)
            assert _connections(session) == connections
            assert not any(c.is_defunct or c.is_closed for c in connections)
            return str(failed.value), len(list(after)), connections

    message, count, _ = asyncio.run(read())
    assert 'column "ts" of type timestamp' in message
    assert count == ROWS


def _connections(session: Any) -> list[Any]:
    return [c for pool in session.driver_session.get_pools() for c in pool.get_connections()]


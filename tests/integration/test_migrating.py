"""Code written for async-cassandra runs on cassnb by changing the import (docs/migrating.md).

Each test is written the way that library's users write it; only the ``from cassnb import ...`` lines differ.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from cassandra.query import BatchStatement

from cassnb import (
    AsyncCassandraError,
    AsyncCassandraSession,
    AsyncCluster,
    StreamConfig,
    create_streaming_statement,
)
from cassnb import TimeoutError as CassnbTimeout
from tests.conftest import ServerAddress

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def session(cassandra_address: ServerAddress, keyspace: str) -> AsyncIterator[AsyncCassandraSession]:
    cluster = AsyncCluster([cassandra_address.host], port=cassandra_address.port)
    session = await cluster.connect(keyspace, timeout=30)  # connect(keyspace, timeout=)
    await session.execute("CREATE TABLE IF NOT EXISTS migrating (k int PRIMARY KEY, v text)")
    await session.execute("TRUNCATE migrating")
    yield session
    await session.close()
    await cluster.shutdown()


async def test_a_session_and_its_results(session: AsyncCassandraSession) -> None:
    assert isinstance(session, AsyncCassandraSession)
    insert = await session.prepare("INSERT INTO migrating (k, v) VALUES (?, ?)")
    for k in range(25):
        await session.execute(insert, [k, f"v{k}"])
    result = await session.execute("SELECT k, v FROM migrating WHERE k = 3")
    assert [row.v for row in result.rows] == ["v3"]  # result.rows
    assert result.one().k == 3 and len(result.all()) == 1


async def test_pages_are_sequences_of_rows(session: AsyncCassandraSession) -> None:
    insert = await session.prepare("INSERT INTO migrating (k, v) VALUES (?, ?)")
    for k in range(25):
        await session.execute(insert, [k, f"v{k}"])
    config = StreamConfig(fetch_size=10, timeout_seconds=30)  # the option's other spelling
    assert config.timeout == 30
    result = await session.execute_stream("SELECT k FROM migrating", stream_config=config)
    sizes, keys = [], []
    async with result:
        async for page in result.pages():
            sizes.append(len(page))
            keys.extend(row.k for row in page)  # iterable
            assert page[0].k == keys[-len(page)] and [r.k for r in page[1:3]] == keys[-len(page) + 1 : -len(page) + 3]
        assert result.total_rows_fetched == 25 and result.page_number == 3
    assert sizes == [10, 10, 5] and sorted(keys) == list(range(25))


async def test_a_streaming_statement_carries_its_fetch_size(session: AsyncCassandraSession) -> None:
    insert = await session.prepare("INSERT INTO migrating (k, v) VALUES (?, ?)")
    for k in range(25):
        await session.execute(insert, [k, f"v{k}"])
    statement = create_streaming_statement("SELECT * FROM migrating", fetch_size=7)
    sizes = []
    async with await session.execute_stream(statement) as result:
        async for page in result.pages():
            sizes.append(len(page))
    assert sizes == [7, 7, 7, 4]


async def test_execute_batch_takes_a_driver_batch(session: AsyncCassandraSession) -> None:
    insert = await session.prepare("INSERT INTO migrating (k, v) VALUES (?, ?)")
    batch = BatchStatement()
    for k in range(100, 105):
        batch.add(insert, (k, "batched"))
    await session.execute_batch(batch)
    result = await session.execute("SELECT count(*) FROM migrating WHERE k IN (100, 101, 102, 103, 104)")
    assert result.one()[0] == 5


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a server that hangs during the handshake)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


async def test_connect_timeout_is_a_timeout_error_and_the_late_session_is_not_kept(silent_server: int) -> None:
    cluster = AsyncCluster(["127.0.0.1"], port=silent_server)
    began = time.monotonic()
    with pytest.raises(CassnbTimeout) as caught:
        await cluster.connect(timeout=0.5)
    assert time.monotonic() - began < 3, "gave up at the timeout, not at the driver's own"
    assert isinstance(caught.value, AsyncCassandraError) and isinstance(caught.value, TimeoutError)
    assert "no session within 0.5 s" in str(caught.value) and "\n" not in str(caught.value)
    await asyncio.sleep(0)  # the loop stays usable
    await cluster.shutdown()

"""Fixtures for integration tests: cassnb sessions on the real server, and shared test tables."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from cassnb import AsyncCluster, AsyncSession
from tests.conftest import ServerAddress


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def session(cassandra_address: ServerAddress, keyspace: str) -> Iterator[AsyncSession]:
    """One AsyncSession for the whole run, opened on a loop of its own and then used from each test's loop.

    That it works at all is part of the contract: nothing in the core binds an event loop at construction.
    """
    cluster = AsyncCluster([cassandra_address.host], port=cassandra_address.port)

    async def open_session() -> AsyncSession:
        return await cluster.connect(keyspace)

    opened = asyncio.run(open_session())
    yield opened
    asyncio.run(cluster.shutdown())


BIG_ROWS = 100_000
BIG_PARTITIONS = 100


@pytest.fixture(scope="session")
def big_table(session: AsyncSession, keyspace: str) -> str:
    """``big`` — 100,000 rows in 100 partitions, loaded with single-partition unlogged batches."""

    async def load() -> None:
        await session.execute(
            "CREATE TABLE IF NOT EXISTS big (bucket int, id int, payload text, value double, "
            "PRIMARY KEY (bucket, id))"
        )
        insert = await session.prepare("INSERT INTO big (bucket, id, payload, value) VALUES (?, ?, ?, ?)")
        from cassandra.query import BatchStatement, BatchType

        per_partition = BIG_ROWS // BIG_PARTITIONS
        batches = []
        for bucket in range(BIG_PARTITIONS):
            for start in range(0, per_partition, 100):
                batch = BatchStatement(batch_type=BatchType.UNLOGGED)
                for i in range(start, start + 100):
                    row_id = bucket * per_partition + i
                    batch.add(insert, (bucket, row_id, f"row-{row_id}", row_id / 7))
                batches.append(batch)
        semaphore = asyncio.Semaphore(32)

        async def run(batch: BatchStatement) -> None:
            async with semaphore:
                await session.execute(batch)

        await asyncio.gather(*(run(b) for b in batches))

    asyncio.run(load())
    return f"{keyspace}.big"

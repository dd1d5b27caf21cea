"""Shared test plumbing: where the real Cassandra server is, and whether tests may skip without it.

Integration tests read the server address from ``CASSNB_TEST_HOSTS`` (default ``127.0.0.1:9042``), the
authenticating server from ``CASSNB_TEST_AUTH_HOSTS`` (default ``127.0.0.1:9142``) and the 3-node ring from
``CASSNB_TEST_RING_HOSTS`` (default: the local ring, ``127.0.0.11-13:9042``). Without a reachable server they
skip with one line on a developer machine; with ``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from cassnb import AsyncSession


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int) -> ServerAddress:
        host, _, port = text.strip().partition(":")
        return cls(host or "127.0.0.1", int(port) if port else default_port)

    def reachable(self, timeout: float = 1.0) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return True
        except OSError:
            return False


def _server_or_skip(env_var: str, default: str, default_port: int, how_to_start: str) -> ServerAddress:
    return _reachable_or_skip(os.environ.get(env_var, default), env_var, default_port, how_to_start)


def _reachable_or_skip(text: str, env_var: str, default_port: int, how_to_start: str) -> ServerAddress:
    address = ServerAddress.parse(text, default_port)
    if address.reachable():
        return address
    message = (
        f"no Cassandra server at {address.host}:{address.port} ({env_var}); "
        f"start one with `{how_to_start}`"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def cassandra_address() -> ServerAddress:
    """The plain (no authentication) test server."""
    return _server_or_skip("CASSNB_TEST_HOSTS", "127.0.0.1:9042", 9042, "cassnb local start")


@pytest.fixture(scope="session")
def auth_cassandra_address() -> ServerAddress:
    """The test server started with PasswordAuthenticator (superuser cassandra/cassandra)."""
    return _server_or_skip(
        "CASSNB_TEST_AUTH_HOSTS", "127.0.0.1:9142", 9142, "cassnb local start --auth --port 9142"
    )


RING_DEFAULT = "127.0.0.11:9042,127.0.0.12:9042,127.0.0.13:9042"


@pytest.fixture(scope="session")
def ring_hosts() -> str:
    """The contact points of the 3-node test ring (every node must answer)."""
    hosts = os.environ.get("CASSNB_TEST_RING_HOSTS", RING_DEFAULT)
    for host in hosts.split(","):
        _reachable_or_skip(host, "CASSNB_TEST_RING_HOSTS", 9042, "cassnb local start --nodes 3")
    return hosts


@pytest.fixture(scope="session")
def driver_session(cassandra_address: ServerAddress) -> Iterator[object]:
    """A plain cassandra-driver session, for setting up data and for checking cassnb against the driver."""
    from cassandra.cluster import Cluster

    cluster = Cluster([cassandra_address.host], port=cassandra_address.port)
    session = cluster.connect()
    yield session
    cluster.shutdown()


@pytest.fixture(scope="session")
def keyspace(driver_session: object) -> Iterator[str]:
    """A fresh keyspace for the whole test run, dropped at the end."""
    name = f"cassnb_test_{uuid.uuid4().hex[:10]}"
    driver_session.execute(  # type: ignore[attr-defined]
        f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    )
    yield name
    driver_session.execute(f"DROP KEYSPACE IF EXISTS {name}")  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def session(cassandra_address: ServerAddress, keyspace: str) -> Iterator[AsyncSession]:
    """One AsyncSession for the whole run, opened on a loop of its own and then used from each test's loop.

    That it works at all is part of the contract: nothing in the core binds an event loop at construction.
    """
    from cassnb import AsyncCluster

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


WIDE_ROWS = 300_000


@pytest.fixture(scope="session")
def wide_table(session: AsyncSession, keyspace: str) -> str:
    """``wide`` — 300,000 rows of six column types in 300 partitions (single-partition unlogged batches)."""

    async def load() -> None:
        from datetime import datetime, timedelta

        from cassandra.query import BatchStatement, BatchType

        await session.execute(
            "CREATE TABLE IF NOT EXISTS wide (bucket int, id bigint, at timestamp, label text, score double, "
            "flag boolean, ref uuid, PRIMARY KEY (bucket, id))"
        )
        insert = await session.prepare(
            "INSERT INTO wide (bucket, id, at, label, score, flag, ref) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        base = datetime(2026, 1, 1, tzinfo=UTC)
        semaphore = asyncio.Semaphore(32)

        async def batch(bucket: int, start: int) -> None:
            statement = BatchStatement(batch_type=BatchType.UNLOGGED)
            for row_id in range(start, start + 100):
                statement.add(insert, (bucket, row_id, base + timedelta(seconds=row_id), f"label-{row_id}",
                                       row_id / 3, row_id % 2 == 0, uuid.UUID(int=row_id)))  # fmt: skip
            async with semaphore:
                await session.execute(statement)

        per = WIDE_ROWS // 300
        await asyncio.gather(*(batch(b, b * per + i) for b in range(300) for i in range(0, per, 100)))

    asyncio.run(load())
    return f"{keyspace}.wide"

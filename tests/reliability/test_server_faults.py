"""Server faults on a real Cassandra: a paused JVM, the native transport switched off, a restart.

Each test measures how long the failure took to surface and how long recovery took, and prints both.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from cassnb import AsyncCluster, AsyncSession, ConnectionError, StreamConfig, TimeoutError
from cassnb.local import LocalServer
from tests.conftest import ServerAddress

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def fault_session(fault_address: ServerAddress) -> AsyncIterator[AsyncSession]:
    cluster = AsyncCluster([fault_address.host], port=fault_address.port, connect_timeout=3)
    session = await cluster.connect()
    await session.execute(
        "CREATE KEYSPACE IF NOT EXISTS faults WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    await session.execute("CREATE TABLE IF NOT EXISTS faults.rows (p int, c int, PRIMARY KEY (p, c))")
    if (await session.execute("SELECT count(*) FROM faults.rows")).one()[0] < 2000:
        insert = await session.prepare("INSERT INTO faults.rows (p, c) VALUES (?, ?)")
        await asyncio.gather(*(session.execute(insert, [c % 4, c]) for c in range(2000)))
    yield session
    await cluster.shutdown()


async def _recover(session: AsyncSession, within: float) -> float:
    """Seconds until the same session answers again (fails the test if not within ``within``)."""
    began = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - began < within:
        try:
            await session.execute("SELECT release_version FROM system.local", timeout=2.0)
            return time.monotonic() - began
        except (ConnectionError, TimeoutError) as exc:
            last = exc
            await asyncio.sleep(0.2)
    pytest.fail(f"the session did not recover within {within}s; last error: {last}")


async def test_paused_server_times_out_then_the_same_session_recovers(
    fault_server: LocalServer, fault_session: AsyncSession
) -> None:
    pid = fault_server.pid()
    assert pid is not None
    config = StreamConfig(fetch_size=100, timeout=2.0)
    stream = await fault_session.execute_stream("SELECT * FROM faults.rows", stream_config=config)
    async with stream:
        await stream.__anext__()  # the first page is in
        for _ in range(99):
            await stream.__anext__()
        os.kill(pid, signal.SIGSTOP)
        try:
            began = time.monotonic()
            with pytest.raises(TimeoutError, match="client timeout"):
                async for _ in stream:
                    pass
            failed_after = time.monotonic() - began
        finally:
            os.kill(pid, signal.SIGCONT)
    assert stream.is_closed
    recovered = await _recover(fault_session, within=30)
    print(f"paused JVM: TimeoutError after {failed_after:.2f}s (timeout 2.0s); same session answered "
          f"{recovered:.2f}s after SIGCONT")  # fmt: skip
    assert failed_after < 2.0 + 3.0
    assert (await fault_session.execute("SELECT count(*) FROM faults.rows")).one()[0] == 2000


async def test_native_transport_off_is_a_connection_error_then_reconnects(
    fault_server: LocalServer, fault_session: AsyncSession
) -> None:
    assert fault_server.nodetool(["disablebinary"]).returncode == 0
    try:
        began = time.monotonic()
        error: ConnectionError | None = None
        while time.monotonic() - began < 15:
            try:
                await fault_session.execute("SELECT * FROM faults.rows WHERE p = 1 LIMIT 1", timeout=2.0)
            except ConnectionError as exc:
                error = exc
                break
            await asyncio.sleep(0.1)
        assert error is not None, "queries must fail with ConnectionError while the native transport is off"
        surfaced = time.monotonic() - began
        assert "no Cassandra host could be reached" in str(error) or "connection" in str(error).lower()
    finally:
        assert fault_server.nodetool(["enablebinary"]).returncode == 0
    recovered = await _recover(fault_session, within=60)
    print(f"native transport off: ConnectionError after {surfaced:.2f}s ({str(error)[:90]}...); same cluster "
          f"reconnected {recovered:.2f}s after enablebinary")  # fmt: skip


async def test_restart_between_queries(fault_server: LocalServer, fault_session: AsyncSession) -> None:
    assert (await fault_session.execute("SELECT count(*) FROM faults.rows")).one()[0] == 2000
    began = time.monotonic()
    await asyncio.to_thread(fault_server.stop)
    restarted = await asyncio.to_thread(fault_server.start)
    down_for = time.monotonic() - began
    recovered = await _recover(fault_session, within=60)
    assert (await fault_session.execute("SELECT count(*) FROM faults.rows")).one()[0] == 2000
    print(f"restart: server down and back in {down_for:.1f}s (start {restarted.seconds:.1f}s); next query "
          f"succeeded {recovered:.2f}s after the server was ready")  # fmt: skip


async def test_an_export_against_a_paused_server_fails_and_leaves_nothing(
    fault_server: LocalServer, fault_session: AsyncSession, tmp_path: object
) -> None:
    from pathlib import Path

    from cassnb.exports import export
    from cassnb.progress import NullProgress

    pid = fault_server.pid()
    assert pid is not None
    folder = Path(str(tmp_path))

    class PauseAfterTwoPages(NullProgress):
        def update(self, rows: int, pages: int, detail: str = "") -> None:
            super().update(rows, pages, detail)
            if pages == 2:
                os.kill(pid, signal.SIGSTOP)

    began = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            await export(fault_session, "SELECT * FROM faults.rows", folder / "rows.parquet", fetch_size=100,
                         timeout=2.0, progress=PauseAfterTwoPages())  # fmt: skip
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"export against a paused server: TimeoutError after {time.monotonic() - began:.2f}s, nothing written")
    assert list(folder.iterdir()) == []
    await _recover(fault_session, within=30)

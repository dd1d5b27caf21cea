"""A read that fails part-way keeps what it fetched, and continues from there once the server is back.

On the fault server (a Cassandra of these tests' own): a paused JVM (SIGSTOP), the native transport switched
off, and a real stop of the server, each injected after a known number of pages. The error must be a
connection or timeout error (never a generic ``QueryError``), carry the rows fetched so far as
``exc.partial``, and ``cassnb.more(exc.partial)`` (or ``%cql more VAR``) must complete the result with every
key exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import pytest_asyncio
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import cassnb
from cassnb import AsyncCluster, AsyncSession
from cassnb.frames import frame_info
from cassnb.local import LocalServer
from cassnb.progress import NullProgress
from tests.conftest import ServerAddress
from tests.integration.test_magics import private_shell, show

ROWS = 50_000
PER_PARTITION = 1_000
FETCH = 500
FAULT_AT_PAGE = 20


class FaultAt(NullProgress):
    """A progress reporter that runs ``fault`` once, when the read has reported ``page`` pages."""

    def __init__(self, page: int, fault: Callable[[], object]) -> None:
        super().__init__()
        self.page, self.fault, self.fired_at_rows = page, fault, -1

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        super().update(rows, pages, detail)
        if pages >= self.page and self.fired_at_rows < 0:
            self.fired_at_rows = rows
            self.fault()


@pytest_asyncio.fixture
async def fault_session(fault_address: ServerAddress) -> AsyncIterator[AsyncSession]:
    cluster = AsyncCluster([fault_address.host], port=fault_address.port, connect_timeout=3)
    session = await cluster.connect()
    await session.execute(
        "CREATE KEYSPACE IF NOT EXISTS faults WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    await session.execute("CREATE TABLE IF NOT EXISTS faults.partial (p int, k int, v text, PRIMARY KEY (p, k))")
    if (await session.execute("SELECT count(*) FROM faults.partial")).one()[0] != ROWS:
        from cassandra.query import BatchStatement, BatchType

        insert = await session.prepare("INSERT INTO faults.partial (p, k, v) VALUES (?, ?, ?)")
        limit = asyncio.Semaphore(16)

        async def batch(start: int) -> None:
            statement = BatchStatement(batch_type=BatchType.UNLOGGED)
            for k in range(start, start + 100):
                statement.add(insert, (k // PER_PARTITION, k, f"value {k}"))
            async with limit:
                await session.execute(statement)

        await asyncio.gather(*(batch(start) for start in range(0, ROWS, 100)))
    yield session
    await cluster.shutdown()


async def _answers(session: AsyncSession, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            await session.execute("SELECT count(*) FROM faults.partial WHERE p = 0", timeout=2.0)
            return
        except (cassnb.ConnectionError, cassnb.TimeoutError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def _every_key_once(frame: pd.DataFrame) -> None:
    assert len(frame) == ROWS
    assert sorted(frame["k"].tolist()) == list(range(ROWS))


def _check_partial(exc: cassnb.CassnbError, fired_at_rows: int) -> pd.DataFrame:
    partial = exc.partial
    assert isinstance(partial, pd.DataFrame)
    info = frame_info(partial)
    assert not info.complete and info.rows == len(partial)
    assert fired_at_rows <= len(partial) < ROWS, (fired_at_rows, len(partial))
    assert partial["k"].is_unique
    assert "kept in `exc.partial`" in " ".join(getattr(exc, "__notes__", []))
    return partial



@pytest.mark.asyncio
async def test_paused_server_mid_read_keeps_the_rows_and_more_completes_them(
    fault_server: LocalServer, fault_session: AsyncSession
) -> None:
    pid = fault_server.pid()
    assert pid is not None
    reporter = FaultAt(FAULT_AT_PAGE, lambda: os.kill(pid, signal.SIGSTOP))
    try:
        with pytest.raises(cassnb.TimeoutError) as caught:
            await fault_session.query_df("SELECT p, k, v FROM faults.partial", fetch_size=FETCH, timeout=2.0,
                                         progress=reporter)  # fmt: skip
    finally:
        os.kill(pid, signal.SIGCONT)
    partial = _check_partial(caught.value, reporter.fired_at_rows)
    await _answers(fault_session)
    whole = await cassnb.more(partial, progress=False)
    _every_key_once(whole)
    assert frame_info(whole).complete
    print(f"\npaused at page {FAULT_AT_PAGE}: kept {len(partial):,} rows; more() fetched {ROWS - len(partial):,}")


@pytest.mark.asyncio
async def test_native_transport_off_mid_read_is_a_connection_error_with_the_rows_kept(
    fault_server: LocalServer, fault_session: AsyncSession
) -> None:
    def transport_off() -> None:
        assert fault_server.nodetool(["disablebinary"]).returncode == 0

    reporter = FaultAt(FAULT_AT_PAGE, transport_off)
    try:
        with pytest.raises(cassnb.ConnectionError) as caught:
            await fault_session.query_df("SELECT p, k, v FROM faults.partial", fetch_size=FETCH, progress=reporter)
    finally:
        assert (await asyncio.to_thread(fault_server.nodetool, ["enablebinary"])).returncode == 0
    partial = _check_partial(caught.value, reporter.fired_at_rows)
    await _answers(fault_session)
    _every_key_once(await cassnb.more(partial, progress=False))


@pytest.mark.asyncio
async def test_a_server_stopped_mid_read_then_restarted(
    fault_server: LocalServer, fault_session: AsyncSession
) -> None:
    pid = fault_server.pid()
    assert pid is not None
    reporter = FaultAt(FAULT_AT_PAGE, lambda: os.killpg(pid, signal.SIGTERM))  # a drain, as `stop` does
    try:
        with pytest.raises(cassnb.CassnbError) as caught:
            await fault_session.query_df("SELECT p, k, v FROM faults.partial", fetch_size=FETCH, timeout=5.0,
                                         progress=reporter)  # fmt: skip
    finally:
        await asyncio.to_thread(fault_server.stop)
        await asyncio.to_thread(fault_server.start)
    error = caught.value
    assert isinstance(error, cassnb.ConnectionError | cassnb.TimeoutError | cassnb.UnavailableError), repr(error)
    partial = _check_partial(error, reporter.fired_at_rows)
    await _answers(fault_session)
    _every_key_once(await cassnb.more(partial, progress=False))
    print(f"\nstopped at page {FAULT_AT_PAGE}: {type(error).__name__}; kept {len(partial):,} rows")


# --- the same through the magics -------------------------------------------------------------------------


@pytest.fixture
def ip(fault_address: ServerAddress, tmp_path: Path) -> Iterator[InteractiveShell]:
    with private_shell(tmp_path) as shell:
        show(shell, f"connect {fault_address.host} --port {fault_address.port} --name faults")
        yield shell


def _pause_after(session: AsyncSession, pages: int, pid: int) -> threading.Thread:
    """SIGSTOP the server once ``session`` has streamed ``pages`` pages (watched from a thread)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while session.metrics().pages_streamed < pages and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(pid, signal.SIGSTOP)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("option", ["--stream", ""])
def test_magic_read_cut_by_a_paused_server_keeps_its_rows_in_out_and_more_completes_them(
    fault_server: LocalServer, ip: InteractiveShell, option: str
) -> None:
    from tests.integration.test_magics import the_magic

    magic = the_magic(ip)
    magic.stream_threshold = 2_000
    session = magic.connections.get("faults").session
    pid = fault_server.pid()
    assert pid is not None
    watcher = _pause_after(session, session.metrics().pages_streamed + FAULT_AT_PAGE, pid)
    try:
        with pytest.raises(UsageError) as caught:
            show(ip, f"{option} --fetch-size {FETCH} --timeout 2 --out big", "SELECT p, k, v FROM faults.partial")
    finally:
        watcher.join()
        os.kill(pid, signal.SIGCONT)
    message = str(caught.value)
    assert "\n" not in message and "kept in big" in message and "`%cql more big`" in message, message
    big = ip.user_ns["big"]
    assert isinstance(big, pd.DataFrame) and not frame_info(big).complete and 0 < len(big) < ROWS
    asyncio.run(_answers(session))
    shown = show(ip, "more big")
    whole = ip.user_ns["big"]
    _every_key_once(whole)
    assert frame_info(whole).complete, shown.stdout

"""``load`` claims only what it knows, on the fault server: a crash, a pause it rides out, a pause it cannot.

Each test loads a 40,000-row CSV file and injects the fault once a known number of rows is done. Afterwards it
reads the table back and checks the accounting against it: every row before ``restart_row`` is really there,
every acknowledged row is there, every unacknowledged one is in the rejects file, and loading again from
``restart_row`` completes the table (count == source).
"""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import cassnb
from cassnb import AsyncCluster, AsyncSession
from cassnb.local import LocalServer
from cassnb.local._server import _alive
from cassnb.progress import NullProgress
from tests.conftest import ServerAddress

ROWS = 40_000
FAULT_AT = 10_000


class FaultAt(NullProgress):
    """Runs ``fault`` once, when the load reports ``rows`` rows done."""

    def __init__(self, rows: int, fault: Callable[[], object]) -> None:
        super().__init__()
        self.threshold, self.fault, self.fired = rows, fault, False

    def update(self, rows: int, pages: int, detail: str = "") -> None:
        super().update(rows, pages, detail)
        if rows >= self.threshold and not self.fired:
            self.fired = True
            self.fault()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("load_accounting") / "rows.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["k", "v"])
        writer.writerows((k, f"value {k}") for k in range(ROWS))
    return path


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture
def table(fault_server: LocalServer, fault_address: ServerAddress) -> Iterator[str]:
    async def create() -> None:
        async with AsyncCluster([fault_address.host], port=fault_address.port) as cluster:
            session = await cluster.connect()
            await session.execute(
                "CREATE KEYSPACE IF NOT EXISTS faults WITH replication = "
                "{'class': 'SimpleStrategy', 'replication_factor': 1}"
            )
            await session.execute("DROP TABLE IF EXISTS faults.loaded")
            await session.execute("CREATE TABLE faults.loaded (k int PRIMARY KEY, v text)")

    run(create())
    yield "faults.loaded"


async def _session(address: ServerAddress) -> AsyncSession:
    return await cassnb.connect(f"{address.host}:{address.port}", connect_timeout=3)


async def _stored(address: ServerAddress) -> set[int]:
    deadline = time.monotonic() + 60
    while True:
        try:
            session = await _session(address)
            break
        except cassnb.ConnectionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    async with session:
        result = await session.execute("SELECT k FROM faults.loaded", timeout=30)
        return {row.k for row in result}


def _rejected(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_a_crash_mid_load_loses_no_acknowledged_row_and_a_reload_converges(
    fault_server: LocalServer, fault_address: ServerAddress, table: str, source: Path, tmp_path: Path
) -> None:
    pid = fault_server.pid()
    assert pid is not None
    rejects = tmp_path / "rejects.csv"

    async def first_load() -> BaseException:
        session = await _session(fault_address)
        async with session:
            crash = FaultAt(FAULT_AT, lambda: os.killpg(pid, signal.SIGKILL))
            with pytest.raises((cassnb.ConnectionError, cassnb.TimeoutError)) as caught:
                await cassnb.load(session, table, source, progress=crash, rejects=rejects, retry_for=3, timeout=2)
            return caught.value

    error = run(first_load())
    assert isinstance(error, cassnb.CassnbError)
    report = error.report  # type: ignore[attr-defined]
    message = str(error)
    assert "\n" not in message and f"start_row={report.restart_row}" in message and "--start-row" in message
    while _alive(pid):
        time.sleep(0.05)
    fault_server.start(timeout=240)
    stored = run(_stored(fault_address))
    assert isinstance(stored, set)
    restart = report.restart_row
    assert FAULT_AT <= restart < ROWS, report
    assert set(range(restart)) <= stored, "a row before restart_row is missing: the accounting claimed too much"
    assert len(stored) >= report.rows_written, "an acknowledged row was lost"
    listed = _rejected(rejects)
    assert len(listed) == report.rows_failed + report.rows_unknown and report.rows_failed == 0
    assert {row["status"] for row in listed} <= {"unknown"} and all(row["source"] for row in listed)

    async def reload() -> cassnb.LoadReport:
        session = await _session(fault_address)
        async with session:
            return await cassnb.load(session, table, source, progress=False, start_row=restart)

    again = run(reload())
    assert isinstance(again, cassnb.LoadReport)
    assert again.restart_row is None and again.rows_failed == again.rows_unknown == 0
    assert run(_stored(fault_address)) == set(range(ROWS))
    print(
        f"\ncrash after {FAULT_AT:,} rows: {report.rows_written:,} acknowledged, {report.rows_unknown:,} unknown "
        f"(in the rejects file), {len(stored):,} present after the restart; restart_row {restart:,}; "
        f"re-sent {ROWS - restart:,} rows; after the reload {ROWS:,} of {ROWS:,}"
    )


def test_a_pause_shorter_than_retry_for_costs_nothing_but_time(
    fault_server: LocalServer, fault_address: ServerAddress, table: str, source: Path
) -> None:
    pid = fault_server.pid()
    assert pid is not None

    def pause() -> None:
        os.kill(pid, signal.SIGSTOP)
        threading.Timer(8.0, os.kill, (pid, signal.SIGCONT)).start()

    async def load() -> cassnb.LoadReport:
        session = await _session(fault_address)
        async with session:
            return await cassnb.load(session, table, source, progress=FaultAt(FAULT_AT, pause), timeout=2)

    try:
        report = run(load())
    finally:
        os.kill(pid, signal.SIGCONT)
    assert isinstance(report, cassnb.LoadReport)
    assert (report.rows_written, report.rows_failed, report.rows_unknown, report.restart_row) == (ROWS, 0, 0, None)
    assert report.retries > 0
    assert run(_stored(fault_address)) == set(range(ROWS))
    print(f"\n8 s pause: {report.retries:,} inserts sent again, all {ROWS:,} rows acknowledged, none reported lost")


def test_rows_without_an_answer_are_all_listed_as_unknown_and_a_reload_converges(
    fault_server: LocalServer, fault_address: ServerAddress, table: str, source: Path, tmp_path: Path
) -> None:
    pid = fault_server.pid()
    assert pid is not None
    rejects = tmp_path / "rejects.csv"

    async def load() -> BaseException:
        session = await _session(fault_address)
        async with session:
            pause = FaultAt(FAULT_AT, lambda: os.kill(pid, signal.SIGSTOP))
            with pytest.raises((cassnb.ConnectionError, cassnb.TimeoutError)) as caught:
                await cassnb.load(session, table, source, progress=pause, rejects=rejects, concurrency=200,
                                  retry_for=2, timeout=1)  # fmt: skip
            return caught.value

    try:
        error = run(load())
    finally:
        os.kill(pid, signal.SIGCONT)
    report = error.report  # type: ignore[attr-defined]
    listed = _rejected(rejects)
    assert report.rows_unknown > 100, "enough rows in flight to pass the report's 100-row list"
    assert len(report.failures) == 100 and len(listed) == report.rows_unknown  # the file lists them all
    assert {row["status"] for row in listed} == {"unknown"}
    assert [int(row["row"]) for row in listed] == sorted(int(row["row"]) for row in listed)
    assert all(row["source"] == f"{row['row']},value {row['row']}" for row in listed)
    stored = run(_stored(fault_address))
    assert isinstance(stored, set)
    assert set(range(report.restart_row)) <= stored and len(stored) >= report.rows_written
    applied = len({int(row["row"]) for row in listed} & stored)

    async def reload() -> cassnb.LoadReport:
        session = await _session(fault_address)
        async with session:
            return await cassnb.load(session, table, source, progress=False, start_row=report.restart_row)

    again = run(reload())
    assert isinstance(again, cassnb.LoadReport) and again.restart_row is None
    assert run(_stored(fault_address)) == set(range(ROWS))
    print(
        f"\nlong pause: {report.rows_unknown:,} rows unknown, all in the rejects file ({applied:,} of them had in "
        f"fact been applied); reload from row {report.restart_row:,} -> {ROWS:,} of {ROWS:,}"
    )

"""Streaming DataFrame chunks without keeping them needs the same memory for 20,000 rows as for 400,000."""

from __future__ import annotations

import asyncio
import datetime
import gc
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType

import cassnb
from cassnb import AsyncSession
from cassnb.frames import stream_frames
from tests.conftest import ServerAddress

pytestmark = pytest.mark.asyncio

ROWS = 400_000
PER_PARTITION = 1_000
QUERY = "SELECT k, ts, txt, dbl, flag, id FROM mem_events"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def cnb(cassandra_address: ServerAddress, keyspace: str) -> Iterator[AsyncSession]:
    session = asyncio.run(
        cassnb.connect(f"{cassandra_address.host}:{cassandra_address.port}", keyspace=keyspace)
    )
    yield session
    asyncio.run(session.close())


@pytest.fixture(scope="module")
def mem_events(driver_session: Any, keyspace: str) -> str:
    """400,000 rows in 400 partitions; each batch fills part of one partition (fast for the server)."""
    table = f"{keyspace}.mem_events"
    driver_session.execute(
        f"CREATE TABLE {table} (p int, k bigint, ts timestamp, txt text, dbl double, flag boolean, id uuid, "
        "PRIMARY KEY (p, k))"
    )
    insert = driver_session.prepare(
        f"INSERT INTO {table} (p, k, ts, txt, dbl, flag, id) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    base = datetime.datetime(2024, 1, 1)

    def batches() -> Iterator[tuple[BatchStatement, tuple[()]]]:
        for start in range(0, ROWS, 250):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for k in range(start, start + 250):
                values = (base + datetime.timedelta(seconds=k), f"event {k}", k / 3, k % 2 == 0, uuid.uuid4())
                batch.add(insert, (k // PER_PARTITION, k, *values))
            yield batch, ()

    execute_concurrent(
        driver_session, batches(), concurrency=16, raise_on_first_error=True, results_generator=False
    )
    return "mem_events"


async def stream_and_drop(session: AsyncSession, rows: int) -> tuple[int, int, int]:
    """Iterate ``rows`` rows as chunks without keeping them; return (rows seen, traced peak, frame bytes)."""
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        seen = footprint = 0
        async for chunk in stream_frames(session, QUERY, max_rows=rows, fetch_size=5000):
            seen += len(chunk)
            footprint += int(chunk.memory_usage(deep=True).sum())
            del chunk
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    return seen, peak, footprint


async def test_peak_memory_does_not_grow_with_the_result(cnb: AsyncSession, mem_events: str) -> None:
    await stream_and_drop(cnb, 20_000)  # warm-up: prepared statements, type caches, imports

    small_rows, small_peak, small_bytes = await stream_and_drop(cnb, 20_000)
    large_rows, large_peak, large_bytes = await stream_and_drop(cnb, ROWS)
    difference = large_peak - small_peak

    print(
        f"\npeak while streaming {small_rows:,} rows: {small_peak / MB:.1f} MB; {large_rows:,} rows: "
        f"{large_peak / MB:.1f} MB; difference {difference / MB:+.2f} MB; the {large_rows:,} rows as one "
        f"DataFrame: {large_bytes / MB:.0f} MB"
    )
    assert (small_rows, large_rows) == (20_000, ROWS)
    assert small_bytes * (ROWS // 20_000) == pytest.approx(large_bytes, rel=0.05)
    assert difference < large_bytes / 4
    assert difference < 30 * MB

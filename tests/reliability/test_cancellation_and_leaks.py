"""Cancellation and resource hygiene: nothing leaks, nothing complains.

Runs under asyncio debug mode with warnings turned into errors; the loop's exception handler and the driver's
error log are both watched. The soak test repeats open/close cycles and queries and bounds the growth of RSS,
threads and file descriptors (``make soak`` runs the long version: CASSNB_SOAK=full).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from cassnb import AsyncCluster, StreamConfig
from tests.conftest import ServerAddress


@pytest.fixture
def watched() -> Iterator[list[str]]:
    """Collect everything that would indicate sloppiness: loop errors, warnings, driver error logs."""
    problems: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            problems.append(f"log {record.name}: {record.getMessage()}")

    handler = Collect(level=logging.ERROR)
    for name in ("cassandra", "cassnb", "asyncio"):
        logging.getLogger(name).addHandler(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield problems
        gc.collect()
    problems += [f"warning: {w.message}" for w in caught]
    for name in ("cassandra", "cassnb", "asyncio"):
        logging.getLogger(name).removeHandler(handler)


def _run_debug(coro_fn, problems: list[str]) -> object:  # type: ignore[no-untyped-def]
    with asyncio.Runner(debug=True) as runner:
        runner.get_loop().set_exception_handler(lambda _l, ctx: problems.append(f"loop: {ctx.get('message')}"))
        return runner.run(coro_fn())


def test_cancel_1000_queries_and_100_streams_then_close_the_loop_with_answers_pending(
    cassandra_address: ServerAddress, keyspace: str, big_table: str, watched: list[str]
) -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    # Executors made before this test (the fixtures' driver cluster) start their worker threads lazily, when
    # they get work: those are not this test's. Executors are numbered in order of creation.
    executors_before = int(repr(ThreadPoolExecutor._counter.__self__)[6:-1])  # type: ignore[attr-defined]

    def ours(thread: threading.Thread) -> bool:
        match = re.fullmatch(r"ThreadPoolExecutor-(\d+)_\d+", thread.name)
        return match is None or int(match[1]) >= executors_before

    async def scenario() -> tuple[int, int]:
        cluster = AsyncCluster([cassandra_address.host], port=cassandra_address.port)
        session = await cluster.connect(keyspace)
        prepared = await session.prepare("SELECT * FROM big WHERE bucket = ?")
        queries = [asyncio.create_task(session.execute(prepared, [i % 100])) for i in range(1000)]

        async def consume(n: int) -> None:
            async with session.execute_stream("SELECT * FROM big", stream_config=StreamConfig(fetch_size=50)) as s:
                async for _ in s:
                    await asyncio.sleep(0)

        streams = [asyncio.create_task(consume(n)) for n in range(100)]
        await asyncio.sleep(0.05)
        for task in queries + streams:
            task.cancel()
        results = await asyncio.gather(*queries, *streams, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results[1000:]), "every stream was cancelled"
        assert all(isinstance(r, asyncio.CancelledError) or len(r) == 1000 for r in results[:1000])  # type: ignore[arg-type]
        cancelled = sum(isinstance(r, asyncio.CancelledError) for r in results)
        # Fire more requests and leave the loop while their answers are still on the way.
        for i in range(200):
            asyncio.get_running_loop().create_task(session.execute(prepared, [i % 100])).cancel()
        leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        await asyncio.sleep(0)
        await cluster.shutdown()
        return cancelled, len(leftover)

    cancelled, _ = _run_debug(scenario, watched)  # type: ignore[misc]
    print(f"cancelled {cancelled} of 1,100 tasks; problems: {watched}")
    assert cancelled >= 100
    assert watched == []
    leaked = [t.name for t in threading.enumerate() if t.ident not in threads_before and ours(t)]
    assert leaked == [], f"threads left running: {leaked}"


def _threads() -> int:
    """Threads that could leak: asyncio's default-executor workers are a bounded pool owned by the loop."""
    return sum(not t.name.startswith("asyncio_") for t in threading.enumerate())


def _soak_sizes() -> tuple[int, int]:
    return (5_000, 50_000) if os.environ.get("CASSNB_SOAK") == "full" else (300, 3_000)


def test_soak_stream_cycles_and_queries_do_not_grow(
    cassandra_address: ServerAddress, keyspace: str, big_table: str, watched: list[str]
) -> None:
    cycles, queries = _soak_sizes()
    process = psutil.Process()

    async def scenario() -> dict[str, float]:
        async with AsyncCluster([cassandra_address.host], port=cassandra_address.port) as cluster:
            session = await cluster.connect(keyspace)
            prepared = await session.prepare("SELECT * FROM big WHERE bucket = ? LIMIT 5")

            async def round_of(n_cycles: int, n_queries: int) -> None:
                for i in range(n_cycles):
                    async with session.execute_stream(prepared, [i % 100], stream_config=StreamConfig(fetch_size=2)) as s:
                        await s.__anext__()
                numbers = iter(range(n_queries))

                async def worker() -> None:  # 64 in flight; results are dropped as they come
                    for i in numbers:
                        await session.execute(prepared, [i % 100])

                await asyncio.gather(*(worker() for _ in range(64)))

            await round_of(min(cycles, 300), min(queries, 3_000))  # fill the bounded pools and caches first
            gc.collect()
            before = (process.memory_info().rss, _threads(), process.num_fds())
            await round_of(cycles, queries)
            gc.collect()
            after = (process.memory_info().rss, _threads(), process.num_fds())
            return {"rss_mb": (after[0] - before[0]) / 2**20, "threads": after[1] - before[1],
                    "fds": after[2] - before[2]}  # fmt: skip

    growth = _run_debug(scenario, watched)
    print(f"soak: {cycles:,} stream cycles + {queries:,} queries -> RSS {growth['rss_mb']:+.1f} MB, "  # type: ignore[index]
          f"threads {growth['threads']:+d}, fds {growth['fds']:+d}")  # type: ignore[index]
    assert growth["rss_mb"] < 25  # type: ignore[index]
    assert growth["threads"] <= 0 and growth["fds"] <= 2  # type: ignore[index]
    assert watched == []

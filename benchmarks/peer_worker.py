"""One measurement of another client library, in its own interpreter: ``python peer_worker.py '<json spec>'``.

Runs inside the peers' environment (:mod:`benchmarks.peers`, Python 3.12, where async-cassandra, acsylla and
scyllapy are installed), so it imports nothing from cassnb or from the ``benchmarks`` package. The last line
printed is a JSON object of figures, the same names the in-process contenders report; ``CPU µs/op`` (or
``/row``) is this process's CPU (all its threads) over the timed part only, not the imports or the connect.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import resource
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

Spec = dict[str, Any]
READ = "SELECT * FROM bench.point WHERE id = ?"
WRITE = "INSERT INTO bench.writes (id, ts, name, score, active, uid) VALUES (?, ?, ?, ?, ?, ?)"
POINT_ROWS = 100_000


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _params(spec: Spec, count: int, seed: int) -> list[list[Any]]:
    rng = random.Random(seed)
    if spec["kind"] == "read":
        return [[rng.randrange(POINT_ROWS)] for _ in range(count)]
    epoch = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return [
        [rng.randrange(10 * POINT_ROWS), epoch + dt.timedelta(milliseconds=i * 997), f"customer-{i:08d}",
         rng.random() * 1000.0, i % 3 == 0, uuid.UUID(int=rng.getrandbits(128), version=4)]
        for i in range(count)
    ]  # fmt: skip


async def _concurrently(call: Callable[[list[Any]], Awaitable[Any]], params: list[list[Any]], concurrency: int
                        ) -> tuple[list[float], float, float]:  # fmt: skip
    """``concurrency`` tasks sharing one iterator of operations; (latencies, wall s, CPU s)."""
    latencies: list[float] = []
    pending = iter(params)

    async def client() -> None:
        for values in pending:
            began = time.perf_counter()
            await call(values)
            latencies.append(time.perf_counter() - began)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started, time.process_time() - cpu


async def _point(spec: Spec, call: Callable[[list[Any]], Awaitable[Any]]) -> dict[str, float]:
    concurrency, ops = spec["concurrency"], spec["ops"]
    await _concurrently(call, _params(spec, max(ops // 5, concurrency), 11), concurrency)  # warm-up
    latencies, wall, cpu = await _concurrently(call, _params(spec, ops, 12), concurrency)
    ordered = sorted(latencies)
    return {"ops/s": ops / wall, "p50 ms": _percentile(ordered, 0.5) * 1000,
            "p99 ms": _percentile(ordered, 0.99) * 1000, "CPU µs/op": cpu / ops * 1e6}  # fmt: skip


# ------------------------------------------------------------------------------ async-cassandra
async def point_async_cassandra(spec: Spec) -> dict[str, float]:
    from async_cassandra import AsyncCluster

    cluster = AsyncCluster([spec["host"]], port=spec["port"])
    session = await cluster.connect()
    try:
        statement = await session.prepare(READ if spec["kind"] == "read" else WRITE)

        async def call(values: list[Any]) -> Any:
            result = await session.execute(statement, values)
            return result.rows if spec["kind"] == "read" else None

        return await _point(spec, call)
    finally:
        await session.close()
        await cluster.shutdown()


async def frames_async_cassandra(spec: Spec) -> dict[str, float]:
    import pandas as pd
    from async_cassandra import AsyncCluster, StreamConfig

    cluster = AsyncCluster([spec["host"]], port=spec["port"])
    session = await cluster.connect()
    try:
        baseline = _rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        rows: list[Any] = []
        stream = await session.execute_stream(spec["query"], stream_config=StreamConfig(fetch_size=spec["fetch_size"]))
        async with stream:
            async for page in stream.pages():
                rows.extend(page)
        frame = pd.DataFrame(rows, columns=list(rows[0]._fields))
        del rows
        return _frame_figures(frame, started, cpu, baseline)
    finally:
        await session.close()
        await cluster.shutdown()


async def memory_async_cassandra(spec: Spec) -> dict[str, float]:
    """``async for row in execute_stream(...)``, counting rows and keeping none."""
    from async_cassandra import AsyncCluster, StreamConfig

    cluster = AsyncCluster([spec["host"]], port=spec["port"])
    session = await cluster.connect()
    try:
        baseline = _rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        count = 0
        stream = await session.execute_stream(spec["query"], stream_config=StreamConfig(fetch_size=spec["fetch_size"]))
        async with stream:
            async for _row in stream:
                count += 1
        wall, used = time.perf_counter() - started, time.process_time() - cpu
        peak = _peak_rss_mb()
        return {"rows": count, "rows/s": count / wall, "CPU µs/row": used / count * 1e6, "peak RSS MB": peak,
                "RSS growth MB": peak - baseline}  # fmt: skip
    finally:
        await session.close()
        await cluster.shutdown()


# ------------------------------------------------------------------------------ acsylla (C++ driver)
async def _acsylla_session(spec: Spec) -> Any:
    import acsylla

    cluster = acsylla.create_cluster([spec["host"]], port=spec["port"])  # its default protocol (v4)
    return await cluster.create_session()


async def point_acsylla(spec: Spec) -> dict[str, float]:
    session = await _acsylla_session(spec)
    try:
        prepared = await session.create_prepared(READ if spec["kind"] == "read" else WRITE)

        async def call(values: list[Any]) -> Any:
            result = await session.execute(prepared.bind(values))
            return [row.as_tuple() for row in result] if spec["kind"] == "read" else None

        return await _point(spec, call)
    finally:
        await session.close()


async def frames_acsylla(spec: Spec) -> dict[str, float]:
    import pandas as pd

    session = await _acsylla_session(spec)
    try:
        baseline = _rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        statement = session.query(spec["query"], page_size=spec["fetch_size"])
        rows: list[tuple[Any, ...]] = []
        columns: list[str] = []
        while True:
            result = await session.execute(statement)
            columns = columns or list(result.columns_names())
            rows.extend(row.as_tuple() for row in result)
            if not result.has_more_pages():
                break
            statement.set_page_state(result.page_state())
        frame = pd.DataFrame(rows, columns=columns)
        del rows
        return _frame_figures(frame, started, cpu, baseline)
    finally:
        await session.close()


# ------------------------------------------------------------------------------ scyllapy (Rust driver)
async def point_scyllapy(spec: Spec) -> dict[str, float]:
    from scyllapy import Scylla

    scylla = Scylla([f"{spec['host']}:{spec['port']}"])
    await scylla.startup()
    try:
        prepared = await scylla.prepare(READ if spec["kind"] == "read" else WRITE)

        async def call(values: list[Any]) -> Any:
            result = await scylla.execute(prepared, values)
            return result.all() if spec["kind"] == "read" else None

        return await _point(spec, call)
    finally:
        await scylla.shutdown()


# ------------------------------------------------------------------------------ shared
def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_rss_mb() -> float:
    """Peak RSS in MiB: ``VmHWM``, which starts afresh at exec (``ru_maxrss`` keeps the parent's at the fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _frame_figures(frame: Any, started: float, cpu: float, baseline: float) -> dict[str, float]:
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    peak = _peak_rss_mb()
    # As benchmarks.worker.frame_mb counts it: pandas' deep count, plus the int inside each uuid.UUID cell.
    counted = float(frame.memory_usage(deep=True, index=True).sum())
    ints = sum(sys.getsizeof(value.int) for name in frame.columns if frame[name].dtype == object
               for value in frame[name] if isinstance(value, uuid.UUID))  # fmt: skip
    size = (counted + ints) / 2**20
    return {"rows/s": len(frame) / wall, "CPU µs/row": used / len(frame) * 1e6, "peak RSS MB": peak,
            "RSS growth MB": peak - baseline, "pandas MB": counted / 2**20, "frame MB": size,
            "growth / frame": (peak - baseline) / size}  # fmt: skip


JOBS: dict[str, Callable[[Spec], Awaitable[dict[str, float]]]] = {
    "point.async_cassandra": point_async_cassandra,
    "point.acsylla": point_acsylla,
    "point.scyllapy": point_scyllapy,
    "frames.async_cassandra": frames_async_cassandra,
    "frames.acsylla": frames_acsylla,
    "memory.async_cassandra": memory_async_cassandra,
}


def main(argv: list[str]) -> int:
    spec: Spec = json.loads(argv[0])
    try:
        job = JOBS[spec["job"]]
    except KeyError:
        print(json.dumps({"unavailable": f"unknown peer job {spec['job']!r}"}))
        return 0
    try:
        figures = asyncio.run(job(spec))
    except ImportError as exc:
        figures = {"unavailable": f"{exc.name or exc} is not installed in the peers' environment"}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Scenarios 1 and 2: prepared point reads (random keys) and prepared inserts, at a fixed concurrency.

Three ways to keep ``concurrency`` requests in flight, all on the same driver session (same connections,
same execution profile, named-tuple rows), so the only difference is the layer on top:

* **cassnb** — ``concurrency`` asyncio tasks, each awaiting ``session.execute(prepared, key)`` in turn;
* **driver callbacks** — ``execute_async`` whose callback (on the driver's I/O thread) sends the next
  request: no event loop, no thread hop, the driver's own ceiling;
* **sync driver in threads** — ``concurrency`` asyncio tasks, each awaiting
  ``loop.run_in_executor(pool, session.execute, ...)``, the usual way to call a blocking client from asyncio.

Each run performs a fixed number of operations; ops/s is that count over the wall time, and the latency
percentiles are taken over every operation of the run.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.data import KEYSPACE, POINT_ROWS
from benchmarks.harness import Contender, Context, ScenarioResult, Target, interleave, percentile

CASSNB, CALLBACKS, THREADS = (
    "cassnb execute",
    "driver execute_async + callbacks",
    "sync driver in run_in_executor",
)
METRICS = ("ops/s", "p50 ms", "p99 ms")
#: The sync contender gets one executor thread per in-flight request (capped here). At concurrency 256,
#: pools of 6 (asyncio's default on two cores), 32, 64 and 256 threads were tried: 256 was the fastest, so
#: the comparison is against the thread pool at its best.
MAX_THREADS = 256


def _figures(latencies: Sequence[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "ops/s": len(ordered) / elapsed,
        "p50 ms": percentile(ordered, 0.50) * 1000,
        "p99 ms": percentile(ordered, 0.99) * 1000,
    }


async def _cassnb(
    session: Any, statement: Any, params: Sequence[tuple[Any, ...]], concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    pending = iter(params)

    async def client() -> None:
        for values in pending:  # the tasks share one iterator: each takes the next operation
            began = time.perf_counter()
            await session.execute(statement, values)
            latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return _figures(latencies, time.perf_counter() - started)


def _callbacks(
    driver: Any, statement: Any, params: Sequence[tuple[Any, ...]], concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[BaseException] = []
    done = threading.Event()
    tickets = itertools.count()
    total = len(params)
    finished = itertools.count(1)

    def send() -> None:
        index = next(tickets)
        if index >= total:
            return
        future = driver.execute_async(statement, params[index])
        future.add_callbacks(on_rows, on_error, callback_args=(time.perf_counter(),))

    def on_rows(_rows: Any, began: float) -> None:
        latencies.append(time.perf_counter() - began)
        if next(finished) == total:
            done.set()
        else:
            send()

    def on_error(exc: BaseException) -> None:
        errors.append(exc)
        done.set()

    started = time.perf_counter()
    for _ in range(min(concurrency, total)):
        send()
    done.wait()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return _figures(latencies, elapsed)


async def _threads(
    driver: Any, statement: Any, params: Sequence[tuple[Any, ...]], concurrency: int, pool: ThreadPoolExecutor
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    pending = iter(params)

    async def client() -> None:
        for values in pending:
            began = time.perf_counter()
            await loop.run_in_executor(pool, driver.execute, statement, values)
            latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return _figures(latencies, time.perf_counter() - started)


def _contenders(
    ctx: Context,
    statement: Any,
    make_params: Callable[[], list[tuple[Any, ...]]],
    concurrency: int,
    pool: ThreadPoolExecutor,
) -> list[Contender]:
    driver = ctx.session.driver_session

    async def cassnb() -> dict[str, float]:
        return await _cassnb(ctx.session, statement, make_params(), concurrency)

    async def callbacks() -> dict[str, float]:
        return await asyncio.to_thread(_callbacks, driver, statement, make_params(), concurrency)

    async def threads() -> dict[str, float]:
        return await _threads(driver, statement, make_params(), concurrency, pool)

    return [Contender(CASSNB, cassnb), Contender(CALLBACKS, callbacks), Contender(THREADS, threads)]


def _targets(result: ScenarioResult, concurrency: int) -> None:
    vs_driver = result.ratio("cassnb / driver callbacks", CASSNB, CALLBACKS, "ops/s")
    vs_threads = result.ratio("cassnb / sync driver in threads", CASSNB, THREADS, "ops/s")
    result.ratio("p99 latency, driver callbacks / cassnb", CASSNB, CALLBACKS, "p99 ms", invert=True)
    result.targets.append(Target(f"c={concurrency}: cassnb ops/s vs driver callbacks", vs_driver, 0.95))
    if concurrency == 256:
        result.targets.append(
            Target(f"c={concurrency}: cassnb ops/s vs sync driver in threads", vs_threads, 1.5)
        )


def _ops(ctx: Context, concurrency: int) -> int:
    full = {1: 3_000, 32: 20_000}.get(concurrency, 30_000)
    return full // 10 if ctx.quick else full


async def run_reads(ctx: Context) -> list[ScenarioResult]:
    statement = await ctx.session.prepare(f"SELECT * FROM {KEYSPACE}.point WHERE id = ?")
    rng = random.Random(1)
    results = []
    for concurrency in (1, 32, 256):
        ops = _ops(ctx, concurrency)

        def make_params(ops: int = ops) -> list[tuple[Any, ...]]:
            return [(rng.randrange(POINT_ROWS),) for _ in range(ops)]

        ctx.log(f"  1. point reads, concurrency {concurrency}, {ops:,} reads per run")
        with ThreadPoolExecutor(max_workers=min(concurrency, MAX_THREADS)) as pool:
            contenders = _contenders(ctx, statement, make_params, concurrency, pool)
            await interleave(contenders, ctx.repetitions, log=ctx.log)
        result = ScenarioResult(
            f"1 (c={concurrency})",
            f"Point reads, prepared, random keys, concurrency {concurrency}",
            METRICS,
            contenders,
            notes=[f"{ops:,} reads per run; sync-driver pool: {min(concurrency, MAX_THREADS)} threads"],
        )
        _targets(result, concurrency)
        results.append(result)
    return results


async def run_writes(ctx: Context) -> list[ScenarioResult]:
    from benchmarks.data import _row

    statement = await ctx.session.prepare(
        f"INSERT INTO {KEYSPACE}.writes (id, ts, name, score, active, uid) VALUES (?, ?, ?, ?, ?, ?)"
    )
    rng = random.Random(2)
    templates = [_row(rng, 0, i)[1:] for i in range(1000)]
    concurrency, ops = 256, _ops(ctx, 256)

    def make_params() -> list[tuple[Any, ...]]:
        return [(rng.randrange(10 * POINT_ROWS), *templates[i % 1000]) for i in range(ops)]

    ctx.log(f"  2. writes, concurrency {concurrency}, {ops:,} inserts per run")
    with ThreadPoolExecutor(max_workers=min(concurrency, MAX_THREADS)) as pool:
        contenders = _contenders(ctx, statement, make_params, concurrency, pool)
        await interleave(contenders, ctx.repetitions, log=ctx.log)
    result = ScenarioResult(
        "2",
        "Writes, prepared inserts, concurrency 256",
        METRICS,
        contenders,
        notes=[
            f"{ops:,} inserts per run (upserts over 1,000,000 random keys); sync-driver pool: "
            f"{min(concurrency, MAX_THREADS)} threads"
        ],
    )
    _targets(result, concurrency)
    return [result]

"""Scenarios 1 and 2: prepared point reads (random keys) and prepared inserts, at concurrency 1, 64 and 256.

Ways to keep ``concurrency`` requests in flight. The first four share one driver session (same
connections), so the only difference is the layer on top:

* **cassnb** — ``concurrency`` asyncio tasks, each awaiting ``session.execute(prepared, key)`` in turn;
* **driver callbacks, tuple_factory** — ``execute_async`` whose callback (on the driver's I/O thread) sends
  the next request, rows as plain tuples: no event loop, no thread hop, the driver's own ceiling;
* **driver callbacks, the driver's named_tuple_factory** — the same with the driver's default rows, which
  build a new class per response (reads only; writes return no rows);
* **sync driver in threads** — ``concurrency`` asyncio tasks, each awaiting
  ``loop.run_in_executor(pool, session.execute, ...)``, the usual way to call a blocking client from asyncio.

and, each in a fresh process of its own Python 3.12 environment (:mod:`benchmarks.peers`): async-cassandra,
and for reference two clients on other drivers, acsylla (C++) and scyllapy (Rust).

Each run performs a fixed number of operations; ops/s is that count over the wall time, the latency
percentiles are taken over every operation of the run, and CPU µs/op is the client's CPU per operation.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks import peers
from benchmarks.data import KEYSPACE, POINT_ROWS
from benchmarks.harness import Contender, Context, ScenarioResult, Target, interleave, percentile

CASSNB, CALLBACKS, DEFAULT_ROWS, THREADS = (
    "cassnb execute",
    "driver execute_async + callbacks, tuple_factory",
    "driver execute_async + callbacks, driver's named_tuple_factory",
    "sync driver in run_in_executor",
)
CPU_PER_OP = "CPU µs/op"
METRICS = ("ops/s", "p50 ms", "p99 ms", CPU_PER_OP)
CONCURRENCIES = (1, 64, 256)
#: Execution profiles added to the shared driver cluster for the callback pipelines: rows as plain tuples
#: (the driver's ceiling) and as the driver's own named tuples (a new class per response).
TUPLES, DRIVER_ROWS = "bench-tuple-rows", "bench-driver-named-tuples"
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
    driver: Any, statement: Any, params: Sequence[tuple[Any, ...]], concurrency: int, profile: str
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
        began = time.perf_counter()  # before the request is built, as for the other contenders
        future = driver.execute_async(statement, params[index], execution_profile=profile)
        future.add_callbacks(on_rows, on_error, callback_args=(began,))

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


def _profiles(driver: Any) -> None:
    """Add the callback pipelines' execution profiles to the shared driver cluster (once)."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT
    from cassandra.query import named_tuple_factory, tuple_factory

    cluster = driver.cluster
    for name, factory in ((TUPLES, tuple_factory), (DRIVER_ROWS, named_tuple_factory)):
        if name not in cluster.profile_manager.profiles:
            cluster.add_execution_profile(
                name, driver.execution_profile_clone_update(EXEC_PROFILE_DEFAULT, row_factory=factory)
            )


def _contenders(
    ctx: Context,
    statement: Any,
    make_params: Callable[[], list[tuple[Any, ...]]],
    concurrency: int,
    pool: ThreadPoolExecutor,
    kind: str,
) -> list[Contender]:
    driver = ctx.session.driver_session
    _profiles(driver)

    async def cassnb() -> dict[str, float]:
        return await _cassnb(ctx.session, statement, make_params(), concurrency)

    def callbacks(profile: str) -> Callable[[], Awaitable[dict[str, float]]]:
        async def run() -> dict[str, float]:
            return await asyncio.to_thread(_callbacks, driver, statement, make_params(), concurrency, profile)

        return run

    async def threads() -> dict[str, float]:
        return await _threads(driver, statement, make_params(), concurrency, pool)

    ops = len(make_params())
    peer = {"kind": kind, "concurrency": concurrency, "ops": ops}
    contenders = [Contender(CASSNB, cassnb), Contender(CALLBACKS, callbacks(TUPLES))]
    if kind == "read":  # writes return no rows: the row factory makes no difference to them
        contenders.append(Contender(DEFAULT_ROWS, callbacks(DRIVER_ROWS)))
    return [
        *contenders,
        Contender(THREADS, threads),
        Contender(peers.ASYNC_CASSANDRA, peers.job(ctx, "point.async_cassandra", **peer)),
        Contender(peers.ACSYLLA, peers.job(ctx, "point.acsylla", **peer)),
        Contender(peers.SCYLLAPY, peers.job(ctx, "point.scyllapy", **peer)),
    ]


def _targets(result: ScenarioResult, concurrency: int) -> None:
    """The point-operation issue's targets, against the driver's callback pipeline with tuple rows."""
    speed = result.ratio("cassnb / driver callbacks with tuple_factory", CASSNB, CALLBACKS, "ops/s")
    cpu = result.ratio("CPU per op, cassnb / driver callbacks with tuple_factory", CASSNB, CALLBACKS, CPU_PER_OP)
    if any(c.name == DEFAULT_ROWS for c in result.contenders):
        result.ratio("cassnb / driver callbacks with the driver's named tuples", CASSNB, DEFAULT_ROWS, "ops/s")
    peer = result.ratio("cassnb / async-cassandra", CASSNB, peers.ASYNC_CASSANDRA, "ops/s")
    result.ratio("CPU per op, cassnb / async-cassandra", CASSNB, peers.ASYNC_CASSANDRA, CPU_PER_OP)
    vs_threads = result.ratio("cassnb / sync driver in threads", CASSNB, THREADS, "ops/s")
    result.ratio("p99 latency, driver callbacks / cassnb", CASSNB, CALLBACKS, "p99 ms", invert=True)
    c = f"c={concurrency}"
    result.targets += [
        Target(f"{c}: cassnb CPU µs/op vs driver callbacks, tuple_factory", cpu, 1.15, higher_is_better=False),
        Target(f"{c}: cassnb ops/s vs driver callbacks, tuple_factory", speed, 0.8 if concurrency == 1 else 0.9),
        Target(f"{c}: cassnb ops/s vs async-cassandra", peer, 2.0),
    ]
    if concurrency == 256:
        result.targets.append(Target(f"{c}: cassnb ops/s vs sync driver in threads", vs_threads, 1.5))


def _ops(ctx: Context, concurrency: int) -> int:
    full = {1: 3_000}.get(concurrency, 20_000)
    return full // 10 if ctx.quick else full


def _notes(what: str, ops: int, concurrency: int) -> list[str]:
    return [
        f"{ops:,} {what} per run; sync-driver pool: {min(concurrency, MAX_THREADS)} threads. cassnb and the "
        "driver rows share one process and one driver session; CPU µs/op is that process's CPU (all threads) "
        "over the run. The other libraries run in fresh processes of their own environment (one warm-up pass "
        "of a fifth of the operations first); their CPU µs/op covers the timed part only.",
    ]


async def run_reads(ctx: Context) -> list[ScenarioResult]:
    statement = await ctx.session.prepare(f"SELECT * FROM {KEYSPACE}.point WHERE id = ?")
    rng = random.Random(1)
    results = []
    for concurrency in CONCURRENCIES:
        ops = _ops(ctx, concurrency)

        def make_params(ops: int = ops) -> list[tuple[Any, ...]]:
            return [(rng.randrange(POINT_ROWS),) for _ in range(ops)]

        ctx.log(f"  1. point reads, concurrency {concurrency}, {ops:,} reads per run")
        with ThreadPoolExecutor(max_workers=min(concurrency, MAX_THREADS)) as pool:
            contenders = _contenders(ctx, statement, make_params, concurrency, pool, "read")
            await interleave(contenders, ctx.repetitions, log=ctx.log, operations=(ops, "op"))
        result = ScenarioResult(
            f"1 (c={concurrency})",
            f"Point reads, prepared, random keys, concurrency {concurrency}",
            METRICS,
            contenders,
            notes=_notes("reads", ops, concurrency),
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
    results = []
    for concurrency in CONCURRENCIES:
        ops = _ops(ctx, concurrency)

        def make_params(ops: int = ops) -> list[tuple[Any, ...]]:
            return [(rng.randrange(10 * POINT_ROWS), *templates[i % 1000]) for i in range(ops)]

        ctx.log(f"  2. writes, concurrency {concurrency}, {ops:,} inserts per run")
        with ThreadPoolExecutor(max_workers=min(concurrency, MAX_THREADS)) as pool:
            contenders = _contenders(ctx, statement, make_params, concurrency, pool, "write")
            await interleave(contenders, ctx.repetitions, log=ctx.log, operations=(ops, "op"))
        result = ScenarioResult(
            f"2 (c={concurrency})",
            f"Writes, prepared inserts, concurrency {concurrency}",
            METRICS,
            contenders,
            notes=_notes("inserts (upserts over 1,000,000 random keys)", ops, concurrency),
        )
        _targets(result, concurrency)
        results.append(result)
    return results

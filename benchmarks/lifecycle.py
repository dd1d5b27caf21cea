"""Scenario 7: open a cluster and a session, run one query, close both — cassnb and the plain driver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from benchmarks.harness import Contender, Context, ScenarioResult, Target, interleave

QUERY = "SELECT release_version FROM system.local"
COLD_CASSNB, COLD_DRIVER = "cassnb, fresh process", "driver, fresh process"
CASSNB, DRIVER = (
    "cassnb, same process again",
    "driver, same process again",
)


def _figures(began: float, opened: float, queried: float, ended: float) -> dict[str, float]:
    return {
        "total ms": (ended - began) * 1000,
        "open ms": (opened - began) * 1000,
        "query ms": (queried - opened) * 1000,
        "close ms": (ended - queried) * 1000,
    }


async def _cassnb(ctx: Context) -> dict[str, float]:
    from cassnb import AsyncCluster

    began = time.perf_counter()
    cluster = AsyncCluster([ctx.host], port=ctx.port)
    session = await cluster.connect()
    opened = time.perf_counter()
    await session.execute(QUERY)
    queried = time.perf_counter()
    await cluster.shutdown()
    ended = time.perf_counter()
    return _figures(began, opened, queried, ended)


def _driver(host: str, port: int) -> dict[str, float]:
    from cassandra.cluster import Cluster

    began = time.perf_counter()
    cluster = Cluster([host], port=port, protocol_version=5)
    session = cluster.connect()
    opened = time.perf_counter()
    session.execute(QUERY)
    queried = time.perf_counter()
    cluster.shutdown()
    ended = time.perf_counter()
    return _figures(began, opened, queried, ended)


async def run(ctx: Context) -> list[ScenarioResult]:
    ctx.log("  7. open / query / close")

    async def cassnb() -> dict[str, float]:
        return await _cassnb(ctx)

    async def driver() -> dict[str, float]:
        return await asyncio.to_thread(_driver, ctx.host, ctx.port)

    def cold(impl: str) -> Callable[[], Awaitable[dict[str, float]]]:
        async def measure() -> dict[str, float]:
            return await ctx.in_subprocess(ctx.spec("open_close", impl=impl))

        return measure

    contenders = [
        Contender(COLD_CASSNB, cold("cassnb")),
        Contender(COLD_DRIVER, cold("driver")),
        Contender(CASSNB, cassnb),
        Contender(DRIVER, driver),
    ]
    await interleave(contenders, ctx.repetitions, log=ctx.log)
    result = ScenarioResult(
        "7",
        "Open a cluster and session, run one query, close both",
        ("total ms", "import ms", "open ms", "query ms", "close ms"),
        contenders,
        notes=[
            "'fresh process': the first cluster of a new interpreter (what a notebook does once), timed "
            "after the import (import ms shown apart); the other two rows repeat the cycle in one process",
        ],
    )
    result.ratio("fresh process: driver / cassnb (time)", COLD_CASSNB, COLD_DRIVER, "total ms", invert=True)
    result.ratio("same process: driver / cassnb (time)", CASSNB, DRIVER, "total ms", invert=True)
    result.targets.append(
        Target(
            "cassnb open + query + close, fresh process",
            result.contender(COLD_CASSNB).median("total ms"),
            1500.0,
            higher_is_better=False,
            unit="ms",
        )
    )
    return [result]

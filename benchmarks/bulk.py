"""Scenarios 3, 4 and 6: a whole table into a DataFrame, memory flatness, and event-loop stalls.

Every measurement here runs in a fresh interpreter (:mod:`benchmarks.worker`): peak RSS and garbage-collector
pauses belong to the whole process, so sharing one would blur every contender into the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import peers
from benchmarks.harness import Contender, Context, ScenarioResult, Target, interleave

FETCH_SIZE = 5000
QUERY_DF, DRIVER_TUPLES, NAMED_TUPLES = (
    "cassnb query_df",
    "driver paging, tuple_factory, one DataFrame()",
    "named tuples into a list, then DataFrame()",
)


def _job(ctx: Context, job: str, **arguments: Any) -> Callable[[], Awaitable[dict[str, float]]]:
    async def run() -> dict[str, float]:
        return await ctx.in_subprocess(ctx.spec(job, **arguments))

    return run


async def run_frames(ctx: Context) -> list[ScenarioResult]:
    query = f"SELECT * FROM {ctx.table}"
    ctx.log(f"  3. {ctx.rows:,} rows into one DataFrame (one fresh process per measurement)")
    contenders = [
        Contender(QUERY_DF, _job(ctx, "frames.cassnb", query=query, fetch_size=FETCH_SIZE)),
        Contender(DRIVER_TUPLES, _job(ctx, "frames.driver_tuples", query=query, fetch_size=FETCH_SIZE)),
        Contender(NAMED_TUPLES, _job(ctx, "frames.named_tuples", query=query, fetch_size=FETCH_SIZE)),
        Contender(f"{peers.ASYNC_CASSANDRA}: execute_stream pages -> DataFrame()",
                  peers.job(ctx, "frames.async_cassandra", query=query, fetch_size=FETCH_SIZE)),
        Contender(f"{peers.ACSYLLA}: pages -> DataFrame()",
                  peers.job(ctx, "frames.acsylla", query=query, fetch_size=FETCH_SIZE)),
    ]  # fmt: skip
    await interleave(contenders, ctx.repetitions, warmup=False, log=ctx.log)
    result = ScenarioResult(
        "3",
        f"Stream {ctx.rows:,} rows (6 columns) into one DataFrame",
        ("rows/s", "CPU µs/row", "peak RSS MB", "RSS growth MB", "pandas MB", "frame MB", "growth / frame",
         "held MB", "growth / held"),
        contenders,
        notes=[
            f"fetch_size {FETCH_SIZE} for all. RSS growth = peak RSS minus the RSS just before the "
            "query (after imports and connecting). pandas MB = DataFrame.memory_usage(deep=True), which counts "
            "an object cell by sys.getsizeof and so leaves out what it points to: the 128-bit int inside each "
            "uuid.UUID, 44 bytes for every row of this table. frame MB = pandas MB plus those ints: the frame's "
            "size, which the memory target compares RSS growth with. held MB = the RSS the process still holds "
            "once the read is over, the frame alive; growth / held is what reading cost beyond that. CPU µs/row: "
            "the process's CPU (all "
            "threads) over the timed part. query_df defers the collector's full passes until the read is "
            "done; the full pass that then follows costs, per run: "
            + _later_gc(contenders[0]),
        ],
    )
    vs_named = result.ratio("query_df / named-tuple recipe", QUERY_DF, NAMED_TUPLES, "rows/s")
    vs_tuples = result.ratio("query_df / driver tuple_factory path", QUERY_DF, DRIVER_TUPLES, "rows/s")
    result.ratio("query_df / async-cassandra", QUERY_DF, contenders[3].name, "rows/s")
    result.ratio("CPU per row, query_df / driver tuple_factory path", QUERY_DF, DRIVER_TUPLES, "CPU µs/row")
    result.targets += [
        Target("query_df rows/s vs named-tuple recipe", vs_named, 1.2),
        Target("query_df rows/s vs driver tuple_factory path", vs_tuples, 1.3),
        Target(
            "query_df client CPU per row",
            result.contender(QUERY_DF).median("CPU µs/row"),
            2.0,
            higher_is_better=False,
            unit="µs",
        ),
        Target(
            "query_df RSS growth / final DataFrame size",
            result.contender(QUERY_DF).median("growth / frame"),
            1.3,
            higher_is_better=False,
        ),
    ]
    return [result]


async def run_memory(ctx: Context) -> list[ScenarioResult]:
    small = min(20_000, ctx.rows // 10)
    ctx.log(f"  4. iterate {small:,} vs {ctx.rows:,} rows without keeping them (fresh process each)")
    contenders = []
    for kind, job in (
        ("cassnb rows: async for row in execute_stream", "memory.rows"),
        ("cassnb chunks: async for df in stream_frames", "memory.frames"),
    ):
        for rows, limit in ((small, f" LIMIT {small}"), (ctx.rows, "")):
            query = f"SELECT * FROM {ctx.table}{limit}"
            contenders.append(
                Contender(f"{kind}, {rows:,} rows", _job(ctx, job, query=query, fetch_size=FETCH_SIZE))
            )
    for rows, limit in ((small, f" LIMIT {small}"), (ctx.rows, "")):
        query = f"SELECT * FROM {ctx.table}{limit}"
        job = peers.job(ctx, "memory.async_cassandra", query=query, fetch_size=FETCH_SIZE)
        contenders.append(Contender(f"{peers.ASYNC_CASSANDRA}: async for row in execute_stream, {rows:,} rows", job))
    await interleave(contenders, ctx.repetitions, warmup=False, log=ctx.log)
    result = ScenarioResult(
        "4",
        f"Memory flatness: iterate {small:,} vs {ctx.rows:,} rows, keeping none",
        ("peak RSS MB", "RSS growth MB", "rows/s", "CPU µs/row"),
        contenders,
        notes=[f"fetch_size {FETCH_SIZE}; peak RSS is VmHWM of a fresh process per measurement"],
    )
    for index, label in ((0, "execute_stream rows"), (2, "stream_frames chunks"), (4, "async-cassandra rows")):
        low, high = contenders[index].median("peak RSS MB"), contenders[index + 1].median("peak RSS MB")
        difference = None if low is None or high is None else high - low
        result.notes.append(
            f"{label}: peak RSS difference {'n/a' if difference is None else f'{difference:.1f} MB'}"
        )
        if index == 4:  # another library: reported, not a target of ours
            continue
        result.targets.append(
            Target(
                f"{label}: peak RSS, {ctx.rows:,} minus {small:,} rows",
                difference,
                30.0,
                higher_is_better=False,
                unit="MB",
            )
        )
    return [result]


async def run_stall(ctx: Context) -> list[ScenarioResult]:
    query = f"SELECT * FROM {ctx.table}"
    ctx.log(f"  6. 5 ms heartbeat while {ctx.rows:,} rows stream through each path (fresh process each)")
    contenders = [
        Contender(label, _job(ctx, "stall", query=query, fetch_size=FETCH_SIZE, via=via))
        for label, via in (
            ("cassnb: async for row in execute_stream (rows kept)", "rows"),
            ("cassnb: async for page in stream.pages() (pages kept)", "pages"),
            ("cassnb: async for df in stream_frames (chunks kept)", "frames"),
            (QUERY_DF, "query_df"),
        )
    ]
    await interleave(contenders, ctx.repetitions, warmup=False, log=ctx.log)
    result = ScenarioResult(
        "6",
        f"Event-loop stall: 5 ms heartbeat while {ctx.rows:,} rows stream through each path",
        ("largest gap ms", "p99 gap ms", "gaps > 20 ms", "rows/s"),
        contenders,
        notes=[
            "gap = time between two consecutive heartbeat wake-ups (so 5 ms means no stall at all); the "
            "table reports the median over runs of each run's largest gap",
        ],
    )
    for contender in contenders:
        result.targets.append(
            Target(
                f"{contender.name}: largest heartbeat gap",
                contender.median("largest gap ms"),
                20.0,
                higher_is_better=False,
                unit="ms",
            )
        )
    return [result]


def _later_gc(contender: Contender) -> str:
    figure = contender.figures.get("later full GC ms")
    if figure is None or not figure.samples:
        return "not measured"
    return f"median {figure.median:.0f} ms ({figure.median * 1000 / max(1, contender.median('rows') or 1):.2f} µs/row)"

"""Scenario 8: the table read by ``cassnb.dask.read_table`` with 1, 2 and 4 worker processes, against
``query_df`` and ``export_table`` (CSV, parallelism 4) on the same rows, in the same run.

Each measurement runs in a fresh interpreter. The dask contenders start their ``LocalCluster`` and read the
table once before the clock (the first read of a fresh cluster also pays for imports and for opening each
worker's session), then time ``read_table(...).map_partitions(len).sum().compute()``: every partition is
read and turned into a DataFrame on a worker, only the counts come back. ``work CPU s`` is the CPU of the
timed part alone, in every process that took part (the client and, for Dask, each worker, asked with
``client.run``); interpreter and worker start-up are left out, so CPU per row compares the work itself.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.bulk import FETCH_SIZE
from benchmarks.data import COLUMNS
from benchmarks.harness import Contender, Context, Figure, ScenarioResult, Target, interleave

WORKERS = (1, 2, 4)
SPLIT_SIZE_MB = 2.0  # the 200,000-row table is about 19 MB: about 10 partitions


async def run(ctx: Context) -> list[ScenarioResult]:
    ctx.log(f"  8. {ctx.rows:,} rows: dask read_table with {WORKERS} workers vs query_df and export_table")
    query = f"SELECT {COLUMNS} FROM {ctx.table}"
    with tempfile.TemporaryDirectory(prefix="cassnb-bench-") as name:
        path = Path(name) / "table.csv"

        def dask(workers: int) -> Contender:
            async def measure() -> dict[str, float]:
                spec = ctx.spec("dask.read", table=ctx.table, workers=workers, split_size_mb=SPLIT_SIZE_MB)
                return await ctx.in_subprocess(spec)

            return Contender(f"cassnb.dask read_table, {workers} worker process{'es' if workers > 1 else ''}",
                             measure)  # fmt: skip

        async def frames() -> dict[str, float]:
            return await ctx.in_subprocess(ctx.spec("frames.cassnb", query=query, fetch_size=FETCH_SIZE))

        async def export_table() -> dict[str, float]:
            spec = ctx.spec("export.cassnb", mode="table", query=query, table=ctx.table, path=str(path),
                            fetch_size=FETCH_SIZE, parallelism=4)  # fmt: skip
            try:
                return await ctx.in_subprocess(spec)
            finally:
                path.unlink(missing_ok=True)

        contenders = [
            Contender("cassnb query_df (one process)", frames),
            Contender("cassnb export_table -> csv (parallelism 4)", export_table),
            *(dask(workers) for workers in WORKERS),
        ]
        await interleave(contenders, ctx.repetitions, warmup=False, log=ctx.log)
    for contender in contenders:  # CPU per row, sample by sample
        rows, cpu = contender.figures.get("rows"), contender.figures.get("work CPU s")
        if rows is not None and cpu is not None:
            per_row = [c / r * 1e6 for c, r in zip(cpu.samples, rows.samples, strict=True) if r]
            contender.figures["work CPU us/row"] = Figure(per_row)
    result = ScenarioResult(
        "8",
        f"Scale-out: {ctx.rows:,} rows read by cassnb.dask, against query_df and export_table",
        ("rows/s", "seconds", "work CPU s", "work CPU us/row", "partitions"),
        contenders,
        notes=[
            "dask: LocalCluster(processes=True, threads_per_worker=1) started and the table read once before the "
            "clock (a fresh cluster's first read also pays for imports and sessions: about 1 s of CPU in the client "
            "and 1 s per worker); the timed part "
            "reads every partition into a DataFrame on the workers and brings back only their lengths",
            "work CPU: the timed part only, summed over the client and the workers; on a 2-core machine that "
            "also runs the server, more than 2 processes cannot add speed",
        ],
    )
    one, two = contenders[2].name, contenders[3].name
    scaling = result.ratio("read_table 2 workers / 1 worker", two, one, "rows/s")
    cpu = result.ratio("read_table (2 workers) CPU per row / query_df's", two, contenders[0].name, "work CPU us/row")
    result.targets += [
        Target("read_table rows/s, 2 worker processes vs 1", scaling, 1.0),
        Target(
            "read_table (2 workers) work CPU per row vs query_df's", cpu, 1.0, higher_is_better=False,
            unit="x (lower is better)",
        ),
    ]
    return [result]

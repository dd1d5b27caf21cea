"""Scenario 5: export the table to CSV and Parquet: cassnb ``export`` / ``export_table`` vs ``cqlsh COPY TO``.

cassnb runs in a fresh interpreter per measurement and is timed from the call to the finished file (the
connection is opened before the clock starts). ``cqlsh`` is timed by its own report ("N rows exported to
1 files in X seconds"), which likewise leaves out its start-up and connection; the whole command's wall
time is recorded next to it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bulk import FETCH_SIZE
from benchmarks.data import COLUMNS
from benchmarks.harness import Contender, Context, ScenarioResult, Target, Unavailable, interleave

PARALLELISM = 4
#: cqlsh COPY TO at its best on this machine: ``python -m benchmarks.tune_cqlsh`` tried NUMPROCESSES,
#: PAGESIZE and MAXREQUESTS (benchmarks/results/cqlsh_tuning.md) and this was the fastest.
CQLSH_OPTIONS = "NUMPROCESSES=2 AND PAGESIZE=5000 AND MAXREQUESTS=32"
CQLSH = f"cqlsh COPY TO (csv), tuned: {CQLSH_OPTIONS}"
_REPORT = re.compile(r"([\d,]+) rows exported to \d+ files? in (.*?) seconds", re.S)


def _cqlsh() -> str | None:
    beside = Path(sys.executable).with_name("cqlsh")
    return str(beside) if beside.exists() else shutil.which("cqlsh")


def _seconds(text: str) -> float:
    """cqlsh's duration: '0 day, 0 hour, 1 minutes, and 13.416' -> 73.416."""
    units = {"day": 86400, "hour": 3600, "minute": 60, "second": 1}
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)\s*(day|hour|minute|second)", text + " seconds"):
        total += float(number) * units[unit]
    return total


async def copy_to(host: str, port: int, table: str, directory: Path, options: str = "") -> dict[str, float]:
    """One ``cqlsh COPY TO`` of ``table`` into ``directory`` (``options``: its ``WITH`` clause, if any)."""
    executable = _cqlsh()
    if executable is None:
        raise Unavailable("cqlsh not installed (pip install cqlsh)")
    target = directory / "cqlsh.csv"
    command = f"COPY {table} ({COLUMNS}) TO '{target}'" + (f" WITH {options}" if options else "")
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        executable,
        host,
        str(port),
        "-e",
        command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    wall = time.perf_counter() - began
    text = out.decode(errors="replace")
    found = _REPORT.search(text)
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"cqlsh COPY TO failed (exit {process.returncode}): {text[-500:]}")
    rows = int(found.group(1).replace(",", ""))
    seconds = _seconds(found.group(2)) or wall
    target.unlink(missing_ok=True)
    return {"rows/s": rows / seconds, "rows": rows, "seconds": seconds, "command wall s": wall}


async def run(ctx: Context) -> list[ScenarioResult]:
    ctx.log(f"  5. export {ctx.rows:,} rows to CSV and Parquet")
    query = f"SELECT {COLUMNS} FROM {ctx.table}"
    with tempfile.TemporaryDirectory(prefix="cassnb-bench-") as name:
        directory = Path(name)

        def job(mode: str, suffix: str) -> Contender:
            label = "export (one stream)" if mode == "query" else f"export_table (parallelism {PARALLELISM})"
            path = directory / f"{mode}{suffix}"

            async def measure() -> dict[str, float]:
                spec = ctx.spec(
                    "export.cassnb",
                    mode=mode,
                    query=query,
                    table=ctx.table,
                    path=str(path),
                    fetch_size=FETCH_SIZE,
                    parallelism=PARALLELISM,
                )
                try:
                    return await ctx.in_subprocess(spec)
                finally:
                    path.unlink(missing_ok=True)

            return Contender(f"cassnb {label} -> {suffix.lstrip('.')}", measure)

        async def tuned_copy_to() -> dict[str, float]:
            return await copy_to(ctx.host, ctx.port, ctx.table, directory, CQLSH_OPTIONS)

        contenders = [
            job("query", ".csv"),
            job("table", ".csv"),
            Contender(CQLSH, tuned_copy_to),
            job("query", ".parquet"),
            job("table", ".parquet"),
        ]
        await interleave(contenders, ctx.repetitions, warmup=False, log=ctx.log)
    result = ScenarioResult(
        "5",
        f"Export {ctx.rows:,} rows to CSV and Parquet",
        ("rows/s", "seconds", "peak RSS MB", "command wall s"),
        contenders,
        notes=[
            "cassnb: timed from the export call to the finished file, connection already open; cqlsh: the "
            "time it reports itself (start-up and connection excluded), its whole command in "
            "'command wall s'",
            "cqlsh COPY TO has no Parquet output; the Parquet rows are for reference only",
        ],
    )
    single = result.ratio("export csv / cqlsh COPY TO", contenders[0].name, CQLSH, "rows/s")
    table = result.ratio(
        f"export_table csv (parallelism {PARALLELISM}) / cqlsh COPY TO", contenders[1].name, CQLSH, "rows/s"
    )
    result.targets += [
        Target("single-stream export (CSV) rows/s vs tuned cqlsh COPY TO", single, 3.0),
        Target(f"export_table (parallelism {PARALLELISM}, CSV) rows/s vs tuned cqlsh COPY TO", table, 4.0),
    ]
    return [result]

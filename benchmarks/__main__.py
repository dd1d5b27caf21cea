"""``python -m benchmarks [--quick] [--only 1,2,7] [--rows N]``: run the scenarios, write the report.

Needs a Cassandra server (default 127.0.0.1:9042; ``make server`` starts the local one). The data set is
loaded into the ``bench`` keyspace on first use and reused afterwards. Results go to
``benchmarks/results/latest.md`` and ``latest.json`` (``--quick`` writes ``quick.md`` / ``quick.json``
unless ``--output latest`` is given, so a smoke check never overwrites the real figures).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import bulk, export, lifecycle, point, scale
from benchmarks.data import ensure_loaded, wide_table
from benchmarks.harness import Context, ScenarioResult, environment, write_reports

Scenario = Callable[[Context], Awaitable[list[ScenarioResult]]]
SCENARIOS: dict[str, Scenario] = {
    "1": point.run_reads,
    "2": point.run_writes,
    "3": bulk.run_frames,
    "4": bulk.run_memory,
    "5": export.run,
    "6": bulk.run_stall,
    "7": lifecycle.run,
    "8": scale.run,
}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and one repetition: a smoke check")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers, e.g. 1,2,7")
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="rows of the bulk table (default 1,000,000; 50,000 with --quick)",
    )
    parser.add_argument(
        "--repetitions", type=int, default=None, help="rounds per scenario (default 5; 1 with --quick)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument(
        "--output",
        default=None,
        help="report file stem in benchmarks/results (default 'latest'; 'quick' with --quick)",
    )
    parser.add_argument(
        "--conditions", default="", help="a note on the run's conditions, printed in the report"
    )
    options = parser.parse_args(argv)
    wanted = [part.strip() for part in options.only.split(",") if part.strip()]
    unknown = [key for key in wanted if key not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    options.only = wanted or list(SCENARIOS)
    options.rows = options.rows or (50_000 if options.quick else 1_000_000)
    options.repetitions = options.repetitions or (1 if options.quick else 5)
    options.output = options.output or ("quick" if options.quick else "latest")
    return options


def _log(message: str) -> None:
    print(message, flush=True)


async def _main(options: argparse.Namespace) -> int:
    from cassnb import AsyncCluster

    _log(f"loading / checking the data set ({options.rows:,} rows) ...")
    loaded = await asyncio.to_thread(ensure_loaded, options.host, options.port, options.rows, _log)
    cluster = AsyncCluster([options.host], port=options.port)
    session = await cluster.connect()
    results: list[ScenarioResult] = []
    settings: dict[str, Any] = {
        "quick": options.quick,
        "rows": options.rows,
        "repetitions": options.repetitions,
        "scenarios": ",".join(options.only),
        "conditions": options.conditions or "not stated",
    }
    try:
        env = environment(session)
        env["data"] = loaded
        ctx = Context(
            session,
            options.host,
            options.port,
            options.rows,
            wide_table(options.rows),
            options.repetitions,
            options.quick,
            _log,
        )
        for key in options.only:
            began = time.perf_counter()
            _log(f"scenario {key}")
            try:
                results += await SCENARIOS[key](ctx)
            except Exception as exc:  # one broken scenario must not lose the others' figures
                _log(f"  scenario {key} failed: {type(exc).__name__}: {exc}")
                results.append(
                    ScenarioResult(key, f"scenario {key} failed: {type(exc).__name__}: {exc}", (), [])
                )
            _log(f"  ({time.perf_counter() - began:.0f} s)")
            write_reports(env, settings, results, options.output)  # keep what we have so far
    finally:
        await cluster.shutdown()
    markdown, data = write_reports(env, settings, results, options.output)
    _log(f"wrote {markdown} and {data}")
    for result in results:
        for target in result.targets:
            _log(f"  [{target.verdict:>12}] {result.key}: {target.text}: {target.value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    options = _parse(sys.argv[1:] if argv is None else argv)
    return asyncio.run(_main(options))


if __name__ == "__main__":
    sys.exit(main())

"""``python -m benchmarks.tune_cqlsh [--rows N]``: find cqlsh COPY TO's best settings for scenario 5.

cqlsh splits an export over NUMPROCESSES worker processes by token range, each with MAXREQUESTS requests
in flight of PAGESIZE rows. This tries a grid of the three on the bench table of ``--rows`` rows (a small
one: the ranking is what matters, and each full-size run takes about a minute), twice each, interleaved,
and writes ``benchmarks/results/cqlsh_tuning.md``. Put the winner in ``benchmarks.export.CQLSH_OPTIONS``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
from pathlib import Path

from benchmarks.data import ensure_loaded, wide_table
from benchmarks.export import copy_to
from benchmarks.harness import RESULTS

GRID = {"NUMPROCESSES": (1, 2, 4), "PAGESIZE": (1000, 5000), "MAXREQUESTS": (6, 32)}


async def _main(options: argparse.Namespace) -> None:
    await asyncio.to_thread(ensure_loaded, options.host, options.port, options.rows)
    table = wide_table(options.rows)
    settings = [" AND ".join(f"{k}={v}" for k, v in zip(GRID, values, strict=True))
                for values in itertools.product(*GRID.values())]  # fmt: skip
    rates: dict[str, list[float]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory(prefix="cassnb-cqlsh-") as name:
        for _ in range(options.rounds):
            for setting in settings:
                figures = await copy_to(options.host, options.port, table, Path(name), setting)
                rates[setting].append(figures["rows/s"])
                print(f"{setting}: {figures['rows/s']:,.0f} rows/s", flush=True)
    ranked = sorted(settings, key=lambda s: statistics.median(rates[s]), reverse=True)
    lines = [
        "# cqlsh COPY TO settings", "",
        f"{options.rows:,}-row bench table, {options.rounds} interleaved rounds per setting; median rows/s as "
        "cqlsh reports it. Scenario 5 uses the first row (`benchmarks.export.CQLSH_OPTIONS`).", "",
        "| settings | rows/s (median) | runs |", "| --- | --- | --- |",
        *(f"| {s} | {statistics.median(rates[s]):,.0f} | {', '.join(f'{r:,.0f}' for r in rates[s])} |" for s in ranked),
    ]  # fmt: skip
    (RESULTS / "cqlsh_tuning.md").write_text("\n".join(lines) + "\n")
    print(f"best: {ranked[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tune_cqlsh", description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9042)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()

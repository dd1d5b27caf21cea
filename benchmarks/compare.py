"""``python -m benchmarks.compare REF [--only 1,3] [--rows N] [--rounds 2]``: one commit against another.

Runs each scenario with cassnb as of ``REF`` (checked out in ``build/bench-base``) and with the working tree,
alternately in fresh processes, with the same benchmark code; then writes ``benchmarks/results/compare.md``
(or ``--output``): for every cassnb contender, head/base of its throughput and base/head of
its client CPU (so above 1.00 means head is faster, below 0.97 flags it as slower). Only cassnb's own
contenders are measured (``CASSNB_BENCH_CONTENDERS=cassnb``): the others do not change between two commits.

The order turns each round (base, head, head, base, base, head, ...): whichever side runs second runs on a
server still busy with the first side's reads, and with a fixed order that showed as a difference between
identical trees (``python -m benchmarks.compare HEAD`` read 0.89x client CPU on the one-stream CSV export).
Use an even ``--rounds`` so each side leads as often as the other.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
THROUGHPUT = ("ops/s", "rows/s")
LATENCY = ("total ms",)  # lower is better
CPU = "client CPU s"
SLOWER = 0.97


def _worktree(ref: str) -> Path:
    base = ROOT / "build" / "bench-base"
    if base.exists():
        subprocess.run(["git", "-C", str(base), "checkout", "-q", "--detach", ref], check=True)
    else:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base), ref], check=True)
    return base


def _run(cassnb_root: Path, scenario: str, options: argparse.Namespace, stem: str) -> dict[str, Any]:
    """One ``python -m benchmarks`` run importing cassnb from ``cassnb_root``; returns its JSON report."""
    with tempfile.TemporaryDirectory() as path:
        shim = Path(path)
        (shim / "cassnb").symlink_to(cassnb_root / "cassnb")
        (shim / "benchmarks").symlink_to(ROOT / "benchmarks")
        env = {**os.environ, "PYTHONPATH": str(shim), "CASSNB_BENCH_CONTENDERS": "cassnb"}
        command = [sys.executable, "-m", "benchmarks", "--only", scenario, "--repetitions", str(options.repetitions),
                   "--output", stem, "--port", str(options.port)]  # fmt: skip
        if options.rows:
            command += ["--rows", str(options.rows)]
        subprocess.run(command, check=True, cwd=path, env=env, stdout=subprocess.DEVNULL)
    data: dict[str, Any] = json.loads((RESULTS / f"{stem}.json").read_text())
    (RESULTS / f"{stem}.json").unlink()
    (RESULTS / f"{stem}.md").unlink()
    return data


def _figures(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """(scenario, cassnb contender) -> metric -> median, for cassnb's own contenders."""
    found: dict[tuple[str, str], dict[str, float]] = {}
    for scenario in report["scenarios"]:
        for name, contender in scenario["contenders"].items():
            if name.startswith("cassnb") and contender["figures"]:
                found[(scenario["key"], name)] = {m: f["median"] for m, f in contender["figures"].items()}
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("ref", help="the commit to compare against, e.g. main~5")
    parser.add_argument("--only", default="1,2,3,5,7", help="scenarios (default 1,2,3,5,7)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the bulk table (default 200,000)")
    parser.add_argument("--rounds", type=int, default=2, help="alternations per scenario (default 2)")
    parser.add_argument("--repetitions", type=int, default=2, help="repetitions inside each run (default 2)")
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument("--output", default="compare", help="results file stem (default compare)")
    options = parser.parse_args(argv)
    base_root = _worktree(options.ref)
    base_commit = subprocess.run(["git", "-C", str(base_root), "rev-parse", "--short", "HEAD"], check=True,
                                 capture_output=True, text=True).stdout.strip()  # fmt: skip
    head_commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=True,
                                 capture_output=True, text=True).stdout.strip()  # fmt: skip
    samples: dict[str, dict[tuple[str, str], dict[str, list[float]]]] = {"base": {}, "head": {}}
    for scenario in options.only.split(","):
        for round_number in range(options.rounds):
            sides = (("base", base_root), ("head", ROOT))
            for side, root in sides if round_number % 2 == 0 else reversed(sides):
                print(f"scenario {scenario}, round {round_number + 1}: {side}", flush=True)
                report = _run(root, scenario, options, f"compare-{side}")
                for key, figures in _figures(report).items():
                    for metric, value in figures.items():
                        samples[side].setdefault(key, {}).setdefault(metric, []).append(value)
    lines = [
        f"# {head_commit} (working tree) against {base_commit}",
        "",
        f"Scenarios {options.only}, {options.rows:,} rows, {options.rounds} alternations (the side that runs first "
        f"turns each round) x {options.repetitions} repetitions; medians. "
        "speed = head/base throughput; CPU = base/head client CPU for the same work "
        f"(above 1.00: head faster; below {SLOWER:.2f}: **slower**).",
        "",
        "| scenario | contender | base | head | speed | base CPU s | head CPU s | CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    worst = float("inf")
    for key in samples["head"]:
        head, base = samples["head"][key], samples["base"].get(key, {})
        metric = next((m for m in THROUGHPUT + LATENCY if m in head and m in base), None)
        if metric is None or CPU not in head or CPU not in base:
            continue
        b, h = statistics.median(base[metric]), statistics.median(head[metric])
        bc, hc = statistics.median(base[CPU]), statistics.median(head[CPU])
        speed, cpu = (b / h if metric in LATENCY else h / b), bc / hc
        worst = min(worst, cpu)
        flag = lambda ratio: f"**{ratio:.2f}x**" if ratio < SLOWER else f"{ratio:.2f}x"  # noqa: E731
        lines.append(f"| {key[0]} | {key[1]} | {b:,.4g} {metric} | {h:,.4g} | {flag(speed)} | {bc:.3g} | {hc:.3g} | "
                     f"{flag(cpu)} |")  # fmt: skip
    lines += ["", f"Lowest CPU ratio: {worst:.2f}x."]
    out = RESULTS / f"{options.output}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

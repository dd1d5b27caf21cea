"""What every scenario shares: interleaved repetitions, medians and spreads, targets, and the report files.

A scenario names its contenders and hands each one an async ``run()`` that performs one measurement and
returns its figures (``{"ops/s": ..., "p99 ms": ...}``). :func:`interleave` runs them A B C A B C ... so
that drift on a shared machine (another process waking up, the server compacting) lands on every contender
alike, after one discarded warm-up run each. A contender that cannot run here (a module not written yet, a
tool not installed) raises :class:`Unavailable` and is reported as such instead of failing the run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


class Unavailable(Exception):
    """This contender cannot run here; the message says why (and how to make it available)."""


# ------------------------------------------------------------------------------ figures
@dataclass
class Figure:
    """The samples of one metric of one contender, in the order they were taken."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: how far apart the repetitions were, as a fraction of the median."""
        if len(self.samples) < 2 or self.median == 0:
            return 0.0
        return (max(self.samples) - min(self.samples)) / abs(self.median)

    def to_json(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": min(self.samples),
            "max": max(self.samples),
            "spread": round(self.spread, 4),
            "samples": self.samples,
        }


@dataclass
class Contender:
    name: str
    run: Callable[[], Awaitable[dict[str, float]]]
    figures: dict[str, Figure] = field(default_factory=dict)
    unavailable: str | None = None
    notes: list[str] = field(default_factory=list)

    def median(self, metric: str) -> float | None:
        figure = self.figures.get(metric)
        return figure.median if figure is not None and figure.samples else None


@dataclass
class Target:
    """A goal of the issue: ``value`` compared against ``threshold``; ``None`` value means "not measured"."""

    text: str
    value: float | None
    threshold: float
    higher_is_better: bool = True
    unit: str = "x"

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.threshold if self.higher_is_better else self.value < self.threshold

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: "not measured"}[self.met]

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "value": self.value,
            "threshold": self.threshold,
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
            "met": self.met,
        }


@dataclass
class Ratio:
    name: str
    metric: str
    value: float | None


@dataclass
class ScenarioResult:
    key: str  # "1a", "3", ... (stable, used by --only)
    title: str
    metrics: Sequence[str]
    contenders: list[Contender]
    ratios: list[Ratio] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def contender(self, name: str) -> Contender:
        return next(c for c in self.contenders if c.name == name)

    def ratio(
        self, name: str, numerator: str, denominator: str, metric: str, invert: bool = False
    ) -> float | None:
        """Record ``numerator / denominator`` of the metric's medians (inverted for lower-is-better ones)."""
        top, bottom = self.contender(numerator).median(metric), self.contender(denominator).median(metric)
        value = None
        if top is not None and bottom is not None and top > 0 and bottom > 0:
            value = bottom / top if invert else top / bottom
        self.ratios.append(Ratio(name, metric, value))
        return value


CPU_METRIC = "client CPU s"


def _cpu_seconds() -> float:
    """CPU used by this process and by the child processes it has waited for."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def interleave(
    contenders: Sequence[Contender],
    repetitions: int,
    *,
    warmup: bool = True,
    log: Callable[[str], None] = print,
    operations: tuple[int, str] | None = None,
) -> None:
    """Run the contenders A B C A B C ..., ``repetitions`` rounds, after one discarded warm-up round.

    ``operations=(count, unit)`` adds ``CPU µs/<unit>``: the run's client CPU over ``count`` operations,
    unless the contender measured it itself (a worker process that leaves out its start-up)."""
    rounds = ([False] if warmup else []) + [True] * repetitions
    only = os.environ.get("CASSNB_BENCH_CONTENDERS")  # a name prefix: benchmarks.compare measures cassnb's own
    for contender in contenders:
        if only and not contender.name.startswith(only):
            contender.unavailable = f"not measured in this run (CASSNB_BENCH_CONTENDERS={only})"
    for number, keep in enumerate(rounds):
        for contender in contenders:
            if contender.unavailable is not None:
                continue
            cpu_started = _cpu_seconds()
            try:
                sample = await contender.run()
            except Unavailable as exc:
                contender.unavailable = str(exc)
                log(f"    {contender.name}: not available ({exc})")
                continue
            # The client's CPU for the run: this process (driver threads included) and the workers it waited
            # for (bulk scenarios measure in a fresh interpreter); the server is another process. Stable on a
            # busy machine where wall time is not.
            sample = {**sample, CPU_METRIC: _cpu_seconds() - cpu_started}
            if operations is not None:
                count, unit = operations
                sample.setdefault(f"CPU µs/{unit}", sample[CPU_METRIC] / count * 1e6)
            label = f"round {number}" if keep else "warm-up"
            log(f"    {contender.name} [{label}]: " + ", ".join(f"{k} {v:,.4g}" for k, v in sample.items()))
            if keep:
                for metric, value in sample.items():
                    contender.figures.setdefault(metric, Figure()).samples.append(value)


# ------------------------------------------------------------------------------ machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment(session: Any | None) -> dict[str, Any]:
    """Machine, interpreter, library and server versions, and how loaded the machine was at the start."""
    memory = None
    try:
        import psutil

        memory = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        from cassandra.cython_deps import HAVE_CYTHON
    except ImportError:
        HAVE_CYTHON = False
    server = None
    if session is not None:
        try:
            server = session.driver_session.execute("SELECT release_version FROM system.local").one()[0]
        except Exception as exc:
            server = f"unknown ({type(exc).__name__})"
    from cassandra.cluster import DefaultConnection

    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name)
            for name in ("cassnb", "cassandra-driver", "pandas", "numpy", "pyarrow", "cqlsh")
        },
        "driver_cython": bool(HAVE_CYTHON),
        "driver_connection": DefaultConnection.__name__,
        "cassandra": server,
        "git": _git_revision(),
    }


def _git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain", "cassnb"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + (" + uncommitted changes in cassnb/" if dirty.stdout.strip() else "")


# ------------------------------------------------------------------------------ report
def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if unit == "x":
        return f"{value:.2f}x"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(contender: Contender, metric: str) -> str:
    figure = contender.figures.get(metric)
    if figure is None or not figure.samples:
        return "—"
    spread = f" ±{figure.spread * 50:.0f}%" if len(figure.samples) > 1 else ""
    return f"{_number(figure.median)}{spread}"


def render_markdown(env: dict[str, Any], options: dict[str, Any], results: Sequence[ScenarioResult]) -> str:
    lines = [
        "# cassnb benchmark results",
        "",
        f"Run {env['date']} on `{env['host']}`: {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB; "
        f"load average at start {env['load_average_at_start']}.",
        f"Python {env['python']}, cassandra-driver {env['versions']['cassandra-driver']} "
        f"(Cython: {env['driver_cython']}, {env['driver_connection']}), pandas {env['versions']['pandas']}, "
        f"numpy {env['versions']['numpy']}, pyarrow {env['versions']['pyarrow']}, "
        f"cqlsh {env['versions']['cqlsh']}; "
        f"Apache Cassandra {env['cassandra']} on the same machine; cassnb at {env['git']}.",
        f"Options: {options}.",
        "",
        "Each figure is the median of the interleaved repetitions; ±N% is half the spread (max - min) as a "
        "share of "
        "the median. Ratios divide medians. Targets come from the benchmark issue.",
        "",
        "## Targets",
        "",
        "| scenario | target | measured | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for result in results:
        for target in result.targets:
            bound = ("≥ " if target.higher_is_better else "< ") + _number(target.threshold, target.unit)
            if target.unit not in ("x", ""):
                bound += f" {target.unit}"
            measured = _number(target.value, target.unit)
            if target.value is not None and target.unit not in ("x", ""):
                measured += f" {target.unit}"
            lines.append(f"| {result.key} | {target.text} ({bound}) | {measured} | {target.verdict} |")
    for result in results:
        lines += ["", f"## {result.key}. {result.title}", ""]
        lines.append("| contender | " + " | ".join(result.metrics) + " |")
        lines.append("| --- |" + " --- |" * len(result.metrics))
        for contender in result.contenders:
            if contender.unavailable is not None:
                lines.append(
                    f"| {contender.name} | not available: {contender.unavailable} |"
                    + " |" * (len(result.metrics) - 1)
                )
                continue
            lines.append(
                f"| {contender.name} | " + " | ".join(_cell(contender, m) for m in result.metrics) + " |"
            )
        if result.ratios:
            lines.append("")
            for ratio in result.ratios:
                lines.append(f"- {ratio.name} ({ratio.metric}): {_number(ratio.value, 'x')}")
        notes = list(result.notes) + [f"{c.name}: {n}" for c in result.contenders for n in c.notes]
        if notes:
            lines.append("")
            lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def to_json(
    env: dict[str, Any], options: dict[str, Any], results: Sequence[ScenarioResult]
) -> dict[str, Any]:
    return {
        "environment": env,
        "options": options,
        "scenarios": [
            {
                "key": r.key,
                "title": r.title,
                "contenders": {
                    c.name: {
                        "unavailable": c.unavailable,
                        "notes": c.notes,
                        "figures": {m: f.to_json() for m, f in c.figures.items() if f.samples},
                    }
                    for c in r.contenders
                },
                "ratios": [{"name": x.name, "metric": x.metric, "value": x.value} for x in r.ratios],
                "targets": [t.to_json() for t in r.targets],
                "notes": r.notes,
            }
            for r in results
        ],
    }


def write_reports(
    env: dict[str, Any], options: dict[str, Any], results: Sequence[ScenarioResult], stem: str = "latest"
) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    markdown, data = RESULTS / f"{stem}.md", RESULTS / f"{stem}.json"
    markdown.write_text(render_markdown(env, options, results))
    data.write_text(json.dumps(to_json(env, options, results), indent=2, default=str) + "\n")
    return markdown, data


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


# ------------------------------------------------------------------------------ context
@dataclass
class Context:
    """What a scenario gets: the shared cassnb session, the data set, sizes and repetitions, and a logger."""

    session: Any  # cassnb.AsyncSession, shared by the in-process scenarios
    host: str
    port: int
    rows: int
    table: str
    repetitions: int
    quick: bool
    log: Callable[[str], None] = print

    def spec(self, job: str, **arguments: Any) -> dict[str, Any]:
        return {"job": job, "host": self.host, "port": self.port, **arguments}

    async def in_subprocess(
        self, spec: dict[str, Any], limit: float = 1800.0, command: Sequence[str] | None = None
    ) -> dict[str, float]:
        """Run one measurement in a fresh interpreter (:mod:`benchmarks.worker` unless ``command`` names
        another program, such as the peers' worker); return its figures.

        A worker that fails (for example a request timing out while the one local server compacts) is run
        once more, and the retry is logged; a second failure fails the scenario."""
        try:
            return await self._in_subprocess(spec, limit, command)
        except RuntimeError as failure:
            self.log(f"    {spec['job']} failed, running it once more: {str(failure).splitlines()[-1]}")
            return await self._in_subprocess(spec, limit, command)

    async def _in_subprocess(
        self, spec: dict[str, Any], limit: float, command: Sequence[str] | None
    ) -> dict[str, float]:
        import asyncio

        process = await asyncio.create_subprocess_exec(
            *(command or (sys.executable, "-m", "benchmarks.worker")),
            json.dumps(spec),
            cwd=Path(__file__).parent.parent,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), limit)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(f"worker {spec['job']} took longer than {limit:.0f} s") from None
        lines = out.decode().strip().splitlines()
        if process.returncode != 0 or not lines:
            tail = "\n".join(err.decode().strip().splitlines()[-15:])
            raise RuntimeError(f"worker {spec['job']} failed (exit {process.returncode}):\n{tail}")
        figures: dict[str, Any] = json.loads(lines[-1])
        if "unavailable" in figures:
            raise Unavailable(figures["unavailable"])
        return figures

"""Where do event-loop stalls come from while a large result streams? ``python -m benchmarks.stall_study``.

Each variant streams the bulk table in a fresh interpreter under a 5 ms asyncio heartbeat and records, next
to the heartbeat's gaps, every candidate cause separately:

* **thread gaps** — a plain thread sleeping 1 ms in a loop: when it cannot run for a long time, some thread
  held the GIL in one piece (C code does not give it up at the switch interval);
* **decode** — the driver's ``decode_message`` per response (Cython, on the driver's I/O thread);
* **row factory** — the driver's ``tuple_factory`` / ``named_tuple_factory`` per page (same thread);
* **GC** — every collection of the cyclic garbage collector (``gc.callbacks``), with its generation;
* **consumer** — the work done on the event loop per page (nothing, per-row iteration, FrameBuilder), and
  the final ``concat`` when there is one;
* **the kernel's view of the loop thread** during the worst gap (``/proc/thread-self/schedstat``): time on
  a CPU, and time runnable but waiting for a CPU that another process had. On a shared two-core machine
  the second one is often most of a long gap, and no change in cassnb can remove it.

Varied: fetch size, tuple vs named-tuple rows, the consumer, ``sys.setswitchinterval`` and the collector
(on / off after ``gc.freeze()``), plus two prototypes of a fix (see :func:`_consume`).
Results: ``benchmarks/results/stall_study_<rows>k.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

Spec = dict[str, Any]


class _Probe:
    """Timing records from every instrumented place, as (start, duration) pairs in seconds."""

    def __init__(self) -> None:
        self.decode: list[tuple[float, float]] = []
        self.factory: list[tuple[float, float]] = []
        self.gc: list[tuple[float, float, int]] = []
        self.consumer: list[tuple[float, float]] = []
        self.concat = (0.0, 0.0)
        self.kept: list[Any] = []  # wall and loop-thread CPU seconds of the final concat
        self.loop_gaps: list[tuple[float, float]] = []
        self.thread_gaps: list[tuple[float, float]] = []
        self._gc_started = (0.0, 0.0)

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if phase == "start":
            self._gc_started = (now, cpu)
        else:
            began, began_cpu = self._gc_started
            self.gc.append((began, now - began, cpu - began_cpu, info["generation"]))


def _instrument(probe: _Probe, driver_session: Any) -> None:
    import cassandra.query as query

    base = driver_session.client_protocol_handler

    class TimedHandler(base):  # type: ignore[misc, valid-type]
        @classmethod
        def decode_message(cls, *args: Any) -> Any:
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                return super().decode_message(*args)
            finally:
                probe.decode.append((began, time.perf_counter() - began, time.thread_time() - cpu))

    driver_session.client_protocol_handler = TimedHandler

    def timed(factory: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(names: Any, rows: Any) -> Any:
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                return factory(names, rows)
            finally:
                probe.factory.append((began, time.perf_counter() - began, time.thread_time() - cpu))

        return wrapper

    # cassnb looks the factories up when it first builds a profile for a row format, so patch them first.
    query.tuple_factory = timed(query.tuple_factory)
    query.named_tuple_factory = timed(query.named_tuple_factory)


def _thread_heartbeat(probe: _Probe, stop: threading.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        probe.thread_gaps.append((last, now - last))
        last = now


async def _consume(spec: Spec, session: Any, probe: _Probe) -> int:
    """Stream the query and do the consumer's per-page work; return the row count."""
    from benchmarks import prototypes

    if spec.get("gc") in ("deferred", "deferred+freeze"):
        async with prototypes.deferred_full_collections(freeze=spec["gc"] == "deferred+freeze"):
            return await _consume_pages(spec, session, probe)
    return await _consume_pages(spec, session, probe)


async def _consume_pages(spec: Spec, session: Any, probe: _Probe) -> int:
    from benchmarks import prototypes
    from cassnb import RowFormat, StreamConfig
    from cassnb._frames import FrameBuilder

    row_format = RowFormat.TUPLE if spec["rows"] == "tuple" else RowFormat.NAMED_TUPLE
    consumer = spec["consumer"]
    config = StreamConfig(fetch_size=spec["fetch_size"])
    count, frames, builder = 0, [], None
    async with session.execute_stream(spec["query"], stream_config=config, row_format=row_format) as stream:
        if consumer == "rows":
            began, cpu = time.perf_counter(), time.thread_time()
            async for _row in stream:
                if stream._position == 1:  # first row of a page: the wait for the page is behind us
                    began, cpu = time.perf_counter(), time.thread_time()
                count += 1
                if stream._position == len(stream._rows):  # end of a page: the loop may switch now
                    probe.consumer.append((began, time.perf_counter() - began, time.thread_time() - cpu))
            return count
        async for page in stream.pages():
            began, cpu = time.perf_counter(), time.thread_time()
            count += len(page.rows)
            if consumer.startswith("frames"):
                builder = builder or FrameBuilder(page.column_names, page.column_types)
                if consumer == "frames-thread":
                    # Prototype of a fix: convert the page off the loop (the conversion is mostly numpy and
                    # pandas work in C, so the loop gets the GIL back between its pieces).
                    frames.append(await asyncio.to_thread(builder.frame, page.rows))
                else:
                    frames.append(builder.frame(page.rows))
            if spec.get("gc", "").startswith("deferred"):
                prototypes.collect_young()
            probe.consumer.append((began, time.perf_counter() - began, time.thread_time() - cpu))
    if builder is not None and spec.get("concat", True):
        began, cpu = time.perf_counter(), time.thread_time()
        if consumer == "frames-thread":
            frame = await asyncio.to_thread(builder.concat, frames)
        elif spec.get("concat") == "columns":
            frame = await prototypes.concat_by_column(builder, frames)
        else:
            frame = builder.concat(frames)
        probe.concat = (time.perf_counter() - began, time.thread_time() - cpu)
        assert len(frame) == count
        # Keep the result alive past the measurement: a caller of query_df keeps its frame, and freeing a
        # million UUID and str objects on the loop would otherwise show up as a stall of the read itself.
        probe.kept += [frame, frames]
    return count


def _worst(records: list[tuple[float, ...]], field: int = 1) -> float:
    return max((r[field] for r in records), default=0.0) * 1000


def _overlaps(gap: tuple[float, float], records: list[tuple[float, ...]]) -> float:
    """Milliseconds of ``records`` that fall inside the ``gap`` (start, duration)."""
    start, end = gap[0], gap[0] + gap[1]
    return sum(max(0.0, min(end, r[0] + r[1]) - max(start, r[0])) for r in records) * 1000


async def run_variant(spec: Spec) -> dict[str, Any]:
    from benchmarks.worker import _cassnb_session

    if spec.get("switch"):
        sys.setswitchinterval(spec["switch"])
    import cassnb._frames  # noqa: F401 - imports pandas: not inside the measured window

    probe = _Probe()
    cluster, session = await _cassnb_session(spec)
    _instrument(probe, session.driver_session)
    if spec.get("gc") == "off":
        gc.collect()
        gc.freeze()
        gc.disable()
    gc.callbacks.append(probe.on_gc)
    stop_thread, finished = threading.Event(), asyncio.Event()
    ticker = threading.Thread(target=_thread_heartbeat, args=(probe, stop_thread), daemon=True)

    async def heartbeat() -> None:
        # Each gap also records what the loop thread did meanwhile, from the kernel's per-thread accounting:
        # nanoseconds on a CPU and nanoseconds runnable but waiting for one (another process had it).
        # The rest of the gap the thread was blocked: in its 5 ms sleep, or waiting for the GIL.
        with open("/proc/thread-self/schedstat") as stats:  # noqa: ASYNC230 - procfs: never blocks
            last, (ran, waited) = time.perf_counter(), map(int, stats.read().split()[:2])
            while not finished.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                stats.seek(0)
                ran_now, waited_now = map(int, stats.read().split()[:2])
                probe.loop_gaps.append((last, now - last, (ran_now - ran) / 1e9, (waited_now - waited) / 1e9))
                last, ran, waited = now, ran_now, waited_now

    ticker.start()
    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.02)
    began = time.perf_counter()
    try:
        rows = await _consume(spec, session, probe)
    finally:
        elapsed = time.perf_counter() - began
        finished.set()
        await beat
        stop_thread.set()
        ticker.join()
        gc.callbacks.remove(probe.on_gc)
        gc.enable()
        await cluster.shutdown()
    worst_gap = max(probe.loop_gaps, key=lambda g: g[1])
    return {
        "rows/s": rows / elapsed,
        "loop gap max ms": worst_gap[1] * 1000,
        "loop gaps > 20 ms": sum(1 for g in probe.loop_gaps if g[1] > 0.020),
        "worst gap: loop thread on CPU ms": worst_gap[2] * 1000,
        "worst gap: loop thread waiting for a CPU ms": worst_gap[3] * 1000,
        "thread gap max ms": _worst(probe.thread_gaps),
        "decode max ms": _worst(probe.decode),
        "decode max CPU ms": _worst(probe.decode, 2),
        "factory max ms": _worst(probe.factory),
        "factory max CPU ms": _worst(probe.factory, 2),
        "consumer max ms": _worst(probe.consumer),
        "consumer max CPU ms": _worst(probe.consumer, 2),
        "concat ms": probe.concat[0] * 1000,
        "concat CPU ms": probe.concat[1] * 1000,
        "GC max ms": _worst(probe.gc),
        "GC max CPU ms": _worst(probe.gc, 2),
        "GC gen2 runs": sum(1 for g in probe.gc if g[3] == 2),
        "GC total ms": sum(g[1] for g in probe.gc) * 1000,
        "load average": os.getloadavg()[0],
        # What happened during the single worst loop gap:
        "worst gap: decode ms": _overlaps(worst_gap, probe.decode),
        "worst gap: factory ms": _overlaps(worst_gap, probe.factory),
        "worst gap: consumer ms": _overlaps(worst_gap, probe.consumer),
        "worst gap: GC ms": _overlaps(worst_gap, probe.gc),
    }


JOBS = {"study.variant": run_variant}

#: (label, spec overrides). The baseline is the library's default: fetch 5000, named tuples, frames per page.
VARIANTS: list[tuple[str, Spec]] = [
    ("rows=tuple, drain pages (no consumer work)", {"rows": "tuple", "consumer": "drain"}),
    ("rows=named, drain pages", {"rows": "named", "consumer": "drain"}),
    ("rows=named, async for row", {"rows": "named", "consumer": "rows"}),
    (
        "rows=tuple, FrameBuilder per page, no concat",
        {"rows": "tuple", "consumer": "frames", "concat": False},
    ),
    ("rows=tuple, FrameBuilder per page + concat", {"rows": "tuple", "consumer": "frames"}),
    ("  same, fetch_size 500", {"rows": "tuple", "consumer": "frames", "fetch_size": 500}),
    ("  same, fetch_size 1000", {"rows": "tuple", "consumer": "frames", "fetch_size": 1000}),
    ("  same, fetch_size 2000", {"rows": "tuple", "consumer": "frames", "fetch_size": 2000}),
    ("  same, switchinterval 1 ms", {"rows": "tuple", "consumer": "frames", "switch": 0.001}),
    ("  same, gc.freeze() + gc.disable()", {"rows": "tuple", "consumer": "frames", "gc": "off"}),
    ("  prototype: frame + concat in asyncio.to_thread", {"rows": "tuple", "consumer": "frames-thread"}),
    ("  prototype: column-wise concat", {"rows": "tuple", "consumer": "frames", "concat": "columns"}),
    ("  prototype: full collections deferred", {"rows": "tuple", "consumer": "frames", "gc": "deferred"}),
    (
        "  prototype: deferred + column-wise concat",
        {"rows": "tuple", "consumer": "frames", "gc": "deferred", "concat": "columns"},
    ),
    (
        "  prototype: deferred + frame/concat in to_thread",
        {"rows": "tuple", "consumer": "frames-thread", "gc": "deferred"},
    ),
    (
        "  prototype: deferred + to_thread + gc.freeze() at the end",
        {"rows": "tuple", "consumer": "frames-thread", "gc": "deferred+freeze"},
    ),
    (
        "  prototype: deferred + column-wise, fetch_size 2000",
        {"rows": "tuple", "consumer": "frames", "gc": "deferred", "concat": "columns", "fetch_size": 2000},
    ),
]

COLUMNS = (
    "rows/s",
    "loop gap max ms",
    "loop gaps > 20 ms",
    "worst gap: loop thread on CPU ms",
    "worst gap: loop thread waiting for a CPU ms",
    "worst gap: decode ms",
    "worst gap: factory ms",
    "worst gap: consumer ms",
    "worst gap: GC ms",
    "thread gap max ms",
    "decode max ms",
    "decode max CPU ms",
    "factory max CPU ms",
    "consumer max ms",
    "consumer max CPU ms",
    "concat ms",
    "concat CPU ms",
    "GC max ms",
    "GC max CPU ms",
    "GC gen2 runs",
    "load average",
)


async def _study(options: argparse.Namespace) -> None:
    import statistics

    from benchmarks.data import ensure_loaded, wide_table
    from benchmarks.harness import Context, environment

    await asyncio.to_thread(ensure_loaded, options.host, options.port, options.table_rows, print)
    query = f"SELECT * FROM {wide_table(options.table_rows)} LIMIT {options.rows}"
    ctx = Context(None, options.host, options.port, options.rows, wide_table(options.table_rows), 1, False)
    chosen = [int(x) - 1 for x in options.variants.split(",") if x.strip()] or range(len(VARIANTS))
    variants = [VARIANTS[i] for i in chosen]
    samples: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in variants}
    for repetition in range(options.repetitions):  # interleaved: every variant once per round
        for label, overrides in variants:
            spec = ctx.spec("study.variant", **{"query": query, "fetch_size": 5000, **overrides})
            figures = await ctx.in_subprocess(spec)
            samples[label].append(figures)
            print(
                f"[{repetition}] {label}: " + ", ".join(f"{k} {figures[k]:.4g}" for k in COLUMNS), flush=True
            )
    medians = {
        label: {k: statistics.median(s[k] for s in runs) for k in COLUMNS} for label, runs in samples.items()
    }
    lines = [
        f"# Event-loop stall study: {options.rows:,} rows, 5 ms heartbeat",
        "",
        f"{environment(None)['date']}, load average at start {environment(None)['load_average_at_start']}; "
        f"median of {options.repetitions} interleaved runs per variant, each in a fresh process. "
        "Times in ms. 'worst gap: X' = how much of the single largest heartbeat gap X was running.",
        "",
        "| variant | " + " | ".join(COLUMNS) + " |",
        "| --- |" + " --- |" * len(COLUMNS),
    ]
    for label, row in medians.items():
        lines.append(
            f"| {label.strip()} | "
            + " | ".join(f"{row[k]:,.0f}" if k == "rows/s" else f"{row[k]:.1f}" for k in COLUMNS)
            + " |"
        )
    _write(lines, {"rows": options.rows, "samples": samples})
    print("\n".join(lines))


def _write(lines: list[str], data: dict[str, Any]) -> None:
    from benchmarks.harness import RESULTS

    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"stall_study_{data['rows'] // 1000}k"
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stall_study",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=200_000, help="rows streamed per variant")
    parser.add_argument("--table-rows", type=int, default=1_000_000, help="which bench table to read from")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument(
        "--variants", default="", help="comma-separated variant numbers (1-based); default all"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9042)
    asyncio.run(_study(parser.parse_args()))


if __name__ == "__main__":
    main()

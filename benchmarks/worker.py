"""One measurement in a fresh interpreter: ``python -m benchmarks.worker '<json spec>'``.

Resident memory is a property of the whole process, so peak RSS is only honest when each measurement has a
process of its own. The same goes for garbage-collector pauses (they grow with everything the process holds)
and so for the event-loop stall. The spec names a job and its arguments; the last line printed is a JSON
object of figures (or ``{"unavailable": reason}``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

Spec = dict[str, Any]


class Unavailable(Exception):
    pass


def rss_mb() -> float:
    """Current resident set size in MiB (from /proc, so no psutil needed)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """This process's peak RSS in MiB: ``VmHWM``, which starts afresh at exec. (``ru_maxrss`` does not: a
    process started by a large parent reports at least the parent's RSS at the fork.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def frame_mb(frame: Any) -> tuple[float, float]:
    """The frame's size in MiB: pandas' deep count, and that count plus the 128-bit int each ``uuid.UUID`` cell
    points to (pandas counts an object cell by ``sys.getsizeof``, which leaves out the objects it refers to)."""
    counted = float(frame.memory_usage(deep=True, index=True).sum())
    ints = 0
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            ints += sum(sys.getsizeof(value.int) for value in column if isinstance(value, uuid.UUID))
    return counted / 2**20, (counted + ints) / 2**20


def _memory_figures(baseline: float, frame: Any | None = None) -> dict[str, float]:
    peak = peak_rss_mb()
    figures = {"peak RSS MB": peak, "RSS growth MB": peak - baseline}
    if frame is not None:
        counted, size = frame_mb(frame)
        figures["pandas MB"] = counted
        figures["frame MB"] = size
        figures["growth / frame"] = (peak - baseline) / size if size else float("nan")
        # What the process still holds with the frame alive once the read is over: the frame as it lies in
        # memory, with the allocator's own overhead.
        held = rss_mb() - baseline
        figures["held MB"] = held
        figures["growth / held"] = (peak - baseline) / held if held > 0 else float("nan")
    return figures


# ------------------------------------------------------------------------------ sessions
async def _cassnb_session(spec: Spec) -> tuple[Any, Any]:
    from cassnb import AsyncCluster

    cluster = AsyncCluster([spec["host"]], port=spec["port"])
    session = await cluster.connect()
    return cluster, session


def _driver_session(spec: Spec, row_factory: Any = None) -> tuple[Any, Any]:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile

    profiles = {}
    if row_factory is not None:
        profiles[EXEC_PROFILE_DEFAULT] = ExecutionProfile(row_factory=row_factory)
    cluster = Cluster([spec["host"]], port=spec["port"], protocol_version=5, execution_profiles=profiles)
    return cluster, cluster.connect()


def _import_query_df() -> Any:
    try:
        from cassnb.frames import query_df
    except ImportError as exc:
        raise Unavailable(f"cassnb.frames.query_df cannot be imported ({exc})") from None
    return query_df


def _import_export(name: str) -> Any:
    try:
        import cassnb.exports as module
    except ImportError as exc:
        raise Unavailable(f"cassnb.exports cannot be imported ({exc})") from None
    function = getattr(module, name, None)
    if function is None:
        raise Unavailable(f"cassnb.exports.{name} is not written yet")
    return function


# ------------------------------------------------------------------------------ 3: frames
async def frames_cassnb(spec: Spec) -> dict[str, float]:
    query_df = _import_query_df()
    cluster, session = await _cassnb_session(spec)
    try:
        gc.collect()
        baseline = rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        frame = await query_df(session, spec["query"], fetch_size=spec["fetch_size"], progress=False)
        elapsed, used = time.perf_counter() - started, time.process_time() - cpu
        # query_df defers the collector's full passes to after the read; the pass that follows is its cost
        collect_started = time.process_time()
        gc.collect()
        return {
            "rows/s": len(frame) / elapsed,
            "rows": len(frame),
            "seconds": elapsed,
            "work CPU s": used,
            "CPU µs/row": used / len(frame) * 1e6,
            "later full GC ms": (time.process_time() - collect_started) * 1000,
            **_memory_figures(baseline, frame),
        }
    finally:
        await cluster.shutdown()


def frames_driver_tuples(spec: Spec) -> dict[str, float]:
    """The driver's own paging under ``tuple_factory``, every page kept, then one ``DataFrame`` build."""
    import pandas as pd
    from cassandra.query import SimpleStatement, tuple_factory

    cluster, session = _driver_session(spec, tuple_factory)
    try:
        gc.collect()
        baseline = rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        result = session.execute(SimpleStatement(spec["query"], fetch_size=spec["fetch_size"]))
        rows = list(result.current_rows)
        while result.has_more_pages:
            result.fetch_next_page()
            rows.extend(result.current_rows)
        frame = pd.DataFrame(rows, columns=result.column_names)
        elapsed = time.perf_counter() - started
        del rows
        return {
            "rows/s": len(frame) / elapsed,
            "rows": len(frame),
            "seconds": elapsed,
            "CPU µs/row": (time.process_time() - cpu) / len(frame) * 1e6,
            **_memory_figures(baseline, frame),
        }
    finally:
        cluster.shutdown()


def frames_named_tuples(spec: Spec) -> dict[str, float]:
    """The common recipe: iterate the driver's default named-tuple rows into a list, then ``DataFrame``."""
    import pandas as pd
    from cassandra.query import SimpleStatement

    cluster, session = _driver_session(spec)
    try:
        gc.collect()
        baseline = rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        rows = list(session.execute(SimpleStatement(spec["query"], fetch_size=spec["fetch_size"])))
        frame = pd.DataFrame(rows)
        elapsed = time.perf_counter() - started
        del rows
        return {
            "rows/s": len(frame) / elapsed,
            "rows": len(frame),
            "seconds": elapsed,
            "CPU µs/row": (time.process_time() - cpu) / len(frame) * 1e6,
            **_memory_figures(baseline, frame),
        }
    finally:
        cluster.shutdown()


# ------------------------------------------------------------------------------ 4: memory
async def iterate_rows(spec: Spec) -> dict[str, float]:
    """``async for row in session.execute_stream(...)``, counting rows and keeping none."""
    from cassnb import StreamConfig

    cluster, session = await _cassnb_session(spec)
    try:
        gc.collect()
        baseline = rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        count = 0
        config = StreamConfig(fetch_size=spec["fetch_size"])
        async with session.execute_stream(spec["query"], stream_config=config) as stream:
            async for _row in stream:
                count += 1
        elapsed = time.perf_counter() - started
        used = time.process_time() - cpu
        return {"rows": count, "rows/s": count / elapsed, "CPU µs/row": used / count * 1e6, **_memory_figures(baseline)}
    finally:
        await cluster.shutdown()


async def iterate_frames(spec: Spec) -> dict[str, float]:
    """``stream_frames``: one DataFrame chunk per page, each dropped after counting its rows."""
    try:
        from cassnb.frames import stream_frames
    except ImportError as exc:
        raise Unavailable(f"cassnb.frames.stream_frames cannot be imported ({exc})") from None
    cluster, session = await _cassnb_session(spec)
    try:
        gc.collect()
        baseline = rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        count = 0
        async with stream_frames(session, spec["query"], fetch_size=spec["fetch_size"]) as chunks:
            async for chunk in chunks:
                count += len(chunk)
        elapsed = time.perf_counter() - started
        used = time.process_time() - cpu
        return {"rows": count, "rows/s": count / elapsed, "CPU µs/row": used / count * 1e6, **_memory_figures(baseline)}
    finally:
        await cluster.shutdown()


# ------------------------------------------------------------------------------ 5: export
async def export_cassnb(spec: Spec) -> dict[str, float]:
    cluster, session = await _cassnb_session(spec)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        if spec["mode"] == "table":
            export_table = _import_export("export_table")
            report = await export_table(
                session, spec["table"], spec["path"], parallelism=spec["parallelism"], progress=False
            )
        else:
            export = _import_export("export")
            report = await export(
                session, spec["query"], spec["path"], fetch_size=spec["fetch_size"], progress=False
            )
        elapsed = time.perf_counter() - started
        rows = int(report.rows)
        return {"rows/s": rows / elapsed, "rows": rows, "seconds": elapsed, "peak RSS MB": peak_rss_mb(),
                "work CPU s": time.process_time() - cpu}  # fmt: skip
    finally:
        await cluster.shutdown()


# ------------------------------------------------------------------------------ 8: scale-out
def _process_cpu() -> float:
    return time.process_time()


def _open_session(hosts: str) -> None:
    from cassnb.dask._connection import as_connection
    from cassnb.dask._sessions import session_for

    session_for(as_connection(hosts))


def dask_read(spec: Spec) -> dict[str, float]:
    from distributed import Client, LocalCluster

    from cassnb.dask import read_table

    hosts = f"{spec['host']}:{spec['port']}"
    with (
        LocalCluster(n_workers=spec["workers"], threads_per_worker=1, processes=True, dashboard_address=None) as lc,
        Client(lc) as client,
    ):
        # Every worker up, with cassnb imported and its session open: one whole read first, untimed.
        client.run(_open_session, hosts)
        _open_session(hosts)
        read_table(hosts, spec["table"], split_size_mb=spec["split_size_mb"]).map_partitions(len).sum().compute()
        before = sum(client.run(_process_cpu).values()) + time.process_time()
        started = time.perf_counter()
        ddf = read_table(hosts, spec["table"], split_size_mb=spec["split_size_mb"])
        rows = int(ddf.map_partitions(len).sum().compute())
        elapsed = time.perf_counter() - started
        after = sum(client.run(_process_cpu).values()) + time.process_time()
        return {"rows/s": rows / elapsed, "rows": rows, "seconds": elapsed, "work CPU s": after - before,
                "partitions": ddf.npartitions}  # fmt: skip


# ------------------------------------------------------------------------------ 6: stall
async def _with_heartbeat(work: Callable[[], Awaitable[int]], period: float) -> dict[str, float]:
    """Run ``work`` while a task sleeps ``period`` in a loop; report the intervals between its wake-ups."""
    intervals: list[float] = []
    finished = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not finished.is_set():
            await asyncio.sleep(period)
            now = time.perf_counter()
            intervals.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(period * 2)  # let the heartbeat settle before the work starts
    started = time.perf_counter()
    try:
        rows = await work()
    finally:
        elapsed = time.perf_counter() - started
        finished.set()
        await beat
    ordered = sorted(intervals)
    return {
        "largest gap ms": ordered[-1] * 1000,
        "p99 gap ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "gaps > 20 ms": float(sum(1 for x in intervals if x > 0.020)),
        "rows/s": rows / elapsed,
    }


async def stall(spec: Spec) -> dict[str, float]:
    """Read the table through one of cassnb's streaming paths under a 5 ms heartbeat (``spec["via"]``):
    ``rows`` (``async for row in execute_stream``), ``pages`` (``stream.pages()``), ``frames``
    (``stream_frames`` chunks) or ``query_df`` (one DataFrame). With ``keep`` (the default) the streams'
    consumer keeps everything it read, as one building a result would; without, it only counts."""
    from cassnb import StreamConfig
    from cassnb.frames import query_df, stream_frames

    cluster, session = await _cassnb_session(spec)
    # Results stay referenced until the process ends: freeing a million objects is not part of reading them.
    kept: list[Any] = []
    config = StreamConfig(fetch_size=spec["fetch_size"])
    keep = spec.get("keep", True)
    counted = 0

    def hold(item: Any, rows: int = 1) -> None:  # keep what was read, or only count it (and let it go)
        nonlocal counted
        counted += rows
        if keep:
            kept.append(item)

    async def rows() -> int:
        async with session.execute_stream(spec["query"], stream_config=config) as stream:
            async for row in stream:
                hold(row)
        return counted

    async def pages() -> int:
        async with session.execute_stream(spec["query"], stream_config=config) as stream:
            async for page in stream.pages():
                hold(page, len(page))
        return counted

    async def frames() -> int:
        async with stream_frames(session, spec["query"], fetch_size=spec["fetch_size"]) as chunks:
            async for chunk in chunks:
                hold(chunk, len(chunk))
        return counted

    async def through_query_df() -> int:
        frame = await query_df(session, spec["query"], fetch_size=spec["fetch_size"], progress=False)
        kept.append(frame)
        return len(frame)

    try:
        work = {"rows": rows, "pages": pages, "frames": frames, "query_df": through_query_df}[spec["via"]]
        return await _with_heartbeat(work, spec.get("period", 0.005))
    finally:
        await cluster.shutdown()


# ------------------------------------------------------------------------------ 7: open / close, cold
def open_close(spec: Spec) -> dict[str, float]:
    """Import, open a cluster and session, run one query, close both: in a process doing nothing else."""
    from benchmarks.lifecycle import QUERY

    began = time.perf_counter()
    if spec["impl"] == "cassnb":
        from cassnb import AsyncCluster

        imported = time.perf_counter()

        async def cycle() -> None:
            cluster = AsyncCluster([spec["host"]], port=spec["port"])
            session = await cluster.connect()
            await session.execute(QUERY)
            await cluster.shutdown()

        asyncio.run(cycle())
    else:
        from cassandra.cluster import Cluster

        imported = time.perf_counter()
        cluster = Cluster([spec["host"]], port=spec["port"], protocol_version=5)
        cluster.connect().execute(QUERY)
        cluster.shutdown()
    ended = time.perf_counter()
    return {"total ms": (ended - imported) * 1000, "import ms": (imported - began) * 1000}


# ------------------------------------------------------------------------------ entry
JOBS: dict[str, Callable[[Spec], Any]] = {
    "frames.cassnb": frames_cassnb,
    "frames.driver_tuples": frames_driver_tuples,
    "frames.named_tuples": frames_named_tuples,
    "memory.rows": iterate_rows,
    "memory.frames": iterate_frames,
    "export.cassnb": export_cassnb,
    "dask.read": dask_read,
    "stall": stall,
    "open_close": open_close,
}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    if spec.get("job", "").startswith("study."):
        from benchmarks import stall_study

        job: Callable[[Spec], Any] = stall_study.JOBS[spec["job"]]
    else:
        job = JOBS[spec["job"]]
    try:
        outcome = job(spec)
        if asyncio.iscoroutine(outcome):
            outcome = asyncio.run(outcome)
    except Unavailable as exc:
        outcome = {"unavailable": str(exc)}
    print(json.dumps(outcome), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

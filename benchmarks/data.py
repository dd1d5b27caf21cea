"""The benchmark data set in the ``bench`` keyspace, loaded once and reused while it is intact.

Tables (all six columns: bigint, timestamp, text, double, boolean, uuid):

* ``wide_<N>`` — N rows in partitions of 1,000 rows (``k`` is the partition, ``uid`` the clustering key),
  scanned by the streaming, memory, export and stall scenarios.
* ``point`` — 100,000 single-row partitions keyed by ``id``, read by the point-read scenario.
* ``writes`` — the target of the write scenario (upserts of random keys, so its size stays bounded).
* ``loaded`` — what was loaded: a table is reused only when its marker row says it holds the rows and
  layout this code would load now, so an interrupted load is redone instead of being trusted.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any

KEYSPACE = "bench"
PARTITION_ROWS = 1000
POINT_ROWS = 100_000
#: Bump when the generated rows or the schema change, so stale tables are reloaded.
LAYOUT = "v1: k bigint, ts timestamp, name text, score double, active boolean, uid uuid"
COLUMNS = "k, ts, name, score, active, uid"

_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def wide_table(rows: int) -> str:
    return f"{KEYSPACE}.wide_{rows}"


def _row(rng: random.Random, k: int, i: int) -> tuple[Any, ...]:
    return (
        k,
        _EPOCH + dt.timedelta(milliseconds=i * 997),
        f"customer-{i:08d}-{rng.choice(_WORDS)}",
        rng.random() * 1000.0,
        (i % 3) == 0,
        uuid.UUID(int=rng.getrandbits(128), version=4),
    )


_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


def _schema(session: Any) -> None:
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = false"
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.loaded (name text PRIMARY KEY, rows bigint, layout text, "
        "loaded_at timestamp, seconds double)"
    )
    for name in ("point", "writes"):
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.{name} (id bigint PRIMARY KEY, ts timestamp, name text, "
            "score double, active boolean, uid uuid)"
        )


def _is_loaded(session: Any, name: str, rows: int) -> bool:
    marker = session.execute(f"SELECT rows, layout FROM {KEYSPACE}.loaded WHERE name = %s", (name,)).one()
    return marker is not None and marker[0] == rows and marker[1] == LAYOUT


def _mark(session: Any, name: str, rows: int, seconds: float) -> None:
    session.execute(
        f"INSERT INTO {KEYSPACE}.loaded (name, rows, layout, loaded_at, seconds) VALUES (%s, %s, %s, %s, %s)",
        (name, rows, LAYOUT, dt.datetime.now(dt.UTC), seconds),
    )


def _batches(insert: Any, rows: int, batch_rows: int = 100) -> Iterator[tuple[Any, tuple[()]]]:
    """Single-partition unlogged batches, generated lazily (a million rows never sit in memory at once)."""
    from cassandra.query import BatchStatement, BatchType

    rng = random.Random(20240101)
    for start in range(0, rows, batch_rows):
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for i in range(start, min(start + batch_rows, rows)):
            batch.add(insert, _row(rng, i // PARTITION_ROWS, i))
        yield batch, ()


def _load_wide(session: Any, rows: int, log: Any) -> None:
    from cassandra.concurrent import execute_concurrent

    table = wide_table(rows)
    session.execute(f"DROP TABLE IF EXISTS {table}")
    session.execute(
        f"CREATE TABLE {table} (k bigint, ts timestamp, name text, score double, active boolean, uid uuid, "
        "PRIMARY KEY (k, uid))"
    )
    insert = session.prepare(f"INSERT INTO {table} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)")
    started = time.perf_counter()
    results = execute_concurrent(session, _batches(insert, rows), concurrency=32, raise_on_first_error=True)
    assert all(ok for ok, _ in results)
    seconds = time.perf_counter() - started
    _mark(session, table, rows, seconds)
    log(f"loaded {rows:,} rows into {table} in {seconds:.1f} s")


def _load_point(session: Any, log: Any) -> None:
    from cassandra.concurrent import execute_concurrent_with_args

    insert = session.prepare(
        f"INSERT INTO {KEYSPACE}.point (id, ts, name, score, active, uid) VALUES (?, ?, ?, ?, ?, ?)"
    )
    rng = random.Random(7)
    started = time.perf_counter()
    params = (_row(rng, i, i) for i in range(POINT_ROWS))
    execute_concurrent_with_args(session, insert, params, concurrency=200, raise_on_first_error=True)
    seconds = time.perf_counter() - started
    _mark(session, f"{KEYSPACE}.point", POINT_ROWS, seconds)
    log(f"loaded {POINT_ROWS:,} rows into {KEYSPACE}.point in {seconds:.1f} s")


def ensure_loaded(host: str, port: int, rows: int, log: Any = print) -> dict[str, Any]:
    """Create the keyspace and tables, and (re)load any table whose marker does not match. Blocking."""
    from cassandra.cluster import Cluster

    cluster = Cluster([host], port=port, protocol_version=5)
    try:
        session = cluster.connect()
        session.default_timeout = 60
        _schema(session)
        if not _is_loaded(session, f"{KEYSPACE}.point", POINT_ROWS):
            _load_point(session, log)
        if not _is_loaded(session, wide_table(rows), rows):
            log(f"loading {rows:,} rows into {wide_table(rows)} (once; reused by later runs) ...")
            _load_wide(session, rows, log)
        markers = {
            name: {"rows": n, "loaded_at": str(at), "load_seconds": round(s or 0.0, 1)}
            for name, n, at, s in session.execute(
                f"SELECT name, rows, loaded_at, seconds FROM {KEYSPACE}.loaded"
            )
        }
        return {"wide": markers.get(wide_table(rows)), "point": markers.get(f"{KEYSPACE}.point")}
    finally:
        cluster.shutdown()

"""cassnb demo: load a small sample dataset into the local Cassandra and look at it as a DataFrame.

Run with `make demo` (which starts the local server first). It creates the keyspace ``cassnb_demo`` with a
table of 5,000 orders, then asks Cassandra a question and prints the answer as a pandas DataFrame.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cassnb
from cassnb.exports import export_table

OUT = Path(__file__).resolve().parents[1] / "out" / "demo"

CITIES = ["Lisbon", "Oslo", "Nairobi", "Osaka", "Lima", "Toronto", "Melbourne", "Seoul"]
PRODUCTS = ["keyboard", "monitor", "laptop", "headset", "webcam", "dock", "mouse"]
ROWS = 5_000


async def load(session: cassnb.AsyncSession) -> None:
    await session.execute(
        "CREATE KEYSPACE IF NOT EXISTS cassnb_demo "
        "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    await session.set_keyspace("cassnb_demo")
    await session.execute(
        "CREATE TABLE IF NOT EXISTS orders (city text, ordered_at timestamp, order_id uuid, product text, "
        "quantity int, amount decimal, PRIMARY KEY ((city), ordered_at, order_id)) "
        "WITH CLUSTERING ORDER BY (ordered_at DESC, order_id ASC)"
    )
    await session.execute("TRUNCATE orders")
    insert = await session.prepare(
        "INSERT INTO orders (city, ordered_at, order_id, product, quantity, amount) VALUES (?, ?, ?, ?, ?, ?)"
    )
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    from decimal import Decimal

    rows = [
        (rng.choice(CITIES), start + timedelta(minutes=rng.randrange(300_000)), uuid.UUID(int=rng.getrandbits(128)),
         rng.choice(PRODUCTS), rng.randint(1, 5), Decimal(rng.randrange(500, 250_000)) / 100)
        for _ in range(ROWS)
    ]  # fmt: skip
    limit = asyncio.Semaphore(64)

    async def write(row: tuple[object, ...]) -> None:
        async with limit:
            await session.execute(insert, row)

    began = time.perf_counter()
    await asyncio.gather(*(write(row) for row in rows))
    print(f"loaded {ROWS:,} orders into cassnb_demo.orders in {time.perf_counter() - began:.1f}s")


async def main() -> None:
    host = os.environ.get("CASSNB_HOSTS", "127.0.0.1")
    async with cassnb.AsyncCluster([host]) as cluster, cluster.connect() as session:
        await load(session)
        result = await session.execute(
            "SELECT city, ordered_at, product, quantity, amount FROM orders WHERE city = ? LIMIT 8", ["Lisbon"]
        )
        frame = result.to_dataframe()
        print("\nThe 8 most recent orders from Lisbon (a single-partition query, newest first):\n")
        print(frame.to_string(index=False))
        counts = await session.execute("SELECT city, count(*) AS orders FROM orders GROUP BY city")
        print("\nOrders per city (GROUP BY on the partition key):\n")
        print(counts.to_dataframe().sort_values("city").to_string(index=False))

        # The whole table, read by token ranges in parallel, into one Parquet file (atomically).
        OUT.mkdir(parents=True, exist_ok=True)
        report = await export_table(session, "cassnb_demo.orders", OUT / "orders.parquet", parallelism=4,
                                    overwrite=True, progress="text")  # fmt: skip
        print(f"\nexported {report.rows:,} rows to {report.path}")


if __name__ == "__main__":
    asyncio.run(main())

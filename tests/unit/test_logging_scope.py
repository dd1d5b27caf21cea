"""cassnb touches the driver's logging only while one of its clusters is open, and leaves it as it found it."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import asyncio, logging
import cassnb

logger = logging.getLogger("cassandra.protocol")
warning = logger.makeRecord("cassandra.protocol", logging.WARNING, "check", 1,
    "Server warning: `USE <keyspace>` with prepared statements is considered to be an anti-pattern", (), None)
other = logger.makeRecord("cassandra.protocol", logging.WARNING, "check", 1, "Server warning: other", (), None)
print(len(logger.filters), logger.filter(warning))  # after import: untouched
first, second = cassnb.AsyncCluster(), cassnb.AsyncCluster()
print(len(logger.filters), logger.filter(warning), logger.filter(other))  # while open: only that one dropped
asyncio.run(first.shutdown())
print(len(logger.filters))  # one still open
asyncio.run(second.shutdown())
asyncio.run(second.shutdown())  # idempotent: released once
print(len(logger.filters), logger.filter(warning))  # all shut down: as it was
"""


def test_the_driver_log_filter_lives_as_long_as_an_open_cluster() -> None:
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:4] == ["0 True", "1 False True", "1", "0 True"], done.stdout + done.stderr

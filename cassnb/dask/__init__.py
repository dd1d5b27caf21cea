"""Cassandra tables as Dask DataFrames (``pip install cassnb[dask]``).

:func:`read_table` reads a table by token ranges, each partition from a replica of its ranges; :func:`to_table`
writes a Dask DataFrame with prepared inserts. Both take a contact point string or a :func:`connection`, which
is small, picklable and holds no password (only where each worker finds it), since task graphs travel to the
scheduler and its dashboard. Every worker process keeps one session per connection (:class:`SessionPlugin`
closes it at worker teardown).
"""

from ._connection import Connection, connection
from ._read import read_table
from ._sessions import SessionPlugin, close_sessions
from ._write import WriteReport, to_table

__all__ = ("Connection", "SessionPlugin", "WriteReport", "close_sessions", "connection", "read_table", "to_table")

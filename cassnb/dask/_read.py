"""``read_table``: a Cassandra table as a Dask DataFrame, one partition per group of token-range pieces.

The client plans the read once (:func:`cassnb._table_scan.plan_scan`): the ring's ranges, each node's size
estimates, pieces of about ``split_size_mb``, grouped by replica set. The graph then holds, per partition, only
the group (token bounds and replica addresses), the SELECT text and the :class:`~cassnb.dask.Connection`. A
worker reads its group's pieces through its process's one session, each piece from a replica of its range (the
preferred one first, the next one if it fails), and converts the rows with the same column conversions as
:func:`cassnb.query_df`, so the partitions' dtypes are exactly the ``meta`` the client computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._decode import FRAME_DECODING
from .._table_scan import TableRef, plan_scan, read_piece, table_ref
from .._token_ranges import UNKNOWN_PER_HOST, Group
from ..exceptions import ConfigurationError
from ._connection import Connection, as_connection
from ._sessions import register_plugin, session_for

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

    from ..session import AsyncSession

DEFAULT_SPLIT_SIZE_MB = 64.0


def read_table(
    connection: str | Connection,
    table: str,
    columns: Sequence[str] | None = None,
    *,
    split_size_mb: float = DEFAULT_SPLIT_SIZE_MB,
    fetch_size: int = 5000,
) -> dd.DataFrame:
    """Read a whole table as a ``dask.dataframe.DataFrame``.

    Args:
        connection: a contact point string (``"127.0.0.1"``, ``"host:9042"``, ``"h1,h2"``) or
            :func:`cassnb.dask.connection` (for a keyspace, a data centre or credentials).
        table: ``"ks.table"`` (or a table of the connection's keyspace).
        columns: the columns to read (default: all, in schema order); only these are selected on the server.
        split_size_mb: about how much data, by the nodes' size estimates, one partition reads.
        fetch_size: rows per page of each range query.

    Returns:
        A lazy DataFrame with one partition per group of token ranges; its dtypes are those
        :func:`cassnb.query_df` gives for the same columns.
    """
    import dask
    import dask.dataframe as dd

    conn = as_connection(connection)
    if not (isinstance(split_size_mb, int | float) and split_size_mb > 0):
        raise ConfigurationError(f"split_size_mb must be a positive number, got {split_size_mb!r}")
    if not isinstance(fetch_size, int) or fetch_size < 1:
        raise ConfigurationError(f"fetch_size must be a positive integer, got {fetch_size!r}")
    runner, session = session_for(conn)
    ref, groups, select, meta = runner.run(_plan(session, table, columns, split_size_mb * 2**20))
    register_plugin()
    # Dask would turn object columns into its own string dtype; the columns keep query_df's dtypes instead.
    with dask.config.set({"dataframe.convert-string": False}):
        frame: dd.DataFrame = dd.from_map(  # type: ignore[no-untyped-call]
            _ReadGroup(conn, select, fetch_size), groups, meta=meta, label=f"cassnb-read-{ref.keyspace}.{ref.name}",
            enforce_metadata=False,
        )  # fmt: skip
    return frame


async def _plan(
    session: AsyncSession, table: str, columns: Sequence[str] | None, split_size: float
) -> tuple[TableRef, list[Group], str, pd.DataFrame]:
    ref = await table_ref(session, table)
    select = ref.range_select(columns)
    prepared = await session.prepare(select)
    groups = await plan_scan(session, ref, split_size, per_host_when_unknown=UNKNOWN_PER_HOST)
    return ref, groups, select, _builder(prepared).concat([])


def _builder(prepared: Any) -> Any:
    """The frame builder for a prepared SELECT's result columns (the conversions of query_df)."""
    from .._frames import FrameBuilder

    metadata = prepared.result_metadata
    return FrameBuilder([column[2] for column in metadata], [column[3] for column in metadata])


class _ReadGroup:
    """The partition function: read one group's pieces on a worker. Pickled small: no session, no secret."""

    def __init__(self, connection: Connection, select: str, fetch_size: int) -> None:
        self.connection, self.select, self.fetch_size = connection, select, fetch_size

    def __call__(self, group: Group) -> pd.DataFrame:
        runner, session = session_for(self.connection)
        prepared, pages = runner.run(self._pages(session, group))
        builder = _builder(prepared)
        gathered = builder.accumulator()
        pages.reverse()
        while pages:
            gathered.add(builder.parts(pages.pop()))  # each page's rows go once converted
        frame: pd.DataFrame = gathered.frame()
        return frame

    async def _pages(self, session: AsyncSession, group: Group) -> tuple[Any, list[list[Any]]]:
        prepared = await session.prepare(self.select)
        pages = []
        for piece in group.pieces:
            async for page in read_piece(session, prepared, piece, fetch_size=self.fetch_size, decoding=FRAME_DECODING):
                pages.append(page.rows)
        return prepared, pages

    def __repr__(self) -> str:
        return f"<cassnb read of {self.select!r} via {self.connection!r}>"

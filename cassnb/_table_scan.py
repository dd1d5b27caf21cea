"""A whole-table read by token ranges: the plan for a live table, and each piece read from one of its replicas.

:func:`plan_scan` asks the driver's token map for the ring and every node for its size estimates, and lets the
planner (:mod:`cassnb._token_ranges`) cut the table into pieces and groups; the table's estimated size is
shared out over the ranges by their width. :func:`read_piece` reads one piece
with a query sent to a replica of its range (the preferred one first). When that replica fails mid-read — it
went down, or stopped answering — the piece continues on the next replica from the last page it delivered (a
paging state is valid on any node), or from its start if none was delivered yet; so every row of the piece is
delivered exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._hosts import split_endpoint
from ._identifiers import quote
from ._schema import find_table
from ._token_ranges import MAX_TOKEN, MIN_TOKEN, Group, Piece, estimated_sizes, plan, replica_ranges, size_estimate_rows
from .exceptions import ClosedError, ConfigurationError, ConnectionError, TimeoutError, UnavailableError
from .options import UNSET, RowFormat
from .streaming import Page, StreamConfig

if TYPE_CHECKING:
    from .session import AsyncSession

RING_WIDTH = MAX_TOKEN - MIN_TOKEN

# A replica that fails like this may be down or overloaded: the next replica is asked instead.
REPLICA_FAILURES = (ConnectionError, TimeoutError, UnavailableError)

_ESTIMATES = (
    "SELECT range_start, range_end, mean_partition_size, partitions_count FROM system.size_estimates "
    "WHERE keyspace_name = %s AND table_name = %s"
)


@dataclass(frozen=True)
class TableRef:
    """A table's keyspace, name, columns (in schema order) and partition key."""

    keyspace: str
    name: str
    columns: tuple[str, ...]
    partition_key: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{quote(self.keyspace)}.{quote(self.name)}"

    def range_select(self, columns: Sequence[str] | None = None) -> str:
        """``SELECT <columns> FROM ks.t WHERE token(pk) > ? AND token(pk) <= ?``: the query of one piece."""
        token = f"token({', '.join(map(quote, self.partition_key))})"
        chosen = ", ".join(map(quote, self.columns if columns is None else self.choose(columns)))
        return f"SELECT {chosen} FROM {self.qualified} WHERE {token} > ? AND {token} <= ?"

    def choose(self, columns: Sequence[str]) -> tuple[str, ...]:
        """``columns`` checked against the table (each once, in the order given)."""
        if isinstance(columns, str) or not columns:
            raise ConfigurationError(f"columns must be a non-empty list of column names, got {columns!r}")
        unknown = [c for c in columns if c not in self.columns]
        if unknown:
            raise ConfigurationError(
                f"{self.keyspace}.{self.name} has no column {', '.join(map(repr, unknown))}; its columns are "
                f"{', '.join(self.columns)}"
            )
        if len(set(columns)) != len(columns):
            raise ConfigurationError(f"columns lists a column twice: {list(columns)!r}")
        return tuple(columns)


async def table_ref(session: AsyncSession, table: str) -> TableRef:
    """Look ``ks.table`` (or ``table`` in the session's keyspace) up in the schema metadata."""
    meta = await find_table(session, table)
    return TableRef(meta.keyspace_name, meta.name, tuple(meta.columns), tuple(c.name for c in meta.partition_key))


async def plan_scan(
    session: AsyncSession, ref: TableRef, split_size: float, *, min_pieces: int = 1, per_host_when_unknown: int = 0
) -> list[Group]:
    """The groups of pieces that read ``ref`` whole, from the live ring and every node's size estimates."""
    cluster = session.cluster.driver_cluster
    ranges = replica_ranges(cluster, ref.keyspace)
    estimates = await _size_estimates(session, ref)
    total = sum(estimated_sizes([token_range for token_range, _ in ranges], estimates))
    # Murmur3 spreads keys evenly over the ring, while the per-range estimates are rough (one node's two halves
    # of the ring were estimated at 256 and 2 partitions for the same table): the total is shared out by width.
    sizes = [total * token_range.width / RING_WIDTH for token_range, _ in ranges]
    return plan(ranges, sizes, split_size, min_pieces=min_pieces, per_host_when_unknown=per_host_when_unknown)


async def _size_estimates(session: AsyncSession, ref: TableRef) -> list[tuple[int, int, float]]:
    """Every reachable node's estimates for its own primary ranges (a node that does not answer adds none)."""
    hosts = [host for host in session.cluster.driver_cluster.metadata.all_hosts() if host.is_up is not False]

    async def one(host: Any) -> list[tuple[int, int, float]]:
        try:
            result = await session.execute(_ESTIMATES, (ref.keyspace, ref.name), host=host, row_format=RowFormat.TUPLE)
        except REPLICA_FAILURES:
            return []
        return size_estimate_rows(result.all())

    found = await asyncio.gather(*(one(host) for host in hosts))
    return [row for rows in found for row in rows]


def _candidates(session: AsyncSession, replicas: Sequence[str]) -> list[Any]:
    """The driver's hosts for ``replicas``, those it believes up first; ``[None]`` (any host) if none is known."""
    metadata = session.cluster.driver_cluster.metadata
    hosts = []
    for address in replicas:
        host = metadata.get_host(*split_endpoint(address))
        if host is not None:
            hosts.append(host)
    hosts.sort(key=lambda host: host.is_up is False)  # stable: the preferred order stays among the up ones
    return hosts or [None]


async def read_piece(
    session: AsyncSession, statement: Any, piece: Piece, *, fetch_size: int = 5000,
    row_format: RowFormat = RowFormat.TUPLE, decoding: Any = None,
) -> AsyncIterator[Page]:  # fmt: skip
    """The pages of one piece, from its first replica that answers; a failed replica hands over to the next.

    ``decoding``: the protocol handler for pages that become DataFrames or export files
    (:data:`cassnb._decode.FRAME_DECODING`).
    """
    bounds = [piece.range.start, piece.range.end]
    config = StreamConfig(fetch_size=fetch_size)
    resume: bytes | None = None
    failures: list[str] = []
    for host in _candidates(session, piece.replicas):
        try:
            async with session._stream(
                statement, bounds, stream_config=config, paging_state=resume, skip_rows=0, timeout=UNSET,
                host=host, row_format=row_format, decoding=decoding,
            ) as stream:  # fmt: skip
                async for page in stream.pages():
                    yield page
                    resume = stream.paging_state
            return
        except REPLICA_FAILURES as exc:
            if isinstance(exc, ClosedError):
                raise
            failures.append(f"{host.address if host is not None else 'any host'}: {exc}")
    raise ConnectionError(
        f"no replica could read token range ({piece.range.start}, {piece.range.end}]: " + "; ".join(failures)
    )

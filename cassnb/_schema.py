"""The schema as the driver's metadata knows it: finding a table by the name a user wrote.

The driver keeps its metadata current through schema-change events, so a lookup costs nothing; a table
created a moment ago by another client may not have arrived yet, so a miss refreshes that one table from the
server once before it is reported.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._identifiers import parse_qualified
from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .session import AsyncSession

__all__ = ("find_table",)


def _lookup(metadata: Any, keyspace: str, table: str) -> Any:
    found = metadata.keyspaces.get(keyspace)
    return None if found is None else found.tables.get(table)


async def find_table(session: AsyncSession, table: str) -> Any:
    """The driver's ``TableMetadata`` of ``table`` (``ks.table``, or a table of the session's keyspace).

    Raises:
        ConfigurationError: the name is not valid CQL, names no keyspace while the session has none, or
            the keyspace or the table does not exist (with a hint when only the letter case differs).
    """
    keyspace, name = parse_qualified(table, session.keyspace)
    cluster = session.cluster
    found = _lookup(cluster.metadata, keyspace, name)
    if found is None:  # perhaps created a moment ago, by another client: ask the server
        await asyncio.to_thread(cluster.driver_cluster.refresh_table_metadata, keyspace, name)
        found = _lookup(cluster.metadata, keyspace, name)
    if found is not None:
        return found
    known = cluster.metadata.keyspaces.get(keyspace)
    if known is None:
        raise ConfigurationError(f"keyspace {keyspace!r} does not exist, so table {keyspace}.{name} does not")
    hint = next(
        (f'; did you mean "{other}" (quote names with capitals)?' for other in known.tables
         if other.lower() == name.lower()),
        "",
    )  # fmt: skip
    raise ConfigurationError(f"table {keyspace}.{name} does not exist{hint}")

"""Named-tuple rows with one class per column list.

The driver's default row factory builds a new ``namedtuple`` class for every response it decodes. For a point
read that is most of the client's own work: creating the class compiles its ``__new__`` with ``eval`` and costs
more than decoding the row. The rows here are the same named tuples (``row.name``, ``row[0]``, ``row._asdict()``,
the driver's rules for names that are not identifiers), but each column list gets its class once and keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cassandra.query import dict_factory, named_tuple_factory, tuple_factory

MAX_CLASSES = 1024  # distinct column lists kept; past this the cache starts again (a query shape per entry)

_classes: dict[tuple[str, ...], Any] = {}  # column names -> a namedtuple class


def row_class(column_names: Sequence[str]) -> Any:
    """The named-tuple class for rows with these columns (named by the driver's rules), made once."""
    key = tuple(column_names)
    cls = _classes.get(key)
    if cls is None:
        if len(_classes) >= MAX_CLASSES:
            _classes.clear()
        # The driver's own factory decides the field names (cleaned, or positional when they cannot be used).
        cls = _classes[key] = type(named_tuple_factory(key, [(None,) * len(key)])[0])
    return cls


def named_tuple_rows(column_names: Sequence[str], rows: list[Any]) -> list[Any]:
    """A driver row factory: the rows of one response as named tuples of a cached class."""
    return list(map(row_class(column_names)._make, rows))


#: Row factories that shape each row on its own, so that shaping a page piece by piece (``cassnb._bridge``)
#: gives what shaping it whole gives. Other factories (one that builds a DataFrame, say) see whole pages.
PIECEWISE_FACTORIES = frozenset({named_tuple_rows, tuple_factory, dict_factory})

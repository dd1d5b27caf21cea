"""Results of ``session.execute``: rows already fetched, iterable without blocking."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd


class AsyncResultSet:
    """The rows of one ``execute`` call.

    By default ``execute`` fetches every page before returning (each page under its own timeout), so plain
    ``for row in result`` never blocks the event loop. With manual paging (``execute(..., paging_state=...)``)
    the result holds one page, and :attr:`paging_state` fetches the next.
    """

    __slots__ = ("_column_names", "_column_types", "_paging_state", "_response", "_rows", "_warnings")

    def __init__(
        self,
        rows: list[Any],
        column_names: Sequence[str] | None = None,
        column_types: Sequence[type] | None = None,
        paging_state: bytes | None = None,
        response_future: Any = None,
        *,
        warnings: list[str] | None = None,
    ) -> None:
        self._rows = rows
        self._column_names = list(column_names or ())
        self._column_types = list(column_types or ())
        self._paging_state = paging_state
        self._response = response_future
        self._warnings = warnings if warnings is not None else list(getattr(response_future, "warnings", None) or [])

    # ------------------------------------------------------------------ rows
    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    async def __aiter__(self) -> AsyncIterator[Any]:
        for row in self._rows:
            yield row

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> Any:
        return self._rows[index]

    def one(self) -> Any:
        """The first row, or ``None`` when there is none."""
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        """Every row as a list."""
        return list(self._rows)

    @property
    def rows(self) -> list[Any]:
        """Every row as a list (the same as :meth:`all`)."""
        return list(self._rows)

    # ------------------------------------------------------------------ metadata
    @property
    def column_names(self) -> list[str]:
        return list(self._column_names)

    @property
    def column_types(self) -> list[type]:
        """The driver's CQL type classes, one per column (e.g. ``cassandra.cqltypes.Int32Type``)."""
        return list(self._column_types)

    @property
    def paging_state(self) -> bytes | None:
        """Opaque token for the next page (manual paging), or ``None`` when there are no more pages."""
        return self._paging_state

    @property
    def has_more_pages(self) -> bool:
        return self._paging_state is not None

    @property
    def was_applied(self) -> bool:
        """For a conditional statement (``IF ...``, LWT), whether it was applied."""
        if not self._column_names or self._column_names[0] != "[applied]":
            raise ConfigurationError(
                "was_applied is only available for conditional statements (INSERT ... IF NOT EXISTS, "
                "UPDATE ... IF ...); this result has no [applied] column"
            )
        first = self._rows[0]
        return bool(first["[applied]"] if isinstance(first, dict) else first[0])

    @property
    def warnings(self) -> list[str]:
        """Warnings the server attached to the response (e.g. large batches, tombstones)."""
        return list(self._warnings)

    async def get_query_trace(self, max_wait: float = 5.0) -> Any:
        """The server's trace of this request (run with ``trace=True``), read without blocking the loop."""
        if self._response is None:
            raise ConfigurationError("no trace: run the statement with execute(..., trace=True)")
        return await asyncio.to_thread(self._response.get_query_trace, max_wait)

    # ------------------------------------------------------------------ conversion
    def to_dataframe(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame, with column dtypes chosen from the CQL types."""
        from ._frames import FrameBuilder

        builder = FrameBuilder(self._column_names, self._column_types)
        return builder.frame(self._rows)

    def __repr__(self) -> str:
        more = ", more pages" if self.has_more_pages else ""
        return f"<AsyncResultSet rows={len(self._rows)} columns={self._column_names}{more}>"

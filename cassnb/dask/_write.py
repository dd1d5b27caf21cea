"""``to_table``: write every partition of a Dask DataFrame into a Cassandra table.

Each partition is written on its worker by :func:`cassnb.load` through the worker's one session: prepared
inserts (idempotent, so an insert without an answer may be sent again), at most ``concurrency`` in flight per
partition, each acknowledged before it counts as written. Every partition reports its rows written, failed
and unknown; :func:`to_table` adds them up and raises :class:`~cassnb.exceptions.IncompleteWriteError` if any
row was not acknowledged, so no row is lost without saying so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import CassnbError, ConfigurationError, IncompleteWriteError
from ..options import Consistency
from ._connection import Connection, as_connection
from ._sessions import register_plugin, session_for

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd

_COUNTS = {"partition": "int64", "rows": "int64", "written": "int64", "failed": "int64", "unknown": "int64",
           "error": "object"}  # fmt: skip


@dataclass(frozen=True)
class WriteReport:
    """What :func:`to_table` wrote: totals, and one row per partition (``partitions``)."""

    table: str
    partitions: pd.DataFrame

    @property
    def rows_written(self) -> int:
        return int(self.partitions["written"].sum())

    @property
    def rows_failed(self) -> int:
        return int(self.partitions["failed"].sum())

    @property
    def rows_unknown(self) -> int:
        return int(self.partitions["unknown"].sum())

    def __str__(self) -> str:
        return (
            f"{self.table}: {self.rows_written:,} rows written, {self.rows_failed:,} failed, "
            f"{self.rows_unknown:,} unknown, in {len(self.partitions)} partitions"
        )


def to_table(
    ddf: dd.DataFrame, connection: str | Connection, table: str, *, concurrency: int = 32, errors: str = "raise",
    consistency: str | Consistency | None = None,
) -> WriteReport:  # fmt: skip
    """Insert every row of ``ddf`` into ``table`` (whose primary-key columns it must have), partition by partition.

    Args:
        ddf: a Dask DataFrame whose columns are columns of the table (values as :func:`cassnb.load` takes them).
        connection: a contact point string or :func:`cassnb.dask.connection`.
        concurrency: inserts in flight at once, per partition being written.
        errors: ``"raise"`` (an :class:`~cassnb.exceptions.IncompleteWriteError` when any row was not
            acknowledged, with the report as ``exc.report``) or ``"report"`` (return the report in any case).
        consistency: the level each insert is acknowledged at (``"QUORUM"``, ``"ALL"``, ...); default: the
            workers' sessions' own (``LOCAL_ONE``).

    Returns:
        A :class:`WriteReport`: rows written, failed and unknown, in total and per partition.
    """
    import pandas as pd

    conn = as_connection(connection)
    if errors not in ("raise", "report"):
        raise ConfigurationError(f"errors must be 'raise' or 'report', got {errors!r}")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be a positive integer, got {concurrency!r}")
    level = None if consistency is None else Consistency.parse(consistency)
    meta = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in _COUNTS.items()})
    register_plugin()
    write = _WritePartition(conn, table, concurrency, level)
    counts = ddf.map_partitions(write, meta=meta, partition_info=True)  # type: ignore[no-untyped-call]
    partitions = counts.compute().reset_index(drop=True).sort_values("partition", ignore_index=True)
    report = WriteReport(table, partitions)
    if errors == "raise" and (report.rows_failed or report.rows_unknown):
        first = next((e for e in partitions["error"] if isinstance(e, str) and e), "")
        raise IncompleteWriteError(f"{report}; first failure: {first}", report=report)
    return report


class _WritePartition:
    """The partition function: load one partition on a worker. Pickled small: no session, no secret."""

    def __init__(self, connection: Connection, table: str, concurrency: int, consistency: Consistency | None) -> None:
        self.connection, self.table, self.concurrency, self.consistency = connection, table, concurrency, consistency

    def __call__(self, frame: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> pd.DataFrame:
        import pandas as pd

        from ..loading import load

        number = int((partition_info or {}).get("number", 0))
        runner, session = session_for(self.connection)
        error = ""
        report: Any
        try:
            work = load(session, self.table, frame, concurrency=self.concurrency, consistency=self.consistency,
                        progress=False)  # fmt: skip
            report = runner.run(work)
        except CassnbError as exc:
            report = getattr(exc, "report", None)
            if report is None:
                raise
            error = str(exc)
        if not error and report.failures:
            error = f"row {report.failures[0][0]}: {report.failures[0][1]}"
        row = {"partition": number, "rows": len(frame), "written": report.rows_written, "failed": report.rows_failed,
               "unknown": len(frame) - report.rows_written - report.rows_failed, "error": error}  # fmt: skip
        return pd.DataFrame({name: pd.Series([row[name]], dtype=dtype) for name, dtype in _COUNTS.items()})

    def __repr__(self) -> str:
        return f"<cassnb write into {self.table} via {self.connection!r}>"

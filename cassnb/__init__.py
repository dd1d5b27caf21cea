"""cassnb: async Apache Cassandra for Python notebooks.

The async core (:class:`AsyncCluster`, :class:`AsyncSession`, results and page-by-page streaming) runs on
cassandra-driver; ``%load_ext cassnb`` adds the ``%cql`` / ``%%cql`` magics.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._connect import connect
from ._stop import StopSignal
from .cluster import AsyncCluster
from .exceptions import (
    AuthenticationError,
    CassnbError,
    ClosedError,
    ConfigurationError,
    ConnectionError,
    IncompleteWriteError,
    InvalidQueryError,
    QueryError,
    TimeoutError,
    UnauthorizedError,
    UnavailableError,
)
from .metrics import MetricsSnapshot
from .options import UNSET, Consistency, RowFormat
from .result import AsyncResultSet
from .session import AsyncSession
from .streaming import AsyncStreamingResultSet, Page, StreamConfig, create_streaming_statement

if TYPE_CHECKING:
    from .exports import ExportReport, export, export_table
    from .frames import FrameInfo, FrameStream, frame_info, more, query_df, stream_frames
    from .loading import LoadReport, load

__version__ = "0.1.0"

# The names code written for async-cassandra imports (see docs/migrating.md).
AsyncCassandraSession = AsyncSession
AsyncCassandraError = CassnbError

# DataFrames and files need pandas and pyarrow; the async core does not. These names are imported on first
# use, so a web service that only runs queries pays for neither (``import cassnb`` imports no pandas).
_LAZY = {
    **dict.fromkeys(("ExportReport", "export", "export_table"), "exports"),
    **dict.fromkeys(("LoadReport", "load"), "loading"),
    **dict.fromkeys(("FrameInfo", "FrameStream", "frame_info", "more", "query_df", "stream_frames"), "frames"),
}


def __getattr__(name: str) -> Any:
    if name in (
        "exports",
        "formats",
        "frames",
        "loading",
    ):  # the modules themselves, as `cassnb.frames` after `import cassnb`
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cassnb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext cassnb``: register the ``%cql`` / ``%%cql`` magics (IPython is imported only now)."""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)


__all__ = (
    "UNSET",
    "AsyncCassandraError",
    "AsyncCassandraSession",
    "AsyncCluster",
    "AsyncResultSet",
    "AsyncSession",
    "AsyncStreamingResultSet",
    "AuthenticationError",
    "CassnbError",
    "ClosedError",
    "ConfigurationError",
    "ConnectionError",
    "Consistency",
    "ExportReport",
    "FrameInfo",
    "FrameStream",
    "IncompleteWriteError",
    "InvalidQueryError",
    "LoadReport",
    "MetricsSnapshot",
    "Page",
    "QueryError",
    "RowFormat",
    "StopSignal",
    "StreamConfig",
    "TimeoutError",
    "UnauthorizedError",
    "UnavailableError",
    "__version__",
    "connect",
    "create_streaming_statement",
    "export",
    "export_table",
    "frame_info",
    "load",
    "more",
    "query_df",
    "stream_frames",
)

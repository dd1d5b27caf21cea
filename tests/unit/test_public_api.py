"""The public surface of cassnb is small and explicit."""

import cassnb


def test_exported_names() -> None:
    assert cassnb.__all__ == (
        "UNSET", "AsyncCassandraError", "AsyncCassandraSession", "AsyncCluster", "AsyncResultSet", "AsyncSession", "AsyncStreamingResultSet",
        "AuthenticationError", "CassnbError", "ClosedError", "ConfigurationError", "ConnectionError",
        "Consistency", "ExportReport", "FrameInfo", "FrameStream", "IncompleteWriteError",
    "InvalidQueryError", "LoadReport",
        "MetricsSnapshot", "Page", "QueryError", "RowFormat", "StopSignal", "StreamConfig", "TimeoutError",
        "UnauthorizedError", "UnavailableError", "__version__", "connect", "create_streaming_statement", "export", "export_table", "frame_info",
        "load", "more", "query_df", "stream_frames",
    )  # fmt: skip
    for name in cassnb.__all__:
        assert hasattr(cassnb, name), name
    # The names code written for async-cassandra imports are cassnb's own classes (docs/migrating.md).
    assert cassnb.AsyncCassandraSession is cassnb.AsyncSession and cassnb.AsyncCassandraError is cassnb.CassnbError


def test_exception_tree_and_builtin_mixins() -> None:
    import builtins

    from cassnb import exceptions as e

    for cls in (e.ConfigurationError, e.ConnectionError, e.AuthenticationError, e.QueryError, e.TimeoutError):
        assert issubclass(cls, e.CassnbError)
    assert issubclass(e.ConfigurationError, ValueError)
    assert issubclass(e.ConnectionError, builtins.ConnectionError)
    assert issubclass(e.TimeoutError, builtins.TimeoutError)
    assert issubclass(e.ClosedError, e.ConnectionError)
    for cls in (e.InvalidQueryError, e.UnauthorizedError, e.UnavailableError):
        assert issubclass(cls, e.QueryError)

"""Every error cassnb raises, in one tree.

::

    CassnbError                          root: ``except CassnbError`` catches anything cassnb raises
    ├── ConfigurationError (ValueError)  bad options or misuse, found before the server is asked
    ├── ConnectionError (builtins.ConnectionError)
    │   │                                the server could not be reached or the link is gone:
    │   │                                no host available, connection lost, protocol negotiation
    │   └── ClosedError                  the session, cluster or stream was already closed
    ├── AuthenticationError              the server refused the credentials
    ├── QueryError                       the server rejected or could not run a statement
    │   ├── InvalidQueryError            syntax errors, unknown tables/columns, bad values
    │   ├── UnauthorizedError            the role lacks a permission
    │   └── UnavailableError             not enough replicas alive for the consistency level
    ├── TimeoutError (builtins.TimeoutError)
    │                                    a client-side deadline or a server read/write timeout
    └── LocalServerError                 ``cassnb local``: the development server could not be managed

The built-in mix-ins mean ``except ValueError``, ``except ConnectionError`` and ``except TimeoutError`` written
against the standard library also catch the matching cassnb errors.

Driver exceptions are translated in exactly one place, :func:`translate`, which keeps the driver's exception
as ``__cause__`` and names the failing statement in the message. Messages never contain secrets: they are built
from the statement text and the server's message only.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = (
    "AuthenticationError",
    "CassnbError",
    "ClosedError",
    "ConfigurationError",
    "ConnectionError",
    "InvalidQueryError",
    "LocalServerError",
    "QueryError",
    "TimeoutError",
    "UnauthorizedError",
    "UnavailableError",
    "translate",
)

_STATEMENT_PREVIEW = 120


class CassnbError(Exception):
    """Root of every exception raised by cassnb.

    Attributes:
        partial: for a read into a DataFrame (``query_df``, ``more``, the magics' streamed reads) that failed
            part-way, the rows fetched before the error, as a DataFrame marked incomplete whose
            ``attrs["cassnb"]`` resumes the read exactly there (``await cassnb.more(exc.partial)``); else None.
    """

    partial: Any = None


class ConfigurationError(CassnbError, ValueError):
    """An option or argument is invalid; nothing was sent to the server."""


class ConnectionError(CassnbError, builtins.ConnectionError):
    """Cassandra could not be reached, or the connection to it was lost."""


class ClosedError(ConnectionError):
    """The session, cluster or stream was used after it was closed."""


class AuthenticationError(CassnbError):
    """The server rejected the credentials (the message never repeats the password)."""


class QueryError(CassnbError):
    """The server rejected a statement or failed to run it."""


class InvalidQueryError(QueryError):
    """The statement is not valid CQL for this schema (syntax, unknown table or column, bad value)."""


class UnauthorizedError(QueryError):
    """The logged-in role lacks a permission the statement needs."""


class UnavailableError(QueryError):
    """Too few replicas were alive to satisfy the consistency level."""


class TimeoutError(CassnbError, builtins.TimeoutError):
    """A request took longer than its client-side timeout, or the server reported a read/write timeout."""


class LocalServerError(CassnbError):
    """The local development server (``cassnb local``) could not be obtained, started or stopped."""


def describe_statement(query: Any) -> str:
    """A short, single-line preview of a statement for error messages."""
    text = getattr(query, "query_string", None) or getattr(
        getattr(query, "prepared_statement", None), "query_string", None
    )
    if text is None:
        text = query if isinstance(query, str) else type(query).__name__
    text = " ".join(str(text).split())
    if len(text) > _STATEMENT_PREVIEW:
        text = text[: _STATEMENT_PREVIEW - 1] + "…"
    return text


def _server_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    # The driver prefixes some messages with a protocol error code, e.g. "Error from server: code=2200 ...".
    return str(message).strip()


def translate(exc: BaseException, query: Any = None) -> CassnbError:
    """Map a cassandra-driver exception to the cassnb tree.

    The caller raises the result ``from exc``. An exception that is already a :class:`CassnbError` is returned
    unchanged; an unknown exception becomes a plain :class:`QueryError` so nothing escapes the tree.
    """
    if isinstance(exc, CassnbError):
        return exc
    from cassandra import (
        AuthenticationFailed,
        DriverException,
        InvalidRequest,
        OperationTimedOut,
        ReadTimeout,
        Unauthorized,
        Unavailable,
        WriteTimeout,
    )
    from cassandra import (
        ReadFailure as _ReadFailure,
    )
    from cassandra import (
        WriteFailure as _WriteFailure,
    )
    from cassandra.cluster import NoHostAvailable
    from cassandra.connection import ConnectionException
    from cassandra.protocol import (
        IsBootstrappingErrorMessage,
        OverloadedErrorMessage,
        ProtocolException,
        SyntaxException,
    )

    where = f" while running: {describe_statement(query)}" if query is not None else ""
    message = _server_message(exc)
    if isinstance(exc, NoHostAvailable):
        errors = getattr(exc, "errors", {}) or {}
        request_errors = (Unavailable, ReadTimeout, WriteTimeout, InvalidRequest, Unauthorized, _ReadFailure,
                          _WriteFailure)  # fmt: skip
        if errors and all(isinstance(e, request_errors) for e in errors.values()):
            # Every host answered, and refused the request (the retry policy tried the next host): that is the
            # server's verdict on the statement, not a connection problem.
            return translate(next(iter(errors.values())), query)
        if errors and all(isinstance(e, AuthenticationFailed) for e in errors.values()):
            return AuthenticationError(
                "Cassandra rejected the credentials (user name or password is wrong, or the role cannot log "
                "in); check them and try again"
            )
        hosts = ", ".join(str(h) for h in errors) or "the contact points"
        reasons = "; ".join(f"{host}: {_server_message(e)}" for host, e in errors.items())
        return ConnectionError(
            f"no Cassandra host could be reached ({hosts}){where}"
            + (f" — {reasons}" if reasons else "")
            + "; check the server is running and the address and port are right"
        )
    if isinstance(exc, DriverException) and "shut down" in message:
        return ClosedError(f"the driver's cluster was shut down{where} ({message}); create a new AsyncCluster")
    if isinstance(exc, OverloadedErrorMessage | IsBootstrappingErrorMessage):
        # "Server is shutting down", an overloaded or a still-bootstrapping coordinator: the node cannot serve
        # now and will again later, which is what a caller's retry-on-ConnectionError is for.
        return ConnectionError(
            f"the Cassandra node cannot serve requests now{where}: {message}; retry once it is back"
        )
    if isinstance(exc, AuthenticationFailed):
        return AuthenticationError(
            "Cassandra rejected the credentials (user name or password is wrong, or the role cannot log in); "
            "check them and try again"
        )
    if isinstance(exc, OperationTimedOut):
        return TimeoutError(
            f"no answer from Cassandra within the client timeout{where}; raise `timeout=` or check the "
            f"server's load ({message})"
        )
    if isinstance(exc, ProtocolException) and "paging state" in message.lower():
        return InvalidQueryError(
            f"Cassandra did not accept the paging state{where} ({message}); pass the paging_state of an "
            "earlier result of the same query, unchanged"
        )
    if isinstance(exc, ReadTimeout | WriteTimeout):
        return TimeoutError(f"Cassandra reported a timeout{where}: {message}")
    if isinstance(exc, ConnectionException):
        return ConnectionError(f"the connection to Cassandra was lost{where}: {message}")
    if isinstance(exc, Unauthorized):
        return UnauthorizedError(f"permission denied{where}: {message}")
    if isinstance(exc, SyntaxException | InvalidRequest):
        return InvalidQueryError(f"Cassandra rejected the statement{where}: {message}")
    if isinstance(exc, Unavailable):
        return UnavailableError(f"not enough replicas available{where}: {message}")
    if isinstance(exc, _ReadFailure | _WriteFailure):
        return QueryError(f"Cassandra failed to run the statement{where}: {message}")
    if isinstance(exc, builtins.ConnectionError | OSError):
        return ConnectionError(f"the connection to Cassandra failed{where}: {message}")
    return QueryError(f"the statement failed{where}: {type(exc).__name__}: {message}")

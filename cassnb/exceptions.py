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
    ├── IncompleteWriteError             a bulk write ended with rows not acknowledged (``exc.report``)
    └── LocalServerError                 ``cassnb local``: the development server could not be managed

The built-in mix-ins mean ``except ValueError``, ``except ConnectionError`` and ``except TimeoutError`` written
against the standard library also catch the matching cassnb errors.

Driver exceptions are translated in exactly one place, :func:`translate`, by one table (:data:`_RULES`).
Each error is one block when shown: the server's words without the driver's wrapping
(``code=2200 [Invalid query] message=...``), the statement it concerns (shortened), and what to do; the
driver's own exception is kept as :attr:`CassnbError.driver_error` rather than chained into a second
traceback. The fields (``statement``, ``code``, ``consistency``, replica counts) carry the details for code
that wants them. Messages never contain secrets: they are built from the statement text and the server's
message only.
"""

from __future__ import annotations

import builtins
import re
from typing import Any

__all__ = (
    "AuthenticationError",
    "CassnbError",
    "ClosedError",
    "ConfigurationError",
    "ConnectionError",
    "IncompleteWriteError",
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
        statement: the statement the error concerns (shortened), when there is one.
        server_message: the server's own words, when the server answered.
        code: the protocol error code the server sent (``0x2200`` for an invalid query...), when it did.
        consistency: the consistency level of a timeout or an unavailable error.
        required, received: for those errors, the replicas (or responses) needed and those there were.
        driver_error: the cassandra-driver exception this error translates, if any.
    """

    partial: Any = None
    statement: str | None = None
    server_message: str | None = None
    code: int | None = None
    consistency: str | None = None
    required: int | None = None
    received: int | None = None
    driver_error: BaseException | None = None


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


class IncompleteWriteError(CassnbError):
    """A bulk write (``cassnb.dask.to_table``) ended with rows failed or unacknowledged; ``report`` counts them."""

    def __init__(self, message: str, *, report: Any) -> None:
        super().__init__(message)
        self.report = report


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


_SERVER_TEXT = re.compile(
    r'Error from server: code=([0-9a-fA-F]+) \[[^\]]*\] message="(.*?)"(?: info=\{.*\})?$', re.DOTALL
)


def _server_message(exc: BaseException) -> tuple[str, int | None]:
    """The server's words and error code, without the driver's ``Error from server: code=...`` wrapping."""
    text = str(getattr(exc, "message", None) or exc or type(exc).__name__).strip()
    match = _SERVER_TEXT.search(text)
    if match is None:
        return " ".join(text.split()), getattr(exc, "code", None)
    return " ".join(match[2].split()), int(match[1], 16)


def _fields(error: CassnbError, exc: BaseException, statement: str | None, message: str | None,
            code: int | None) -> CassnbError:  # fmt: skip
    error.statement, error.server_message, error.code, error.driver_error = statement, message, code, exc
    consistency = getattr(exc, "consistency", None)
    if consistency is not None:
        from cassandra import ConsistencyLevel

        error.consistency = ConsistencyLevel.value_to_name.get(consistency, str(consistency))
    for required, received in (("required_replicas", "alive_replicas"), ("required_responses", "received_responses")):
        if getattr(exc, required, None) is not None:
            error.required, error.received = getattr(exc, required), getattr(exc, received, None)
    return error


_Rule = tuple[tuple[type, ...], type[CassnbError], str | None, str]


def _rules() -> tuple[_Rule, ...]:
    """Driver exception -> (cassnb class, what happened (None: the server's words; ``{message}`` stands for
    them), what to do).

    First match wins, so subclasses come before the classes they extend.
    """
    from cassandra import (
        AuthenticationFailed,
        DriverException,
        InvalidRequest,
        OperationTimedOut,
        ReadFailure,
        ReadTimeout,
        RequestExecutionException,
        RequestValidationException,
        Unauthorized,
        Unavailable,
        WriteFailure,
        WriteTimeout,
    )
    from cassandra.connection import ConnectionException
    from cassandra.protocol import ErrorMessage, IsBootstrappingErrorMessage, OverloadedErrorMessage, SyntaxException

    busy = "the node cannot serve requests now (overloaded, starting or shutting down)"
    return (
        ((AuthenticationFailed,), AuthenticationError, None, ""),
        (
            (OperationTimedOut,),
            TimeoutError,
            "no answer from Cassandra within the client timeout",
            "raise `timeout=`, or check the server's load",
        ),
        ((ReadTimeout, WriteTimeout), TimeoutError, None, "the replicas did not answer the coordinator in time"),
        ((OverloadedErrorMessage, IsBootstrappingErrorMessage), ConnectionError, busy, "retry once it is back"),
        ((ConnectionException,), ConnectionError, "the connection to Cassandra was lost: {message}", ""),
        ((Unauthorized,), UnauthorizedError, None, ""),
        ((SyntaxException, InvalidRequest), InvalidQueryError, None, ""),
        ((Unavailable,), UnavailableError, None, "not enough replicas are alive for the consistency level"),
        ((ReadFailure, WriteFailure), QueryError, None, "replicas failed to run the statement"),
        ((RequestExecutionException, RequestValidationException, DriverException, ErrorMessage), QueryError, None, ""),
        ((builtins.ConnectionError, OSError), ConnectionError, "the connection to Cassandra failed: {message}", ""),
    )


def translate(exc: BaseException, query: Any = None) -> BaseException:
    """Map a cassandra-driver exception to the cassnb tree (see the module docstring).

    The caller raises the result ``from None``: the driver's exception is kept as ``driver_error``. An
    exception that is already a :class:`CassnbError`, and one that does not come from the driver or the
    network (a bug, in cassnb or elsewhere), is returned unchanged.
    """
    if isinstance(exc, CassnbError):
        return exc
    from cassandra import DriverException
    from cassandra.cluster import NoHostAvailable

    statement = describe_statement(query) if query is not None else None
    where = f" (while running: {statement})" if statement is not None else ""
    if isinstance(exc, NoHostAvailable):
        return _no_host(exc, query, statement, where)
    if isinstance(exc, DriverException) and "shut down" in str(exc):
        error = ClosedError(f"the driver's cluster was shut down{where}; create a new AsyncCluster")
        return _fields(error, exc, statement, None, None)
    for kinds, error_type, happened, advice in _rules():
        if isinstance(exc, kinds):
            if error_type is AuthenticationError:
                return _fields(_bad_credentials(), exc, statement, None, None)
            message, code = _server_message(exc)
            if "paging state" in message.lower():
                error_type, happened = InvalidQueryError, "Cassandra did not accept the paging state ({message})"
                advice = "pass the paging_state of an earlier result of the same query, unchanged"
            said = (happened or "{message}").replace("{message}", message)
            text = f"{said}{where}" + (f"; {advice}" if advice else "")
            # Only an answer from the server carries a protocol error code: then the words are the server's.
            return _fields(error_type(text), exc, statement, message if code is not None else None, code)
    return exc


def _bad_credentials() -> AuthenticationError:
    return AuthenticationError(
        "Cassandra rejected the credentials (user name or password is wrong, or the role cannot log in); "
        "check them and try again"
    )


def _no_host(exc: BaseException, query: Any, statement: str | None, where: str) -> BaseException:
    from cassandra import (
        AuthenticationFailed,
        InvalidRequest,
        ReadFailure,
        ReadTimeout,
        Unauthorized,
        Unavailable,
        WriteFailure,
        WriteTimeout,
    )

    errors = getattr(exc, "errors", {}) or {}
    request_errors = (Unavailable, ReadTimeout, WriteTimeout, InvalidRequest, Unauthorized, ReadFailure, WriteFailure)
    if errors and all(isinstance(e, request_errors) for e in errors.values()):
        # Every host answered, and refused the request (the retry policy tried the next host): that is the
        # server's verdict on the statement, not a connection problem.
        return translate(next(iter(errors.values())), query)
    if errors and all(isinstance(e, AuthenticationFailed) for e in errors.values()):
        return _fields(_bad_credentials(), exc, statement, None, None)
    hosts = ", ".join(str(h) for h in errors) or "the contact points"
    reasons = "; ".join(f"{host}: {_server_message(e)[0]}" for host, e in errors.items())
    error = ConnectionError(
        f"no Cassandra host could be reached ({hosts}){where}"
        + (f" — {reasons}" if reasons else "")
        + "; check the server is running and the address and port are right"
    )
    return _fields(error, exc, statement, None, None)

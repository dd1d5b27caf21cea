"""Binding values to a statement before anything is sent, with errors that name the marker that does not fit."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from cassandra.query import PreparedStatement, SimpleStatement, bind_params

from .exceptions import ConfigurationError, InvalidQueryError, describe_statement

Query: TypeAlias = Any  # CQL text, a Statement (simple, bound, batch) or a PreparedStatement
Parameters: TypeAlias = Sequence[Any] | Mapping[str, Any] | None


def _explain_bind_error(statement: Any, parameters: Parameters, exc: Exception) -> str:
    """Name the marker whose value does not fit (the driver's own message may only say ``'int' ... encode``)."""
    prepared = getattr(statement, "prepared_statement", statement)
    columns = getattr(prepared, "column_metadata", None)
    if not columns or parameters is None or isinstance(parameters, Mapping):
        return str(exc)
    if len(parameters) > len(columns):
        return f"{len(parameters)} values for {len(columns)} markers"
    for column, value in zip(columns, parameters, strict=False):
        try:
            column.type.serialize(value, 5)
        except Exception:
            return (
                f"value {value!r} ({type(value).__name__}) does not fit marker {column.name!r} "
                f"of CQL type {column.type.cql_parameterized_type()}"
            )
    return str(exc)


def bind(statement: Query, parameters: Parameters, encoder: Any) -> tuple[Query, Parameters]:
    """Bind ``parameters`` to ``statement`` before anything is sent; only binding errors are caught here.

    Returns the statement to send and the parameters still to pass to the driver (only for a
    ``SimpleStatement``, whose text the driver formats itself; they are checked here first).

    Raises:
        InvalidQueryError: a value does not fit its marker (named, with its CQL type), or the count is off.
    """
    try:
        if isinstance(statement, PreparedStatement):
            return statement.bind(parameters or ()), None
        if parameters is None:
            return statement, None
        if isinstance(statement, str):
            return SimpleStatement(bind_params(statement, parameters, encoder)), None
        if isinstance(statement, SimpleStatement):
            bind_params(statement.query_string, parameters, encoder)  # checked, sent by the driver
            return statement, parameters
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, struct.error) as exc:
        # Raised while binding, serializing or formatting parameters, before anything is sent (the driver's
        # serializers raise AttributeError for some values of the wrong type, e.g. an int for text).
        error = InvalidQueryError(
            f"the parameters do not fit the statement {describe_statement(statement)!r}: "
            f"{_explain_bind_error(statement, parameters, exc)}. Pass one value per marker, each of its "
            "column's CQL type"
        )
        error.driver_error = exc
        raise error from None
    raise ConfigurationError(
        f"parameters go with CQL text or a prepared statement; a {type(statement).__name__} has its values already"
    )

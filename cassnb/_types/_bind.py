"""Any Python value -> the value the driver binds for a CQL type: the registry's ``coerce`` at every node.

Used by ``load`` (DataFrame cells, Arrow values) and by the magics (``:name`` variables).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from cassandra.util import OrderedMap

from ._registry import CqlType, Shape, fold, scalar_type
from ._text import show

Coercer = Callable[[Any], Any]

_FLOATS = frozenset({float, np.float64, np.float32, np.float16})
_NAT_TYPES = frozenset({np.datetime64, np.timedelta64})


def _pandas_nulls() -> tuple[Any, Any]:
    """``pd.NA`` and ``pd.NaT`` if pandas is loaded (no pandas value can exist otherwise), else two sentinels."""
    pandas = sys.modules.get("pandas")
    return (pandas.NA, pandas.NaT) if pandas is not None else (object(), object())


def missing_check(cql_type: CqlType | Shape) -> Callable[[Any], bool]:
    """How a value of ``cql_type`` is recognised as a null.

    ``None``, ``pd.NA``, ``pd.NaT`` and numpy's NaT always are; NaN is one except for float and double
    columns, where it is a value CQL stores.
    """
    row = cql_type.scalar if isinstance(cql_type, Shape) else scalar_type(cql_type)
    na, nat = _pandas_nulls()
    if row is not None and row.nan_is_value:
        return lambda value: value is None or value is na or value is nat

    def is_missing(value: Any) -> bool:
        if value is None or value is na or value is nat:
            return True
        kind = type(value)
        if kind in _FLOATS:
            return bool(value != value)
        return kind in _NAT_TYPES and bool(np.isnat(value))

    return is_missing


def mapping(pairs: list[tuple[Any, Any]]) -> Any:
    """A dict, or the driver's ``OrderedMap`` when keys are unhashable (frozen lists, maps, UDT dicts)."""
    try:
        return dict(pairs)
    except TypeError:
        return OrderedMap(pairs)


def positional(items: Sequence[Any], parsers: Sequence[Coercer], what: str) -> tuple[Any, ...]:
    """A tuple's or UDT's items in order; missing trailing items are nulls."""
    if len(items) > len(parsers):
        raise ValueError(f"{len(items)} values for a {what} of {len(parsers)}")
    padded = list(items) + [None] * (len(parsers) - len(items))
    return tuple(parse(item) for parse, item in zip(parsers, padded, strict=True))


def by_field(fields: Mapping[str, Any], names: Sequence[str], parsers: Sequence[Coercer], udt: str) -> tuple[Any, ...]:
    """A UDT's fields from a mapping by name, in field order; fields left out are nulls."""
    unknown = [name for name in fields if name not in names]
    if unknown:
        raise ValueError(f"{udt} has no field {', '.join(map(repr, unknown))} (its fields: {', '.join(names)})")
    return tuple(parse(fields.get(name)) for parse, name in zip(parsers, names, strict=True))


def _sequence(value: Any, what: str) -> Sequence[Any]:
    if isinstance(value, np.ndarray):
        return value.tolist()  # type: ignore[no-any-return]
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"expected {what}, got {show(value)}")
    return value if isinstance(value, Sequence) else list(value)


def _pairs(value: Any) -> Iterable[Any]:
    return value.items() if isinstance(value, Mapping) else _sequence(value, "a mapping")


def _record(value: Any, names: Sequence[str], fields: Sequence[Coercer], what: str) -> tuple[Any, ...]:
    if isinstance(value, Mapping):  # a dict, or Arrow's struct
        return by_field(value, names, fields, what)
    if isinstance(value, tuple | list):
        return positional(value, fields, what)
    return tuple(parse(getattr(value, name, None)) for parse, name in zip(fields, names, strict=True))


def _nullable(node: Shape, coerce: Coercer) -> Coercer:
    missing = missing_check(node)
    return lambda value: None if missing(value) else coerce(value)


def _visit(node: Shape, items: Sequence[Coercer]) -> Coercer:
    if node.scalar is not None:
        return node.scalar.coerce
    inner = [_nullable(sub, coerce) for sub, coerce in zip(node.items, items, strict=True)]
    if node.kind in ("list", "set", "vector"):
        (item,) = inner
        return lambda value: [item(x) for x in _sequence(value, "a list")]
    if node.kind == "map":
        key, item = inner
        return lambda value: mapping([(key(k), item(v)) for k, v in _pairs(value)])
    # A tuple arrives as a sequence, or from Arrow as a struct with fields f0, f1, ... (see formats' arrow_type).
    names = node.fields or tuple(f"f{i}" for i in range(len(inner)))
    what = node.name if node.kind == "udt" else "tuple"
    return lambda value: _record(value, names, inner, what)


def value_coercer(cql_type: CqlType) -> Coercer:
    """A function turning one non-null Python value into the value bound for a column of ``cql_type``.

    Raises ``TypeError`` (also when the type is not supported) or ``ValueError`` for a value that does not fit.
    """
    return fold(cql_type, _visit)


def bindable(cql_type: CqlType) -> Coercer:
    """Any Python value -> the value bound for a marker of ``cql_type``: pandas' and numpy's nulls (``NA``,
    ``NaT``, ``NaN`` where the type is not a float) are null, numpy scalars plain values, dicts UDTs.
    """
    coerce, missing = value_coercer(cql_type), missing_check(cql_type)
    return lambda value: None if missing(value) else coerce(value)

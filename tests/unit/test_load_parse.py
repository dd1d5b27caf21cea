"""Reading back what the exports write (no server needed).

The property tests generate values of every CQL type, encode them with the export's own encoders
(``formats._encode`` for CSV cells and JSON, ``formats._arrow`` for Parquet columns, the CSV writer for whole files) and
check that the load side gives back exactly the same values.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections import namedtuple
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cassandra import cqltypes as ct
from cassandra.util import Date, Duration, OrderedMap, Time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cassnb._types import millis_from_epoch, unwrap, value_coercer
from cassnb.formats._arrow import column_converter
from cassnb.formats._csv import CsvWriter
from cassnb.formats._decode import json_decoder, text_parser
from cassnb.formats._encode import json_encoder, text_encoder
from cassnb.formats._formats import CsvOptions
from cassnb.loading._columns import Column as _Column
from cassnb.loading._columns import arrow_column as _arrow_column
from cassnb.loading._columns import frame_column as _frame_column
from cassnb.loading._sources import _CsvSource

FROZEN = ct.FrozenType.apply_parameters
LIST, SET, MAP = ct.ListType.apply_parameters, ct.SetType.apply_parameters, ct.MapType.apply_parameters
ADDRESS = ct.UserType.make_udt_class(
    "ks_load_test", "address", ("street", "zip", "tags"), (ct.UTF8Type, ct.Int32Type, FROZEN([SET([ct.UTF8Type])]))
)
Address = namedtuple("Address", "street zip tags")

SCALARS = [
    ct.ByteType,
    ct.ShortType,
    ct.Int32Type,
    ct.LongType,
    ct.CounterColumnType,
    ct.IntegerType,
    ct.DecimalType,
    ct.FloatType,
    ct.DoubleType,
    ct.BooleanType,
    ct.UTF8Type,
    ct.VarcharType,
    ct.AsciiType,
    ct.BytesType,
    ct.UUIDType,
    ct.TimeUUIDType,
    ct.InetAddressType,
    ct.DateType,
    ct.SimpleDateType,
    ct.TimeType,
    ct.DurationType,
]
COMPOSITES = [
    LIST([ct.Int32Type]),
    SET([ct.UTF8Type]),
    MAP([ct.UTF8Type, ct.DoubleType]),
    MAP([ct.Int32Type, ct.UTF8Type]),
    FROZEN([LIST([ct.DateType])]),
    MAP([ct.DateType, FROZEN([SET([ct.UUIDType])])]),
    MAP([FROZEN([LIST([ct.Int32Type])]), ct.UTF8Type]),  # unhashable keys
    LIST([FROZEN([MAP([ct.SimpleDateType, ct.BytesType])])]),
    ct.TupleType.apply_parameters([ct.Int32Type, ct.UTF8Type, ct.SimpleDateType, ct.TimeType]),
    ADDRESS,
    FROZEN([ADDRESS]),
    ct.VectorType.apply_parameters([ct.FloatType, 3], None),
    SET([ct.DecimalType]),
]
ALL_TYPES = SCALARS + COMPOSITES
INT_RANGES = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64, "counter": 64}


# --- generated values, as the driver returns them -------------------------------------------------------


def scalar_values(name: str) -> st.SearchStrategy[Any]:
    if name in INT_RANGES:
        bits = INT_RANGES[name]
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "varint": st.integers(-(10**40), 10**40),
        "decimal": st.decimals(allow_nan=False, allow_infinity=False),
        "float": st.floats(width=32),
        "double": st.floats(),
        "boolean": st.booleans(),
        "text": st.text(),
        "varchar": st.text(),
        "ascii": st.text(st.characters(max_codepoint=127)),
        "blob": st.binary(),
        "uuid": st.uuids(),
        "timeuuid": st.uuids(version=1),
        "inet": st.ip_addresses().map(str),
        # what the driver hands out: naive UTC, whole milliseconds
        "timestamp": st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59)).map(
            lambda value: value.replace(microsecond=value.microsecond // 1000 * 1000)
        ),
        "date": st.integers(-(2**31), 2**31 - 1).map(Date),  # days: far beyond datetime.date
        "time": st.integers(0, 86_400 * 10**9 - 1).map(Time),
        "duration": st.tuples(
            st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), st.integers(0, 2**63 - 1), st.booleans()
        ).map(lambda t: Duration(*(-x if t[3] else x for x in t[:3]))),
    }
    return strategies[name]


def values_of(cql_type: Any, *, nested: bool = False) -> st.SearchStrategy[Any]:
    """Values of ``cql_type``; ``None`` only where CQL allows one inside a value (tuple and UDT fields)."""
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, ct.VectorType):
        return st.lists(values_of(cql_type.subtype), min_size=cql_type.vector_size, max_size=cql_type.vector_size)
    if issubclass(cql_type, ct.TupleType):  # UDTs too
        fields = [st.none() | values_of(sub) for sub in cql_type.subtypes]
        if issubclass(cql_type, ct.UserType):
            return st.tuples(*fields).map(lambda items: Address(*items))
        return st.tuples(*fields)
    if issubclass(cql_type, ct.MapType):
        key_type, value_type = cql_type.subtypes
        pairs = st.lists(st.tuples(values_of(key_type), values_of(value_type)), max_size=4)
        return pairs.map(lambda items: OrderedMap(items) if _unhashable(items) else dict(items))
    if issubclass(cql_type, ct.ListType | ct.SetType):
        return st.lists(values_of(cql_type.subtypes[0]), max_size=4)
    return scalar_values(cql_type.typename)


def _unhashable(pairs: list[tuple[Any, Any]]) -> bool:
    return any(isinstance(key, list | dict) for key, _ in pairs)


def canon(value: Any, cql_type: Any) -> Any:
    """One comparable form for a generated value and for what the load side makes of it."""
    if value is None:
        return None
    cql_type = unwrap(cql_type)
    if issubclass(cql_type, ct.VectorType | ct.ListType | ct.SetType):
        sub = cql_type.subtype if issubclass(cql_type, ct.VectorType) else cql_type.subtypes[0]
        return [canon(item, sub) for item in value]
    if issubclass(cql_type, ct.TupleType):
        return tuple(canon(item, sub) for item, sub in zip(value, cql_type.subtypes, strict=True))
    if issubclass(cql_type, ct.MapType):
        key_type, value_type = cql_type.subtypes
        return [(canon(k, key_type), canon(v, value_type)) for k, v in value.items()]
    name = cql_type.typename
    if name in ("float", "double"):
        return "NaN" if math.isnan(value) else (value, math.copysign(1.0, value))
    if name == "decimal":
        return value.as_tuple()
    if name == "timestamp":
        return value if isinstance(value, int) else millis_from_epoch(value)
    if name == "date":
        return value.days_from_epoch
    if name == "time":
        return value.nanosecond_time
    if name == "duration":
        return (value.months, value.days, value.nanoseconds)
    return value


# --- properties: parse(encode(value)) == value --------------------------------------------------------

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cql_type", ALL_TYPES, ids=lambda t: unwrap(t).cql_parameterized_type())
@PROPERTY
@given(data=st.data())
def test_csv_cell_parser_inverts_the_text_encoder(cql_type: Any, data: st.DataObject) -> None:
    value = data.draw(values_of(cql_type))
    text = text_encoder(cql_type)(value)
    assert canon(text_parser(cql_type)(text), cql_type) == canon(value, cql_type)


@pytest.mark.parametrize("cql_type", ALL_TYPES, ids=lambda t: unwrap(t).cql_parameterized_type())
@PROPERTY
@given(data=st.data())
def test_json_decoder_inverts_the_json_encoder(cql_type: Any, data: st.DataObject) -> None:
    value = data.draw(values_of(cql_type))
    line = json.dumps(json_encoder(cql_type)(value))  # as a JSON Lines value
    assert canon(json_decoder(cql_type)(json.loads(line)), cql_type) == canon(value, cql_type)


@pytest.mark.parametrize("cql_type", ALL_TYPES, ids=lambda t: unwrap(t).cql_parameterized_type())
@PROPERTY
@given(data=st.data())
def test_parquet_columns_read_back(cql_type: Any, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.none() | values_of(cql_type), max_size=6))
    array = column_converter(cql_type)(values)  # exactly what the Parquet writer stores
    bad: dict[int, str] = {}
    back = _arrow_column(array, _Column("c", cql_type, False), bad)
    assert bad == {}
    assert [canon(v, cql_type) for v in back] == [canon(v, cql_type) for v in values]


# --- whole CSV files: nulls, empty strings, quoting -----------------------------------------------------

TEXT_OR_NULL = st.none() | st.text(st.characters(blacklist_categories=["Cs"]))


def write_csv(path: Path, names: list[str], types: list[Any], rows: list[tuple[Any, ...]], **options: str) -> None:
    writer = CsvWriter(names, types, **options)
    writer.open(path)
    writer.write_page(rows)
    writer.close()


def read_csv(path: Path, names: list[str], types: list[Any], **options: Any) -> list[tuple[Any, ...]]:
    source = _CsvSource(path, path.suffix == ".gz", CsvOptions(**options))
    assert source.names == names
    columns = [_Column(name, cql_type, False) for name, cql_type in zip(names, types, strict=True)]
    rows: list[tuple[Any, ...]] = []
    for chunk in source.chunks(range(len(names)), columns, batch_rows=7):
        assert chunk.bad == {}
        rows.extend(zip(*chunk.columns, strict=True))
    return rows


@pytest.mark.parametrize(
    "options", [{}, {"null": "NULL"}, {"delimiter": ";"}, {"delimiter": "\t", "null": "\\N"}], ids=str
)
@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(TEXT_OR_NULL, TEXT_OR_NULL, st.none() | st.integers()), max_size=30))
def test_csv_files_keep_nulls_apart_from_empty_strings(
    tmp_path_factory: pytest.TempPathFactory, options: dict[str, str], rows: list[tuple[Any, ...]]
) -> None:
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    names, types = ["a", "b", "n"], [ct.UTF8Type, ct.UTF8Type, ct.Int32Type]
    write_csv(path, names, types, rows, **options)
    assert read_csv(path, names, types, **options) == rows


@settings(max_examples=40, deadline=None)
@given(values=st.lists(TEXT_OR_NULL, max_size=20))
def test_one_column_csv_with_null_rows(tmp_path_factory: pytest.TempPathFactory, values: list[Any]) -> None:
    """A one-column null is an empty line: it must still count as a row."""
    path = tmp_path_factory.mktemp("csv") / "one.csv"
    write_csv(path, ["v"], [ct.UTF8Type], [(v,) for v in values])
    assert read_csv(path, ["v"], [ct.UTF8Type]) == [(v,) for v in values]


def test_csv_text_that_looks_like_the_marker_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows: list[tuple[Any, ...]] = [("NULL", None), (None, ""), ("", "NULL"), ('a,"b"\r\nc', "x")]
    write_csv(path, ["a", "b"], [ct.UTF8Type, ct.UTF8Type], rows, null="NULL")
    assert b'"NULL"' in path.read_bytes()
    assert read_csv(path, ["a", "b"], [ct.UTF8Type, ct.UTF8Type], null="NULL") == rows


# --- what the parsers refuse ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cql_type", "text"),
    [
        (ct.Int32Type, "12x"),
        (ct.Int32Type, "1.5"),
        (ct.Int32Type, ""),
        (ct.Int32Type, " 1"),
        (ct.LongType, "1_0"),
        (ct.DoubleType, "nan"),
        (ct.DoubleType, "1,5"),
        (ct.DecimalType, "NaN"),
        (ct.DecimalType, "1e"),
        (ct.BooleanType, "yes"),
        (ct.BytesType, "00ff"),
        (ct.BytesType, "0xabc"),
        (ct.BytesType, "0x0 1"),
        (ct.UUIDType, "not-a-uuid"),
        (ct.InetAddressType, "300.1.1.1"),
        (ct.DateType, "yesterday"),
        (ct.SimpleDateType, "2024-13-01"),
        (ct.SimpleDateType, "24-01-01"),
        (ct.TimeType, "24:00:00"),
        (ct.TimeType, "12:00"),
        (ct.DurationType, "1x"),
        (ct.DurationType, "P1D"),
        (LIST([ct.Int32Type]), "[1"),
        (LIST([ct.Int32Type]), '["1"]'),
        (ADDRESS, '{"street": "x", "city": "y"}'),
        (ADDRESS, "[1, 2, 3, 4]"),
        (MAP([ct.Int32Type, ct.UTF8Type]), '{"one": "x"}'),
    ],
)
def test_malformed_text_is_refused(cql_type: Any, text: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        text_parser(cql_type)(text)


def test_lenient_but_exact_readings() -> None:
    assert text_parser(ct.BooleanType)("TRUE") is True
    assert text_parser(ct.DateType)("2024-01-02T04:04:05.5+01:00") == dt.datetime(2024, 1, 2, 3, 4, 5, 500000)
    assert text_parser(ct.DateType)("2024-01-02 03:04:05") == dt.datetime(2024, 1, 2, 3, 4, 5)  # naive: UTC
    assert text_parser(ct.TimeType)("01:02:03.5").nanosecond_time == 3_723_500_000_000
    assert text_parser(ct.SimpleDateType)("-0001-12-31").days_from_epoch == -719_529  # 2 BC, astronomical
    assert text_parser(ct.DurationType)("-1y2mo3µs") == Duration(-14, 0, -3_000)
    assert text_parser(ct.DecimalType)("1.50E+3").as_tuple() == Decimal("1.50E+3").as_tuple()
    udt = text_parser(ADDRESS)('{"zip": 5}')  # fields left out are nulls
    assert udt == (None, 5, None)


@pytest.mark.parametrize(
    ("cql_type", "value"),
    [
        (ct.Int32Type, "5"),
        (ct.Int32Type, True),
        (ct.Int32Type, 1.5),
        (ct.DoubleType, "1.0"),
        (ct.BooleanType, 1),
        (ct.UTF8Type, 5),
        (ct.BytesType, "0x00"),
        (ct.UUIDType, 5),
        (ct.SimpleDateType, pd.Timestamp("2024-01-01 12:00")),
        (ct.TimeType, dt.timedelta(hours=25)),
        (ct.DecimalType, float("nan")),
        (LIST([ct.Int32Type]), "abc"),
        (LIST([ct.Int32Type]), {"a": 1}),
        (MAP([ct.UTF8Type, ct.Int32Type]), 5),
        (ADDRESS, {"street": "x", "nope": 1}),
    ],
)
def test_python_values_that_do_not_fit_are_refused(cql_type: Any, value: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        value_coercer(cql_type)(value)


def test_python_values_map_to_driver_values() -> None:
    coerce = value_coercer
    assert coerce(ct.Int32Type)(np.int16(5)) == 5 and coerce(ct.Int32Type)(7.0) == 7
    assert coerce(ct.UUIDType)("00000000-0000-0000-0000-000000000001") == uuid.UUID(int=1)
    assert coerce(ct.DecimalType)(0.1) == Decimal("0.1") and coerce(ct.IntegerType)("-12") == -12
    assert coerce(ct.DateType)(pd.Timestamp("2024-01-01 00:00:00.0015", tz="UTC")) == 1_704_067_200_002
    assert coerce(ct.DateType)(np.datetime64("1970-01-01T00:00:01")) == 1000
    assert coerce(ct.SimpleDateType)(pd.Timestamp(np.datetime64("50000-01-01", "s"))).days_from_epoch == 17_542_597
    assert coerce(ct.SimpleDateType)(dt.date(1970, 1, 2)).days_from_epoch == 1
    assert coerce(ct.SimpleDateType)(-5).days_from_epoch == -5
    assert coerce(ct.TimeType)(pd.Timedelta(1)).nanosecond_time == 1
    assert coerce(ct.TimeType)(dt.time(1, 2, 3)).nanosecond_time == 3_723 * 10**9
    assert coerce(ct.DurationType)(dt.timedelta(days=-1, hours=-2)) == Duration(0, -1, -2 * 3_600 * 10**9)
    assert coerce(ADDRESS)({"street": "x", "zip": np.int64(3)}) == ("x", 3, None)
    assert coerce(ADDRESS)(Address("s", 1, ["a"])) == ("s", 1, ["a"])
    assert coerce(MAP([ct.UTF8Type, ct.Int32Type]))([("a", np.int8(1))]) == {"a": 1}
    assert coerce(LIST([ct.FloatType]))(np.array([1.5, 2.5], dtype=np.float32)) == [1.5, 2.5]
    # nulls inside values: pandas' markers become None
    tup = ct.TupleType.apply_parameters([ct.Int32Type, ct.UTF8Type])
    assert coerce(tup)((pd.NA, float("nan"))) == (None, None)


def test_dataframe_columns() -> None:
    frame = pd.DataFrame(
        {
            "ts": pd.Series(pd.to_datetime(["2024-01-01 00:00:00.0015", None], utc=True)).astype("datetime64[us, UTC]"),
            "naive": pd.to_datetime(["1969-12-31 23:59:59.999", None]),
            "i": pd.array([1, None], dtype="Int64"),
            "f": pd.arrays.FloatingArray(np.array([np.nan, 0.0]), np.array([False, True])),
            "npf": np.array([np.nan, 1.0]),
            "s": pd.array(["", None], dtype="string"),
            "o": [float("nan"), "x"],
            "d": np.array(["1970-01-02", "NaT"], dtype="datetime64[s]"),
            "t": pd.to_timedelta(["00:00:01", None]),
        }
    )
    types = {
        "ts": ct.DateType,
        "naive": ct.DateType,
        "i": ct.Int32Type,
        "f": ct.DoubleType,
        "npf": ct.DoubleType,
        "s": ct.UTF8Type,
        "o": ct.UTF8Type,
        "d": ct.SimpleDateType,
        "t": ct.TimeType,
    }
    bad: dict[int, str] = {}
    got = {name: _frame_column(frame[name], _Column(name, types[name], False), bad) for name in frame}
    assert bad == {}
    assert got["ts"] == [1_704_067_200_002, None]
    assert got["naive"] == [-1, None]
    assert got["i"] == [1, None]
    assert math.isnan(got["f"][0]) and got["f"][1] is None  # NaN is a value of a double, NA a null
    assert math.isnan(got["npf"][0]) and got["npf"][1] == 1.0
    assert got["s"] == ["", None]
    assert got["o"] == [None, "x"]  # in a text column NaN is pandas' null
    assert got["d"][0].days_from_epoch == 1 and got["d"][1] is None
    assert got["t"][0].nanosecond_time == 10**9 and got["t"][1] is None


def test_a_bad_cell_marks_its_row_with_the_column_and_reason() -> None:
    bad: dict[int, str] = {}
    column = _Column("n", ct.Int32Type, False)
    assert column.convert([1, "x", None, 2.5], column.coerce, bad) == [1, None, None, None]
    assert bad == {1: "column 'n': expected an integer, got 'x'", 3: "column 'n': expected an integer, got float 2.5"}


def test_the_driver_binds_udts_from_tuples_not_dicts() -> None:
    """Why UDT values (dicts from Arrow structs and JSON, objects) are turned into tuples in field order."""
    as_tuple = ADDRESS.serialize(("Main St", 5, ["a"]), 5)
    assert ADDRESS.serialize(Address("Main St", 5, ["a"]), 5) == as_tuple
    with pytest.raises(KeyError):
        ADDRESS.serialize({"street": "Main St", "zip": 5, "tags": ["a"]}, 5)
    coerced = value_coercer(ADDRESS)({"tags": ["a"], "zip": 5, "street": "Main St"})
    assert ADDRESS.serialize(coerced, 5) == as_tuple


def test_json_lines_rows_that_do_not_fit_are_marked(tmp_path: Path) -> None:
    from cassnb.loading._sources import _JsonlSource

    path = tmp_path / "rows.jsonl"
    path.write_text('{"k": 1, "v": "a"}\n\n{"k": 2}\nnot json\n[1, 2]\n{"k": 3, "v": "b", "w": 1}\n{"k": "4"}\n')
    source = _JsonlSource(path, gzipped=False)
    assert source.names == ["k", "v"]
    columns = [_Column("k", ct.Int32Type, True), _Column("v", ct.UTF8Type, False)]
    (chunk,) = source.chunks([0, 1], columns, batch_rows=100)
    assert chunk.size == 6 and chunk.columns[0][:2] == [1, 2] and chunk.columns[1][:2] == ["a", None]
    assert list(chunk.numbers) == [0, 2, 3, 4, 5, 6]  # a row's number is its line's (the blank line counts)
    assert chunk.source(2) == "not json"
    assert chunk.bad == {
        2: "not JSON: Expecting value: line 1 column 1 (char 0)",
        3: "not a JSON object: list [1, 2]",
        4: "field(s) 'w' not in the first line's columns",
        5: "column 'k': expected an integer, got '4'",
    }
    (tmp_path / "array.jsonl").write_text("[1]\n")
    with pytest.raises(ValueError, match=r"line 1 of .* is not a JSON object with the columns as keys"):
        _JsonlSource(tmp_path / "array.jsonl", gzipped=False)

"""The text and JSON encodings of CQL values used by the exports (no server needed)."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections import namedtuple
from decimal import Decimal

import pytest
from cassandra import cqltypes as ct
from cassandra.util import Date, Duration, OrderedMapSerializedKey, SortedSet, Time

from cassnb._types import cql_name
from cassnb._types._text import float_text, timestamp_text, uuid_text
from cassnb.formats._columns import encode_column, transpose
from cassnb.formats._encode import json_encoder, json_form, text_encoder, text_encoders

LIST_INT = ct.ListType.apply_parameters([ct.Int32Type])
SET_TEXT = ct.SetType.apply_parameters([ct.UTF8Type])
MAP_INT_TEXT = ct.MapType.apply_parameters([ct.Int32Type, ct.UTF8Type])
MAP_TEXT_TIMESTAMPS = ct.MapType.apply_parameters(
    [ct.UTF8Type, ct.FrozenType.apply_parameters([ct.ListType.apply_parameters([ct.DateType])])]
)
TUPLE = ct.TupleType.apply_parameters([ct.Int32Type, ct.UTF8Type, ct.DoubleType])
UDT = ct.UserType.make_udt_class("ks_values_test", "point", ("x", "label"), (ct.Int32Type, ct.UTF8Type))
VECTOR = ct.VectorType.apply_parameters([ct.FloatType, 3], None)
Point = namedtuple("Point", "x label")


def text(cql_type: type, value: object) -> str:
    return text_encoder(cql_type)(value)


@pytest.mark.parametrize(
    ("cql_type", "value", "expected"),
    [
        (ct.ByteType, -128, "-128"),
        (ct.ShortType, 32767, "32767"),
        (ct.Int32Type, -5, "-5"),
        (ct.LongType, 2**63 - 1, "9223372036854775807"),
        (ct.CounterColumnType, 42, "42"),
        (ct.IntegerType, -(10**40), "-" + "1" + "0" * 40),
        (ct.DecimalType, Decimal("1E+3"), "1E+3"),
        (ct.DecimalType, Decimal("-0.000100"), "-0.000100"),
        (ct.DoubleType, 0.1, "0.1"),
        (ct.DoubleType, -0.0, "-0.0"),
        (ct.DoubleType, 1e300, "1e+300"),
        (ct.DoubleType, float("nan"), "NaN"),
        (ct.DoubleType, float("inf"), "Infinity"),
        (ct.FloatType, float("-inf"), "-Infinity"),
        (ct.FloatType, 1.100000023841858, "1.100000023841858"),
        (ct.BooleanType, True, "true"),
        (ct.BooleanType, False, "false"),
        (ct.UTF8Type, 'a,"b"\n', 'a,"b"\n'),
        (ct.VarcharType, "", ""),
        (ct.AsciiType, "abc", "abc"),
        (ct.BytesType, b"\x00\xff\x10", "0x00ff10"),
        (ct.BytesType, b"", "0x"),
        (ct.UUIDType, uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (
            ct.TimeUUIDType,
            uuid.UUID("d556f8e0-e85f-11f1-bea6-35da0dfca362"),
            "d556f8e0-e85f-11f1-bea6-35da0dfca362",
        ),
        (ct.InetAddressType, "::1", "::1"),
        (ct.InetAddressType, "10.0.0.1", "10.0.0.1"),
    ],
)
def test_scalar_text(cql_type: type, value: object, expected: str) -> None:
    assert text(cql_type, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2024, 1, 2, 3, 4, 5, 123000), "2024-01-02T03:04:05.123Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05.000Z"),
        # the driver builds datetimes through a float; the nearest millisecond is the stored one
        (dt.datetime(2024, 1, 2, 3, 4, 5, 122999), "2024-01-02T03:04:05.123Z"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 123499), "2024-01-02T03:04:05.123Z"),
        (dt.datetime(2024, 12, 31, 23, 59, 59, 999600), "2025-01-01T00:00:00.000Z"),
        (dt.datetime(1969, 12, 31, 23, 59, 59, 999000), "1969-12-31T23:59:59.999Z"),
        (dt.datetime(1, 1, 1), "0001-01-01T00:00:00.000Z"),
        (
            dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-01-02T03:04:05.000Z",
        ),
    ],
)
def test_timestamp_text(value: dt.datetime, expected: str) -> None:
    assert text(ct.DateType, value) == expected
    assert text(ct.TimestampType, value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Date(0), "1970-01-01"),
        (Date(-1), "1969-12-31"),
        (Date(19725), "2024-01-03"),
        (dt.date(2024, 1, 3), "2024-01-03"),
        (Date(dt.date(1, 1, 1).toordinal() - 719163), "0001-01-01"),
        (Date(dt.date(9999, 12, 31).toordinal() - 719163), "9999-12-31"),
        # beyond datetime.date: ISO 8601 expanded years, astronomical numbering (year 0 = 1 BC)
        (Date(dt.date(1, 1, 1).toordinal() - 719163 - 1), "0000-12-31"),
        (Date(dt.date(9999, 12, 31).toordinal() - 719163 + 1), "+10000-01-01"),
        (Date(-755687), "-0099-01-01"),  # what Cassandra 5 stores for the literal '-0099-01-01'
        (Date(2**31 - 1), "+5881580-07-11"),  # the CQL extremes
        (Date(-(2**31)), "-5877641-06-23"),
    ],
)
def test_date_text(value: object, expected: str) -> None:
    assert text(ct.SimpleDateType, value) == expected


def test_time_and_duration_text() -> None:
    assert text(ct.TimeType, Time(3723123456789)) == "01:02:03.123456789"
    assert text(ct.TimeType, Time(0)) == "00:00:00.000000000"
    assert text(ct.TimeType, dt.time(23, 59, 59, 999999)) == "23:59:59.999999000"
    nanos = (((4 * 60 + 5) * 60 + 6) * 1000 + 7) * 1_000_000 + 8_009
    assert text(ct.DurationType, Duration(14, 3, nanos)) == "1y2mo3d4h5m6s7ms8us9ns"
    assert text(ct.DurationType, Duration(0, 0, 0)) == "0s"
    assert text(ct.DurationType, Duration(1, 0, 0)) == "1mo"
    assert text(ct.DurationType, Duration(0, -2, -3_600_000_000_000)) == "-2d1h"


def test_collections_are_compact_json() -> None:
    assert text(LIST_INT, [3, 1, 2]) == "[3,1,2]"
    assert text(SET_TEXT, SortedSet(["b", "a"])) == '["a","b"]'
    keyed = OrderedMapSerializedKey(ct.Int32Type, 4)
    for key, value in ((1, "one"), (-2, "minus two")):
        keyed._insert_unchecked(key, ct.Int32Type.serialize(key, 4), value)
    assert text(MAP_INT_TEXT, keyed) == '{"1":"one","-2":"minus two"}'  # non-text keys: their text form
    stamps = {"k": [dt.datetime(2024, 1, 1, 0, 0, 0, 1000)]}
    assert text(MAP_TEXT_TIMESTAMPS, stamps) == '{"k":["2024-01-01T00:00:00.001Z"]}'
    assert text(TUPLE, (1, None, float("nan"))) == '[1,null,"NaN"]'
    assert text(UDT, Point(7, "ü")) == '{"x":7,"label":"ü"}'
    assert text(VECTOR, [1.5, -0.25, 3.0]) == "[1.5,-0.25,3.0]"


def test_udt_from_a_registered_class() -> None:
    class Mapped:
        def __init__(self) -> None:
            self.x, self.label = 1, None

    assert json_encoder(UDT)(Mapped()) == {"x": 1, "label": None}


def test_json_values() -> None:
    assert json_encoder(ct.LongType)(2**62) == 2**62
    assert json_encoder(ct.IntegerType)(2**80) == str(2**80)
    assert json_encoder(ct.DecimalType)(Decimal("3.14")) == "3.14"
    assert json_encoder(ct.DoubleType)(float("-inf")) == "-Infinity"
    assert json_encoder(ct.BooleanType)(True) is True
    assert json_form(ct.LongType) == "token"
    assert json_form(ct.UTF8Type) == "string"
    assert json_form(ct.UUIDType) == "string"
    assert json_form(ct.FloatType) == "float"
    assert json_form(LIST_INT) == "token"
    assert json_form(UDT) == "token"


def test_frozen_is_unwrapped() -> None:
    frozen = ct.FrozenType.apply_parameters([LIST_INT])
    assert text(frozen, [1]) == "[1]"
    assert cql_name(frozen) == "list<int>"


def test_cql_names() -> None:
    assert cql_name(VECTOR) == "vector<float, 3>"
    assert cql_name(UDT) == "point"
    assert cql_name(TUPLE) == "tuple<int, text, double>"
    assert cql_name(MAP_INT_TEXT) == "map<int, text>"
    assert cql_name(ct.TimestampType) == "timestamp"


def test_unknown_type_is_refused_when_the_encoders_are_built() -> None:
    custom = ct.mkUnrecognizedType("com.example.MyType")
    with pytest.raises(TypeError, match=r"com\.example\.MyType"):
        text_encoders([ct.Int32Type, custom])


def test_encode_column_keeps_nulls() -> None:
    encode = text_encoder(ct.Int32Type)
    assert encode_column(encode, (1, None, 3)) == (["1", None, "3"], True)
    assert encode_column(encode, (1, 2)) == (["1", "2"], False)
    assert encode_column(text_encoder(ct.UTF8Type), ("a", None)) == (("a", None), True)


def test_transpose_checks_row_width() -> None:
    assert transpose([(1, "a"), (2, "b")], 2) == [(1, 2), ("a", "b")]
    with pytest.raises(ValueError, match=r"2 columns but rows with \[1\] values"):
        transpose([(1, "a"), (2,)], 2)
    with pytest.raises(ValueError, match="3 columns"):
        transpose([(1, "a")], 3)


# The whole-column fast paths must give exactly what the per-value encoders give.


def test_uuid_column_matches_per_value() -> None:
    rng = random.Random(7)
    values = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(500)] + [uuid.uuid1(), uuid.UUID(int=0)]
    column = [*values[:10], None, *values[10:]]
    encoded, has_nulls = encode_column(uuid_text, column)
    assert has_nulls
    assert encoded == [None if value is None else str(value) for value in column]


def test_timestamp_column_matches_per_value() -> None:
    rng = random.Random(11)
    epoch = dt.datetime(1970, 1, 1)
    values = [epoch + dt.timedelta(microseconds=rng.randrange(-6 * 10**16, 2 * 10**17)) for _ in range(2000)]
    values += [
        dt.datetime(2024, 1, 1, 0, 0, 0, 1500),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999500),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999000),
        dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    ]
    encoded, _ = encode_column(timestamp_text, values)
    assert encoded == [timestamp_text(value) for value in values]


def test_uuid_columns_read_as_bytes_give_the_same_text() -> None:
    # Exports read uuids as their 16 bytes (cassnb._decode); a page may also mix them with uuid.UUID objects.
    rng = random.Random(8)
    values = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(300)] + [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    raw = [value.bytes for value in values]
    assert encode_column(uuid_text, raw) == ([str(value) for value in values], False)
    mixed = [raw[0], None, values[1], raw[2]]
    assert encode_column(uuid_text, mixed) == ([str(values[0]), None, str(values[1]), str(values[2])], True)
    with pytest.raises(ValueError, match=r"neither a uuid\.UUID nor 16 bytes"):
        encode_column(uuid_text, [raw[0], b"short"])


def _random_datetimes(seed: int, count: int) -> list[dt.datetime]:
    rng = random.Random(seed)
    epoch = dt.datetime(1970, 1, 1)
    return [epoch + dt.timedelta(microseconds=rng.randrange(-6 * 10**16, 2 * 10**17)) for _ in range(count)]


def test_timestamps_read_as_milliseconds_give_the_same_text() -> None:
    from cassnb._types import millis_from_epoch

    values = [*_random_datetimes(12, 1000), dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999000)]
    millis = [millis_from_epoch(value) for value in values]
    assert encode_column(timestamp_text, millis) == ([timestamp_text(value) for value in values], False)
    mixed = [millis[0], None, values[1]]
    assert encode_column(timestamp_text, mixed)[0] == [timestamp_text(values[0]), None, timestamp_text(values[1])]


def test_timestamps_outside_years_1_to_9999_get_expanded_years() -> None:
    from cassandra.util import Date

    from cassnb._types._text import date_text

    far = [253_402_300_800_000, -62_135_596_800_001, 2**63 - 1, -(2**63) + 1, 253_402_300_799_999]
    texts = encode_column(timestamp_text, far)[0]
    assert texts[:2] == ["+10000-01-01T00:00:00.000Z", "0000-12-31T23:59:59.999Z"]
    assert texts[4] == "9999-12-31T23:59:59.999Z"
    for value, text in zip(far, texts, strict=True):  # the date as date_text writes that day
        assert text.rpartition("T")[0] == date_text(Date(value // 86_400_000))


def test_parquet_timestamps_from_milliseconds_equal_those_from_datetimes() -> None:
    from cassnb._types import millis_from_epoch
    from cassnb.formats._arrow import column_converter

    convert = column_converter(ct.DateType)
    values = [*_random_datetimes(13, 500), None, dt.datetime(1969, 12, 31, 23, 59, 59, 999500)]
    millis = [None if value is None else millis_from_epoch(value) for value in values]
    assert convert(millis).equals(convert(values))
    assert convert(millis).cast("int64").to_pylist() == millis
    assert convert([millis[0], values[1], None]).cast("int64").to_pylist() == [millis[0], millis[1], None]
    assert convert([None, None]).null_count == 2


def test_float_column_matches_per_value() -> None:
    finite = [0.1, -0.0, 1e-300, 1.7976931348623157e308, 5e-324]
    assert encode_column(float_text, finite)[0] == [float_text(v) for v in finite]
    mixed = [1.0, float("nan"), float("inf"), None, -2.5]
    assert encode_column(float_text, mixed)[0] == ["1.0", "NaN", "Infinity", None, "-2.5"]
    huge = [1.7976931348623157e308, 1.7976931348623157e308]  # their sum overflows; still finite values
    assert encode_column(float_text, huge)[0] == [repr(v) for v in huge]


def test_text_of_every_float_round_trips() -> None:
    rng = random.Random(3)
    for _ in range(1000):
        value = rng.uniform(-1e6, 1e6) * 10 ** rng.randrange(-300, 300)
        assert float(text(ct.DoubleType, value)) == value
        assert json.loads(json.dumps(json_encoder(ct.DoubleType)(value))) == value


def test_parquet_timestamps_round_like_the_text() -> None:
    from cassnb._types import millis_from_epoch
    from cassnb.formats._arrow import column_converter

    rng = random.Random(5)
    epoch = dt.datetime(1970, 1, 1)
    values = [epoch + dt.timedelta(microseconds=rng.randrange(-6 * 10**16, 2 * 10**17)) for _ in range(500)]
    values += [None, dt.datetime(1969, 12, 31, 23, 59, 59, 999500), dt.datetime(2024, 1, 1, 0, 0, 0, 2500)]
    column = column_converter(ct.DateType)(values)
    expected = [None if value is None else millis_from_epoch(value) for value in values]
    assert column.cast("int64").to_pylist() == expected
    assert str(column.type) == "timestamp[ms, tz=UTC]"

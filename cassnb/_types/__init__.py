"""CQL types in cassnb: one registry says what each type becomes in a DataFrame, a file and a bound value.

=====================  ===================  ====================  ===================================  ==========
CQL type               pandas dtype         Arrow (Parquet)       text (CSV cell)                      JSON
=====================  ===================  ====================  ===================================  ==========
tinyint smallint int   Int8 Int16 Int32     int8 int16 int32      decimal digits                       number
bigint counter         Int64                int64                 decimal digits                       number
varint                 object (int)         string                decimal digits, any size             string
decimal                object (Decimal)     string                ``str(Decimal)``: ``1E+3``           string
float double           Float32 Float64      float32 float64       ``repr``; ``NaN``, ``Infinity`` [1]  number [1]
boolean                boolean              bool                  ``true`` / ``false``                 boolean
text varchar ascii     string[python]       string                the string itself                    string
blob                   object (bytes)       binary                ``0x`` + lowercase hex               string
uuid timeuuid          object (UUID)        string                ``8-4-4-4-12`` lowercase             string
inet                   object (str)         string                the address                          string
timestamp              datetime64[ms, UTC]  timestamp[ms, UTC]    ``...T03:04:05.123Z`` [2]            string
date                   datetime64[s]        date32                ``YYYY-MM-DD`` [3]                   string
time                   timedelta64[ns]      time64[ns]            ``HH:MM:SS.nnnnnnnnn``               string
duration               object (Duration)    string                CQL literal: ``1y2mo3d4h``           string
list set vector<T, n>  object               list, fixed list [n]  compact JSON                         array
map<K, V>              object               map<K, V>             compact JSON                         object [4]
tuple<A, B, ...>       object (tuple)       struct<f0: A, ...>    compact JSON                         array
user-defined type      object               struct by field       compact JSON                         object
frozen<T>              as T                 as T                  as T                                 as T
=====================  ===================  ====================  ===================================  ==========

[1] and ``-Infinity``; in JSON these three are the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
[2] rounded to the stored millisecond (the driver decodes through a float of seconds).
[3] outside years 1-9999 as ISO 8601 expanded years; year 0 is 1 BC. Every CQL date fits ``datetime64[s]``.
[4] keys are the text form of the key: ``map<int, text>`` gives ``{"1": "a"}``.

Each Parquet field carries its CQL type in its metadata (``cql_type``), so a reader can tell a decimal string
from a text column. ``load`` reads each form back: ``text_parser`` and ``json_decoder`` (in ``cassnb.formats``)
invert the text and JSON forms, ``value_coercer`` takes Python values. Types without a row (custom types)
are ``object`` in a DataFrame and refused, with a one-line ``TypeError``, by exports and loads.
"""

from ._bind import bindable, missing_check, value_coercer
from ._registry import (
    SCALARS,
    CqlType,
    JsonKind,
    ScalarType,
    Shape,
    cql_name,
    fold,
    frame_decode_type,
    scalar_type,
    shape,
    unsupported,
    unwrap,
)
from ._text import days_from_epoch, identity, millis_from_epoch, show

__all__ = (
    "SCALARS",
    "CqlType",
    "JsonKind",
    "ScalarType",
    "Shape",
    "bindable",
    "cql_name",
    "days_from_epoch",
    "fold",
    "frame_decode_type",
    "identity",
    "millis_from_epoch",
    "missing_check",
    "scalar_type",
    "shape",
    "show",
    "unsupported",
    "unwrap",
    "value_coercer",
)

"""Pages for DataFrames decoded with cheaper readings of the same bytes (cassnb._decode), without a server."""

from __future__ import annotations

import copy
import pickle
import uuid
from typing import Any

import pytest
from cassandra import DriverException, cqltypes

from cassnb._decode import FRAME_DECODING, PIECE_BYTES, PIECE_ROWS, ROW_DECODING, Unparsed, uuids
from cassnb._types import frame_decode_type


def test_the_frame_decoding_is_there_with_the_drivers_compiled_parser() -> None:
    from cassandra.protocol import HAVE_CYTHON

    assert HAVE_CYTHON, "the driver installed here is not the compiled one"
    assert FRAME_DECODING is not None, "cassnb._decode could not build on this driver's result parsing"


def test_uuids_from_their_bytes_are_the_drivers_uuids() -> None:
    values = [uuid.uuid4(), uuid.uuid1(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)]
    made = uuids([v.bytes for v in values] + [None, values[0]])
    assert made[:4] == values
    assert made[4] is None and made[5] is values[0]
    for original, new in zip(values, made, strict=False):
        assert type(new) is uuid.UUID and new.is_safe is uuid.SafeUUID.unknown
        assert (str(new), hash(new), new.version) == (str(original), hash(original), original.version)
        assert pickle.loads(pickle.dumps(new)) == original == copy.deepcopy(new)


def test_which_types_are_read_another_way() -> None:
    assert frame_decode_type(cqltypes.UUIDType) is cqltypes.BytesType
    assert frame_decode_type(cqltypes.TimeUUIDType) is cqltypes.BytesType
    assert frame_decode_type(cqltypes.DateType) is cqltypes.LongType  # the driver's class for timestamp
    list_of_uuids = cqltypes.lookup_casstype("ListType(UUIDType)")
    for same in (cqltypes.LongType, cqltypes.UTF8Type, list_of_uuids):  # collections keep the driver's objects
        assert frame_decode_type(same) is same


# ------------------------------------------------------------------ large pages left unparsed
def _rows_body(rows: list[tuple[int, str, bytes | None]]) -> bytes:
    """A RESULT/ROWS body as the server sends it: columns id int, name text, u uuid."""
    from io import BytesIO

    from cassandra.protocol import RESULT_KIND_ROWS, write_int, write_short, write_string, write_value

    out = BytesIO()
    write_int(out, RESULT_KIND_ROWS)
    write_int(out, 0x0001)  # one keyspace and table for every column
    write_int(out, 3)
    write_string(out, "ks")
    write_string(out, "t")
    for name, type_code in (("id", 0x0009), ("name", 0x000D), ("u", 0x000C)):
        write_string(out, name)
        write_short(out, type_code)
    write_int(out, len(rows))
    for number, name, raw in rows:
        write_value(out, number.to_bytes(4, "big", signed=True))
        write_value(out, name.encode())
        write_value(out, raw)
    return out.getvalue()


def _message(handler: Any, body: bytes) -> Any:
    from io import BytesIO

    from cassandra.protocol import ResultMessage

    return handler.message_types_by_opcode[ResultMessage.opcode].recv_body(BytesIO(body), 5, {}, None, None)


def _drivers_own(body: bytes) -> list[tuple[Any, ...]]:
    from cassandra.protocol import ResultMessage  # the driver's pure-Python parsing: the reference

    plain = type("Plain", (), {"message_types_by_opcode": {ResultMessage.opcode: ResultMessage}})
    rows: list[tuple[Any, ...]] = _message(plain, body).parsed_rows
    return rows


def _all(parsed: Any) -> list[Any]:
    if not isinstance(parsed, Unparsed):
        return list(parsed)
    rows: list[Any] = []
    while piece := parsed.take(PIECE_ROWS):
        rows += piece
    return rows


@pytest.mark.parametrize("count", [0, 1, 10, PIECE_ROWS * 4, PIECE_ROWS * 4 + 1, 5000])
def test_pages_are_the_drivers_rows_whole_or_unparsed(count: int) -> None:
    rows = [(i - count // 2, f"name {i}" * (i % 7), None if i % 5 == 0 else uuid.UUID(int=i).bytes) for i in range(count)]
    body = _rows_body(rows)
    expected = _drivers_own(body)
    assert len(expected) == count
    message = _message(ROW_DECODING, body)
    assert isinstance(message.parsed_rows, Unparsed) == (len(body) >= PIECE_BYTES)
    assert _all(message.parsed_rows) == expected
    frames = _message(FRAME_DECODING, body)
    assert _all(frames.parsed_rows) == [(i, name, None if u is None else u.bytes) for i, name, u in expected]
    assert frames.column_names == ["id", "name", "u"]
    assert frames.column_types[2] is cqltypes.UUIDType  # the real type stays; only the reading differs


def test_an_unparsed_page_is_shaped_as_it_is_taken() -> None:
    from cassnb._rows import named_tuple_rows

    body = _rows_body([(i, "x" * 30, uuid.UUID(int=i).bytes) for i in range(3000)])
    parsed = _message(ROW_DECODING, body).parsed_rows
    assert isinstance(parsed, Unparsed)
    parsed.shape_by(named_tuple_rows, ["id", "name", "u"])
    rows = _all(parsed)
    assert len(rows) == 3000 and rows[7].id == 7 and rows[7].u == uuid.UUID(int=7) and rows[7][1] == "x" * 30


def test_a_bad_cell_in_an_unparsed_page_fails_when_its_piece_is_taken() -> None:
    rows: list[tuple[int, str, bytes | None]] = [(i, "x" * 20, uuid.UUID(int=i).bytes) for i in range(3000)]
    rows[2200] = (2200, "x", b"\x01\x02\x03")  # 3 bytes where a uuid needs 16
    parsed = _message(ROW_DECODING, _rows_body(rows)).parsed_rows
    assert isinstance(parsed, Unparsed)
    assert len(parsed.take(2200)) == 2200  # the rows before it are fine
    with pytest.raises(DriverException, match='column "u" of type uuid'):
        parsed.take(PIECE_ROWS)


def test_a_bad_cell_in_a_small_page_also_fails_only_when_taken() -> None:
    body = _rows_body([(1, "a", uuid.UUID(int=1).bytes), (2, "b", b"\x01")])
    assert len(body) < PIECE_BYTES
    parsed = _message(ROW_DECODING, body).parsed_rows  # no exception here, where the driver's answer is read
    assert isinstance(parsed, Unparsed)
    with pytest.raises(DriverException, match='column "u" of type uuid'):
        parsed.take(PIECE_ROWS)

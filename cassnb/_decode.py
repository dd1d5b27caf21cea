"""How cassnb's requests read their pages: the driver's C parser, later and in pieces for large pages, and
into the cheapest values that say the same for pages that become DataFrames or export files.

:data:`ROW_DECODING` and :data:`FRAME_DECODING` are the driver's Cython protocol handler with its result
message's row parsing done here, on the same parser, deserializers and descriptor the driver uses itself.

**Large pages are parsed on the event loop, in pieces.** A page body of :data:`PIECE_BYTES` or more arrives as
:class:`Unparsed`, and :mod:`cassnb._bridge` parses it a few milliseconds per turn of the loop (see
:class:`Unparsed` for why not on another thread). Small answers, a point read's among them, are parsed at once.

**Pages for frames and exports** (:data:`FRAME_DECODING`) do not need the objects the driver makes for each cell,
only what the column or the text is built from. Where a CQL type's bytes can be read by the decoder of a
cheaper type, these pages use that decoder instead:

* ``uuid`` and ``timeuuid`` arrive as their 16 bytes (``blob``'s decoder). The driver's own ``uuid.UUID(bytes=)``
  is Python code and costs more than the rest of a six-column row together (1.7 µs of 3.2 per row measured on
  the benchmark table); :func:`uuids` makes the same objects from the bytes for a third of the constructor's
  time (0.45 against 1.0 to 1.35 µs each).
* ``timestamp`` arrives as its milliseconds since the epoch (``bigint``'s decoder, same 8 bytes): no
  ``datetime`` per cell, and no floating-point rounding on far dates.

The response keeps its real column types (``column_types``); only the decoding differs. Which types have a
cheaper reading is the registry's business (``ScalarType.frame_decode``, :mod:`cassnb._types`).

Where the driver lacks these parts (no Cython build, another driver version), both handlers are ``None``:
requests use the driver's own handler, and frames are built from the driver's usual objects
(``cassnb._frames`` accepts either).
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice, repeat
from typing import Any, ClassVar

from ._types import frame_decode_type

__all__ = ("FRAME_DECODING", "PIECE_ROWS", "ROW_DECODING", "Unparsed", "leaves_unparsed", "uuids")


#: A page body of this many bytes or more is parsed later, on the event loop, a few milliseconds at a time
#: (a smaller one is parsed at once: a point read's row is wanted now).
PIECE_BYTES = 64 * 1024

#: Rows parsed in one call of the driver's parser (0.2-1 ms for six columns); the loop's turn is a few of them.
PIECE_ROWS = 100


#: Prepared statements whose answers' parser descriptor is kept, per handler.
DESCRIBED = 256


class Unparsed:
    """The rows of a page, not yet parsed: the driver's own parser, run on demand by :meth:`take`.

    A page of 5,000 rows takes the driver's C parser 6-25 ms. Parsed on another thread, it kept the event loop's
    thread from the GIL for 30-40 ms at a time (far past the interpreter's 5 ms switch interval: C code that
    holds the GIL in stretches starves the threads waiting for it); parsed on the loop in one go, it holds the
    loop. Taken a piece at a time on the loop (:mod:`cassnb._bridge`), other tasks run between the pieces.
    A page with a value the driver cannot decode also arrives unparsed, so that the error is raised when its
    row is taken, for that read alone.
    """

    __slots__ = ("_names", "_rows", "_shape")

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self._shape: Any = None
        self._names: Any = None

    def shape_by(self, row_factory: Any, column_names: Any) -> None:
        """Shape the rows with this driver row factory as they are taken (one that shapes each row on its own)."""
        self._shape, self._names = row_factory, column_names

    def take(self, count: int) -> list[Any]:
        """The next ``count`` rows (fewer at the end)."""
        rows = list(islice(self._rows, count))
        return rows if self._shape is None else self._shape(self._names, rows)


def _handler(frames: bool) -> Any:
    """The driver's Cython protocol handler with its result message's row parsing done here, on the same
    parser, deserializers and descriptor it uses itself. A large page is left :class:`Unparsed`; with ``frames``,
    cells of the registry's types are read by cheaper decoders (``ScalarType.frame_decode``). ``None`` where the
    driver lacks these parts."""
    try:
        from cassandra.bytesio import BytesIOReader
        from cassandra.deserializers import make_deserializers
        from cassandra.obj_parser import LazyParser, ListParser
        from cassandra.parsing import ParseDesc
        from cassandra.policies import ColDesc
        from cassandra.protocol import ProtocolHandler, ResultMessage
    except ImportError:  # the driver without its Cython extensions
        return None
    base = ProtocolHandler.message_types_by_opcode.get(ResultMessage.opcode)
    if base is None or getattr(base, "recv_results_rows", None) is None:
        return None
    whole, lazy = ListParser(), LazyParser()
    # A prepared statement's answers carry no metadata: each uses the statement's own list, the same object every
    # time, and gets the parser's descriptor made for it once (9 µs a message, some 3% of a point read's CPU).
    known: dict[int, tuple[Any, Any, int, tuple[list[str], list[Any], Any]]] = {}

    def describe(metadata: Any, protocol_version: int, encryption: Any) -> tuple[list[str], list[Any], Any]:
        names = [column[2] for column in metadata]
        types = [column[3] for column in metadata]
        decoded_as = [frame_decode_type(t) for t in types] if frames else types
        description = ParseDesc(
            names, decoded_as, encryption, [ColDesc(c[0], c[1], c[2]) for c in metadata],
            make_deserializers(decoded_as), protocol_version,
        )  # fmt: skip
        return names, types, description

    def described(metadata: Any, protocol_version: int, encryption: Any) -> tuple[list[str], list[Any], Any]:
        entry = known.get(id(metadata))
        if entry is not None and entry[0] is metadata and entry[1] is encryption and entry[2] == protocol_version:
            return entry[3]
        if len(known) >= DESCRIBED:
            known.clear()
        made = describe(metadata, protocol_version, encryption)
        known[id(metadata)] = (metadata, encryption, protocol_version, made)  # holds it: its id is not reused
        return made

    class PagedResultMessage(base):  # type: ignore[misc, valid-type]
        def recv_results_rows(
            self, f: Any, protocol_version: int, user_type_map: Any, result_metadata: Any, encryption: Any
        ) -> None:
            if frames and encryption is not None:  # encrypted columns: the driver's own way, unchanged
                super().recv_results_rows(f, protocol_version, user_type_map, result_metadata, encryption)
                return
            self.recv_results_metadata(f, user_type_map)
            if self.column_metadata is None:  # a prepared statement's answer: its metadata, described once
                names, types, description = described(result_metadata, protocol_version, encryption)
            else:
                names, types, description = describe(self.column_metadata, protocol_version, encryption)
            self.column_names, self.column_types = list(names), list(types)
            body = f.read()
            reader = BytesIOReader(body)
            if len(body) < PIECE_BYTES:
                try:
                    self.parsed_rows = whole.parse_rows(reader, description)
                    return
                except Exception:  # a value the driver cannot decode: the read fails when its row is taken,
                    reader = BytesIOReader(body)  # on the loop, and the connection (in the driver's way) does not
            self.parsed_rows = Unparsed(lazy.parse_rows(reader, description))

    class PagedDecoding(ProtocolHandler):  # type: ignore[misc]
        message_types_by_opcode: ClassVar[dict[int, Any]] = {
            **ProtocolHandler.message_types_by_opcode,
            ResultMessage.opcode: PagedResultMessage,
        }

    return PagedDecoding


#: The protocol handler of cassnb's requests: the driver's values, large pages left :class:`Unparsed`.
ROW_DECODING: Any = _handler(frames=False)

#: The same for pages read into DataFrames and exports, with the registry's cheaper readings of some types.
FRAME_DECODING: Any = _handler(frames=True)

_PIECEWISE = frozenset(h for h in (ROW_DECODING, FRAME_DECODING) if h is not None)


def leaves_unparsed(decoder: Any) -> bool:
    """Whether a request's ``decode_message`` (as the driver keeps it per request) may leave a page unparsed."""
    return getattr(decoder, "__self__", None) in _PIECEWISE


_new = object.__new__
_UUID = uuid.UUID
_set_int = _UUID.__dict__["int"].__set__  # the slots, set as uuid.UUID.__init__ sets them
_set_safe = _UUID.__dict__["is_safe"].__set__
_UNKNOWN = uuid.SafeUUID.unknown


def _made(raw: list[bytes]) -> list[Any]:
    # Every step is a map over a C function: no Python frame per value.
    made = list(map(_new, repeat(_UUID, len(raw))))
    deque(map(_set_int, made, map(int.from_bytes, raw)), 0)
    deque(map(_set_safe, made, repeat(_UNKNOWN)), 0)
    return made


def uuids(values: Iterable[Any]) -> list[Any]:
    """``uuid.UUID`` objects for 16-byte values (``None`` and UUIDs pass through), as ``UUID(bytes=b)`` would."""
    values = list(values)
    kinds = set(map(type, values))
    if bytes not in kinds:
        return values  # nulls, or UUIDs the driver made itself
    if len(kinds) == 1:
        return _made(values)
    where = [i for i, value in enumerate(values) if value.__class__ is bytes]
    for i, made in zip(where, _made([values[i] for i in where]), strict=True):
        values[i] = made
    return values

"""Pages for DataFrames and exports, decoded by the driver's C parser into the cheapest values that say
the same.

A page that becomes DataFrame columns or lines of an export file does not need the objects the driver makes
for each cell, only what the column or the text is built from. Where a CQL type's bytes can be read by the
decoder of a cheaper type, these pages use that decoder instead:

* ``uuid`` and ``timeuuid`` arrive as their 16 bytes (``blob``'s decoder). The driver's own ``uuid.UUID(bytes=)``
  is Python code and costs more than the rest of a six-column row together (1.7 µs of 3.2 per row measured on
  the benchmark table); :func:`uuids` makes the same objects from the bytes for a third of the constructor's
  time (0.45 against 1.0 to 1.35 µs each).
* ``timestamp`` arrives as its milliseconds since the epoch (``bigint``'s decoder, same 8 bytes): no
  ``datetime`` per cell, and no floating-point rounding on far dates.

The response keeps its real column types (``column_types``); only the decoding differs. Which types have a
cheaper reading is the registry's business (``ScalarType.frame_decode``, :mod:`cassnb._types`).

:data:`FRAME_DECODING` is the protocol handler that does this: the driver's Cython handler with its result
message's row parsing done here on the same parser, deserializers and descriptor it uses itself. Where those
parts of the driver are not there (no Cython build, another driver version), it is ``None`` and frames are
built from the driver's usual objects; ``cassnb._frames`` accepts either.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable
from itertools import repeat
from typing import Any, ClassVar

from ._types import frame_decode_type

__all__ = ("FRAME_DECODING", "uuids")


def _frame_decoding() -> Any:
    try:
        from cassandra.bytesio import BytesIOReader
        from cassandra.deserializers import make_deserializers
        from cassandra.obj_parser import ListParser
        from cassandra.parsing import ParseDesc
        from cassandra.policies import ColDesc
        from cassandra.protocol import ProtocolHandler, ResultMessage
    except ImportError:  # the driver without its Cython extensions
        return None
    base = ProtocolHandler.message_types_by_opcode.get(ResultMessage.opcode)
    if base is None or getattr(base, "recv_results_rows", None) is None:
        return None
    parser = ListParser()

    class FrameResultMessage(base):  # type: ignore[misc, valid-type]
        """The driver's result message, with cells of the registry's types read by cheaper decoders."""

        def recv_results_rows(
            self, f: Any, protocol_version: int, user_type_map: Any, result_metadata: Any, encryption: Any
        ) -> None:
            if encryption is not None:  # encrypted columns: the driver's own way, unchanged
                super().recv_results_rows(f, protocol_version, user_type_map, result_metadata, encryption)
                return
            self.recv_results_metadata(f, user_type_map)
            metadata = self.column_metadata or result_metadata
            self.column_names = [column[2] for column in metadata]
            self.column_types = [column[3] for column in metadata]
            decoded_as = [frame_decode_type(cql_type) for cql_type in self.column_types]
            description = ParseDesc(
                self.column_names, decoded_as, None, [ColDesc(c[0], c[1], c[2]) for c in metadata],
                make_deserializers(decoded_as), protocol_version,
            )  # fmt: skip
            self.parsed_rows = parser.parse_rows(BytesIOReader(f.read()), description)

    class FrameDecoding(ProtocolHandler):  # type: ignore[misc]
        message_types_by_opcode: ClassVar[dict[int, Any]] = {
            **ProtocolHandler.message_types_by_opcode,
            ResultMessage.opcode: FrameResultMessage,
        }

    return FrameDecoding


#: The protocol handler for pages read into DataFrames and exports, or ``None`` where the driver lacks what it needs.
FRAME_DECODING: Any = _frame_decoding()

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

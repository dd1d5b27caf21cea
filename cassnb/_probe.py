"""A minimal CQL native-protocol v5 handshake, used to tell when the local server is really ready.

An open TCP port is not enough: Cassandra binds the native port a little before it accepts requests, and
another program may hold the port. The probe sends OPTIONS and STARTUP in protocol v5 framing and expects
SUPPORTED, then READY (or AUTHENTICATE when passwords are on). Both happen before v5 switches to its
segmented framing, so a few bytes of struct packing are all it takes.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

_HEADER = struct.Struct(">BBhBI")  # version, flags, stream, opcode, body length
_V5_REQUEST = 0x05
_OP_ERROR, _OP_STARTUP, _OP_READY, _OP_AUTHENTICATE, _OP_OPTIONS, _OP_SUPPORTED = 0x00, 0x01, 0x02, 0x03, 0x05, 0x06


@dataclass(frozen=True)
class Handshake:
    """What the server said: the protocol versions it offers and whether it asks for credentials."""

    protocol_versions: tuple[str, ...]
    authenticate: bool


class ProbeError(Exception):
    """The port answered, but not with a protocol v5 handshake."""


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ProbeError("the server closed the connection during the handshake")
        chunks += chunk
    return bytes(chunks)


def _request(sock: socket.socket, stream: int, opcode: int, body: bytes = b"") -> tuple[int, bytes]:
    sock.sendall(_HEADER.pack(_V5_REQUEST, 0, stream, opcode, len(body)) + body)
    version, _flags, _stream, reply, length = _HEADER.unpack(_read_exact(sock, _HEADER.size))
    payload = _read_exact(sock, length)
    if reply == _OP_ERROR:
        (code,) = struct.unpack(">i", payload[:4])
        (size,) = struct.unpack(">H", payload[4:6])
        raise ProbeError(f"server error 0x{code:04X}: {payload[6 : 6 + size].decode(errors='replace')}")
    if version & 0x7F != _V5_REQUEST:
        raise ProbeError(f"the server answered in protocol v{version & 0x7F}, not v5")
    return reply, payload


def _string(payload: bytes, at: int) -> tuple[str, int]:
    (size,) = struct.unpack_from(">H", payload, at)
    return payload[at + 2 : at + 2 + size].decode(), at + 2 + size


def _string_multimap(payload: bytes) -> dict[str, list[str]]:
    (count,), at = struct.unpack_from(">H", payload, 0), 2
    result: dict[str, list[str]] = {}
    for _ in range(count):
        key, at = _string(payload, at)
        (values,) = struct.unpack_from(">H", payload, at)
        at += 2
        result[key] = []
        for _ in range(values):
            value, at = _string(payload, at)
            result[key].append(value)
    return result


def handshake(host: str, port: int, timeout: float = 2.0) -> Handshake:
    """Perform OPTIONS + STARTUP in protocol v5; raise ``OSError`` or :class:`ProbeError` if that fails."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        reply, payload = _request(sock, 1, _OP_OPTIONS)
        if reply != _OP_SUPPORTED:
            raise ProbeError(f"expected SUPPORTED to OPTIONS, got opcode 0x{reply:02X}")
        versions = tuple(_string_multimap(payload).get("PROTOCOL_VERSIONS", ()))
        key, value = b"CQL_VERSION", b"3.0.0"
        body = struct.pack(">H", 1) + struct.pack(">H", len(key)) + key + struct.pack(">H", len(value)) + value
        reply, _ = _request(sock, 2, _OP_STARTUP, body)
        if reply not in (_OP_READY, _OP_AUTHENTICATE):
            raise ProbeError(f"expected READY or AUTHENTICATE to STARTUP, got opcode 0x{reply:02X}")
        return Handshake(versions, authenticate=reply == _OP_AUTHENTICATE)

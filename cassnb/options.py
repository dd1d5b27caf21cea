"""Option types shared by the core: sentinels, enums and small frozen configs."""

from __future__ import annotations

import enum
from typing import Final

from .exceptions import ConfigurationError


class Unset(enum.Enum):
    """Marks an argument that was not given, where ``None`` is a meaningful value of its own."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


class RowFormat(enum.Enum):
    """How rows come back: attribute access (the default), plain tuples (fastest) or dicts."""

    NAMED_TUPLE = "named_tuple"
    TUPLE = "tuple"
    DICT = "dict"

    def factory(self) -> object:
        from cassandra.query import dict_factory, tuple_factory

        from ._rows import named_tuple_rows

        return {RowFormat.NAMED_TUPLE: named_tuple_rows, RowFormat.TUPLE: tuple_factory,
                RowFormat.DICT: dict_factory}[self]  # fmt: skip


class IO(enum.Enum):
    """Where the driver's sockets are served (``AsyncCluster(io=...)``).

    ``LOOP`` (the default): on the event loop that awaits the requests, so an answer reaches its caller
    without crossing threads; a worker thread stands in while the loop is blocked or closed
    (:mod:`cassnb._reactor`). ``THREAD``: on the driver's own I/O thread (libev), as plain cassandra-driver
    does. Connections with TLS always use ``THREAD``.
    """

    LOOP = "loop"
    THREAD = "thread"

    @classmethod
    def parse(cls, value: str | IO) -> IO:
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"io must be 'loop' or 'thread', got {value!r}") from None


class Consistency(enum.IntEnum):
    """CQL consistency levels, with the protocol's numeric values (usable wherever the driver takes one)."""

    ANY = 0
    ONE = 1
    TWO = 2
    THREE = 3
    QUORUM = 4
    ALL = 5
    LOCAL_QUORUM = 6
    EACH_QUORUM = 7
    SERIAL = 8
    LOCAL_SERIAL = 9
    LOCAL_ONE = 10

    @classmethod
    def parse(cls, name: str | int | Consistency) -> Consistency:
        """Accept ``"local_quorum"``, ``"LOCAL_QUORUM"``, an int or a member; else a ConfigurationError."""
        if isinstance(name, Consistency):
            return name
        try:
            if isinstance(name, str):
                return cls[name.strip().upper()]
            if not isinstance(name, bool):
                return cls(name)
        except (KeyError, ValueError, TypeError):
            pass
        choices = ", ".join(member.name for member in cls)
        raise ConfigurationError(f"unknown consistency level {name!r}; choose one of {choices}")

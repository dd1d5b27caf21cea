"""CQL identifiers: the one place that reads keyspace, table and column names and writes them back.

CQL has two spellings of a name:

* unquoted — a letter followed by letters, digits and underscores (ASCII only); case-insensitive, so
  ``Events`` and ``events`` name the same table, stored as ``events``;
* double-quoted — any characters, exactly as written (``"Mixed"``, ``"naïve"``, ``"with space"``); a double
  quote inside is written twice (``"a""b"`` is the name ``a"b``).

A qualified name is ``keyspace.table``, each part in either spelling (``ks."Mixed"``). Everything cassnb sends
to the server quotes names with :func:`quote`, so any stored name — keywords and capitals included — is
addressed exactly. Whether the server accepts a name for a keyspace or a table (it allows fewer characters
there than for columns) is the server's to say.
"""

from __future__ import annotations

import re

from .exceptions import ConfigurationError

__all__ = ("is_qualified_name", "parse_identifier", "parse_qualified", "quote")

_PART = r'[A-Za-z][A-Za-z0-9_]*|"(?:[^"]|"")+"'
_QUALIFIED = re.compile(rf"(?:({_PART})\.)?({_PART})")

_SPELLING = 'a letter followed by letters, digits and underscores, or a double-quoted name such as "MyTable"'


def quote(name: str) -> str:
    """``name`` (a stored name) as a double-quoted CQL identifier, quotes inside doubled."""
    return '"' + name.replace('"', '""') + '"'


def _real(part: str) -> str:
    return part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()


def parse_identifier(text: object, what: str = "name", *, max_length: int | None = None) -> str:
    """The stored name that ``text`` (one identifier, in either spelling) means.

    Raises:
        ConfigurationError: ``text`` is not an identifier (the message says how to write one), or its name is
            longer than ``max_length`` (Cassandra allows 48 characters for keyspace names).
    """
    if isinstance(text, str):
        stripped = text.strip()
        if re.fullmatch(_PART, stripped):
            name = _real(stripped)
            if max_length is None or len(name) <= max_length:
                return name
            raise ConfigurationError(f"invalid {what} {text!r}: it has {len(name)} characters, at most {max_length}")
    raise ConfigurationError(f"invalid {what} {text!r}: write {_SPELLING}")


def parse_qualified(text: object, keyspace: str | None, what: str = "table") -> tuple[str, str]:
    """``keyspace.name`` or ``name`` -> the stored ``(keyspace, name)``; a bare name is in ``keyspace``.

    Args:
        text: the name as a user wrote it.
        keyspace: the stored name of the keyspace a bare name belongs to (a session's keyspace), or None.
        what: what the name is, for messages ("table", "type").

    Raises:
        ConfigurationError: not a name, or a bare name with no keyspace to put it in.
    """
    match = _QUALIFIED.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ConfigurationError(
            f"invalid {what} name {text!r}: write {what} or keyspace.{what}, each part {_SPELLING}"
        )
    if match[1] is None:
        if keyspace is None:
            raise ConfigurationError(
                f"{text!r} names no keyspace and none is in use: write it as keyspace.{what}, e.g. "
                f"'my_keyspace.{match[2]}'"
            )
        return keyspace, _real(match[2])
    return _real(match[1]), _real(match[2])


def is_qualified_name(text: str) -> bool:
    """Whether ``text`` is ``name`` or ``keyspace.name`` in CQL's spelling."""
    return _QUALIFIED.fullmatch(text.strip()) is not None

"""Tab completion in ``%%cql`` cells and ``%cql`` lines, from the schema the driver already holds.

It is a matcher of IPython's completer (matchers API v2), so every front end that asks the kernel for
completions gets it: JupyterLab, Notebook 7, VS Code, the IPython terminal. The names come from the driver's
schema metadata, which schema-change events keep current: no round trip to the server per keystroke.

In a cell it offers, by what comes before the cursor:

* after ``FROM``, ``INTO``, ``UPDATE``, ``TABLE``, ``TRUNCATE``: the tables of the keyspace in use (the
  ``--keyspace`` option, else the connection's), then keyspace names; after ``ks.``: the tables of ``ks``;
* after ``USE``, ``KEYSPACE``, ``--keyspace``/``-k``: keyspaces; after ``--conn``/``-c``: connections;
* after ``SELECT``, ``WHERE``, ``AND``, ``SET``, ``BY``, a comma, or the ``(`` of an ``INSERT``: the columns of
  the statement's table, and CQL functions;
* after ``--`` on the magic's line: its options; after ``:``: the notebook's variables;
* elsewhere: CQL keywords, types and functions, in the case the word was started in.

A cell that is not a ``%%cql`` cell is left to IPython's own matchers, unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._magic import CqlMagic

__all__ = ("make_matcher",)

KEYWORDS = (
    "ADD ALL ALLOW ALTER AND APPLY AS ASC BATCH BEGIN BY CLUSTERING COMPACT CONTAINS COUNTER CREATE CUSTOM "
    "DELETE DESC DESCRIBE DISTINCT DROP ENTRIES EXISTS FILTERING FROM FULL FUNCTION GRANT GROUP IF IN INDEX "
    "INSERT INTO IS JSON KEY KEYS KEYSPACE KEYSPACES LIKE LIMIT LOGGED MATERIALIZED NOT NULL OF ON OR ORDER "
    "PARTITION PER PRIMARY RENAME REPLACE REVOKE ROLE SELECT SET STATIC TABLE TABLES TIMESTAMP TO TOKEN "
    "TRIGGER TRUNCATE TTL TYPE UNLOGGED UPDATE USE USING VALUES VIEW WHERE WITH WRITETIME"
).split()
TYPES = (
    "ascii bigint blob boolean counter date decimal double duration float frozen inet int list map set "
    "smallint text time timestamp timeuuid tinyint tuple uuid varchar varint vector"
).split()
FUNCTIONS = (
    "avg count currentDate currentTime currentTimestamp currentTimeUUID dateOf max maxTimeuuid min "
    "minTimeuuid now sum toDate toJson toTimestamp toUnixTimestamp token ttl uuid writetime"
).split()

_CELL = re.compile(r"\s*%%(?:cql|cassnb)(?=\s|$)")
_LINE = re.compile(r"\s*(?:[A-Za-z_]\w*\s*=\s*)?%(?:cql|cassnb)(?=\s|$)")
_FRAGMENT = re.compile(r'(?:[A-Za-z_][\w$]*|"[^"]*"?)?(?:\.(?:[A-Za-z_][\w$]*|"[^"]*"?)?)?$')
_TABLE_WORDS = {"FROM", "INTO", "UPDATE", "TABLE", "TRUNCATE", "JOIN"}
_KEYSPACE_WORDS = {"USE", "KEYSPACE"}
_COLUMN_WORDS = {"SELECT", "WHERE", "AND", "SET", "BY", "DISTINCT", "IF"}
_TABLE_OF = re.compile(r'\b(?:FROM|INTO|UPDATE|TABLE)\s+((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)', re.IGNORECASE)
_OPTION_VALUE = re.compile(r"(?:^|\s)(--keyspace|-k|--conn|-c)\s+(\S*)$")


def _in_case(words: Iterable[str], fragment: str, *, keep: bool = False) -> list[str]:
    """``words`` that start with ``fragment`` (any case), in the case the fragment was typed in (or their
    own, with ``keep``: function names such as ``toTimestamp``)."""
    folded = fragment.lower()
    lower = fragment[:1].islower() and not keep
    return [word.lower() if lower else word for word in words if word.lower().startswith(folded)]


def _name(text: str) -> str:
    """An identifier as CQL stores it (quotes removed, unquoted folded to lower case)."""
    return text.strip('"') if text.startswith('"') else text.lower()


def _quoted(name: str) -> str:
    """A stored name as it must be written: quoted unless it is a plain lower-case identifier."""
    return name if re.fullmatch(r"[a-z][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


class CqlCompleter:
    """Completes CQL for the magics of one shell (see the module docstring)."""

    def __init__(self, magic: CqlMagic) -> None:
        self.magic = magic

    # ------------------------------------------------------------------ where the cursor is
    def complete(self, full_text: str, line: int, column: int) -> tuple[str, list[tuple[str, str]]] | None:
        """``(fragment, [(completion, kind)])`` for the cursor at ``line``/``column``, or None (not CQL)."""
        lines = full_text.split("\n")
        before_line = lines[line][:column]
        after = "\n".join([lines[line][column:], *lines[line + 1 :]]).split(";", 1)[0]  # the statement's rest
        if _CELL.match(lines[0]):
            if line == 0:
                return self._magic_line(before_line)
            text = "\n".join([*lines[1:line], before_line])
            return self._cql(text, options=lines[0], after=after)
        magic_line = _LINE.match(before_line)
        if magic_line is None:
            return None
        rest = before_line[magic_line.end() :]
        typing_an_option = rest.lstrip().startswith("-") and " " not in rest.strip()
        if typing_an_option or _OPTION_VALUE.search(rest):
            return self._magic_line(before_line)
        return self._cql(rest, options=before_line, after=after)

    def _magic_line(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        value = _OPTION_VALUE.search(text)
        if value is not None:
            option, fragment = value[1], value[2]
            if option in ("--keyspace", "-k"):
                return fragment, [(name, "keyspace") for name in _in_case(self._keyspaces(text), fragment)]
            return fragment, [(c.name, "connection") for c in self.magic.connections if c.name.startswith(fragment)]
        fragment = re.search(r"-[-\w]*$", text)
        if fragment is None:
            return "", []
        options = sorted(getattr(self.magic.cql, "parser")._option_string_actions)  # noqa: B009
        return fragment[0], [(option, "option") for option in options if option.startswith(fragment[0])]

    def _cql(self, text: str, options: str, after: str = "") -> tuple[str, list[tuple[str, str]]]:
        statement = text.rsplit(";", 1)[-1]  # the statement the cursor is in (a heuristic, good enough here)
        if statement.count("'") % 2:  # inside a string literal: nothing to complete
            return "", []
        marker = re.search(r"(?<![:\w]):([A-Za-z_]\w*)?$", statement)
        if marker is not None:
            fragment = marker[1] or ""
            return fragment, [(name, "variable") for name in self._variables() if name.startswith(fragment)]
        fragment = _FRAGMENT.search(statement)[0]  # type: ignore[index]
        head = statement[: len(statement) - len(fragment)]
        previous = re.search(r"([A-Za-z_]+|[,(])\s*$", head)
        word = previous[1].upper() if previous else ""
        keyspace = self._keyspace(options)
        if "." in fragment:
            space, _, part = fragment.partition(".")
            if word in _TABLE_WORDS or (word == "" and not head.strip()):
                tables = self._tables(options, _name(space))
                return part, [(_quoted(t), "table") for t in tables if t.lower().startswith(_name(part).lower())]
        if word in _TABLE_WORDS:
            found = [(_quoted(t), "table") for t in self._tables(options, keyspace) if t.startswith(_name(fragment))]
            spaces = [(f"{_quoted(k)}.", "keyspace") for k in self._keyspaces(options) if k.startswith(_name(fragment))]
            if found or spaces:  # else (no schema at hand) CQL's words, rather than IPython's Python names
                return fragment, found + spaces
        if word in _KEYSPACE_WORDS:
            spaces = [(_quoted(k), "keyspace") for k in self._keyspaces(options) if k.startswith(_name(fragment))]
            if spaces:
                return fragment, spaces
        if word in _COLUMN_WORDS or word in (",", "("):
            columns = self._columns(options, statement + after, keyspace)
            if columns:
                found = [(_quoted(c), "column") for c in columns if c.lower().startswith(_name(fragment).lower())]
                return fragment, found + [(f, "function") for f in _in_case(FUNCTIONS, fragment, keep=True) if fragment]
        words = [(w, "keyword") for w in _in_case(KEYWORDS, fragment)]
        words += [(t, "type") for t in _in_case(TYPES, fragment)] if fragment else []
        words += [(f, "function") for f in _in_case(FUNCTIONS, fragment, keep=True)] if fragment else []
        return fragment, words

    # ------------------------------------------------------------------ the schema
    def _session(self, options: str) -> Any:
        found = re.search(r"(?:--conn|-c)\s+(\S+)", options)
        try:
            return self.magic.connections.get(found[1] if found else None).session
        except Exception:  # no connection (yet): nothing to complete from
            return None

    def _keyspace(self, options: str) -> str | None:
        found = re.search(r"(?:--keyspace|-k)\s+(\S+)", options)
        if found:
            return _name(found[1])
        session = self._session(options)
        return None if session is None else session.keyspace

    def _metadata(self, options: str) -> Any:
        session = self._session(options)
        return None if session is None else session.cluster.metadata

    def _keyspaces(self, options: str) -> list[str]:
        metadata = self._metadata(options)
        return sorted(metadata.keyspaces) if metadata is not None else []

    def _tables(self, options: str, keyspace: str | None) -> list[str]:
        metadata = self._metadata(options)
        if metadata is None or keyspace is None or keyspace not in metadata.keyspaces:
            return []
        return sorted(metadata.keyspaces[keyspace].tables)

    def _columns(self, options: str, statement: str, keyspace: str | None) -> list[str]:
        metadata = self._metadata(options)
        table = _TABLE_OF.search(statement)
        if metadata is None or table is None:
            return []
        space, _, name = table[1].rpartition(".")
        found = metadata.keyspaces.get(_name(space) if space else keyspace)
        meta = None if found is None else found.tables.get(_name(name))
        return list(meta.columns) if meta is not None else []

    def _variables(self) -> list[str]:
        shell = self.magic.shell
        names = getattr(shell, "user_ns", {}) if shell is not None else {}
        return sorted(name for name in names if name.isidentifier() and not name.startswith("_"))


def make_matcher(magic: CqlMagic) -> Any:
    """The IPython matcher (API v2) for ``magic``'s shell."""
    from IPython.core.completer import SimpleCompletion, context_matcher

    completer = CqlCompleter(magic)

    @context_matcher(priority=100)  # type: ignore[untyped-decorator]
    def cql_matcher(context: Any) -> dict[str, Any]:
        found = completer.complete(context.full_text, context.cursor_line, context.cursor_position)
        if found is None:
            return {"completions": [], "suppress": False}
        fragment, completions = found
        unique = list(dict.fromkeys(completions))
        return {
            "completions": [SimpleCompletion(text, type=kind) for text, kind in unique],
            "matched_fragment": fragment,
            "suppress": True,  # a CQL cell has no Python names to offer
            "ordered": True,
        }

    cql_matcher.cassnb_matcher = True
    return cql_matcher


def install(shell: Any, magic: CqlMagic) -> None:
    completer = getattr(shell, "Completer", None)
    if completer is not None:
        completer.custom_matchers.append(make_matcher(magic))


def uninstall(shell: Any) -> None:
    completer = getattr(shell, "Completer", None)
    if completer is not None:
        completer.custom_matchers[:] = [m for m in completer.custom_matchers if not getattr(m, "cassnb_matcher", False)]

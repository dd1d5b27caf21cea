"""CQL text: splitting a cell into statements, binding ``:name`` parameters, a statement's first keyword.

Used by the ``%%cql`` magics and by the core (``export`` checks that it is given a SELECT).

A notebook cell holds free-form CQL, so before anything reaches the driver we must know where each
statement ends and which colons are parameter markers. Both questions depend on the same thing — which
characters are *code* and which are protected — so one small scanner (:func:`_scan`) answers it and both
public functions walk its tokens. Protected regions, where ``;``, ``:`` and ``?`` mean nothing:

* string literals ``'...'`` (``''`` is a quote inside the literal),
* quoted identifiers ``"..."`` (``""`` is a quote inside the identifier),
* ``$$ ... $$`` bodies (function bodies and alternative string literals; no escapes),
* comments: ``-- ...`` and ``// ...`` to end of line, ``/* ... */`` (not nested, as in Cassandra).

Statement rules: a ``;`` in code ends a statement, except between ``BEGIN [UNLOGGED | COUNTER] BATCH`` and
``APPLY BATCH``, where it separates the batch's inner statements. Statements are stripped, the ``;`` is
dropped, and statements holding nothing but whitespace and comments are dropped.

Marker rules: ``:name`` (``name`` matching ``[A-Za-z_][A-Za-z0-9_]*``) in code becomes ``?``. A colon is not
a marker when it is part of ``::``, when it directly follows an identifier character, a quote or a closing
bracket (map literals such as ``{'a':1}`` or ``{k:v}``), or when no identifier start follows it.

Every token is consumed once and closing delimiters are found with ``str.find``, so the work is linear in
the text and any input ends in a result or a :class:`CqlSyntaxError` (unterminated literal or comment).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "BoundText",
    "CqlSyntaxError",
    "UnknownVariableError",
    "bind_named_markers",
    "first_keyword",
    "resolve_parameters",
    "split_statements",
]


class CqlSyntaxError(ValueError):
    """The cell's CQL cannot be tokenised (e.g. an unterminated literal); ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class UnknownVariableError(NameError):
    """A ``:name`` marker names no variable in the notebook; ``names`` lists every missing one."""

    def __init__(self, names: tuple[str, ...]) -> None:
        markers = ", ".join(f":{name}" for name in names)
        variables = ", ".join(repr(name) for name in names)
        if len(names) == 1:
            message = (
                f"the CQL refers to {markers} but there is no Python variable named {variables} in the "
                f"notebook; define it, or write the value into the CQL instead of the marker"
            )
        else:
            message = (
                f"the CQL refers to {markers} but there are no Python variables named {variables} in the "
                f"notebook; define them, or write the values into the CQL instead of the markers"
            )
        super().__init__(message, name=names[0] if names else None)
        self.names = names


@dataclass(frozen=True, slots=True)
class BoundText:
    """A statement with its ``:name`` markers turned into ``?``; ``names`` are in marker order."""

    text: str
    names: tuple[str, ...]


class _Kind(enum.Enum):
    WORD = enum.auto()  # run of [A-Za-z0-9_]
    SPACE = enum.auto()
    PUNCT = enum.auto()  # any other single code character
    STRING = enum.auto()
    QUOTED_NAME = enum.auto()
    DOLLAR_BODY = enum.auto()
    COMMENT = enum.auto()


class _Token(NamedTuple):
    kind: _Kind
    start: int
    end: int


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "_")


def _run_end(text: str, pos: int, belongs: Callable[[str], bool]) -> int:
    while pos < len(text) and belongs(text[pos]):
        pos += 1
    return pos


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of ``offset``, for error messages a person can act on."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


def _unterminated(text: str, start: int, what: str, advice: str) -> CqlSyntaxError:
    line, column = _position(text, start)
    message = f"unterminated {what} starting at line {line}, column {column}; {advice}"
    return CqlSyntaxError(message, line, column)


def _quoted_end(text: str, start: int) -> int:
    """End of the quoted token opening at ``start``; a doubled quote character stays inside it."""
    quote = text[start]
    search_from = start + 1
    while True:
        close = text.find(quote, search_from)
        if close == -1:
            if quote == "'":
                raise _unterminated(text, start, "string literal", "close it with ' (write '' for a quote)")
            raise _unterminated(text, start, "quoted identifier", 'close it with " (write "" for a quote)')
        if text.startswith(quote, close + 1):
            search_from = close + 2
            continue
        return close + 1


def _scan(text: str) -> Iterator[_Token]:
    """Cut ``text`` into tokens; everything outside literals and comments is WORD, SPACE or PUNCT."""
    pos, size = 0, len(text)
    while pos < size:
        char, pair = text[pos], text[pos : pos + 2]
        if char in "'\"":
            kind, end = (_Kind.STRING if char == "'" else _Kind.QUOTED_NAME), _quoted_end(text, pos)
        elif pair == "$$":
            close = text.find("$$", pos + 2)
            if close == -1:
                raise _unterminated(text, pos, "$$ body", "add the closing $$")
            kind, end = _Kind.DOLLAR_BODY, close + 2
        elif pair in ("--", "//"):
            close = text.find("\n", pos)
            kind, end = _Kind.COMMENT, size if close == -1 else close
        elif pair == "/*":
            close = text.find("*/", pos + 2)
            if close == -1:
                raise _unterminated(text, pos, "block comment", "add the closing */")
            kind, end = _Kind.COMMENT, close + 2
        elif _is_word_char(char):
            kind, end = _Kind.WORD, _run_end(text, pos, _is_word_char)
        elif char.isspace():
            kind, end = _Kind.SPACE, _run_end(text, pos, str.isspace)
        else:
            kind, end = _Kind.PUNCT, pos + 1
        yield _Token(kind, pos, end)
        pos = end


class _Batch(enum.Enum):
    """Where a statement stands with respect to ``BEGIN ... BATCH`` / ``APPLY BATCH``."""

    START = enum.auto()
    AFTER_BEGIN = enum.auto()
    AFTER_KIND = enum.auto()  # BEGIN UNLOGGED / BEGIN COUNTER
    INSIDE = enum.auto()
    AFTER_APPLY = enum.auto()
    PLAIN = enum.auto()  # not a batch, or a batch already applied


def _batch_step(state: _Batch, word: str | None) -> _Batch:
    """Advance on one significant token; ``word`` is its upper-cased text, or None if it is not a word."""
    if state is _Batch.START:
        return _Batch.AFTER_BEGIN if word == "BEGIN" else _Batch.PLAIN
    if state is _Batch.AFTER_BEGIN and word in ("UNLOGGED", "COUNTER"):
        return _Batch.AFTER_KIND
    if state in (_Batch.AFTER_BEGIN, _Batch.AFTER_KIND):
        return _Batch.INSIDE if word == "BATCH" else _Batch.PLAIN
    if state in (_Batch.INSIDE, _Batch.AFTER_APPLY):
        if word == "APPLY":
            return _Batch.AFTER_APPLY
        return _Batch.PLAIN if state is _Batch.AFTER_APPLY and word == "BATCH" else _Batch.INSIDE
    return state


def split_statements(text: str) -> list[str]:
    """Split a cell's CQL into statements on code-level ``;`` (see the module docstring for the rules).

    :param text: the cell body.
    :returns: the stripped statements without their ``;``, comment-only statements left out.
    :raises CqlSyntaxError: a string, quoted identifier, ``$$`` body or block comment is not closed.
    """
    statements: list[str] = []
    start, has_code, batch = 0, False, _Batch.START
    for token in _scan(text):
        if token.kind in (_Kind.SPACE, _Kind.COMMENT):
            continue
        is_semicolon = token.kind is _Kind.PUNCT and text[token.start] == ";"
        if is_semicolon and batch not in (_Batch.INSIDE, _Batch.AFTER_APPLY):
            if has_code:
                statements.append(text[start : token.start].strip())
            start, has_code, batch = token.end, False, _Batch.START
            continue
        has_code = True
        word = text[token.start : token.end].upper() if token.kind is _Kind.WORD else None
        batch = _batch_step(batch, word)
    if has_code:
        statements.append(text[start:].strip())
    return statements


def first_keyword(statement: str) -> str:
    """The statement's first word of code, upper-cased (``""`` if it has none): ``SELECT``, ``INSERT``...

    Comments and whitespace before it are skipped: a SELECT under a ``-- note`` line still gives ``SELECT``.
    """
    for token in _scan(statement):
        if token.kind is _Kind.WORD:
            return statement[token.start : token.end].upper()
        if token.kind not in (_Kind.SPACE, _Kind.COMMENT):
            return ""
    return ""


def _starts_marker(text: str, colon: int) -> bool:
    """Whether the code colon at ``colon`` opens a ``:name`` marker (rules in the module docstring)."""
    before = text[colon - 1] if colon else ""
    after = text[colon + 1 : colon + 2]
    if before and (before in ":'\")]}" or _is_word_char(before)):
        return False
    return after.isascii() and (after.isalpha() or after == "_")


def bind_named_markers(statement: str) -> BoundText:
    """Replace each code-level ``:name`` marker with ``?``, recording the names in order (repeats kept).

    :param statement: one CQL statement, e.g. from :func:`split_statements`.
    :returns: the rewritten text and the marker names.
    :raises CqlSyntaxError: the text is not tokenisable, or it mixes ``?`` and ``:name`` markers (the
        values could not be matched to positions unambiguously).
    """
    pieces: list[str] = []
    names: list[str] = []
    copied_up_to = 0
    colon: int | None = None  # a marker colon whose name is the next token
    first_positional: int | None = None
    for token in _scan(statement):
        if colon is not None:  # _starts_marker guarantees this token is the WORD right after the colon
            pieces += [statement[copied_up_to:colon], "?"]
            names.append(statement[token.start : token.end])
            copied_up_to, colon = token.end, None
        elif token.kind is _Kind.PUNCT and statement[token.start] == "?":
            first_positional = token.start if first_positional is None else first_positional
        elif token.kind is _Kind.PUNCT and statement[token.start] == ":":
            colon = token.start if _starts_marker(statement, token.start) else None
    if names and first_positional is not None:
        line, column = _position(statement, first_positional)
        raise CqlSyntaxError(
            f"the statement mixes positional ? (line {line}, column {column}) with named markers "
            f"(:{names[0]}); values cannot be matched to both, so use only :name markers",
            line,
            column,
        )
    pieces.append(statement[copied_up_to:])
    return BoundText("".join(pieces), tuple(names))


def resolve_parameters(bound: BoundText, namespace: Mapping[str, object]) -> list[object]:
    """Look up each marker name in ``namespace`` (the notebook's variables), in marker order.

    :param bound: the result of :func:`bind_named_markers`.
    :param namespace: where names are looked up, e.g. the user namespace merged with the local scope.
    :returns: one value per ``?`` in ``bound.text``.
    :raises UnknownVariableError: naming every missing variable at once, so one fix covers them all.
    """
    missing = tuple(dict.fromkeys(name for name in bound.names if name not in namespace))
    if missing:
        raise UnknownVariableError(missing)
    return [namespace[name] for name in bound.names]

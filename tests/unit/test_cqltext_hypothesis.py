"""Property tests for the ``%%cql`` text layer: totality on any input, and exact results on built input.

Built inputs come with their own expected answer: statements are assembled from tokens whose meaning is
known (plain words, literals with arbitrary contents, comments), so the test never re-implements the
scanner to decide what the right answer is.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cassnb._cqltext import CqlSyntaxError, bind_named_markers, split_statements

PROPERTY_SETTINGS = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that matter to the scanner, over-represented so that random text exercises every state.
_SPECIAL = [*"'\";:$-/*?{}()[]\n\t ,=._", "$$", "--", "//", "/*", "*/", "''", '""', "::"]
_WORDS = ["a", "k", "x1", "_v", "12", "BEGIN", "batch", "APPLY", "UNLOGGED", "counter", "é", " :k", "(:v"]
cql_soup = st.lists(st.sampled_from(_SPECIAL + _WORDS), max_size=40).map("".join)
any_text = st.one_of(cql_soup, st.text(max_size=60))

# Text for inside literals: anything, with the scanner's special characters likely.
literal_content = st.one_of(
    st.lists(
        st.sampled_from([*_SPECIAL, "a", "DROP TABLE x", "); DROP TABLE x; --", ":name"]), max_size=8
    ).map("".join),
    st.text(max_size=15),
)
string_literal = literal_content.map(lambda s: "'" + s.replace("'", "''") + "'")
quoted_identifier = literal_content.map(lambda s: '"' + s.replace('"', '""') + '"')
dollar_body = literal_content.map(lambda s: "$$" + s.replace("$", "") + "$$")
block_comment = literal_content.map(lambda s: "/*" + s.replace("*", "") + "*/")
line_comment = st.tuples(st.sampled_from(["--", "//"]), literal_content).map(
    lambda p: p[0] + p[1].replace("\n", " ").replace("\r", " ") + "\n"
)
protected = st.one_of(string_literal, quoted_identifier, dollar_body, block_comment, line_comment)

# Code tokens with no ; ? : - / $ quote or batch keyword, so joining them with spaces creates nothing new.
safe_word = st.sampled_from(
    ["SELECT", "INSERT", "INTO", "FROM", "WHERE", "t", "k", "v_1", "42", "=", ",", "(", ")"]
)
marker_name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
statement = st.tuples(st.lists(st.one_of(safe_word, protected), max_size=6), safe_word).map(
    lambda p: " ".join([*p[0], p[1]])
)
# A comment between two semicolons is a comment-only statement, which must vanish.
separator = st.sampled_from([";", "; ", ";\n", " ;\n\n", ";;", "; -- note;\n;", "; /* ; */ ;"])


@PROPERTY_SETTINGS
@given(any_text)
def test_split_is_total(text: str) -> None:
    try:
        statements = split_statements(text)
    except CqlSyntaxError:
        return
    assert isinstance(statements, list)
    for item in statements:
        assert isinstance(item, str)
        assert item and item == item.strip()


@PROPERTY_SETTINGS
@given(any_text)
def test_bind_is_total_and_adds_one_question_mark_per_name(text: str) -> None:
    try:
        bound = bind_named_markers(text)
    except CqlSyntaxError:
        return
    assert bound.text.count("?") - text.count("?") == len(bound.names)
    # Each ":name" shrank to "?", and nothing else changed length.
    assert len(text) - len(bound.text) == sum(len(name) for name in bound.names)


@PROPERTY_SETTINGS
@given(st.lists(statement, min_size=1, max_size=5), st.data())
def test_joined_statements_split_back(statements: list[str], data: st.DataObject) -> None:
    text = statements[0]
    for item in statements[1:]:
        text += data.draw(separator) + item
    text = data.draw(st.sampled_from(["", " \n", ";"])) + text + data.draw(st.sampled_from(["", ";", ";\n "]))
    assert split_statements(text) == statements


@PROPERTY_SETTINGS
@given(
    st.sampled_from(["BEGIN BATCH", "begin unlogged batch", "BEGIN COUNTER BATCH USING TIMESTAMP 7"]),
    st.lists(statement, min_size=1, max_size=4),
    st.lists(statement, max_size=2),
)
def test_batch_is_one_statement(opening: str, inner: list[str], after: list[str]) -> None:
    batch = f"{opening} " + "; ".join(inner) + "; APPLY BATCH"
    assert split_statements(";\n".join([batch, *after])) == [batch, *after]


@PROPERTY_SETTINGS
@given(st.lists(st.one_of(safe_word, protected, marker_name.map(lambda n: ("marker", n))), max_size=10))
def test_bind_replaces_exactly_the_markers_and_keeps_literals(parts: list[str | tuple[str, str]]) -> None:
    given_text, expected_text, expected_names = [], [], []
    for part in parts:
        if isinstance(part, tuple):
            given_text.append(f":{part[1]}")
            expected_text.append("?")
            expected_names.append(part[1])
        else:
            given_text.append(part)
            expected_text.append(part)
    bound = bind_named_markers(" ".join(given_text))
    assert bound.text == " ".join(expected_text)
    assert bound.names == tuple(expected_names)


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Turn a hang into a test failure: SIGALRM interrupts even a pure-Python endless loop."""

    def _expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM timers (POSIX)")
@PROPERTY_SETTINGS
@given(st.lists(st.one_of(cql_soup, statement, protected), max_size=8).map("".join))
def test_never_hangs(text: str) -> None:
    with _time_limit(2.0):
        for function in (split_statements, bind_named_markers):
            try:
                function(text)
            except CqlSyntaxError:
                pass

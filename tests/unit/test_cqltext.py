"""Examples for the ``%%cql`` text layer: statement splitting and ``:name`` parameter binding."""

from __future__ import annotations

import time

import pytest

from cassnb._cqltext import (
    BoundText,
    CqlSyntaxError,
    UnknownVariableError,
    bind_named_markers,
    resolve_parameters,
    split_statements,
)

# --- split_statements: plain splitting ---------------------------------------------------------------


def test_splits_on_semicolons_and_strips() -> None:
    assert split_statements("  SELECT 1 ;\n\nSELECT 2;SELECT 3  ") == ["SELECT 1", "SELECT 2", "SELECT 3"]


def test_empty_and_blank_statements_are_dropped() -> None:
    assert split_statements("") == []
    assert split_statements(" ;;\n ; ") == []
    assert split_statements(";SELECT 1;;") == ["SELECT 1"]


@pytest.mark.parametrize(
    "literal",
    [
        "'a;b'",
        "'{}'",
        "'{a}'",
        "'$a $ b'",
        "'12:30'",
        "':name'",
        "'-- not a comment'",
        "'// nor this'",
        "'/* nor this */'",
        "'it''s; fine'",
        "''''",
        "'$$'",
        "'\"'",
    ],
)
def test_string_literal_contents_are_inert(literal: str) -> None:
    statement = f"INSERT INTO t (k, v) VALUES (1, {literal})"
    assert split_statements(f"{statement}; SELECT 2") == [statement, "SELECT 2"]


def test_injection_text_inside_a_literal_stays_in_the_literal() -> None:
    statement = "INSERT INTO users (name) VALUES ('Robert''); DROP TABLE users; --')"
    assert split_statements(statement + ";") == [statement]


def test_quoted_identifiers_with_doubled_quotes() -> None:
    statement = 'SELECT "we""ird;col", "a--b" FROM "ks"."t;1"'
    assert split_statements(f"{statement}; SELECT 1") == [statement, "SELECT 1"]


def test_semicolons_in_comments_do_not_split() -> None:
    text = "SELECT a -- first; not a split\nFROM t // second; nor this\n/* third; ; */ WHERE k = 1; SELECT 2"
    assert split_statements(text) == [
        "SELECT a -- first; not a split\nFROM t // second; nor this\n/* third; ; */ WHERE k = 1",
        "SELECT 2",
    ]


def test_comment_only_statements_are_dropped_but_inner_comments_kept() -> None:
    text = "-- header;\n/* block; */ ;SELECT 1 /* keep */;\n// trailing; comment"
    assert split_statements(text) == ["SELECT 1 /* keep */"]
    assert split_statements("-- only a comment") == []
    assert split_statements("/* a */ /* b */ ; // c") == []


def test_line_comment_at_end_of_text_without_newline() -> None:
    assert split_statements("SELECT 1 -- done") == ["SELECT 1 -- done"]


def test_dollar_body_with_semicolons() -> None:
    function = (
        "CREATE FUNCTION ks.add_one (a int) RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java "
        "AS $$ int b = a + 1; return b; // done; $$"
    )
    assert split_statements(f"{function};\nSELECT ks.add_one(1) FROM t;") == [
        function,
        "SELECT ks.add_one(1) FROM t",
    ]


def test_dollar_string_literal_with_quotes_and_semicolons() -> None:
    statement = "INSERT INTO t (k, v) VALUES (1, $$it's; a 'test' -- here$$)"
    assert split_statements(f"{statement};SELECT 1") == [statement, "SELECT 1"]


def test_single_dollar_is_plain_code() -> None:
    assert split_statements("SELECT $a; SELECT 1$") == ["SELECT $a", "SELECT 1$"]


def test_minus_and_slash_alone_are_code() -> None:
    assert split_statements("SELECT a - 1, b / 2 FROM t; SELECT 1") == [
        "SELECT a - 1, b / 2 FROM t",
        "SELECT 1",
    ]


# --- split_statements: batches -----------------------------------------------------------------------

BATCH_INNER = "INSERT INTO t (k, v) VALUES (1, 'a;b'); UPDATE t SET v = 'x' WHERE k = 2;\n"


@pytest.mark.parametrize(
    "opening",
    [
        "BEGIN BATCH",
        "begin batch",
        "BEGIN UNLOGGED BATCH",
        "Begin Counter Batch",
        "BEGIN BATCH USING TIMESTAMP 1700000000",
        "BEGIN /* why; */ UNLOGGED\n BATCH USING TIMESTAMP 5",
    ],
)
def test_batch_stays_one_statement(opening: str) -> None:
    batch = f"{opening}\n{BATCH_INNER}APPLY BATCH"
    assert split_statements(f"SELECT 0; {batch}; SELECT 1;") == ["SELECT 0", batch, "SELECT 1"]


def test_apply_batch_is_case_insensitive_and_may_span_lines() -> None:
    batch = "BEGIN BATCH DELETE FROM t WHERE k = 1; apply\n  -- done;\n batch"
    assert split_statements(f"{batch};SELECT 1") == [batch, "SELECT 1"]


def test_batch_without_final_semicolon() -> None:
    batch = f"BEGIN BATCH {BATCH_INNER}APPLY BATCH"
    assert split_statements(batch) == [batch]


def test_batch_keywords_only_count_at_statement_start_and_outside_literals() -> None:
    assert split_statements("SELECT begin, batch FROM t; SELECT 2") == [
        "SELECT begin, batch FROM t",
        "SELECT 2",
    ]
    assert split_statements("SELECT 'BEGIN BATCH'; SELECT 2") == ["SELECT 'BEGIN BATCH'", "SELECT 2"]
    assert split_statements("BEGIN TRANSACTION; SELECT 2") == ["BEGIN TRANSACTION", "SELECT 2"]


def test_apply_batch_inside_a_literal_does_not_close_the_batch() -> None:
    batch = "BEGIN BATCH INSERT INTO t (k, v) VALUES (1, 'APPLY BATCH'); APPLY BATCH"
    assert split_statements(f"{batch}; SELECT 2") == [batch, "SELECT 2"]


def test_unclosed_batch_keeps_the_rest_of_the_cell_together() -> None:
    # Cassandra reports the missing APPLY BATCH; the splitter does not guess where the batch ends.
    text = "BEGIN BATCH INSERT INTO t (k) VALUES (1); SELECT 2;"
    assert split_statements(text) == ["BEGIN BATCH INSERT INTO t (k) VALUES (1); SELECT 2;"]


# --- split_statements: unterminated input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "what", "line", "column", "advice"),
    [
        ("SELECT 'abc", "string literal", 1, 8, "close it with '"),
        ("SELECT 'it''s", "string literal", 1, 8, "''"),
        ('SELECT 1;\nSELECT\n  "col', "quoted identifier", 3, 3, 'close it with "'),
        ("SELECT 1;\n  CREATE FUNCTION f() AS $$ return 1;", "$$ body", 2, 26, "add the closing $$"),
        ("SELECT 1 /* never\nclosed;", "block comment", 1, 10, "add the closing */"),
        ("'", "string literal", 1, 1, "close it"),
        ("$$$", "$$ body", 1, 1, "closing $$"),
    ],
)
def test_unterminated_input_reports_what_where_and_how_to_fix(
    text: str, what: str, line: int, column: int, advice: str
) -> None:
    with pytest.raises(CqlSyntaxError) as info:
        split_statements(text)
    message = str(info.value)
    assert f"unterminated {what}" in message
    assert f"line {line}, column {column}" in message
    assert advice in message
    assert (info.value.line, info.value.column) == (line, column)
    assert isinstance(info.value, ValueError)


def test_quote_inside_a_comment_is_not_unterminated() -> None:
    assert split_statements("SELECT 1 -- don't\n; /* it's */ SELECT 2") == [
        "SELECT 1 -- don't",
        "/* it's */ SELECT 2",
    ]


def test_pathological_input_is_linear() -> None:
    # Many almost-closing delimiters: a rescanning implementation would be quadratic here.
    text = "'" + "''" * 50_000 + "' ; " + "$" * 1 + ":" * 50_000 + " -" * 50_000 + " /" * 50_000
    started = time.perf_counter()
    assert len(split_statements(text)) == 2
    bind_named_markers(text)
    assert time.perf_counter() - started < 5


# --- bind_named_markers ------------------------------------------------------------------------------


def test_binds_markers_in_order() -> None:
    bound = bind_named_markers("SELECT * FROM t WHERE id = :uid AND x IN (:a, :b)")
    assert bound == BoundText("SELECT * FROM t WHERE id = ? AND x IN (?, ?)", ("uid", "a", "b"))


def test_repeated_names_are_recorded_each_time() -> None:
    bound = bind_named_markers("UPDATE t SET a = :v, b = :v WHERE k = :_k1")
    assert bound == BoundText("UPDATE t SET a = ?, b = ? WHERE k = ?", ("v", "v", "_k1"))


def test_map_literals_are_not_markers() -> None:
    assert bind_named_markers("INSERT INTO t (k, m) VALUES (:k, {'a': 1})") == BoundText(
        "INSERT INTO t (k, m) VALUES (?, {'a': 1})", ("k",)
    )
    for text in ("UPDATE t SET m = {'a':1}", "UPDATE t SET m = {'k':v}", "UPDATE t SET m = {1:2}"):
        assert bind_named_markers(text) == BoundText(text, ())


def test_map_value_may_be_a_marker_after_a_space() -> None:
    assert bind_named_markers("UPDATE t SET m = {'a': :val}") == BoundText(
        "UPDATE t SET m = {'a': ?}", ("val",)
    )


@pytest.mark.parametrize(
    "text",
    [
        "SELECT a::b FROM t",  # neither colon of ::
        "SELECT ::b FROM t",
        "SELECT x:y FROM t",  # after an identifier character
        "SELECT 1:y FROM t",  # after a digit
        "SELECT 'a':y FROM t",  # after a quote
        'SELECT "a":y FROM t',
        "SELECT f(a):y, m[1]:y, {}:y FROM t",  # after a closing bracket
        "SELECT : y, :1, :9a FROM t",  # followed by a space or a digit
        "SELECT a: FROM t",  # at the end / followed by nothing useful
        "SELECT :",
        "SELECT :é",
    ],
)
def test_colons_that_are_not_markers(text: str) -> None:
    assert bind_named_markers(text) == BoundText(text, ())


@pytest.mark.parametrize(
    "protected",
    [
        "':x'",
        "'12:30'",
        "'it'':s'",
        '":x"',
        "$$ :x $$",
        "-- :x\n",
        "// :x\n",
        "/* :x */",
    ],
)
def test_markers_inside_protected_text_are_left_alone(protected: str) -> None:
    text = f"SELECT {protected} FROM t WHERE k = :k"
    assert bind_named_markers(text) == BoundText(f"SELECT {protected} FROM t WHERE k = ?", ("k",))


def test_marker_at_start_and_end_of_text() -> None:
    assert bind_named_markers(":a") == BoundText("?", ("a",))
    assert bind_named_markers("(:a)") == BoundText("(?)", ("a",))
    assert bind_named_markers("SELECT * FROM t WHERE k=:k") == BoundText("SELECT * FROM t WHERE k=?", ("k",))


def test_name_stops_at_first_non_identifier_character() -> None:
    assert bind_named_markers("SELECT :abc.def, :x-1") == BoundText("SELECT ?.def, ?-1", ("abc", "x"))


def test_positional_markers_alone_are_fine() -> None:
    text = "SELECT * FROM t WHERE k = ? AND v = ?"
    assert bind_named_markers(text) == BoundText(text, ())


def test_question_mark_in_literal_or_comment_does_not_count_as_positional() -> None:
    bound = bind_named_markers("SELECT '?' FROM t /* ? */ WHERE k = :k -- ?")
    assert bound == BoundText("SELECT '?' FROM t /* ? */ WHERE k = ? -- ?", ("k",))


def test_mixing_positional_and_named_markers_is_rejected() -> None:
    with pytest.raises(CqlSyntaxError) as info:
        bind_named_markers("SELECT * FROM t\nWHERE k = ? AND v = :v")
    message = str(info.value)
    assert "mixes positional ?" in message
    assert "line 2, column 11" in message
    assert ":v" in message


def test_bind_reports_unterminated_literals() -> None:
    with pytest.raises(CqlSyntaxError, match="unterminated string literal starting at line 1, column 27"):
        bind_named_markers("SELECT * FROM t WHERE k = 'abc AND v = :v")


# --- resolve_parameters ------------------------------------------------------------------------------


def test_resolves_values_in_marker_order() -> None:
    bound = BoundText("SELECT ? , ?, ?", ("b", "a", "b"))
    assert resolve_parameters(bound, {"a": 1, "b": None, "c": 3}) == [None, 1, None]


def test_no_markers_resolve_to_no_values() -> None:
    assert resolve_parameters(BoundText("SELECT 1", ()), {}) == []


def test_one_missing_variable() -> None:
    with pytest.raises(UnknownVariableError) as info:
        resolve_parameters(BoundText("SELECT ?", ("foo",)), {})
    assert str(info.value).startswith(
        "the CQL refers to :foo but there is no Python variable named 'foo' in the notebook; define it"
    )
    assert info.value.names == ("foo",)
    assert info.value.name == "foo"
    assert isinstance(info.value, NameError)
    assert not isinstance(info.value, KeyError)


def test_all_missing_variables_are_named_at_once() -> None:
    bound = bind_named_markers("SELECT * FROM t WHERE a = :a AND b = :b AND c = :c AND again = :a")
    with pytest.raises(UnknownVariableError) as info:
        resolve_parameters(bound, {"b": 2})
    assert info.value.names == ("a", "c")
    assert "refers to :a, :c" in str(info.value)
    assert "no Python variables named 'a', 'c'" in str(info.value)

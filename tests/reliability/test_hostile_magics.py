"""Hostile input to the magics: only one-line UsageErrors, never an internal error, never a hang."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from tests.integration.test_magics import ip, loaded, table  # noqa: F401  (fixtures)

THOROUGH = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
OPTION_WORDS = ["--out", "--consistency", "--serial-consistency", "--fetch-size", "--limit", "--timeout",
                "--tracing", "--keyspace", "--stream", "--export", "--overwrite", "--conn", "-o", "-k", "-c",
                "--bogus", "x", "0", "-1", "ONE", "QUORUM", "nope", "1e9", "'", '"', "=", "<<", "df", "1.5"]  # fmt: skip


def _run(ip: InteractiveShell, line: str, cell: str) -> None:  # noqa: F811
    with capture_output():
        try:
            ip.run_cell_magic("cql", line, cell)
        except UsageError as exc:
            assert "\n" not in str(exc).strip(), f"a usage error is one line: {exc!r}"


def test_the_option_parser_only_raises_usage_errors(ip: InteractiveShell, table: str) -> None:  # noqa: F811
    @THOROUGH
    @given(words=st.lists(st.sampled_from(OPTION_WORDS) | st.text(max_size=4), max_size=6))
    def check(words: list[str]) -> None:
        _run(ip, " ".join(words), f"SELECT * FROM {table} LIMIT 1")

    check()


values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(allow_nan=False), st.binary(max_size=4),
                   st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                   st.uuids())  # fmt: skip


def test_bound_values_of_any_type_give_usage_errors_or_run(ip: InteractiveShell, table: str) -> None:  # noqa: F811
    @THOROUGH
    @given(key=values, name=values)
    def check(key: Any, name: Any) -> None:
        ip.user_ns.update(hostile_key=key, hostile_name=name)
        _run(ip, "", f"INSERT INTO {table} (id, name) VALUES (:hostile_key, :hostile_name)")

    check()
    with capture_output():
        ip.run_cell_magic("cql", "--out after", f"SELECT count(*) FROM {table}")
    assert int(ip.user_ns["after"].iloc[0, 0]) >= 25, "the connection still works"

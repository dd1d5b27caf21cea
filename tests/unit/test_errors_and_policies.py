"""Driver exceptions map onto the cassnb tree; the retry policy retries only what is safe."""

from __future__ import annotations

import pytest
from cassandra import (
    AuthenticationFailed,
    ConsistencyLevel,
    InvalidRequest,
    OperationTimedOut,
    ReadTimeout,
    Unauthorized,
    Unavailable,
    WriteTimeout,
)
from cassandra.cluster import NoHostAvailable
from cassandra.policies import RetryPolicy, WriteType
from cassandra.protocol import SyntaxException
from cassandra.query import SimpleStatement

from cassnb import exceptions as e
from cassnb.options import Consistency
from cassnb.retry import IdempotentRetryPolicy


@pytest.mark.parametrize(
    ("driver_error", "expected"),
    [
        (InvalidRequest("unconfigured table t"), e.InvalidQueryError),
        (SyntaxException(0x2000, "line 1:0 no viable alternative", None), e.InvalidQueryError),
        (Unauthorized("no SELECT permission"), e.UnauthorizedError),
        (Unavailable("not enough replicas"), e.UnavailableError),
        (ReadTimeout("read timed out"), e.TimeoutError),
        (WriteTimeout("write timed out", write_type=0), e.TimeoutError),
        (OperationTimedOut("client timeout"), e.TimeoutError),
        (NoHostAvailable("down", {"10.0.0.1:9042": OSError("refused")}), e.ConnectionError),
        (NoHostAvailable("auth", {"h": AuthenticationFailed("Provided username x and/or password are incorrect")}),
         e.AuthenticationError),
    ],
)
def test_translate(driver_error: Exception, expected: type[e.CassnbError]) -> None:
    mapped = e.translate(driver_error, "SELECT * FROM t WHERE k = 1")
    assert type(mapped) is expected
    assert isinstance(mapped, e.CassnbError) and mapped.driver_error is driver_error
    if expected not in (e.AuthenticationError, e.ConnectionError):
        assert "SELECT * FROM t WHERE k = 1" in str(mapped)


def test_what_does_not_come_from_the_driver_is_not_dressed_up_as_a_query_error() -> None:
    bug = AttributeError("a bug somewhere")
    assert e.translate(bug, "SELECT 1") is bug


def test_the_server_s_words_come_without_the_driver_s_wrapping() -> None:
    driver = InvalidRequest('Error from server: code=2200 [Invalid query] message="table no_such_table does not exist"')
    mapped = e.translate(driver, "SELECT * FROM no_such_table")
    assert str(mapped) == "table no_such_table does not exist (while running: SELECT * FROM no_such_table)"
    assert (mapped.server_message, mapped.code, mapped.statement) == (
        "table no_such_table does not exist", 0x2200, "SELECT * FROM no_such_table"
    )


def test_unavailable_and_timeout_errors_carry_the_replica_counts() -> None:
    unavailable = e.translate(Unavailable("x", consistency=ConsistencyLevel.QUORUM, required_replicas=2,
                                          alive_replicas=1), "INSERT ...")  # fmt: skip
    assert (unavailable.consistency, unavailable.required, unavailable.received) == ("QUORUM", 2, 1)
    timeout = e.translate(WriteTimeout("x", consistency=ConsistencyLevel.ONE, required_responses=1,
                                       received_responses=0, write_type=0), "INSERT ...")  # fmt: skip
    assert isinstance(timeout, e.TimeoutError) and (timeout.required, timeout.received) == (1, 0)


def test_authentication_message_never_echoes_the_server_text() -> None:
    mapped = e.translate(NoHostAvailable("x", {"h": AuthenticationFailed("password 'hunter2' is incorrect")}))
    assert "hunter2" not in str(mapped) and "credentials" in str(mapped)


def test_long_statements_are_shortened_in_messages() -> None:
    mapped = e.translate(InvalidRequest("bad"), "SELECT " + "x, " * 200 + "y FROM t")
    assert len(str(mapped)) < 250 and "…" in str(mapped)


def test_retry_policy_retries_writes_only_when_idempotent() -> None:
    policy = IdempotentRetryPolicy()
    safe = SimpleStatement("UPDATE t SET v = 1 WHERE k = 1", is_idempotent=True)
    unsafe = SimpleStatement("UPDATE t SET c = c + 1 WHERE k = 1")
    quorum = ConsistencyLevel.QUORUM
    assert policy.on_write_timeout(safe, quorum, WriteType.SIMPLE, 2, 1, 0) == (RetryPolicy.RETRY, quorum)
    assert policy.on_write_timeout(unsafe, quorum, WriteType.SIMPLE, 2, 1, 0) == (RetryPolicy.RETHROW, None)
    assert policy.on_write_timeout(safe, quorum, WriteType.SIMPLE, 2, 1, 1) == (RetryPolicy.RETHROW, None)
    assert policy.on_request_error(unsafe, quorum, OSError(), 0) == (RetryPolicy.RETHROW, None)
    assert policy.on_request_error(safe, quorum, OSError(), 0) == (RetryPolicy.RETRY_NEXT_HOST, None)
    assert policy.on_read_timeout(unsafe, quorum, 2, 2, False, 0) == (RetryPolicy.RETRY, quorum)
    assert policy.on_read_timeout(unsafe, quorum, 2, 1, False, 0) == (RetryPolicy.RETHROW, None)


def test_consistency_parsing() -> None:
    assert Consistency.parse("local_quorum") is Consistency.LOCAL_QUORUM
    assert Consistency.parse(1) is Consistency.ONE and Consistency.ONE == ConsistencyLevel.ONE
    with pytest.raises(ValueError, match="unknown consistency level 'most'; choose one of ANY, ONE"):
        Consistency.parse("most")

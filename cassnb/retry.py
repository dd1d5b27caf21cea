"""The default retry policy: retry what is safe to retry, and nothing else.

A write that timed out may or may not have been applied; running it again is only harmless when the statement
is idempotent. The driver's ``Statement.is_idempotent`` flag says so (cassnb sets it for prepared ``SELECT``
statements). Reads are retried once when the replicas answered but the data was not yet collected, and any
request may move to the next host once when the coordinator was unavailable.
"""

from __future__ import annotations

from typing import Any

from cassandra.policies import RetryPolicy, WriteType


class IdempotentRetryPolicy(RetryPolicy):  # type: ignore[misc]
    """Retry writes and failed requests only for statements marked ``is_idempotent``; at most once."""

    def on_read_timeout(
        self, query: Any, consistency: Any, required_responses: int, received_responses: int,
        data_retrieved: bool, retry_num: int,
    ) -> tuple[int, Any]:  # fmt: skip
        if retry_num == 0 and received_responses >= required_responses and not data_retrieved:
            return self.RETRY, consistency
        return self.RETHROW, None

    def on_write_timeout(
        self, query: Any, consistency: Any, write_type: str, required_responses: int,
        received_responses: int, retry_num: int,
    ) -> tuple[int, Any]:  # fmt: skip
        if retry_num == 0 and (getattr(query, "is_idempotent", False) or write_type == WriteType.BATCH_LOG):
            return self.RETRY, consistency
        return self.RETHROW, None

    def on_unavailable(
        self, query: Any, consistency: Any, required_replicas: int, alive_replicas: int, retry_num: int
    ) -> tuple[int, Any]:
        return (self.RETRY_NEXT_HOST, None) if retry_num == 0 else (self.RETHROW, None)

    def on_request_error(self, query: Any, consistency: Any, error: Exception, retry_num: int) -> tuple[int, Any]:
        if retry_num == 0 and getattr(query, "is_idempotent", False):
            return self.RETRY_NEXT_HOST, None
        return self.RETHROW, None

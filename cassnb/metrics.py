"""Per-session metrics: what ran, what failed, how long it took, how much was streamed.

Recording is a few integer updates on the event loop (no locks, no threads). Latencies go into a bounded
reservoir (the most recent 10,000), from which percentiles are computed only when asked for.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

_RESERVOIR = 10_000


@dataclass(frozen=True)
class MetricsSnapshot:
    """A copy of a session's metrics at one moment. Latencies are in seconds."""

    queries: int
    errors: int
    errors_by_type: dict[str, int] = field(default_factory=dict)
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    latency_max: float | None = None
    pages_streamed: int = 0
    rows_streamed: int = 0


class SessionMetrics:
    """Mutable counters owned by one session."""

    def __init__(self) -> None:
        self.queries = 0
        self.errors: Counter[str] = Counter()
        self.latencies: deque[float] = deque(maxlen=_RESERVOIR)
        self.pages_streamed = 0
        self.rows_streamed = 0

    def succeeded(self, seconds: float) -> None:
        self.queries += 1
        self.latencies.append(seconds)

    def failed(self, exc: BaseException) -> None:
        self.queries += 1
        self.errors[type(exc).__name__] += 1

    def streamed(self, rows: int) -> None:
        self.pages_streamed += 1
        self.rows_streamed += rows

    def snapshot(self) -> MetricsSnapshot:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else None

        return MetricsSnapshot(
            queries=self.queries, errors=sum(self.errors.values()), errors_by_type=dict(self.errors),
            latency_p50=pct(0.50), latency_p95=pct(0.95), latency_p99=pct(0.99),
            latency_max=ordered[-1] if ordered else None,
            pages_streamed=self.pages_streamed, rows_streamed=self.rows_streamed,
        )  # fmt: skip


class PrometheusCollector:
    """Expose sessions' metrics to ``prometheus_client`` (extra ``cassnb[prometheus]``).

    ``REGISTRY.register(PrometheusCollector(session))`` publishes ``cassnb_queries_total``,
    ``cassnb_errors_total{type=...}``, ``cassnb_latency_seconds{quantile=...}`` and the streamed rows/pages.
    """

    def __init__(self, *sessions: Any) -> None:
        self._sessions = sessions

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        queries = CounterMetricFamily("cassnb_queries", "Statements executed", labels=["session"])
        errors = CounterMetricFamily("cassnb_errors", "Statements that failed", labels=["session", "type"])
        latency = GaugeMetricFamily("cassnb_latency_seconds", "Latency percentiles", labels=["session", "quantile"])
        rows = CounterMetricFamily("cassnb_rows_streamed", "Rows delivered by streams", labels=["session"])
        pages = CounterMetricFamily("cassnb_pages_streamed", "Pages delivered by streams", labels=["session"])
        for index, session in enumerate(self._sessions):
            label = str(index)
            m = session.metrics()
            queries.add_metric([label], m.queries)
            for kind, count in m.errors_by_type.items():
                errors.add_metric([label, kind], count)
            for quantile, value in (("0.5", m.latency_p50), ("0.95", m.latency_p95), ("0.99", m.latency_p99)):
                if value is not None:
                    latency.add_metric([label, quantile], value)
            rows.add_metric([label], m.rows_streamed)
            pages.add_metric([label], m.pages_streamed)
        yield from (queries, errors, latency, rows, pages)

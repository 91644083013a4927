"""The per-request metrics every route family's handler emits, in one place so their names never drift."""

from __future__ import annotations

import time

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


def record_request(
    metrics: Metrics,
    *,
    started: float,
    status: int,
    score_error: str | None,
    lifo_attempts: int,
    rate_limit_failed_open: bool = False,
    database_unavailable: bool = False,
) -> None:
    """``Requests``, ``StatusNXX``, ``Latency`` (since ``started``, a ``perf_counter`` reading), and the
    counters of what went wrong: ``ScoreErrors``, ``LifoRetries``, ``RateLimitFailOpen``, ``DatabaseUnavailable``."""
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"Status{status // 100}XX", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="Latency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
    )
    if score_error is not None:
        metrics.add_metric(name="ScoreErrors", unit=MetricUnit.Count, value=1)
    if lifo_attempts > 1:
        metrics.add_metric(name="LifoRetries", unit=MetricUnit.Count, value=lifo_attempts - 1)
    if rate_limit_failed_open:
        metrics.add_metric(name="RateLimitFailOpen", unit=MetricUnit.Count, value=1)
    if database_unavailable:  # unreachable, or the proxy's borrow timed out: size the proxy
        metrics.add_metric(name="DatabaseUnavailable", unit=MetricUnit.Count, value=1)

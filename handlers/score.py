"""Lambda entry point for ``GET /v2/stamps/{scorer_id}/score/{address}``.

Accepts API Gateway REST (v1), HTTP API (v2) and ALB events, lifts them into a ``ScoreRequest``, lets the core
answer, and wraps the answer in the envelope the event source expects (the reference's four headers included).
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from handlers import startup
from handlers.envelope import event_fields, header_map, http_response
from handlers.request_metrics import record_request
from scorer_core.responses.serialization import error_body
from scorer_core.v2 import service
from scorer_core.v2.request import MISSING, ScoreRequest

# The init phase: a malformed setting fails here, naming the variable, before any request is routed.
startup.initialize()

# The template sets POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE; these defaults serve local runs.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "passport-score")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PassportScore"), service=SERVICE)


def to_request(raw_event: Any, request_id: str | None) -> ScoreRequest:
    """The transport-neutral request; HTTP API v2 events name the path ``rawPath`` and may omit the query.

    Fields of the wrong type are passed on as they are (a non-text path fails after authentication, as in the
    reference), except headers, which are dropped unless they are an object.
    """
    event = event_fields(raw_event)
    if event.get("version") == "2.0":
        return ScoreRequest(
            path=event.get("rawPath", ""),
            headers=header_map(event.get("headers")) or {},
            query_params=event.get("queryStringParameters"),
            body=event.get("body"),
            is_base64_encoded=bool(event.get("isBase64Encoded", False)),
            request_id=request_id,
        )
    return ScoreRequest(
        path=event.get("path", ""),
        headers=header_map(event.get("headers")),
        query_params=event.get("queryStringParameters", MISSING),
        body=event.get("body"),
        is_base64_encoded=bool(event.get("isBase64Encoded", False)),
        request_id=request_id,
    )


def to_response(event: Any, outcome: service.Outcome) -> dict[str, Any]:
    return http_response(event, outcome.status, outcome.body, outcome.description)


def handle_event(event: Any, context: Any, *, dry_run: bool = False) -> dict[str, Any]:
    """Score one event; ``dry_run`` rolls everything back (shadow mode)."""
    return _serve(event, context, dry_run=dry_run)[0]


def _serve(event: Any, context: Any, *, dry_run: bool) -> tuple[dict[str, Any], service.Outcome]:
    started = time.perf_counter()
    outcome = service.handle(to_request(event, getattr(context, "aws_request_id", None)), dry_run=dry_run)
    logger.info(
        "score request",
        extra={
            "status": outcome.status,
            "dry_run": dry_run,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "verification_ms": round(outcome.timings.verification_ms, 2),
            "database_ms": round(outcome.timings.database_ms, 2),
            "lifo_attempts": outcome.lifo_attempts,
            "score_error": outcome.score_error,
        },
    )
    return to_response(event, outcome), outcome


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event carries the API key.
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        response, outcome = _serve(event, context, dry_run=False)
    except (
        Exception
    ):  # the core answers every failure itself; this is the last line, so the handler never raises
        logger.exception("score handler failed")
        outcome = service.Outcome(500, error_body("An error has occurred"), "An error has occurred")
        response = to_response(event, outcome)
    record_request(
        metrics,
        started=started,
        status=outcome.status,
        score_error=outcome.score_error,
        lifo_attempts=outcome.lifo_attempts,
        rate_limit_failed_open=outcome.rate_limit_failed_open,
        database_unavailable=outcome.database_unavailable,
    )
    return response

"""Lambda entry point for the ``/ceramic-cache/`` routes of the Passport app (C1-C7).

Routing uses Powertools' resolvers (one per event source: ALB, API Gateway REST, HTTP API) and their event data
classes; each route lifts the event into a ``CacheRequest`` and calls one use case. The envelope is
``handlers.envelope``'s, not the resolver's, so that ALB answers keep the reference's ``statusDescription``
(``"200 OK"`` even for the 201) and ``statusCategory`` while API Gateway answers carry neither.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.api_gateway import (
    ALBResolver,
    APIGatewayHttpResolver,
    ApiGatewayResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from handlers import startup
from handlers.envelope import RESPONSE_HEADERS, event_fields, http_response, is_alb
from handlers.request_metrics import record_request
from scorer_core.ceramic_cache import bulk, score, stamps, weights
from scorer_core.ceramic_cache.request import Answer, CacheRequest
from scorer_core.responses.serialization import error_body
from scorer_core.settings import get_settings

startup.initialize()

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "passport-ceramic-cache")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PassportScore"), service=SERVICE)

# (method, route pattern, use case, whether it takes the request). Patterns are Powertools route rules (regular
# expressions); the score routes ignore the path's address (the JWT's is scored), the load balancer only asks
# for a prefix.
ROUTES: tuple[tuple[str, str, Callable[..., Answer], bool], ...] = (
    ("POST", "/ceramic-cache/stamps/bulk", bulk.post, True),
    ("PATCH", "/ceramic-cache/stamps/bulk", bulk.patch, True),
    ("DELETE", "/ceramic-cache/stamps/bulk", bulk.delete, True),
    ("GET", "/ceramic-cache/score/.+", score.get, True),
    ("POST", "/ceramic-cache/score/.+", score.post, True),
    ("GET", "/ceramic-cache/stamp", stamps.get, True),
    ("GET", "/ceramic-cache/weights", weights.get, False),
)


def _request(event: BaseProxyEvent) -> CacheRequest:
    """The transport-neutral request; null headers stay null (the reference's 400), null query reads empty.

    Headers are matched in any casing (agreed deviation 13). An ALB target group with multi-value
    headers on sends only ``multiValueHeaders``/``multiValueQueryStringParameters``: the last value counts, as
    the single-value mode would have passed it.
    """
    raw = event.raw_event
    headers: Mapping[str, Any] | None = None
    if raw.get("headers") is not None:
        headers = event.headers
    elif isinstance(raw.get("multiValueHeaders"), dict):
        headers = {k: v[-1] for k, v in raw["multiValueHeaders"].items() if v}
    query: Mapping[str, Any] = event.query_string_parameters
    if not query and isinstance(raw.get("multiValueQueryStringParameters"), dict):
        query = {k: v[-1] for k, v in raw["multiValueQueryStringParameters"].items() if v}
    return CacheRequest(
        headers=headers,
        query=query,
        body=event.body,
        is_base64_encoded=bool(event.is_base64_encoded),
    )


def _resolver(resolver: ApiGatewayResolver) -> ApiGatewayResolver:
    """Register every route on ``resolver``; each answers through the use case and records its ``Answer``."""

    def route(use_case: Callable[..., Answer], with_request: bool) -> Callable[[], Response[str]]:
        def serve() -> Response[str]:
            dry_run = bool(resolver.context.get("dry_run"))
            settings = get_settings()
            if with_request:
                answer = use_case(_request(resolver.current_event), settings, dry_run=dry_run)
            else:
                answer = use_case(settings, dry_run=dry_run)
            resolver.context["answers"].append(answer)
            return Response(status_code=answer.status, body=answer.body, headers=RESPONSE_HEADERS)

        return serve

    for method, rule, use_case, with_request in ROUTES:
        resolver.route(rule, method)(route(use_case, with_request))
    return resolver


_ALB = _resolver(ALBResolver())
_REST = _resolver(APIGatewayRestResolver())
_HTTP = _resolver(APIGatewayHttpResolver())
NOT_FOUND = Answer(404, error_body("Not Found"), "Not Found")
UNROUTABLE = Answer(400, error_body("An error has occurred"), "An error has occurred")


def _resolver_for(event: dict[str, Any]) -> ApiGatewayResolver:
    if is_alb(event):
        return _ALB
    return _HTTP if event.get("version") == "2.0" else _REST


def _route(event: dict[str, Any], context: Any, *, dry_run: bool) -> tuple[dict[str, Any], Answer]:
    answers: list[Answer] = []
    resolver = _resolver_for(event)
    resolver.append_context(dry_run=dry_run, answers=answers)  # type: ignore[no-untyped-call]
    try:
        resolver.resolve(event, context)
        answer = answers[0] if answers else NOT_FOUND
    except Exception:
        # An event too malformed for the resolver (a requestContext or method of the wrong type): the ceramic
        # wrapper's answer to anything unexpected.
        logger.exception("ceramic-cache event could not be routed")
        answer = UNROUTABLE
    return http_response(event, answer.status, answer.body, answer.description), answer


def handle_event(event: dict[str, Any], context: Any, *, dry_run: bool = False) -> dict[str, Any]:
    """Answer one event; ``dry_run`` rolls every write back (shadow mode)."""
    return _serve_event(event, context, dry_run=dry_run)[0]


def _serve_event(event: dict[str, Any], context: Any, *, dry_run: bool) -> tuple[dict[str, Any], Answer]:
    started = time.perf_counter()
    event = event_fields(event)
    response, answer = _route(event, context, dry_run=dry_run)
    context_fields = event_fields(event.get("requestContext"))
    logger.info(
        "ceramic-cache request",
        extra={
            "method": event.get("httpMethod") or event_fields(context_fields.get("http")).get("method"),
            "status": answer.status,
            "dry_run": dry_run,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "verification_ms": round(answer.timings.verification_ms, 2),
            "database_ms": round(answer.timings.database_ms, 2),
            "lifo_attempts": answer.lifo_attempts,
            "score_error": answer.score_error,
        },
    )
    return response, answer


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)  # events carry keys and JWTs
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    response, answer = _serve_event(event, context, dry_run=False)
    record_request(
        metrics,
        started=started,
        status=answer.status,
        score_error=answer.score_error,
        lifo_attempts=answer.lifo_attempts,
    )
    return response

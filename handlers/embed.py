"""Lambda entry point of the embed routes, behind the internal load balancer.

- ``GET /internal/embed/validate-api-key``
- ``POST /internal/embed/stamps/{address}``
- ``GET /internal/embed/score/{scorer_id}/{address}``

Powertools' resolvers route on method and path for ALB, REST (v1) and HTTP API (v2) events and lift the
event into its data class. The routes are prefix patterns, like the load balancer's rules: each use case
checks the rest of the path with the reference's own expression, whose 400 names it. The response is built
by ``handlers.envelope``, not by Powertools, whose builder always adds ``isBase64Encoded`` (and
``multiValueHeaders`` for REST events) where the embed success envelope has exactly ``statusCode``,
``headers`` (only ``Content-Type``) and ``body``. Each use case is imported on first use, so a
validate-api-key environment never loads the scoring pipeline.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import (
    ALBResolver,
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router

from handlers import startup
from handlers.envelope import RESPONSE_HEADERS, event_fields, http_response, is_alb
from handlers.request_metrics import record_request
from scorer_core.embed.outcome import GENERIC_MESSAGE, EmbedOutcome, error_body
from scorer_core.embed.request import EmbedRequest

startup.initialize()

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "passport-embed")
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "PassportScore"), service=SERVICE)

SUCCESS_HEADERS = {"Content-Type": "application/json"}

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated


@dataclass(slots=True)
class _Call:
    """One event being answered: what the routes need from ``handle_event``, and what they answer."""

    dry_run: bool
    outcome: EmbedOutcome | None = None
    success_headers: dict[str, str] | None = None


# One router serves the three resolvers; the call travels beside them rather than in one resolver's context.
_call: ContextVar[_Call] = ContextVar("embed_call")


@router.get("/internal/embed/validate-api-key")
def validate_api_key() -> Response[str]:
    from scorer_core.embed.validate_api_key import validate_api_key

    # Agreed deviation 12 answers keys the reference refused (401, with the four headers) with a 200: that 200
    # keeps the four headers, so a key's answer differs only in status and body. Save and score successes keep
    # the reference's bare Content-Type.
    _call.get().success_headers = RESPONSE_HEADERS
    return _answered(validate_api_key(_request()))


@router.post("/internal/embed/stamps/.+")
def save_stamps() -> Response[str]:
    from scorer_core.embed.save_stamps import save_stamps

    return _answered(save_stamps(_request(), dry_run=_call.get().dry_run))


@router.get("/internal/embed/score/.+")
def get_score() -> Response[str]:
    from scorer_core.embed.get_score import get_score

    return _answered(get_score(_request(), dry_run=_call.get().dry_run))


def _request() -> EmbedRequest:
    event = router.current_event
    headers: Any = event.headers
    multi = event.get("multiValueHeaders")
    if not event.get("headers") and isinstance(multi, dict):
        headers = {name: values[-1] for name, values in multi.items() if values}
    return EmbedRequest(
        path=event.path,
        headers=headers,
        body=event.body,
        is_base64_encoded=bool(event.is_base64_encoded),
        request_id=getattr(router.lambda_context, "aws_request_id", None),
    )


def _answered(outcome: EmbedOutcome) -> Response[str]:
    """Hand the outcome back to ``handle_event`` (the resolver's own response is not the envelope)."""
    _call.get().outcome = outcome
    return Response(status_code=outcome.status, body=outcome.body)


def _resolvers() -> dict[str, ApiGatewayResolver]:
    made: dict[str, ApiGatewayResolver] = {
        "alb": ALBResolver(),
        "http": APIGatewayHttpResolver(),
        "rest": APIGatewayRestResolver(),
    }
    for resolver in made.values():
        resolver.include_router(router)
        resolver.not_found(_not_found)
    return made


def _not_found(_exc: Exception) -> Response[str]:
    return _answered(EmbedOutcome(404, error_body("Not Found"), "Not Found"))


RESOLVERS = _resolvers()


def _source(event: dict[str, Any]) -> str:
    if is_alb(event):
        return "alb"
    return "http" if event.get("version") == "2.0" else "rest"


def handle_event(event: dict[str, Any], context: Any, *, dry_run: bool = False) -> dict[str, Any]:
    """Answer one event; ``dry_run`` rolls every write back (shadow mode)."""
    return _serve(event, context, dry_run=dry_run)[0]


def _serve(event: dict[str, Any], context: Any, *, dry_run: bool) -> tuple[dict[str, Any], EmbedOutcome]:
    started = time.perf_counter()
    event = event_fields(event)
    call = _Call(dry_run)
    token = _call.set(call)
    try:
        RESOLVERS[_source(event)].resolve(event, context)
    except Exception:
        # An event too malformed for the resolver (a requestContext or method of the wrong type): the embed
        # wrapper's answer to anything unexpected, 400 with the generic text.
        logger.exception("embed event could not be routed")
        call.outcome = EmbedOutcome(400, error_body(GENERIC_MESSAGE), GENERIC_MESSAGE)
    finally:
        _call.reset(token)
    outcome = call.outcome
    assert outcome is not None  # every route and the not-found handler answer through _answered
    logger.info(
        "embed request",
        extra={
            "status": outcome.status,
            "dry_run": dry_run,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "lifo_attempts": outcome.lifo_attempts,
            "score_error": outcome.score_error,
        },
    )
    return envelope(event, outcome, call.success_headers or SUCCESS_HEADERS), outcome


def envelope(
    event: dict[str, Any], outcome: EmbedOutcome, success_headers: Mapping[str, str] = SUCCESS_HEADERS
) -> dict[str, Any]:
    """Success: exactly ``statusCode``, ``headers`` and ``body``; errors: the full envelope."""
    if outcome.ok:
        return {"statusCode": outcome.status, "headers": dict(success_headers), "body": outcome.body}
    return http_response(event, outcome.status, outcome.body, outcome.description, headers=RESPONSE_HEADERS)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)  # events carry keys and JWTs
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    response, outcome = _serve(event, context, dry_run=False)
    record_request(
        metrics,
        started=started,
        status=outcome.status,
        score_error=outcome.score_error,
        lifo_attempts=outcome.lifo_attempts,
    )
    return response

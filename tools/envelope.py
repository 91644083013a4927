"""What each event source accepts back from a Lambda proxy integration, as a check on a response.

API Gateway's Lambda proxy integration answers 502 ("Malformed Lambda proxy response") to any key beyond
``statusCode``, ``headers``, ``multiValueHeaders``, ``body`` and ``isBase64Encoded`` (HTTP API 2.0: plus
``cookies``); `sam local start-api` refuses the same keys. ALB targets may add ``statusDescription``, which the
reference sends (except on embed successes). Used by the local runners (`make invoke-all`, `make serve`) and the tests.
"""

from __future__ import annotations

from typing import Any

REST_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
HTTP_API_KEYS = REST_KEYS | {"cookies"}


def source_of(event: Any) -> str:
    """``alb``, ``http-api`` (payload 2.0) or ``rest`` (payload 1.0)."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(context, dict) and "elb" in context:
        return "alb"
    if isinstance(event, dict) and event.get("version") == "2.0":
        return "http-api"
    return "rest"


def envelope_problem(event: Any, response: Any) -> str | None:
    """Why the event's source would reject ``response``, or None when it would accept it."""
    if not isinstance(response, dict):
        return f"not a JSON object: {type(response).__name__}"
    status = response.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool):
        return f"statusCode is not an integer: {status!r}"
    body = response.get("body")
    if body is not None and not isinstance(body, str):
        return f"body is not a string: {type(body).__name__}"
    source = source_of(event)
    if source == "alb":
        return None  # ALB reads statusDescription when it is there; the embed success envelope has none
    extra = set(response) - (HTTP_API_KEYS if source == "http-api" else REST_KEYS)
    if extra:
        return f"Invalid API Gateway Response Keys: {sorted(extra)}"
    return None

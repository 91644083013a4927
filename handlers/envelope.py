"""The response envelope of each event source, shared by every route family's handler.

API Gateway's Lambda proxy integration answers 502 to any key beyond ``statusCode``, ``headers``,
``multiValueHeaders``, ``body`` and ``isBase64Encoded`` (agreed deviation 9), so ``statusDescription`` and
``statusCategory``, which the reference's ALB targets send, go only to ALB events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The reference's four headers (CORS included) on every v2 and ceramic-cache response and on embed errors.
RESPONSE_HEADERS = {
    "Content-Type": "application/json",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "*",
    "Access-Control-Allow-Headers": (
        "Accept,Accept-Encoding,Authorization,Content-Type,Dnt,Origin,User-Agent,X-Csrftoken,"
        "X-Requested-With,X-Api-Key"
    ),
}


def event_fields(event: Any) -> dict[str, Any]:
    """The event as a mapping; anything else (a list, a string, null) carries no field at all.

    Every route family lifts its request through this and the helpers below, so a malformed event is answered
    like a request that lacks the malformed part, never with an exception.
    """
    return event if isinstance(event, dict) else {}


def header_map(headers: Any) -> dict[str, Any] | None:
    """``headers`` when it is an object; a list, a string or a number carries no header (the reference then finds
    no API key: 401)."""
    return headers if isinstance(headers, dict) else None


def is_alb(event: Any) -> bool:
    """An ALB target-group event: ``requestContext.elb``, whatever else the event holds."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    return isinstance(context, dict) and "elb" in context


def http_response(
    event: Any,
    status: int,
    body: str,
    description: str,
    *,
    headers: Mapping[str, str] = RESPONSE_HEADERS,
    with_category: bool | None = None,
    with_base64_flag: bool = True,
) -> dict[str, Any]:
    """The envelope for ``event``'s source, keys in the reference's order.

    ``with_category`` defaults to "on errors"; ``with_base64_flag`` is off for the embed success envelope,
    which has only three keys. ALB targets that send ``multiValueHeaders`` get ``multiValueHeaders`` back.
    """
    response: dict[str, Any] = {"statusCode": status}
    from_alb = is_alb(event)
    if from_alb:
        if status >= 400 if with_category is None else with_category:
            response["statusCategory"] = "4XX" if status < 500 else "5XX"
        response["statusDescription"] = description
    if with_base64_flag:
        response["isBase64Encoded"] = False
    if from_alb and isinstance(event, dict) and "multiValueHeaders" in event:
        response["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    else:
        response["headers"] = dict(headers)
    response["body"] = body
    return response

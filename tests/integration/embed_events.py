"""Embed events as the internal load balancer sends them, and the same requests as API Gateway events."""

from __future__ import annotations

import json
import uuid
from typing import Any

TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/passport-embed/0123456789abcdef"
)


def alb(method: str, path: str, body: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {"host": "scorer-internal.example.com", **(headers or {})},
        "body": body,
        "isBase64Encoded": False,
    }


def rest(
    method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers or {},
        "queryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "requestContext": {"requestId": str(uuid.uuid4()), "stage": "api", "path": "/api" + path},
        "body": body,
        "isBase64Encoded": False,
    }


def http(
    method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers or {},
        "requestContext": {
            "http": {"method": method, "path": path},
            "requestId": str(uuid.uuid4()),
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    return event


SHAPES = {"alb": alb, "rest": rest, "http": http}


def save_body(scorer_id: Any, stamps: list[Any]) -> str:
    return json.dumps({"scorer_id": scorer_id, "stamps": stamps})

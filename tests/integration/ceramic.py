"""Helpers for the ceramic-cache tests: events of every source, tokens, and a world configured for the routes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools import credentials
from tools.lambda_context import LambdaContext

from .world import World

SECRET = "ceramic-cache-test-secret"
ARN = (
    "arn:aws:elasticloadbalancing:us-west-2:000000000000:targetgroup/passport-ceramic-cache/0123456789abcde1"
)


def alb_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    text = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
    if base64_body:
        text = base64.b64encode(text.encode()).decode()
    return {
        "requestContext": {"elb": {"targetGroupArn": ARN}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": query or {},
        "headers": headers if headers is not None else {},
        "body": text,
        "isBase64Encoded": base64_body,
    }


def rest_event(
    method: str, path: str, *, headers: dict[str, str] | None = None, body: Any = None
) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "queryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "requestContext": {"requestId": "r", "stage": "prod"},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def http_event(method: str, path: str, *, headers: dict[str, str], body: Any = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": path}, "requestId": "r", "stage": "$default"},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


@dataclass
class Answer:
    status: int
    body: Any
    raw: dict[str, Any]


def call(event: dict[str, Any], *, dry_run: bool = False) -> Answer:
    from handlers.ceramic_cache import handle_event

    raw = handle_event(event, LambdaContext(), dry_run=dry_run)
    return Answer(raw["statusCode"], json.loads(raw["body"]), raw)


def auth(address: str, **claims: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {credentials.access_token(address, SECRET, **claims)}"}


@dataclass
class CacheWorld:
    world: World
    configure: Callable[..., None]

    def item(self, address: str, provider: str, **kwargs: Any) -> dict[str, Any]:
        return {
            "provider": provider,
            "stamp": credentials.issue_stamp(address, provider, expiration=EXPIRY, **kwargs),
        }

    def bulk(self, method: str, address: str, items: Any, **claims: Any) -> Answer:
        return call(
            alb_event(method, "/ceramic-cache/stamps/bulk", headers=auth(address, **claims), body=items)
        )

    def visible(self, address: str) -> list[dict[str, Any]]:
        return self.world.rows(
            "SELECT * FROM ceramic_cache_ceramiccache WHERE address = %s AND deleted_at IS NULL ORDER BY provider",
            address,
        )


EXPIRY = "2031-03-04T05:06:07.891Z"

"""The mirrored record: one request the primary served and the answer it gave.

Shape (a JSON object): `{"event": <the primary's request event>, "response": {"statusCode": int, "body": str},
"served_at": "<ISO 8601>"}`; captured files may add `"id"`, a label for reports. Validation is strict because
a record that cannot be replayed faithfully is worth a failure, not a misleading comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class RecordError(ValueError):
    """The record cannot be replayed; the message says why without quoting it (it holds an API key)."""


@dataclass(frozen=True)
class MirroredRecord:
    event: dict[str, Any]
    status: int
    body: str
    served_at: str | None
    label: str | None = None


def parse_record(text: str, *, require_served_at: bool = True) -> MirroredRecord:
    """Parse a record from JSON text; `served_at` is optional only for hand-captured replay files."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"record is not JSON: {type(exc).__name__}") from None
    return record_from_dict(doc, require_served_at=require_served_at)


def record_from_dict(doc: Any, *, require_served_at: bool = True) -> MirroredRecord:
    if not isinstance(doc, dict):
        raise RecordError("record is not a JSON object")
    event, response = doc.get("event"), doc.get("response")
    if not isinstance(event, dict):
        raise RecordError("record.event is missing or not an object")
    if not isinstance(response, dict):
        raise RecordError("record.response is missing or not an object")
    status, body = response.get("statusCode"), response.get("body")
    if not isinstance(status, int) or isinstance(status, bool):
        raise RecordError("record.response.statusCode is missing or not an integer")
    if not isinstance(body, str):
        raise RecordError("record.response.body is missing or not a string")
    served_at = doc.get("served_at")
    if served_at is None and require_served_at:
        raise RecordError("record.served_at is missing")
    if served_at is not None and not _is_iso_instant(served_at):
        raise RecordError("record.served_at is not an ISO 8601 time with an offset")
    label = doc.get("id")
    return MirroredRecord(event, status, body, served_at, label if isinstance(label, str) else None)


def request_id(event: dict[str, Any]) -> str | None:
    """The primary's request id: API Gateway's, or the load balancer's trace id for ALB events."""
    context = event.get("requestContext")
    if isinstance(context, dict) and isinstance(context.get("requestId"), str):
        return str(context["requestId"])
    headers = event.get("headers")
    if isinstance(headers, dict):
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == "x-amzn-trace-id" and isinstance(value, str):
                return value
    return None


def request_path(event: dict[str, Any]) -> str | None:
    """The request path (scorer id and address; nothing secret), for logs and reports."""
    path = event.get("path") if "path" in event else event.get("rawPath")
    return path if isinstance(path, str) else None


def secrets_in(event: dict[str, Any]) -> tuple[str, ...]:
    """Header values that must never reach a log: the API key, credentials and cookies, in any casing."""
    sensitive = {"x-api-key", "authorization", "cookie"}
    found: list[str] = []
    for field in ("headers", "multiValueHeaders"):
        headers = event.get(field)
        if not isinstance(headers, dict):
            continue
        for name, value in headers.items():
            if not isinstance(name, str) or name.lower() not in sensitive:
                continue
            values = value if isinstance(value, list) else [value]
            # Very short values (a cookie "1") would mask unrelated text and protect nothing.
            found.extend(v for v in values if isinstance(v, str) and len(v) >= 8)
    return tuple(dict.fromkeys(found))


def _is_iso_instant(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False

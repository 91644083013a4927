"""Byte-exact renderings: the v2 response body, the error body and the SCORE_UPDATE event's data.

Clients and the parity recordings compare these strings, so formats follow the reference's serializers:
pydantic's compact JSON for success, ``json.dumps`` defaults for errors, Django's JSON encoder in events.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from scorer_core.models import ScoreResult


def django_datetime(value: datetime) -> str:
    """Django's JSON encoder: ISO format cut to milliseconds, ``+00:00`` spelled ``Z``."""
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def score_event_data(score_id: int, passport_id: int, result: ScoreResult) -> dict[str, Any]:
    """The serialized Score object stored in a SCU event (an object, not a one-element list)."""
    return {
        "model": "registry.score",
        "pk": score_id,
        "fields": {
            "passport": passport_id,
            "score": str(result.score),
            "last_score_timestamp": django_datetime(result.last_score_timestamp),
            "status": "DONE",
            "error": None,
            "evidence": result.evidence,
            "stamp_scores": result.stamp_scores,
            "stamps": result.stamps,
            "expiration_date": (django_datetime(result.expiration_date) if result.expiration_date else None),
        },
    }


def score_body(
    address: str,
    result: ScoreResult | None,
    error: str | None,
) -> str:
    """The v2 body: compact, fields in the reference's order; a failed score shows zeros and the error."""
    evidence = result.evidence if result else None
    raw_score = Decimal(evidence.get("rawScore", "0") if evidence else "0")
    threshold = Decimal(evidence.get("threshold", "20") if evidence else "20")
    body = {
        "address": address,
        "score": f"{raw_score:.5f}",
        "passing_score": raw_score >= threshold,
        "last_score_timestamp": result.last_score_timestamp.isoformat() if result else None,
        "expiration_timestamp": (
            result.expiration_date.isoformat() if result and result.expiration_date else None
        ),
        "threshold": f"{threshold:.5f}",
        "error": error,
        "stamps": result.stamps if result else {},
        "points_data": None,
        "possible_points_data": None,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def error_body(message: str) -> str:
    return json.dumps({"error": message})

"""Bodies of the ceramic-cache and embed routes: stamp lists, stamp lists with a score, the score object.

Compact JSON, keys in the reference's schema order, non-ASCII raw (pydantic's output). The score object is the
v2 shape (ten keys); ``points_data``/``possible_points_data`` are null unless the route fills them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from scorer_core.models import CachedStamp, ScoreResult


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def stamp_element(stamp: CachedStamp) -> dict[str, Any]:
    return {"id": stamp.id, "address": stamp.address, "provider": stamp.provider, "stamp": stamp.stamp}


def stamps_body(stamps: Sequence[CachedStamp]) -> str:
    """``{"success":true,"stamps":[...]}``."""
    return _compact({"success": True, "stamps": [stamp_element(s) for s in stamps]})


def stamps_with_score_body(stamps: Sequence[CachedStamp], score: dict[str, Any]) -> str:
    """``{"success":true,"stamps":[...],"score":{...}}``."""
    return _compact({"success": True, "stamps": [stamp_element(s) for s in stamps], "score": score})


def score_body(score: dict[str, Any]) -> str:
    """The bare score object (the ceramic-cache score routes)."""
    return _compact(score)


def score_object(
    address: str,
    *,
    evidence: dict[str, Any] | None,
    last_score_timestamp: str | None,
    expiration_timestamp: str | None,
    error: str | None,
    stamps: dict[str, Any] | None,
    points: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The v2-shaped score: raw score and threshold from the evidence (``"0"`` and ``"20"`` without one)."""
    raw_score = Decimal(evidence.get("rawScore", "0") if evidence else "0")
    threshold = Decimal(evidence.get("threshold", "20") if evidence else "20")
    return {
        "address": address,
        "score": f"{raw_score:.5f}",
        "passing_score": raw_score >= threshold,
        "last_score_timestamp": last_score_timestamp,
        "expiration_timestamp": expiration_timestamp,
        "threshold": f"{threshold:.5f}",
        "error": error,
        "stamps": stamps if stamps is not None else {},
        "points_data": points[0] if points else None,
        "possible_points_data": points[1] if points else None,
    }


def fresh_score_object(
    address: str,
    result: ScoreResult | None,
    error: str | None,
    points: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The score just computed by the pipeline (the expiry keeps the credential's offset)."""
    return score_object(
        address,
        evidence=result.evidence if result else None,
        last_score_timestamp=result.last_score_timestamp.isoformat() if result else None,
        expiration_timestamp=(
            result.expiration_date.isoformat() if result and result.expiration_date else None
        ),
        error=error,
        stamps=result.stamps if result else {},
        points=points,
    )


def stored_score_object(
    address: str,
    *,
    evidence: dict[str, Any] | None,
    last_score_timestamp: datetime | None,
    expiration_date: datetime | None,
    error: str | None,
    stamps: dict[str, Any] | None,
    points: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A stored Score row as the reference formats it: timestamps read back from PostgreSQL, in UTC."""
    return score_object(
        address,
        evidence=evidence,
        last_score_timestamp=_utc(last_score_timestamp),
        expiration_timestamp=_utc(expiration_date),
        error=error,
        stamps=stamps,
        points=points,
    )


def _utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None

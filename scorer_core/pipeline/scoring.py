"""Score arithmetic and the JSON the Score row and the response carry.

Weights are decoded like Django decodes jsonb (fractions become floats) and summed as ``Decimal(float)``, i.e. the
float's exact binary expansion in a 28-digit context; that is why a sum reads
``0.7330000000000000126565424807``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from scorer_core.models import Community, ScoreResult, Stamp


def effective_weights(community: Community) -> Any:
    """Scorer weights, decoded from their JSON text, with the community's customization applied (in memory only).

    Errors are raised the way the reference's code raises them, because their text becomes the score's error.
    """
    weights = None if community.weights is None else json.loads(community.weights)
    if community.has_customization:
        # The reference calls ``weights.update(...)`` on whatever the column decoded to: only a dict has one.
        if not isinstance(weights, dict):
            raise AttributeError(f"'{type(weights).__name__}' object has no attribute 'update'")
        weights = dict(weights)
        weights.update(dict(community.custom_weights))
    return weights


def compute(
    kept: Sequence[Stamp],
    clashing: Mapping[str, Stamp],
    weights: Any,
    threshold: Decimal,
    now: datetime,
) -> ScoreResult:
    """Sum the kept stamps' weights and build evidence, ``stamp_scores`` and the ``stamps`` map."""
    total = Decimal(0)
    stamp_scores: dict[str, float] = {}
    expirations: dict[str, datetime] = {}
    earliest: datetime | None = None
    for stamp in kept:
        if stamp.provider in stamp_scores:
            stamp_scores[stamp.provider] = float(Decimal(0))
            continue
        if weights is None:
            raise AttributeError("'NoneType' object has no attribute 'get'")
        weight = Decimal(weights.get(stamp.provider, 0))
        total += weight
        stamp_scores[stamp.provider] = float(weight)
        expires = datetime.fromisoformat(stamp.credential["expirationDate"])
        expirations[stamp.provider] = expires
        if earliest is None or expires < earliest:
            earliest = expires

    binary = Decimal(1) if total >= threshold else Decimal(0)
    evidence = {
        "type": "ThresholdScoreCheck",
        "success": bool(binary),
        "rawScore": str(Decimal(total)),
        "threshold": str(Decimal(str(threshold))),
    }
    return ScoreResult(
        score=binary,
        evidence=evidence,
        stamp_scores=stamp_scores,
        stamps=stamps_map(stamp_scores, expirations, clashing),
        expiration_date=earliest,
        last_score_timestamp=now,
    )


def stamps_map(
    stamp_scores: Mapping[str, float],
    expirations: Mapping[str, datetime],
    clashing: Mapping[str, Stamp],
) -> dict[str, dict[str, Any]]:
    """Scored stamps first, then deduplicated ones (score 0, raw expiry string)."""
    stamps: dict[str, dict[str, Any]] = {}
    for provider, weight in stamp_scores.items():
        clash = clashing.get(provider)
        stamps[provider] = {
            "score": f"{Decimal(weight):.5f}",
            "dedup": clash is not None,
            "expiration_date": (
                clash.credential["expirationDate"] if clash else expirations[provider].isoformat()
            ),
        }
    for provider, clash in clashing.items():
        if provider not in stamps:
            stamps[provider] = {
                "score": "0.00000",
                "dedup": True,
                "expiration_date": clash.credential["expirationDate"],
            }
    return stamps

"""Which community a scorer id names, and whether its scorer can score: rules shared by every route."""

from __future__ import annotations

from decimal import Decimal

from scorer_core.errors import InternalError, ScorerNotFound
from scorer_core.models import Community


def as_community_id(scorer_id: str | None) -> int | None:
    """The id to try when no external id matches; None when it cannot be a bigint."""
    if scorer_id is None:
        return None
    try:
        value = int(scorer_id)
    except ValueError:
        return None
    return value if -(2**63) <= value < 2**63 else None


def choose_community(candidates: list[Community], scorer_id: str | None) -> Community:
    """External id first (exactly one match), then the numeric id, among the candidates of one account."""
    by_external = [c for c in candidates if c.external_scorer_id == scorer_id]
    if len(by_external) == 1:
        return by_external[0]
    community_id = as_community_id(scorer_id)
    for community in candidates:
        if community_id is not None and community.id == community_id:
            return community
    raise ScorerNotFound()


def check_scorer_model(community: Community) -> None:
    """The scorer row and its subclass row must exist; the texts are what the reference's ORM says."""
    if community.scorer_type is None:
        raise InternalError("Scorer matching query does not exist.")
    if community.scorer_type == "WEIGHTED" and not community.has_weighted_row:
        raise InternalError("WeightedScorer matching query does not exist.")
    if community.scorer_type == "WEIGHTED_BINARY" and not community.has_binary_row:
        raise InternalError("BinaryWeightedScorer matching query does not exist.")
    if community.scorer_type not in ("WEIGHTED", "WEIGHTED_BINARY"):
        raise InternalError("'NoneType' object has no attribute 'type'")


def threshold(community: Community) -> Decimal:
    """Present once the scorer model check passed: the subclass column is NOT NULL."""
    if community.threshold is None:
        raise InternalError("scorer threshold missing")
    return community.threshold

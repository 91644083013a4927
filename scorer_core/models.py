"""Plain data passed between the core's steps; no behaviour, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

Json = Any


@dataclass(frozen=True, slots=True)
class Community:
    id: int
    external_scorer_id: str | None
    rule: str
    human_points_program: bool
    scorer_id: int
    scorer_type: str | None
    """``scorer_weighted_scorer.type``; None when that row is missing."""
    has_weighted_row: bool
    has_binary_row: bool
    weights: str | None
    """The scorer's weights as JSON text, decoded while scoring (a document the decoder refuses is an ERROR)."""
    threshold: Decimal | None
    has_customization: bool
    custom_weights: tuple[tuple[str, str], ...]
    """Customization overrides in application order: allow lists first, then custom credentials."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """One provider's credential as read from the ceramic cache."""

    provider: str
    credential: Json


@dataclass(slots=True)
class HashLink:
    id: int
    hash: str
    address: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewLink:
    hash: str
    address: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkUpdate:
    """Take over or refresh an existing link, guarded by the values it had when it was read."""

    id: int
    hash: str
    address: str
    expires_at: datetime
    seen_address: str
    seen_expires_at: datetime


@dataclass(slots=True)
class LifoPlan:
    kept: list[Stamp] = field(default_factory=list)
    clashing: dict[str, Stamp] = field(default_factory=dict)
    """Deduplicated stamps keyed by ``credentialSubject.provider``, in first-seen order."""
    create: list[NewLink] = field(default_factory=list)
    update: list[LinkUpdate] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The Score row's values after a successful computation."""

    score: Decimal
    evidence: dict[str, Any]
    stamp_scores: dict[str, float]
    stamps: dict[str, dict[str, Any]]
    expiration_date: datetime | None
    last_score_timestamp: datetime


@dataclass(frozen=True, slots=True)
class HumanPointsFacts:
    """What Human Points need to know from the database before deciding which rows to write."""

    hky_providers: frozenset[str]
    qualified_elsewhere: int
    """Qualified-user rows of the address in other communities."""
    already_qualified_here: bool
    has_scb: bool
    list_members: frozenset[str]
    """Names of the bonus address lists (MetaMaskOG2, SeasonedPassportOGs, TheChosenOnes) containing the address."""
    mm2_count: int
    awarded: frozenset[str]
    """Bonus actions (MM2, SOG, TCO) the address already has."""


@dataclass(frozen=True, slots=True)
class HumanPointRow:
    action: str
    tx_hash: str
    provider: str
    chain_id: int = 0


@dataclass(frozen=True, slots=True)
class AnalyticsRow:
    """One ``account_accountapikeyanalytics`` row, secrets already masked."""

    api_key_id: str
    path: str
    path_segments: list[str]
    query_params: Any
    headers: dict[str, Any]
    payload: Any
    response: str
    error: str | None
    status_code: int


@dataclass(frozen=True, slots=True)
class CachedStamp:
    """An element of a response's stamp list."""

    id: int
    address: str
    provider: str
    stamp: Any

"""The ceramic-cache routes' scoring step ("C-path"): which community, in which order things fail, points.

The reference resolves ``scorer_id`` as: empty -> 500 ``Scorer ID not set``; the account owning community
``scorer_id`` (none, or no integer -> generic 400); the community inside it by external id first, then by id
(404); then the address (400) and the scorer model (generic 400). Then it runs the pipeline and, when Human
Points are on for the community, adds both points objects. ``Target`` holds the first round trip's answer so
the routes can write the cache before they raise, as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from scorer_core.ceramic_cache.request import ScorerIdNotSet, django_int
from scorer_core.db import points as points_store
from scorer_core.db.communities import COMMUNITIES_OF_OWNER, community_from_row
from scorer_core.errors import InvalidAddress
from scorer_core.models import Community
from scorer_core.pipeline.address import is_valid_address
from scorer_core.pipeline.community import check_scorer_model, choose_community
from scorer_core.pipeline.score_address import Scored, Timings, score_address, timed
from scorer_core.responses.points import points_objects
from scorer_core.responses.stamps import fresh_score_object
from scorer_core.settings import Settings

Conn = psycopg.Connection[Any]


class NoSuchCommunity(LookupError):
    """No account owns a community with that id (the reference's Http404: a generic 400 here)."""


@dataclass(slots=True)
class Target:
    """The community a scorer id names, or why it names none (raised by ``community``, in the reference's order)."""

    scorer_id: Any
    candidates: list[Community]
    failure: Exception | None = None

    def community(self) -> Community:
        if self.failure is not None:
            raise self.failure
        return choose_community(self.candidates, str(self.scorer_id))

    def usable(self, address: str) -> Community | None:
        """The community to score when every check before the pipeline passes, else None."""
        try:
            return checked_community(self, address)
        except Exception:
            return None


def checked_community(target: Target, address: str) -> Community:
    """The community to score, after the checks the reference makes before its pipeline, in its order."""
    community = target.community()
    if not is_valid_address(address):
        raise InvalidAddress()
    check_scorer_model(community)
    return community


def queue_target(conn: Conn, scorer_id: Any) -> psycopg.Cursor[Any] | Exception:
    """Queue the candidates' read (pipeline mode), or the error that makes it pointless."""
    if not scorer_id:
        return ScorerIdNotSet()
    try:
        community_id = django_int(scorer_id)
    except (ValueError, TypeError, OverflowError) as exc:
        return exc
    if not -(2**63) <= community_id < 2**63:
        return NoSuchCommunity()
    return conn.execute(COMMUNITIES_OF_OWNER, {"id": community_id, "external_id": str(scorer_id)})


def fetch_target(scorer_id: Any, queued: psycopg.Cursor[Any] | Exception) -> Target:
    if isinstance(queued, Exception):
        return Target(scorer_id, [], queued)
    candidates = [community_from_row(row) for row in queued.fetchall()]
    wanted = django_int(scorer_id)
    if not any(c.id == wanted for c in candidates):
        return Target(scorer_id, candidates, NoSuchCommunity())
    return Target(scorer_id, candidates)


def load_target(conn: Conn, scorer_id: Any) -> Target:
    return fetch_target(scorer_id, queue_target(conn, scorer_id))


@dataclass(slots=True)
class PendingScore:
    """A score computed inside the transaction whose points are read with the COMMIT (no round trip of its own)."""

    address: str
    scored: Scored
    points: psycopg.Cursor[Any] | None

    def score_object(self) -> dict[str, Any]:
        """Call after the transaction: the points read travelled with its COMMIT."""
        facts = points_store.fetch_points(self.points) if self.points is not None else None
        return fresh_score_object(
            self.address,
            self.scored.result,
            self.scored.error,
            points_objects(facts) if facts is not None else None,
        )


def score(
    conn: Conn,
    target: Target,
    address: str,
    ceramic_rows: Any,
    settings: Settings,
    timings: Timings,
) -> PendingScore:
    """Resolve, check and score; the points read is queued, not fetched."""
    community = checked_community(target, address)
    scored = score_address(conn, community, address, ceramic_rows, settings, timings)
    with timed(timings, "database_ms"):
        cursor = (
            points_store.queue_points(conn, address)
            if settings.human_points_enabled and community.human_points_program
            else None
        )
    return PendingScore(address, scored, cursor)

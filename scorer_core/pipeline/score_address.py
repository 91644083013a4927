"""Score one address for one community inside the caller's transaction: the step every route shares.

Validate the cached credentials, deduplicate (LIFO), compute the score and write passport, stamps, hash links,
events, Human Points and the score row. A failure anywhere in scoring rolls back to the savepoint taken before
it and records the score as ERROR, as the reference does (the route still answers 200), without its partial
writes. Round trips stay constant in the number of stamps: one to read the scoring state, one to write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from scorer_core.db import scoring as store
from scorer_core.errors import driver_error_text
from scorer_core.models import Community, ScoreResult, Stamp
from scorer_core.pipeline import credentials, human_points, lifo, scoring
from scorer_core.pipeline.community import threshold
from scorer_core.responses.serialization import score_event_data
from scorer_core.settings import Settings

log = logging.getLogger(__name__)

LIFO_ATTEMPTS = 5

Conn = psycopg.Connection[Any]


@dataclass(slots=True)
class Timings:
    """Where a request's time went, for logs and the benchmark."""

    verification_ms: float = 0.0
    database_ms: float = 0.0


@contextmanager
def timed(timings: Timings, field_name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        setattr(timings, field_name, getattr(timings, field_name) + elapsed)


@dataclass(slots=True)
class Scored:
    """What scoring produced: a result, or the error text recorded in the ERROR score."""

    result: ScoreResult | None
    error: str | None
    passport_id: int
    score_id: int
    lifo_attempts: int = 0


def score_address(
    conn: Conn,
    community: Community,
    address: str,
    ceramic_rows: Sequence[Any],
    settings: Settings,
    timings: Timings,
) -> Scored:
    """Validate, deduplicate, compute and write; any failure becomes the ERROR score.

    ``ceramic_rows`` are the address's visible ceramic-cache rows ``(id, provider, stamp, updated_at)`` in id
    order, read by the caller with ``VISIBLE_STAMPS_FOR_SCORING`` in its own round trip (or after its own cache
    writes); the stamp is JSON text, decoded here so that an undecodable one is this score's ERROR.
    """
    failure: Exception | None = None
    valid: list[Stamp] = []
    nullifiers: list[str] = []
    try:
        stamps = credentials.latest_per_provider(credentials.decoded_rows(ceramic_rows))
        with timed(timings, "verification_ms"):
            valid = credentials.valid_stamps(stamps, address, settings.trusted_iam_issuers, datetime.now(UTC))
        if community.rule != "LIFO":
            raise lifo.InvalidRule()
        nullifiers = lifo.all_nullifiers(valid, settings.ff_multi_nullifier)
    except Exception as exc:
        failure = exc

    wants_points = settings.human_points_enabled and community.human_points_program
    with timed(timings, "database_ms"):
        state = store.load_scoring_state(
            conn,
            address,
            community.id,
            nullifiers,
            human_points.ALL_BONUS_LISTS if wants_points else None,
            count_mm2=settings.human_points_mta_enabled,
        )
    scored = Scored(None, None, state.passport_id, state.score_id)
    try:
        if failure is not None:
            raise failure
        scored.result = _deduplicate_and_write(
            conn, scored, community, address, valid, state, nullifiers, settings, timings
        )
    except Exception as exc:
        message = driver_error_text(exc) if isinstance(exc, psycopg.Error) else str(exc)
        log.warning("scoring failed; recording the ERROR state", extra={"error": message})
        with timed(timings, "database_ms"):
            store.write_score_error(conn, state.score_id, message)
        scored.error = message
    return scored


def _deduplicate_and_write(
    conn: Conn,
    scored: Scored,
    community: Community,
    address: str,
    stamps: list[Stamp],
    state: store.ScoringState,
    nullifiers: list[str],
    settings: Settings,
    timings: Timings,
) -> ScoreResult:
    """Plan LIFO, compute the score and write everything; plan again when a concurrent request won a link."""
    links = state.links
    for attempt in range(1, LIFO_ATTEMPTS + 1):
        scored.lifo_attempts = attempt
        now = datetime.now(UTC)
        plan = lifo.plan(stamps, links, address, now, settings.ff_multi_nullifier)
        result = scoring.compute(
            plan.kept, plan.clashing, scoring.effective_weights(community), threshold(community), now
        )
        facts = state.human_points
        earns_points = facts is not None and human_points.is_earned(
            result.score, now, settings.human_points_start_timestamp
        )
        write = store.ScoreWrite(
            passport_id=state.passport_id,
            score_id=state.score_id,
            address=address,
            community_id=community.id,
            create_links=plan.create,
            update_links=plan.update,
            stamps=plan.kept,
            dedup_events=[
                lifo.dedup_event_data(stamp, community.id, settings.ff_multi_nullifier)
                for stamp in plan.clashing.values()
            ],
            qualify=earns_points,
            human_points=(
                human_points.rows_earned(plan.kept, facts, settings.human_points_mta_enabled)
                if earns_points and facts is not None
                else []
            ),
            score_event=score_event_data(state.score_id, state.passport_id, result),
            result=result,
            now=now,
        )
        with timed(timings, "database_ms"):
            try:
                if store.write_score(conn, write):
                    return result
            except psycopg.errors.DeadlockDetected:
                store.rollback_links(conn)
            links = store.hash_links(conn, community.id, nullifiers)
    raise lifo.HashLinkConflict("Failed to save HashScorerLinks")

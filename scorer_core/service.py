"""One score request, end to end, in one database transaction.

Order of checks is the reference's: key (401), rate limit (429), body (500), scorer (404), address (400), scorer
model (500); then scoring, whose failures are recorded as an ERROR score and still answer 200. Every write of the
request commits together; a dry run does all of it and rolls back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from . import credentials, db, human_points, lifo, repository, scoring, serialization
from .analytics import AnalyticsRow, analytics_row
from .api_keys import (
    is_usable,
    key_prefix,
    presented_key,
    resolve_demo_alias,
    sha256_digest,
    verify,
)
from .errors import (
    InternalError,
    InvalidAddress,
    InvalidApiKey,
    RateLimited,
    RequestError,
    ScorerNotFound,
    as_request_error,
    driver_error_text,
)
from .models import Community, ScoreResult, Stamp
from .ratelimit import is_limited, parse_rate
from .request import (
    ScoreRequest,
    as_community_id,
    demo_scorer_substitute,
    is_valid_address,
    parse_body,
    path_arguments,
)
from .settings import Settings, get_settings

log = logging.getLogger(__name__)

LIFO_ATTEMPTS = 5


@dataclass(slots=True)
class Timings:
    """Where a request's time went, for logs and the benchmark."""

    verification_ms: float = 0.0
    database_ms: float = 0.0


@contextmanager
def _timed(timings: Timings, field_name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        setattr(timings, field_name, getattr(timings, field_name) + elapsed)


@dataclass(slots=True)
class Outcome:
    status: int
    body: str
    description: str
    score_error: str | None = None
    lifo_attempts: int = 0
    rate_limit_failed_open: bool = False
    timings: Timings = field(default_factory=Timings)


@dataclass(slots=True)
class _Trace:
    """What the wrapper learns along the way and needs after the transaction (analytics)."""

    analytics: bool
    api_key_id: str | None = None
    payload: Any = None


def handle(request: ScoreRequest, *, dry_run: bool = False, settings: Settings | None = None) -> Outcome:
    """Answer one request; the analytics row follows it (best effort, never in a dry run)."""
    settings = settings or get_settings()
    trace = _Trace(analytics=settings.ff_api_analytics and not dry_run)
    timings = Timings()
    try:
        outcome = _answer(request, trace, timings, settings, dry_run)
    except Exception as exc:
        log.exception("score request failed")
        error = as_request_error(exc)
        outcome = Outcome(error.status, serialization.error_body(error.message), error.description)
        # The transaction rolled back, and the analytics row with it: write it on its own.
        row = _analytics(request, trace, outcome)
        if row is not None:
            _record_analytics(row)
    outcome.timings = timings
    return outcome


def _analytics(request: ScoreRequest, trace: _Trace, outcome: Outcome) -> AnalyticsRow | None:
    """The row for an authenticated request, when analytics are on and the event allows one."""
    if not trace.analytics or trace.api_key_id is None:
        return None
    error_text = None if outcome.status == 200 else outcome.description
    return analytics_row(request, trace.api_key_id, trace.payload, outcome.body, error_text, outcome.status)


def _error(error: RequestError) -> Outcome:
    return Outcome(error.status, serialization.error_body(error.message), error.description)


def _answer(
    request: ScoreRequest, trace: _Trace, timings: Timings, settings: Settings, dry_run: bool
) -> Outcome:
    key = resolve_demo_alias(
        presented_key(request.headers), settings.demo_api_key_aliases, settings.demo_api_key
    )
    if not key:
        return _error(InvalidApiKey())
    try:
        raw_scorer_id, raw_address = path_arguments(request.path)
        path_error: Exception | None = None
    except IndexError as exc:
        raw_scorer_id, raw_address, path_error = "", "", exc
    scorer_id = demo_scorer_substitute(raw_scorer_id, settings.demo_api_scorer_id)
    address = raw_address.lower()

    def work(conn: psycopg.Connection[Any]) -> Outcome:
        with _timed(timings, "database_ms"):
            context = repository.load_request_context(
                conn, key_prefix(key), scorer_id, as_community_id(scorer_id), address
            )
        stored = context.api_key
        now = datetime.now(UTC)
        if stored is None or not is_usable(stored, now):
            return _error(InvalidApiKey())
        verification = verify(key, stored)
        if not verification.valid:
            return _error(InvalidApiKey())
        trace.api_key_id = stored.id
        if verification.needs_migration:
            repository.migrate_api_key(conn, stored.id, sha256_digest(key))
        try:
            outcome = Outcome(200, "", "200 OK")
            if settings.ratelimit_enable:
                outcome.rate_limit_failed_open = _check_rate_limit(
                    settings, key_prefix(key), stored.rate_limit, dry_run
                )
            trace.payload = parse_body(request.body, request.is_base64_encoded)
            if path_error is not None:
                raise path_error
            community = _choose_community(context.communities, scorer_id)
            if not is_valid_address(address):
                raise InvalidAddress()
            _check_scorer_model(community)
            _score(conn, outcome, community, address, context.ceramic_rows, settings, timings)
            return outcome
        except RequestError as exc:
            return _error(exc)

    def record_analytics(conn: psycopg.Connection[Any], outcome: Outcome) -> None:
        row = _analytics(request, trace, outcome)
        if row is not None:
            repository.insert_analytics(conn, row, datetime.now(UTC))

    return db.run_transaction(work, commit=not dry_run, epilogue=record_analytics)


def _check_rate_limit(settings: Settings, prefix: str, rate: str | None, dry_run: bool) -> bool:
    """Raise when limited; return True when Redis could not be asked and the request went through.

    An unparsable rate is a 500, as in the reference; an unreachable Redis fails open (the reference answers
    500 there; an outage of the counter store should not take the score API down with it).
    """
    if rate is None or rate == "":
        return False
    parsed = parse_rate(rate)
    try:
        limited = is_limited(settings.redis_url, prefix, parsed, increment=not dry_run)
    except Exception:
        log.warning("rate limit store unreachable; failing open", exc_info=True)
        return True
    if limited:
        raise RateLimited(settings.passport_api_rate_limiting_form)
    return False


def _choose_community(candidates: list[Community], scorer_id: str | None) -> Community:
    """External id first (exactly one match), then the numeric id, always within the key's account."""
    by_external = [c for c in candidates if c.external_scorer_id == scorer_id]
    if len(by_external) == 1:
        return by_external[0]
    community_id = as_community_id(scorer_id)
    for community in candidates:
        if community_id is not None and community.id == community_id:
            return community
    raise ScorerNotFound()


def _check_scorer_model(community: Community) -> None:
    """The scorer row and its subclass row must exist; the texts are what the reference's ORM says."""
    if community.scorer_type is None:
        raise InternalError("Scorer matching query does not exist.")
    if community.scorer_type == "WEIGHTED" and not community.has_weighted_row:
        raise InternalError("WeightedScorer matching query does not exist.")
    if community.scorer_type == "WEIGHTED_BINARY" and not community.has_binary_row:
        raise InternalError("BinaryWeightedScorer matching query does not exist.")
    if community.scorer_type not in ("WEIGHTED", "WEIGHTED_BINARY"):
        raise InternalError("'NoneType' object has no attribute 'type'")


def _score(
    conn: psycopg.Connection[Any],
    outcome: Outcome,
    community: Community,
    address: str,
    ceramic_rows: list[Any],
    settings: Settings,
    timings: Timings,
) -> None:
    """Validate, deduplicate, compute and write; any failure becomes the ERROR score (HTTP 200)."""
    stamps = credentials.latest_per_provider(ceramic_rows)
    failure: Exception | None = None
    valid: list[Stamp] = []
    nullifiers: list[str] = []
    try:
        with _timed(timings, "verification_ms"):
            valid = credentials.valid_stamps(stamps, address, settings.trusted_iam_issuers, datetime.now(UTC))
        if community.rule != "LIFO":
            raise lifo.InvalidRule()
        nullifiers = lifo.all_nullifiers(valid, settings.ff_multi_nullifier)
    except Exception as exc:
        failure = exc

    wants_points = settings.human_points_enabled and community.human_points_program
    with _timed(timings, "database_ms"):
        state = repository.load_scoring_state(
            conn,
            address,
            community.id,
            nullifiers,
            human_points.ALL_BONUS_LISTS if wants_points else None,
            count_mm2=settings.human_points_mta_enabled,
        )
    try:
        if failure is not None:
            raise failure
        result = _deduplicate_and_write(
            conn, outcome, community, address, valid, state, nullifiers, settings, timings
        )
        outcome.body = serialization.score_body(address, result, None)
    except Exception as exc:
        message = driver_error_text(exc) if isinstance(exc, psycopg.Error) else str(exc)
        log.warning("scoring failed; recording the ERROR state", extra={"error": message})
        with _timed(timings, "database_ms"):
            repository.write_score_error(conn, state.score_id, message)
        outcome.score_error = message
        outcome.body = serialization.score_body(address, None, message)


def _deduplicate_and_write(
    conn: psycopg.Connection[Any],
    outcome: Outcome,
    community: Community,
    address: str,
    stamps: list[Stamp],
    state: repository.ScoringState,
    nullifiers: list[str],
    settings: Settings,
    timings: Timings,
) -> ScoreResult:
    """Plan LIFO, compute the score and write everything; plan again when a concurrent request won a link."""
    links = state.links
    for attempt in range(1, LIFO_ATTEMPTS + 1):
        outcome.lifo_attempts = attempt
        now = datetime.now(UTC)
        plan = lifo.plan(stamps, links, address, now, settings.ff_multi_nullifier)
        result = scoring.compute(
            plan.kept, plan.clashing, scoring.effective_weights(community), _threshold(community), now
        )
        facts = state.human_points
        earns_points = facts is not None and human_points.is_earned(
            result.score, now, settings.human_points_start_timestamp
        )
        write = repository.ScoreWrite(
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
            score_event=serialization.score_event_data(state.score_id, state.passport_id, result),
            result=result,
            now=now,
        )
        with _timed(timings, "database_ms"):
            try:
                if repository.write_score(conn, write):
                    return result
            except psycopg.errors.DeadlockDetected:
                repository.rollback_links(conn)
            links = repository.hash_links(conn, community.id, nullifiers)
    raise lifo.HashLinkConflict("Failed to save HashScorerLinks")


def _record_analytics(row: AnalyticsRow) -> None:
    now = datetime.now(UTC)
    try:
        db.run_autocommit(lambda conn: repository.insert_analytics(conn, row, now))
    except Exception:
        log.exception("failed to store analytics")


def _threshold(community: Community) -> Decimal:
    """Present once the scorer model check passed: the subclass column is NOT NULL."""
    if community.threshold is None:
        raise InternalError("scorer threshold missing")
    return community.threshold

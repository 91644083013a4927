"""One score request, end to end, in one database transaction.

Order of checks is the reference's: key (401), rate limit (429), body (500), scorer (404), address (400), scorer
model (500); then scoring, whose failures are recorded as an ERROR score and still answer 200. Every write of the
request commits together; a dry run does all of it and rolls back.
"""

from __future__ import annotations

import logging
import time
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
from .models import Community, HumanPointRow, LifoPlan, Stamp
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

    api_key_id: str | None = None
    payload: Any = None


def handle(request: ScoreRequest, *, dry_run: bool = False, settings: Settings | None = None) -> Outcome:
    """Answer one request; write analytics afterwards (best effort, never in a dry run)."""
    settings = settings or get_settings()
    trace = _Trace()
    timings = Timings()
    try:
        outcome = _answer(request, trace, timings, settings, dry_run)
    except Exception as exc:
        log.exception("score request failed")
        error = as_request_error(exc)
        outcome = Outcome(error.status, serialization.error_body(error.message), error.description)
    outcome.timings = timings
    if trace.api_key_id is not None and settings.ff_api_analytics and not dry_run:
        error_text = None if outcome.status == 200 else outcome.description
        row = analytics_row(
            request, trace.api_key_id, trace.payload, outcome.body, error_text, outcome.status
        )
        if row is not None:
            _record_analytics(row)
    return outcome


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
        started = time.perf_counter()
        context = repository.load_request_context(
            conn, key_prefix(key), scorer_id, as_community_id(scorer_id), address
        )
        timings.database_ms += (time.perf_counter() - started) * 1000
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

    return db.run_transaction(work, commit=not dry_run)


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
    started = time.perf_counter()
    try:
        valid = credentials.valid_stamps(stamps, address, settings.trusted_iam_issuers, datetime.now(UTC))
        if community.rule != "LIFO":
            raise lifo.InvalidRule()
        nullifiers = lifo.all_nullifiers(valid, settings.ff_multi_nullifier)
    except Exception as exc:
        failure = exc
    timings.verification_ms += (time.perf_counter() - started) * 1000

    wants_points = settings.human_points_enabled and community.human_points_program
    started = time.perf_counter()
    state = repository.load_scoring_state(
        conn,
        address,
        community.id,
        nullifiers,
        human_points.ALL_BONUS_LISTS if wants_points else None,
        count_mm2=settings.human_points_mta_enabled,
    )
    conn.execute("SAVEPOINT scoring")
    try:
        if failure is not None:
            raise failure
        plan = _deduplicate(conn, outcome, community.id, valid, state.links, address, nullifiers, settings)
        result = scoring.compute(
            plan.kept,
            plan.clashing,
            scoring.effective_weights(community),
            _threshold(community),
            datetime.now(UTC),
        )
        now = datetime.now(UTC)
        points: list[HumanPointRow] = []
        qualify = False
        if state.human_points is not None and human_points.applies(
            True, True, result.score, now, settings.human_points_start_timestamp
        ):
            qualify = True
            points = human_points.stamp_actions(plan.kept, state.human_points.hky_providers)
            points += [
                HumanPointRow(action, "", "")
                for action in human_points.bonus_actions(
                    state.human_points, settings.human_points_mta_enabled
                )
            ]
        repository.write_score(
            conn,
            repository.ScoreWrite(
                passport_id=state.passport_id,
                score_id=state.score_id,
                address=address,
                community_id=community.id,
                stamps=plan.kept,
                dedup_events=[
                    lifo.dedup_event_data(stamp, community.id, settings.ff_multi_nullifier)
                    for stamp in plan.clashing.values()
                ],
                qualify=qualify,
                human_points=points,
                score_event=serialization.score_event_data(state.score_id, state.passport_id, result),
                result=result,
                now=now,
            ),
        )
        outcome.body = serialization.score_body(address, result, None)
    except Exception as exc:
        message = driver_error_text(exc) if isinstance(exc, psycopg.Error) else str(exc)
        log.warning("scoring failed; recording the ERROR state", extra={"error": message})
        conn.execute("ROLLBACK TO SAVEPOINT scoring")
        repository.write_score_error(conn, state.score_id, message)
        outcome.score_error = message
        outcome.body = serialization.score_body(address, None, message)
    timings.database_ms += (time.perf_counter() - started) * 1000


def _deduplicate(
    conn: psycopg.Connection[Any],
    outcome: Outcome,
    community_id: int,
    stamps: list[Stamp],
    links: list[Any],
    address: str,
    nullifiers: list[str],
    settings: Settings,
) -> LifoPlan:
    """Plan and write hash links; retry against fresh links when a concurrent request changed them."""
    for attempt in range(1, LIFO_ATTEMPTS + 1):
        outcome.lifo_attempts = attempt
        plan = lifo.plan(stamps, links, address, datetime.now(UTC), settings.ff_multi_nullifier)
        if not plan.create and not plan.update:
            return plan
        try:
            if repository.apply_links(conn, community_id, plan.create, plan.update):
                return plan
        except psycopg.errors.DeadlockDetected:
            repository.rollback_links(conn)
        links = repository.hash_links(conn, community_id, nullifiers)
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

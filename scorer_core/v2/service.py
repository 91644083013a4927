"""One score request, end to end, in one database transaction.

Order of checks is the reference's: key (401), rate limit (429), body (500), scorer (404), address (400), scorer
model (500); then scoring, whose failures are recorded as an ERROR score and still answer 200. Every write of the
request commits together; a dry run does all of it and rolls back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from scorer_core import db
from scorer_core.auth.api_keys import (
    StoredApiKey,
    is_usable,
    key_prefix,
    presented_key,
    resolve_demo_alias,
    sha256_digest,
    verify,
)
from scorer_core.auth.ratelimit import BreakerOpen, Rate, check_breaker, is_limited, parse_rate, trip_breaker
from scorer_core.db import analytics as analytics_store
from scorer_core.db import api_keys as api_key_store
from scorer_core.db.request_context import load_request_context
from scorer_core.errors import (
    InvalidAddress,
    InvalidApiKey,
    RateLimited,
    RequestError,
    as_request_error,
)
from scorer_core.models import AnalyticsRow
from scorer_core.pipeline.address import is_valid_address
from scorer_core.pipeline.community import as_community_id, check_scorer_model, choose_community
from scorer_core.pipeline.score_address import Timings, score_address, timed
from scorer_core.responses import serialization
from scorer_core.settings import Settings, get_settings
from scorer_core.v2.analytics import analytics_row
from scorer_core.v2.request import (
    ScoreRequest,
    demo_scorer_substitute,
    parse_body,
    path_arguments,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    status: int
    body: str
    description: str
    score_error: str | None = None
    lifo_attempts: int = 0
    rate_limit_failed_open: bool = False
    database_unavailable: bool = False
    """The database (or the proxy in front of it) could not be reached or gave no connection in time."""
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
        outcome.database_unavailable = _database_unavailable(exc)
        # The transaction rolled back, and the analytics row with it: write it on its own. Not when the
        # database itself failed: unreachable, the write would wait on it once more; lost after COMMIT was sent,
        # the row that travelled with the COMMIT may already be written.
        row = _analytics(request, trace, outcome)
        if row is not None and not outcome.database_unavailable:
            _record_analytics(row)
    outcome.timings = timings
    return outcome


def _database_unavailable(exc: Exception) -> bool:
    """The connection could not be opened or was lost (no SQLSTATE, or a connection/shutdown class)."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    return exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))


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
    # PostgreSQL text cannot hold NUL, so a key with one matches no stored prefix: decided without asking.
    if not key or not isinstance(key, str) or "\x00" in key:
        return _error(InvalidApiKey())
    try:
        raw_scorer_id, raw_address = path_arguments(request.path)
        path_error: Exception | None = None
    except (IndexError, AttributeError) as exc:  # too few segments, or a path that is not text
        raw_scorer_id, raw_address, path_error = "", "", exc
    scorer_id = demo_scorer_substitute(raw_scorer_id, settings.demo_api_scorer_id)
    address = raw_address.lower()
    # Only values the database can take are sent: a scorer id or address with a NUL byte matches nothing (404,
    # 400 in the reference's order, after the key), and an invalid address is answered 400 before any scoring.
    lookup_scorer_id = None if scorer_id is not None and "\x00" in scorer_id else scorer_id
    lookup_address = address if is_valid_address(address) else ""

    # The counter is asked before the transaction opens, so a slow or absent Redis never holds it open.
    asked_before = _ask_rate_limit_first(settings, key, dry_run) if settings.ratelimit_enable else None

    def work(conn: psycopg.Connection[Any]) -> Outcome:
        with timed(timings, "database_ms"):
            context = load_request_context(
                conn, key_prefix(key), lookup_scorer_id, as_community_id(lookup_scorer_id), lookup_address
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
            api_key_store.migrate_api_key(conn, stored.id, sha256_digest(key))
        try:
            outcome = Outcome(200, "", "200 OK")
            if settings.ratelimit_enable:
                outcome.rate_limit_failed_open = _rate_limit_verdict(
                    settings, key, stored, asked_before, dry_run
                )
            trace.payload = parse_body(request.body, request.is_base64_encoded)
            if path_error is not None:
                raise path_error
            community = choose_community(context.communities, scorer_id)
            if not is_valid_address(address):
                raise InvalidAddress()
            check_scorer_model(community)
            scored = score_address(conn, community, address, context.ceramic_rows, settings, timings)
            outcome.lifo_attempts = scored.lifo_attempts
            outcome.score_error = scored.error
            outcome.body = serialization.score_body(address, scored.result, scored.error)
            return outcome
        except RequestError as exc:
            return _error(exc)

    def record_analytics(conn: psycopg.Connection[Any], outcome: Outcome) -> None:
        row = _analytics(request, trace, outcome)
        if row is not None:
            analytics_store.insert_analytics(conn, row, datetime.now(UTC))

    return db.run_transaction(
        work,
        commit=not dry_run,
        epilogue=record_analytics,
        give_way_ms=settings.shadow_max_hold_ms if dry_run else None,
    )


@dataclass(frozen=True, slots=True)
class _AskedRateLimit:
    """What Redis said for a key, asked before the transaction: for that stored row, limited or failed open."""

    stored: StoredApiKey
    limited: bool
    failed_open: bool


def _ask_rate_limit_first(settings: Settings, key: str, dry_run: bool) -> _AskedRateLimit | None:
    """Read the key on its own (one autocommit round trip) and, if it verifies and has a rate, ask Redis.

    Any failure here leaves the decision to the transaction, which checks everything again in the reference's
    order; a key that does not verify is never counted.
    """
    try:
        stored = db.run_autocommit(lambda conn: api_key_store.load_api_key(conn, key_prefix(key)))
        if stored is None or not stored.rate_limit or not verify(key, stored).valid:
            return None
        parsed = parse_rate(stored.rate_limit)
    except Exception:
        log.debug("rate limit pre-check skipped", exc_info=True)
        return None
    limited, failed_open = _ask_redis(settings, key_prefix(key), parsed, dry_run)
    return _AskedRateLimit(stored, limited, failed_open)


def _ask_redis(settings: Settings, prefix: str, rate: Rate, dry_run: bool) -> tuple[bool, bool]:
    """``(limited, failed_open)``: an unreachable Redis, or one that failed within the breaker's window, fails
    open (the reference answers 500; an outage of the counter store should not take the score API down)."""
    try:
        check_breaker(settings.redis_url)
        return is_limited(settings.redis_url, prefix, rate, increment=not dry_run), False
    except BreakerOpen:
        return False, True
    except Exception:
        log.warning("rate limit store unreachable; failing open", exc_info=True)
        trip_breaker(settings.redis_url)
        return False, True


def _rate_limit_verdict(
    settings: Settings, key: str, stored: StoredApiKey, asked: _AskedRateLimit | None, dry_run: bool
) -> bool:
    """Raise when limited; return True when Redis could not be asked and the request went through.

    The answer asked before the transaction is used when it was for this same row; otherwise (no pre-check, or
    the row changed meanwhile) Redis is asked now. An unparsable rate is a 500, as in the reference.
    """
    rate = stored.rate_limit
    if rate is None or rate == "":
        return False
    parsed = parse_rate(rate)
    if asked is not None and asked.stored == stored:
        limited, failed_open = asked.limited, asked.failed_open
    else:
        limited, failed_open = _ask_redis(settings, key_prefix(key), parsed, dry_run)
    if limited:
        raise RateLimited(settings.passport_api_rate_limiting_form)
    return failed_open


def _record_analytics(row: AnalyticsRow) -> None:
    now = datetime.now(UTC)
    try:
        db.run_autocommit(lambda conn: analytics_store.insert_analytics(conn, row, now))
    except Exception:
        log.exception("failed to store analytics")

"""``POST``, ``PATCH`` and ``DELETE /ceramic-cache/stamps/bulk``: write the address's cached stamps and re-score.

Order of checks is the reference's: JWT (401/400), body and items (400), the 100-item limit (422), then the
cache writes (400 for an item without a stamp or proof, or a bad date; 500 for a database error, e.g. a
provider twice in one payload), then the scorer (500/400/404), the address (400) and the scorer model (400).
Unlike the reference, the writes and the score commit together, and any error answer leaves nothing changed
(agreed deviation 10). Round trips: candidates | lock, writes and read-backs | scoring state | score writes |
points and COMMIT — five, whatever the number of stamps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from scorer_core import db
from scorer_core.cache_rows import (
    SOURCE_APP_PASSPORT,
    InvalidCacheItem,
    check_bulk_size,
    plan_rows,
)
from scorer_core.ceramic_cache import scoring
from scorer_core.ceramic_cache.request import (
    Answer,
    BulkItem,
    CacheRequest,
    NothingToDelete,
    answer_for,
    authenticated_address,
    bulk_items,
    parse_body,
)
from scorer_core.db.ceramic_cache import CacheState, delete_stamps, replace_stamps
from scorer_core.models import CachedStamp
from scorer_core.pipeline.score_address import Timings, timed
from scorer_core.responses.stamps import stamps_with_score_body
from scorer_core.settings import Settings

Conn = psycopg.Connection[Any]
Write = Callable[[Conn, str, list[BulkItem], datetime, int | None], CacheState]


def post(request: CacheRequest, settings: Settings, *, dry_run: bool = False) -> Answer:
    """C1: replace the listed providers' V1 rows with the payload's stamps (``source_app`` PASSPORT); 201."""

    def write(conn: Conn, address: str, items: list[BulkItem], now: datetime, lock: int | None) -> CacheState:
        rows = _rows([(item.provider, item.stamp) for item in items], SOURCE_APP_PASSPORT)
        providers = [item.provider for item in items]
        return replace_stamps(conn, address, providers, rows, only_v1=True, now=now, lock_community_id=lock)

    return _serve(request, settings, write, status=201, with_stamp=True, dry_run=dry_run)


def patch(request: CacheRequest, settings: Settings, *, dry_run: bool = False) -> Answer:
    """C2: soft-delete every listed provider (any type), re-insert those whose ``stamp`` is truthy; 200."""

    def write(conn: Conn, address: str, items: list[BulkItem], now: datetime, lock: int | None) -> CacheState:
        rows = _rows([(item.provider, item.stamp) for item in items if item.stamp], None)
        providers = [item.provider for item in items]
        return replace_stamps(conn, address, providers, rows, only_v1=False, now=now, lock_community_id=lock)

    return _serve(request, settings, write, status=200, with_stamp=True, dry_run=dry_run)


def delete(request: CacheRequest, settings: Settings, *, dry_run: bool = False) -> Answer:
    """C3: soft-delete the listed providers (any type); 404 when none is visible; the list has every type."""

    def write(conn: Conn, address: str, items: list[BulkItem], now: datetime, lock: int | None) -> CacheState:
        state = delete_stamps(
            conn, address, [item.provider for item in items], now=now, lock_community_id=lock
        )
        if state.touched == 0:
            raise NothingToDelete()
        return state

    return _serve(request, settings, write, status=200, with_stamp=False, dry_run=dry_run)


def _rows(items: list[tuple[str, Any]], source_app: int | None) -> list[Any]:
    try:
        return plan_rows(items, source_app=source_app, source_scorer_id=None)
    except InvalidCacheItem as exc:
        raise exc.cause from None


def _serve(
    request: CacheRequest,
    settings: Settings,
    write: Write,
    *,
    status: int,
    with_stamp: bool,
    dry_run: bool,
) -> Answer:
    timings = Timings()
    try:
        address = authenticated_address(request, settings)
        items = bulk_items(parse_body(request), with_stamp=with_stamp)
        check_bulk_size(len(items))
        scorer_id = settings.ceramic_cache_scorer_id

        def work(conn: Conn) -> tuple[list[CachedStamp], scoring.PendingScore]:
            with timed(timings, "database_ms"):
                target = scoring.load_target(conn, scorer_id)
                community = target.usable(address)
                state = write(conn, address, items, datetime.now(UTC), community.id if community else None)
            pending = scoring.score(conn, target, address, state.scoring_rows, settings, timings)
            return state.stamps, pending

        stamps, pending = db.run_transaction(work, commit=not dry_run)
        answer = Answer(status, stamps_with_score_body(stamps, pending.score_object()))
        answer.score_error = pending.scored.error
        answer.lifo_attempts = pending.scored.lifo_attempts
    except Exception as exc:
        answer = answer_for(exc)
    answer.timings = timings
    return answer

"""``GET`` and ``POST /ceramic-cache/score/{address}``: the JWT's address (the path's is ignored), scored.

GET (C4) serves a stored score unless there is none or it has expired, in two round trips (candidates,
stored score and points | COMMIT); otherwise, and always for POST (C5), the address is scored for the
configured community, or the ``alternate_scorer_id`` of the query (GET) or body (POST) when truthy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from scorer_core import db
from scorer_core.ceramic_cache import scoring
from scorer_core.ceramic_cache.request import (
    Answer,
    CacheRequest,
    MisconfiguredScorer,
    UnableToGetScore,
    answer_for,
    authenticated_address,
    django_int,
    parse_body,
)
from scorer_core.db import points as points_store
from scorer_core.db import scores as score_store
from scorer_core.db.ceramic_cache import locked_scoring_rows
from scorer_core.errors import InvalidAddress
from scorer_core.pipeline.address import is_valid_address
from scorer_core.pipeline.community import check_scorer_model
from scorer_core.pipeline.score_address import Timings, timed
from scorer_core.responses.points import points_objects
from scorer_core.responses.stamps import score_body, stored_score_object
from scorer_core.settings import Settings

Conn = psycopg.Connection[Any]


def get(request: CacheRequest, settings: Settings, *, dry_run: bool = False) -> Answer:
    """C4: the stored score when fresh, else a new one; errors after the address check are 400 or 404."""
    timings = Timings()
    try:
        address = authenticated_address(request, settings)
        scorer_id = request.query.get("alternate_scorer_id") or settings.ceramic_cache_scorer_id
        if not is_valid_address(address):
            raise InvalidAddress()

        def work(conn: Conn) -> dict[str, Any] | scoring.PendingScore:
            try:
                return _get_score(conn, address, scorer_id, settings, timings)
            except MisconfiguredScorer:
                raise
            except Exception as exc:
                if isinstance(exc, psycopg.OperationalError) and (conn.broken or conn.closed):
                    raise  # a dead connection: the pool runs the unit again on a fresh one
                raise UnableToGetScore(str(exc)) from exc

        outcome = db.run_transaction(work, commit=not dry_run)
        answer = _score_answer(outcome)
    except Exception as exc:
        answer = answer_for(exc)
    answer.timings = timings
    return answer


def post(request: CacheRequest, settings: Settings, *, dry_run: bool = False) -> Answer:
    """C5: always scores; ``alternate_scorer_id`` from the body when truthy."""
    timings = Timings()
    try:
        address = authenticated_address(request, settings)
        body = parse_body(request)
        if not isinstance(body, dict):
            raise AttributeError(f"'{type(body).__name__}' object has no attribute 'get'")
        scorer_id = body.get("alternate_scorer_id") or settings.ceramic_cache_scorer_id

        def work(conn: Conn) -> scoring.PendingScore:
            return _rescore(conn, scoring.load_target(conn, scorer_id), address, settings, timings)

        answer = _score_answer(db.run_transaction(work, commit=not dry_run))
    except Exception as exc:
        answer = answer_for(exc)
    answer.timings = timings
    return answer


def _get_score(
    conn: Conn, address: str, scorer_id: Any, settings: Settings, timings: Timings
) -> dict[str, Any] | scoring.PendingScore:
    """One round trip: the candidates (the named community among them), its stored score, the points."""
    with timed(timings, "database_ms"):
        community_id = django_int(scorer_id)
        queued = scoring.queue_target(conn, scorer_id)
        stored_cur = score_store.queue_stored_score(conn, address, community_id)
        points_cur = points_store.queue_points(conn, address) if settings.human_points_enabled else None
        target = scoring.fetch_target(scorer_id, queued)
    named = next((c for c in target.candidates if c.id == community_id), None)
    if named is None:
        raise MisconfiguredScorer()
    check_scorer_model(named)
    stored = score_store.fetch_stored_score(stored_cur)
    if stored is None or (stored.expiration_date is not None and stored.expiration_date < datetime.now(UTC)):
        return _rescore(conn, target, address, settings, timings)
    points = None
    if points_cur is not None and named.human_points_program:
        points = points_objects(points_store.fetch_points(points_cur))
    return stored_score_object(
        stored.address,
        evidence=stored.evidence,
        last_score_timestamp=stored.last_score_timestamp,
        expiration_date=stored.expiration_date,
        error=stored.error,
        stamps=stored.stamps,
        points=points,
    )


def _rescore(
    conn: Conn, target: scoring.Target, address: str, settings: Settings, timings: Timings
) -> scoring.PendingScore:
    community = scoring.checked_community(target, address)
    with timed(timings, "database_ms"):
        state = locked_scoring_rows(conn, address, community.id)
    return scoring.score(conn, target, address, state.scoring_rows, settings, timings)


def _score_answer(outcome: dict[str, Any] | scoring.PendingScore) -> Answer:
    if isinstance(outcome, dict):
        return Answer(200, score_body(outcome))
    answer = Answer(200, score_body(outcome.score_object()))
    answer.score_error = outcome.scored.error
    answer.lifo_attempts = outcome.scored.lifo_attempts
    return answer

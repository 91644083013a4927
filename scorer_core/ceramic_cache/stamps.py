"""``GET /ceramic-cache/stamp?address=``: the address's visible V1 stamps (no authentication).

When the configured community has no score for the address yet, the address is scored first, as a side
effect whose result is dropped but whose errors answer (the reference's behaviour, kept). With a score the
route is read-only: one round trip for the check and the list, one for the COMMIT.
"""

from __future__ import annotations

from typing import Any

import psycopg

from scorer_core import db
from scorer_core.ceramic_cache import scoring
from scorer_core.ceramic_cache.request import (
    Answer,
    CacheRequest,
    MissingAddressParameter,
    answer_for,
    django_int,
)
from scorer_core.db import scores as score_store
from scorer_core.db.ceramic_cache import (
    fetch_visible_stamps,
    locked_scoring_rows,
    queue_visible_stamps,
)
from scorer_core.models import CachedStamp
from scorer_core.pipeline.score_address import Timings, timed
from scorer_core.responses.stamps import stamps_body
from scorer_core.settings import Settings

Conn = psycopg.Connection[Any]


def get(request: CacheRequest, settings: Settings, *, dry_run: bool = False) -> Answer:
    timings = Timings()
    try:
        if "address" not in request.query:
            raise MissingAddressParameter()
        address = str(request.query["address"]).lower()
        scorer_id = settings.ceramic_cache_scorer_id

        def work(conn: Conn) -> tuple[list[CachedStamp], str | None]:
            with timed(timings, "database_ms"):
                exists = (
                    score_store.queue_score_exists(conn, address, django_int(scorer_id))
                    if scorer_id
                    else None
                )
                target = scoring.queue_target(conn, scorer_id) if scorer_id else None
                listed = queue_visible_stamps(conn, address)
                if exists is None or score_store.fetch_exists(exists):
                    return fetch_visible_stamps(listed), None
            assert target is not None
            resolved = scoring.fetch_target(scorer_id, target)
            community = scoring.checked_community(resolved, address)
            with timed(timings, "database_ms"):
                state = locked_scoring_rows(conn, address, community.id, with_list=True)
            pending = scoring.score(conn, resolved, address, state.scoring_rows, settings, timings)
            return state.stamps, pending.scored.error

        stamps, score_error = db.run_transaction(work, commit=not dry_run)
        answer = Answer(200, stamps_body(stamps), score_error=score_error)
    except Exception as exc:
        answer = answer_for(exc)
    answer.timings = timings
    return answer

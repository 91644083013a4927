"""``GET /ceramic-cache/weights``: the configured community's scorer weights, as stored.

Read from PostgreSQL (agreed deviation 17; the reference's shared Redis key is never touched) and kept in the
process for ``CACHE_TTL_S``, as long as the reference caches them. Body: ``json.dumps`` of the stored JSON
(spaced separators, values as stored, keys in jsonb order).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psycopg

from scorer_core import db
from scorer_core.ceramic_cache.request import Answer, ScorerUnavailable, answer_for, django_int
from scorer_core.db.communities import COMMUNITIES_OF_OWNER, community_from_row
from scorer_core.pipeline.community import check_scorer_model
from scorer_core.settings import Settings

CACHE_TTL_S = 60.0

_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def get(settings: Settings, *, dry_run: bool = False) -> Answer:
    scorer_id = settings.ceramic_cache_scorer_id
    now = time.monotonic()
    with _lock:
        cached = _cache.get(scorer_id)
    if cached is not None and cached[0] > now:
        return Answer(200, cached[1])
    try:
        body = _weights_body(scorer_id)
    except Exception:
        return answer_for(ScorerUnavailable(scorer_id))
    if not dry_run:
        with _lock:
            _cache[scorer_id] = (now + CACHE_TTL_S, body)
    return Answer(200, body)


def _weights_body(scorer_id: str) -> str:
    community_id = django_int(scorer_id)

    def read(conn: psycopg.Connection[Any]) -> list[Any]:
        return conn.execute(COMMUNITIES_OF_OWNER, {"id": community_id, "external_id": scorer_id}).fetchall()

    communities = [community_from_row(row) for row in db.run_autocommit(read)]
    community = next((c for c in communities if c.id == community_id), None)
    if community is None:
        raise ScorerUnavailable(scorer_id)
    check_scorer_model(community)
    # Read as JSON text (so an undecodable document fails here, not in the driver); decoded and dumped again
    # so numbers and escapes come out as the reference's json round trip renders them.
    return json.dumps(None if community.weights is None else json.loads(community.weights))

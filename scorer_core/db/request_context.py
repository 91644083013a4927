"""The first round trip of a request: candidate communities and cached credentials (and, for v2, the key) together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from scorer_core.auth.api_keys import StoredApiKey
from scorer_core.db.api_keys import API_KEY_BY_PREFIX
from scorer_core.db.ceramic_cache import VISIBLE_STAMPS_FOR_SCORING
from scorer_core.db.communities import COMMUNITIES_FOR_KEY, COMMUNITIES_OF_OWNER, community_from_row
from scorer_core.models import Community

Conn = psycopg.Connection[Any]


@dataclass(frozen=True, slots=True)
class RequestContext:
    api_key: StoredApiKey | None
    communities: list[Community]
    ceramic_rows: list[tuple[int, str, Any, datetime]]


def load_request_context(
    conn: Conn, prefix: str, external_id: str | None, community_id: int | None, address: str
) -> RequestContext:
    """Key, candidate communities and cached credentials in one round trip (pipeline mode).

    Reading the communities and credentials before the key is verified is harmless: nothing is returned or
    written unless verification passes.
    """
    key_cur = conn.execute(API_KEY_BY_PREFIX, (prefix,))
    community_cur = conn.execute(
        COMMUNITIES_FOR_KEY, {"prefix": prefix, "external_id": external_id, "id": community_id}
    )
    ceramic_cur = conn.execute(VISIBLE_STAMPS_FOR_SCORING, (address,))
    key_row = key_cur.fetchone()
    return RequestContext(
        api_key=StoredApiKey(*key_row) if key_row else None,
        communities=[community_from_row(row) for row in community_cur.fetchall()],
        ceramic_rows=ceramic_cur.fetchall(),
    )


# The passport lock of the ceramic-cache and embed routes (see ``db.ceramic_cache``), taken only when the
# community exists, so that a request for an unknown community still reaches its own 400 rather than a
# foreign-key error. Empty when there is no such community, or when a concurrent request created the row
# first (then the caller takes the lock again).
_LOCK_PASSPORT_IF_COMMUNITY = """
WITH found AS (
    SELECT id FROM registry_passport WHERE address = %(address)s AND community_id = %(community)s FOR UPDATE
), created AS (
    INSERT INTO registry_passport (address, community_id, requires_calculation)
    SELECT %(address)s, c.id, NULL FROM account_community c
    WHERE c.id = %(community)s AND NOT EXISTS (SELECT 1 FROM found)
    ON CONFLICT (address, community_id) DO NOTHING
    RETURNING id
)
SELECT id FROM found UNION ALL SELECT id FROM created
"""


@dataclass(frozen=True, slots=True)
class OwnerContext:
    """The candidate communities within the owner of a community id, and the address's cached credentials."""

    communities: list[Community]
    locked: bool
    """Whether the passport lock of (address, community id) is held."""


def queue_owner_context(
    conn: Conn, community_id: int | None, external_id: str | None, address: str
) -> Callable[[], OwnerContext]:
    """Queue the communities read and the passport lock (pipeline mode); the result fetches them.

    No community row means no community with that id. Statements queued after this one run under the lock.
    """
    community_cur = conn.execute(COMMUNITIES_OF_OWNER, {"id": community_id, "external_id": external_id})
    lock_cur = (
        conn.execute(_LOCK_PASSPORT_IF_COMMUNITY, {"address": address, "community": community_id})
        if community_id is not None
        else None
    )

    def fetch() -> OwnerContext:
        communities = [community_from_row(row) for row in community_cur.fetchall()]
        return OwnerContext(communities, lock_cur is not None and lock_cur.fetchone() is not None)

    return fetch


def scoring_rows(conn: Conn, address: str) -> list[Any]:
    """``VISIBLE_STAMPS_FOR_SCORING`` rows, to hand unchanged to ``score_address``."""
    return conn.execute(VISIBLE_STAMPS_FOR_SCORING, (address,)).fetchall()


def queue_scoring_rows(conn: Conn, address: str) -> Callable[[], list[Any]]:
    cursor = conn.execute(VISIBLE_STAMPS_FOR_SCORING, (address,))
    return lambda: list(cursor.fetchall())

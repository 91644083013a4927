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
from scorer_core.db.passports import LOCK_PASSPORT_IF_COMMUNITY
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
        conn.execute(LOCK_PASSPORT_IF_COMMUNITY, {"address": address, "community": community_id})
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

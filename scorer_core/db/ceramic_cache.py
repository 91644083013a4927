"""``ceramic_cache_ceramiccache``: the cached credentials of an address, and the cache-write unit.

A write is queued in pipeline mode with the read-backs that follow it, so it costs one round trip whatever the
number of stamps. Concurrent writers for one address (agreed deviation 11) are serialised by the lock on the
scored community's passport row when the caller names that community, and in any case a unique-index conflict
with a concurrent writer (or a deadlock between two) rolls the write back to its savepoint and runs it again on
the rows that writer committed. Duplicates inside one payload are not retried: they fail as the reference's do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from scorer_core.cache_rows import CacheRow, duplicate_providers
from scorer_core.db.instants import readable
from scorer_core.db.passports import LOCK_PASSPORT
from scorer_core.db.pool import recover
from scorer_core.models import CachedStamp

Conn = psycopg.Connection[Any]

WRITE_ATTEMPTS = 32
"""Attempts of one write under contention: each lost race means another writer for the address committed."""

# The stamp comes as text: it is decoded while scoring (``pipeline.credentials.decoded_rows``), where a document
# the JSON decoder refuses (a 5000-digit number, arrays nested thousands deep) fails that score as ERROR instead of
# failing the read, before the key is even checked. ``updated_at`` is clamped, so ``'infinity'`` is the latest.
VISIBLE_STAMPS_FOR_SCORING = f"""
SELECT c.id, c.provider, c.stamp::text, {readable("c.updated_at")}
FROM ceramic_cache_ceramiccache c
WHERE c.address = %s AND c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
ORDER BY c.id
"""

# The stamp list of the responses (agreed deviation 16: ordered by type, provider, id). ``%(v1)s`` false lists
# every type (the bulk DELETE's list).
_VISIBLE_STAMPS = """
SELECT c.id, c.address, c.provider, c.stamp
FROM ceramic_cache_ceramiccache c
WHERE c.address = %(address)s AND c.deleted_at IS NULL AND (NOT %(v1)s OR c.type = 1)
  AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
ORDER BY c.type, c.provider, c.id
"""

_SOFT_DELETE = """
UPDATE ceramic_cache_ceramiccache SET updated_at = %(now)s, deleted_at = %(now)s
WHERE address = %(address)s AND provider = ANY(%(providers)s::varchar[]) AND deleted_at IS NULL
  AND (NOT %(v1)s OR type = 1)
RETURNING id
"""

_INSERT = """
INSERT INTO ceramic_cache_ceramiccache
  (type, address, provider, stamp, proof_value, created_at, updated_at, deleted_at, compose_db_save_status,
   compose_db_stream_id, issuance_date, expiration_date, source_app, source_scorer_id)
SELECT 1, %(address)s, r.provider, r.stamp, r.proof_value, %(now)s, %(now)s, NULL, 'pending', '',
       r.issuance_date, r.expiration_date, r.source_app, r.source_scorer_id
FROM jsonb_to_recordset(%(rows)s) AS r(provider text, stamp jsonb, proof_value text, issuance_date timestamptz,
                                       expiration_date timestamptz, source_app integer, source_scorer_id bigint)
"""


@dataclass(frozen=True, slots=True)
class CacheState:
    """What the request reads after its cache write, in the same round trip."""

    stamps: list[CachedStamp]
    """The response's list (visible rows, V1 only unless ``list_only_v1`` was false)."""
    scoring_rows: list[Any]
    """``VISIBLE_STAMPS_FOR_SCORING`` rows, to hand unchanged to ``score_address``."""
    touched: int = 0
    """Rows the soft delete matched."""


def replace_stamps(
    conn: Conn,
    address: str,
    providers: Sequence[str],
    rows: Sequence[CacheRow],
    *,
    only_v1: bool,
    now: datetime,
    list_only_v1: bool = True,
    lock_community_id: int | None = None,
) -> CacheState:
    """Soft-delete the address's visible rows of ``providers`` (type 1 only when ``only_v1``), insert ``rows``.

    One statement each (skipped when there is nothing to delete or insert), queued with the read-backs: one
    round trip. ``lock_community_id`` first takes the passport lock of (address, that community).
    """
    return _write(
        conn,
        address,
        lambda: _queue_replace(conn, address, providers, rows, only_v1, now),
        duplicates=duplicate_providers([row.provider for row in rows]),
        list_only_v1=list_only_v1,
        lock_community_id=lock_community_id,
    )


def delete_stamps(
    conn: Conn,
    address: str,
    providers: Sequence[str],
    *,
    now: datetime,
    lock_community_id: int | None = None,
) -> CacheState:
    """Soft-delete the visible rows of ``providers``, any type; ``touched`` 0 means none matched (the 404).

    The list read back has every type, as the reference's bulk DELETE answers.
    """
    return _write(
        conn,
        address,
        lambda: _queue_soft_delete(conn, address, providers, False, now),
        duplicates=False,
        list_only_v1=False,
        lock_community_id=lock_community_id,
    )


def visible_stamps(conn: Conn, address: str, *, only_v1: bool = True) -> list[CachedStamp]:
    """The response's stamp list, ordered by type, provider, id (agreed deviation 16)."""
    return [CachedStamp(*row) for row in conn.execute(_VISIBLE_STAMPS, {"address": address, "v1": only_v1})]


def queue_visible_stamps(conn: Conn, address: str, *, only_v1: bool = True) -> psycopg.Cursor[Any]:
    """Queue the stamp-list read (pipeline mode) to fetch later with ``fetch_visible_stamps``."""
    return conn.execute(_VISIBLE_STAMPS, {"address": address, "v1": only_v1})


def fetch_visible_stamps(cursor: psycopg.Cursor[Any]) -> list[CachedStamp]:
    return [CachedStamp(*row) for row in cursor.fetchall()]


def lock_passport(conn: Conn, address: str, community_id: int) -> None:
    """Take the passport lock of (address, community) on its own (scorers that write no cache)."""
    for _ in range(3):
        if conn.execute(LOCK_PASSPORT, {"address": address, "community": community_id}).fetchone():
            return
    raise RuntimeError("could not get or create the passport row")


def locked_scoring_rows(
    conn: Conn, address: str, community_id: int, *, with_list: bool = False
) -> CacheState:
    """Take the passport lock, then read the rows to score (and the stamp list): one round trip.

    For routes that score without writing the cache; reading after the lock means a concurrent writer's rows
    are either all seen or not yet written.
    """
    for _ in range(3):
        lock = conn.execute(LOCK_PASSPORT, {"address": address, "community": community_id})
        listed = queue_visible_stamps(conn, address) if with_list else None
        scoring = conn.execute(VISIBLE_STAMPS_FOR_SCORING, (address,))
        if lock.fetchone() is not None:
            return CacheState(fetch_visible_stamps(listed) if listed else [], scoring.fetchall())
    raise RuntimeError("could not get or create the passport row")


def _queue_replace(
    conn: Conn,
    address: str,
    providers: Sequence[str],
    rows: Sequence[CacheRow],
    only_v1: bool,
    now: datetime,
) -> psycopg.Cursor[Any] | None:
    deleted = _queue_soft_delete(conn, address, providers, only_v1, now)
    if rows:
        # Insert in provider order when no provider repeats, so that two writers lock index entries in the same
        # order; a payload with a duplicate keeps its order, so that the same duplicate is reported.
        ordered = (
            sorted(rows, key=lambda r: r.provider)
            if not duplicate_providers([r.provider for r in rows])
            else rows
        )
        conn.execute(
            _INSERT, {"address": address, "now": now, "rows": Jsonb([_row_json(r) for r in ordered])}
        )
    return deleted


def _queue_soft_delete(
    conn: Conn, address: str, providers: Sequence[str], only_v1: bool, now: datetime
) -> psycopg.Cursor[Any] | None:
    if not providers:
        return None
    return conn.execute(
        _SOFT_DELETE, {"address": address, "providers": list(providers), "v1": only_v1, "now": now}
    )


def _row_json(row: CacheRow) -> dict[str, Any]:
    return {
        "provider": row.provider,
        "stamp": row.stamp,
        "proof_value": row.proof_value,
        "issuance_date": row.issuance_date.isoformat() if row.issuance_date else None,
        "expiration_date": row.expiration_date.isoformat() if row.expiration_date else None,
        "source_app": row.source_app,
        "source_scorer_id": row.source_scorer_id,
    }


def _write(
    conn: Conn,
    address: str,
    queue: Callable[[], psycopg.Cursor[Any] | None],
    *,
    duplicates: bool,
    list_only_v1: bool,
    lock_community_id: int | None,
) -> CacheState:
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        lock = (
            conn.execute(LOCK_PASSPORT, {"address": address, "community": lock_community_id})
            if lock_community_id is not None
            else None
        )
        conn.execute("SAVEPOINT cache_write")
        try:
            deleted = queue()
            listed = queue_visible_stamps(conn, address, only_v1=list_only_v1)
            scoring = conn.execute(VISIBLE_STAMPS_FOR_SCORING, (address,))
            if lock is not None and lock.fetchone() is None:
                # A concurrent first score created the passport: run again, now that its row is visible.
                recover(conn)
                conn.execute("ROLLBACK TO SAVEPOINT cache_write")
                continue
            touched = len(deleted.fetchall()) if deleted is not None else 0
            return CacheState(fetch_visible_stamps(listed), scoring.fetchall(), touched)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
            if duplicates or attempt == WRITE_ATTEMPTS:
                raise
            recover(conn)
            conn.execute("ROLLBACK TO SAVEPOINT cache_write")
    raise RuntimeError("could not write the ceramic cache")

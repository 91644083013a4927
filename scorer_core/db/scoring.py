"""What scoring reads and writes: passport, score, stamps, hash links, events and Human Points rows.

Reads of a step are sent together in pipeline mode; writes are batched (``unnest``, one JSON document) so their
cost does not grow with the number of stamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from scorer_core.db.instants import clamp, readable
from scorer_core.db.passports import locked_passport_ctes
from scorer_core.db.pool import recover
from scorer_core.models import (
    HashLink,
    HumanPointRow,
    HumanPointsFacts,
    LinkUpdate,
    NewLink,
    ScoreResult,
    Stamp,
)

Conn = psycopg.Connection[Any]

# The locked passport (``db.passports``) and its score, got or created without burning identity values on
# re-scores. A concurrent first insert leaves the result empty; the caller runs the statement again.
_PASSPORT_AND_SCORE = (
    locked_passport_ctes()
    + """, passport AS (
    SELECT id FROM found UNION ALL SELECT id FROM created
), score_found AS (
    SELECT s.id FROM registry_score s JOIN passport p ON s.passport_id = p.id
), score_created AS (
    INSERT INTO registry_score (passport_id, score, last_score_timestamp, status, error, evidence,
                                stamp_scores, stamps, expiration_date)
    SELECT p.id, NULL, NULL, 'PROCESSING', NULL, NULL, NULL, NULL, NULL
    FROM passport p WHERE NOT EXISTS (SELECT 1 FROM score_found)
    ON CONFLICT (passport_id) DO NOTHING
    RETURNING id
)
SELECT p.id, (SELECT id FROM score_found UNION ALL SELECT id FROM score_created LIMIT 1) FROM passport p
"""
)

_HASH_LINKS = f"""
SELECT id, hash, address, {readable("expires_at")} FROM registry_hashscorerlink
WHERE community_id = %s AND hash = ANY(%s::varchar[])
"""

_HUMAN_POINTS_FACTS = """
SELECT
  ARRAY(SELECT provider FROM registry_humanpoints WHERE address = %(address)s AND action = 'HKY'),
  (SELECT count(*) FROM registry_humanpointscommunityqualifiedusers
    WHERE address = %(address)s AND community_id <> %(community)s),
  EXISTS (SELECT 1 FROM registry_humanpointscommunityqualifiedusers
           WHERE address = %(address)s AND community_id = %(community)s),
  EXISTS (SELECT 1 FROM registry_humanpoints WHERE address = %(address)s AND action = 'SCB'),
  ARRAY(SELECT l.name FROM account_addresslist l JOIN account_addresslistmember m ON m.list_id = l.id
         WHERE l.name = ANY(%(lists)s::varchar[]) AND m.address = %(address)s),
  CASE WHEN %(count_mm2)s THEN (SELECT count(*) FROM registry_humanpoints WHERE action = 'MM2') ELSE 0 END,
  ARRAY(SELECT DISTINCT action FROM registry_humanpoints
         WHERE address = %(address)s AND action IN ('MM2', 'SOG', 'TCO'))
"""


@dataclass(frozen=True, slots=True)
class ScoringState:
    passport_id: int
    score_id: int
    links: list[HashLink]
    human_points: HumanPointsFacts | None


def load_scoring_state(
    conn: Conn,
    address: str,
    community_id: int,
    nullifiers: Sequence[str],
    human_points_lists: Sequence[str] | None,
    count_mm2: bool,
) -> ScoringState:
    """Passport and score rows (created if needed), the links of these nullifiers, Human Points facts: one trip.

    It ends by taking the ``scoring`` savepoint, which a scoring failure rolls back to before recording ERROR.
    """
    for _ in range(3):
        ids_cur = conn.execute(_PASSPORT_AND_SCORE, {"address": address, "community": community_id})
        links_cur = conn.execute(_HASH_LINKS, (community_id, list(nullifiers))) if nullifiers else None
        facts_cur = (
            conn.execute(
                _HUMAN_POINTS_FACTS,
                {
                    "address": address,
                    "community": community_id,
                    "lists": list(human_points_lists),
                    "count_mm2": count_mm2,
                },
            )
            if human_points_lists is not None
            else None
        )
        conn.execute("SAVEPOINT scoring")
        ids = ids_cur.fetchone()
        if ids is not None and ids[1] is not None:
            return ScoringState(
                passport_id=ids[0],
                score_id=ids[1],
                links=[HashLink(*row) for row in links_cur.fetchall()] if links_cur else [],
                human_points=_facts(facts_cur.fetchone()) if facts_cur else None,
            )
    raise RuntimeError("could not get or create the passport and score rows")


def _facts(row: Any) -> HumanPointsFacts:
    return HumanPointsFacts(
        hky_providers=frozenset(row[0]),
        qualified_elsewhere=row[1],
        already_qualified_here=row[2],
        has_scb=row[3],
        list_members=frozenset(row[4]),
        mm2_count=row[5],
        awarded=frozenset(row[6]),
    )


def hash_links(conn: Conn, community_id: int, nullifiers: Sequence[str]) -> list[HashLink]:
    if not nullifiers:
        return []
    return [HashLink(*row) for row in conn.execute(_HASH_LINKS, (community_id, list(nullifiers))).fetchall()]


_CREATE_LINKS = """
INSERT INTO registry_hashscorerlink (hash, community_id, address, expires_at)
SELECT u.hash, %s, u.address, u.expires_at
FROM unnest(%s::varchar[], %s::varchar[], %s::timestamptz[]) AS u(hash, address, expires_at)
ORDER BY u.hash
ON CONFLICT (hash, community_id) DO NOTHING
RETURNING hash
"""

# Only rows still as they were read are changed: a link taken over by a concurrent request is left alone and
# shows up as a missing id in RETURNING, which makes the caller retry against the new state.
_UPDATE_LINKS = f"""
UPDATE registry_hashscorerlink l SET address = u.address, expires_at = u.expires_at
FROM (SELECT * FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::varchar[], %s::timestamptz[])
        AS t(id, address, expires_at, seen_address, seen_expires_at) ORDER BY id) u
WHERE l.id = u.id AND l.address = u.seen_address AND {readable("l.expires_at")} = u.seen_expires_at
RETURNING l.id
"""


def rollback_links(conn: Conn) -> None:
    """Undo an attempt whose links lost a race (or a deadlock), so it can be planned again."""
    recover(conn)
    conn.execute("ROLLBACK TO SAVEPOINT lifo_links")


@dataclass(frozen=True, slots=True)
class ScoreWrite:
    """Everything a successful score writes, applied in one round trip."""

    passport_id: int
    score_id: int
    address: str
    community_id: int
    create_links: Sequence[NewLink]
    update_links: Sequence[LinkUpdate]
    stamps: Sequence[Stamp]
    dedup_events: Sequence[dict[str, Any]]
    qualify: bool
    human_points: Sequence[HumanPointRow]
    score_event: dict[str, Any]
    result: ScoreResult
    now: datetime


_DELETE_STAMPS = "DELETE FROM registry_stamp WHERE passport_id = %s"
_INSERT_STAMPS = """
INSERT INTO registry_stamp (passport_id, provider, credential)
SELECT %s, u.item ->> 0, u.item -> 1 FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS u(item, n)
ORDER BY u.n
"""
# Events and stamps travel as one JSON document each: adapting a list of documents as a PostgreSQL array
# literal costs far more (per-character escaping) than one json.dumps.
_INSERT_EVENTS = """
INSERT INTO registry_event (action, address, community_id, created_at, data)
SELECT %s, %s, %s, %s, u.data FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS u(data, n) ORDER BY u.n
"""
_QUALIFY = """
INSERT INTO registry_humanpointscommunityqualifiedusers (address, community_id) VALUES (%s, %s)
ON CONFLICT (address, community_id) DO NOTHING
"""
_INSERT_HUMAN_POINTS = """
INSERT INTO registry_humanpoints (address, action, timestamp, tx_hash, chain_id, provider)
SELECT %s, u.action, %s, u.tx_hash, u.chain_id, u.provider
FROM unnest(%s::varchar[], %s::varchar[], %s::int[], %s::varchar[]) WITH ORDINALITY
     AS u(action, tx_hash, chain_id, provider, n)
ORDER BY u.n
ON CONFLICT DO NOTHING
"""
_UPDATE_SCORE = """
UPDATE registry_score SET score = %s, last_score_timestamp = %s, status = %s, error = %s, evidence = %s,
       stamp_scores = %s, stamps = %s, expiration_date = %s
WHERE id = %s
"""


def write_score(conn: Conn, write: ScoreWrite) -> bool:
    """Hash links, stamps, dedup events, Human Points, the SCORE_UPDATE event and the Score row: one trip.

    Optimistic: everything is sent after a ``lifo_links`` savepoint, and only then are the link writes checked.
    When a concurrent request got to a link first (an insert skipped, a guarded update missed), the attempt is
    rolled back to the savepoint and False returned, so the caller plans again on fresh links.
    """
    result = write.result
    create, update = write.create_links, write.update_links
    conn.execute("SAVEPOINT lifo_links")
    created_cur = (
        conn.execute(
            _CREATE_LINKS,
            (
                write.community_id,
                [link.hash for link in create],
                [link.address for link in create],
                [link.expires_at for link in create],
            ),
        )
        if create
        else None
    )
    updated_cur = (
        conn.execute(
            _UPDATE_LINKS,
            (
                [link.id for link in update],
                [link.address for link in update],
                [link.expires_at for link in update],
                [link.seen_address for link in update],
                [link.seen_expires_at for link in update],
            ),
        )
        if update
        else None
    )
    conn.execute(_DELETE_STAMPS, (write.passport_id,))
    if write.stamps:
        conn.execute(
            _INSERT_STAMPS,
            (write.passport_id, Jsonb([[stamp.provider, stamp.credential] for stamp in write.stamps])),
        )
    if write.dedup_events:
        _insert_events(conn, "LDP", write, list(write.dedup_events))
    if write.qualify:
        conn.execute(_QUALIFY, (write.address, write.community_id))
    if write.human_points:
        conn.execute(
            _INSERT_HUMAN_POINTS,
            (
                write.address,
                write.now,
                [row.action for row in write.human_points],
                [row.tx_hash for row in write.human_points],
                [row.chain_id for row in write.human_points],
                [row.provider for row in write.human_points],
            ),
        )
    _insert_events(conn, "SCU", write, [write.score_event])
    score_cur = conn.execute(
        _UPDATE_SCORE + " RETURNING id",
        (
            result.score,
            result.last_score_timestamp,
            "DONE",
            None,
            Jsonb(result.evidence),
            Jsonb(result.stamp_scores),
            Jsonb(result.stamps),
            None if result.expiration_date is None else clamp(result.expiration_date),
            write.score_id,
        ),
    )
    score_cur.fetchone()  # waits for the whole batch, and raises the first error in it
    created = len(created_cur.fetchall()) if created_cur else 0
    updated = len(updated_cur.fetchall()) if updated_cur else 0
    if created == len(create) and updated == len(update):
        return True
    rollback_links(conn)
    return False


def _insert_events(conn: Conn, action: str, write: ScoreWrite, data: list[dict[str, Any]]) -> None:
    conn.execute(_INSERT_EVENTS, (action, write.address, write.community_id, write.now, Jsonb(data)))


def write_score_error(conn: Conn, score_id: int, error: str) -> None:
    """Undo the scoring writes, then record the ERROR state: every result column cleared, the message kept."""
    recover(conn)
    conn.execute("ROLLBACK TO SAVEPOINT scoring")
    conn.execute(_UPDATE_SCORE, (None, None, "ERROR", error, None, None, None, None, score_id))

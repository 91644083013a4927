"""Stored ``registry_score`` rows as the ceramic-cache reads see them (no locks, no writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

Conn = psycopg.Connection[Any]

_STORED_SCORE = """
SELECT p.address, s.evidence, s.last_score_timestamp, s.expiration_date, s.error, s.stamps
FROM registry_score s JOIN registry_passport p ON p.id = s.passport_id
WHERE p.address = %s AND p.community_id = %s
"""

_SCORE_EXISTS = """
SELECT EXISTS (SELECT 1 FROM registry_score s JOIN registry_passport p ON p.id = s.passport_id
               WHERE p.address = %s AND p.community_id = %s)
"""


@dataclass(frozen=True, slots=True)
class StoredScore:
    address: str
    evidence: dict[str, Any] | None
    last_score_timestamp: datetime | None
    expiration_date: datetime | None
    error: str | None
    stamps: dict[str, Any] | None


def queue_stored_score(conn: Conn, address: str, community_id: int) -> psycopg.Cursor[Any]:
    return conn.execute(_STORED_SCORE, (address, community_id))


def fetch_stored_score(cursor: psycopg.Cursor[Any]) -> StoredScore | None:
    row = cursor.fetchone()
    return StoredScore(*row) if row else None


def queue_score_exists(conn: Conn, address: str, community_id: int) -> psycopg.Cursor[Any]:
    return conn.execute(_SCORE_EXISTS, (address, community_id))


def fetch_exists(cursor: psycopg.Cursor[Any]) -> bool:
    row = cursor.fetchone()
    return bool(row and row[0])

"""``account_accountapikeyanalytics``: one row per authenticated v2 request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from scorer_core.models import AnalyticsRow

Conn = psycopg.Connection[Any]

_INSERT_ANALYTICS = """
INSERT INTO account_accountapikeyanalytics
    (api_key_id, created_at, path, base_path, path_segments, query_params, payload, headers, response,
     response_skipped, error, status_code)
VALUES (%s, %s, %s, NULL, %s, %s, %s, %s, %s, false, %s, %s)
"""


def insert_analytics(conn: Conn, row: AnalyticsRow, now: datetime) -> None:
    """JSON ``null`` values are stored as SQL NULL, as Django's JSONField does."""
    conn.execute(
        _INSERT_ANALYTICS,
        (
            row.api_key_id,
            now,
            row.path,
            _jsonb(row.path_segments),
            _jsonb(row.query_params),
            _jsonb(row.payload),
            _jsonb(row.headers),
            Jsonb(row.response),
            row.error,
            row.status_code,
        ),
    )


def _jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)

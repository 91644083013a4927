"""Timestamps the service can always read back: the bounds of what a Python ``datetime`` holds, with a margin.

PostgreSQL stores ``timestamptz`` values (``'infinity'``, year 10000 and beyond, years BC) that no ``datetime``
can hold, and the driver raises on such a value however it got there. Every timestamp column the service reads is
read through ``readable()``, which clamps it into [``EARLIEST``, ``LATEST``], and every timestamp it writes from
a credential goes through ``clamp()``, so no row the service writes can stop it reading that row again. The two
days of margin keep a clamped value within range in any session time zone (offsets reach ±16 h).
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1, 1, 3, tzinfo=UTC)
LATEST = datetime(9999, 12, 29, tzinfo=UTC)

_EARLIEST_SQL = "'0001-01-03 00:00:00+00'::timestamptz"
_LATEST_SQL = "'9999-12-29 00:00:00+00'::timestamptz"


def readable(column: str) -> str:
    """SQL for ``column`` clamped into the readable range (NULL stays NULL)."""
    # GREATEST and LEAST skip NULLs, hence the CASE.
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE LEAST(GREATEST({column}, {_EARLIEST_SQL}), {_LATEST_SQL}) END"


def clamp(value: datetime) -> datetime:
    """``value`` moved into the readable range: an expiry after year 9999 (UTC) becomes the latest instant."""
    if value > LATEST:
        return LATEST
    if value < EARLIEST:
        return EARLIEST
    return value

"""Row counts and an md5 of every row of the scoring tables: proof that a dry run wrote nothing.

`python -m tools.table_checksum DATABASE_URL` prints them. Used by the shadow tests and the replay sample;
development tooling only. Identity sequences are not covered: a rolled-back INSERT still advances them,
which leaves gaps in ids but no row.
"""

from __future__ import annotations

import sys
from typing import Any

import psycopg
from psycopg import sql

# Every table a request writes: scoring, the analytics row, the API-key hash migration and the ceramic cache.
SCORING_TABLES = (
    "registry_passport",
    "registry_score",
    "registry_stamp",
    "registry_hashscorerlink",
    "registry_event",
    "registry_humanpoints",
    "registry_humanpointscommunityqualifiedusers",
    "account_accountapikey",
    "account_accountapikeyanalytics",
    "ceramic_cache_ceramiccache",
)

Checksums = dict[str, tuple[int, str]]


def table_checksums(conn_or_url: psycopg.Connection[Any] | str) -> Checksums:
    """{table: (row count, md5 of all rows in a stable order)}."""
    if isinstance(conn_or_url, str):
        with psycopg.connect(conn_or_url) as conn:
            return table_checksums(conn)
    result: Checksums = {}
    for table in SCORING_TABLES:
        query = sql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {} AS t"
        ).format(sql.Identifier(table))
        fetched = conn_or_url.execute(query).fetchone()
        assert fetched is not None  # an aggregate always returns a row
        result[table] = (int(fetched[0]), str(fetched[1]))
    return result


def render(checksums: Checksums) -> str:
    return "\n".join(f"  {table:<46}{count:>6}  {digest}" for table, (count, digest) in checksums.items())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tools.table_checksum DATABASE_URL")
    print(render(table_checksums(sys.argv[1])))

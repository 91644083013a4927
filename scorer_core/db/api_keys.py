"""``account_accountapikey``: the key looked up by prefix, and the SHA-256 hash migration."""

from __future__ import annotations

from typing import Any

import psycopg

from scorer_core.auth.api_keys import StoredApiKey
from scorer_core.db.instants import readable

Conn = psycopg.Connection[Any]

# The expiry is clamped (``'infinity'`` reads as the latest instant), so whatever it holds the key's usability
# is decided by comparing it, never by failing to decode it.
API_KEY_BY_PREFIX = f"""
SELECT id, account_id, hashed_key, hashed_key_sha256, rate_limit, revoked, {readable("expiry_date")}
FROM account_accountapikey WHERE prefix = %s
"""


def load_api_key(conn: Conn, prefix: str) -> StoredApiKey | None:
    row = conn.execute(API_KEY_BY_PREFIX, (prefix,)).fetchone()
    return StoredApiKey(*row) if row else None


def migrate_api_key(conn: Conn, key_id: str, digest: str) -> None:
    conn.execute("UPDATE account_accountapikey SET hashed_key_sha256 = %s WHERE id = %s", (digest, key_id))


# The key with the tier the embed service enforces (``embed_rate_limit``), for validate-api-key; the expiry
# clamped as above.
EMBED_KEY_BY_PREFIX = f"""
SELECT id, account_id, hashed_key, hashed_key_sha256, rate_limit, revoked, {readable("expiry_date")}, embed_rate_limit
FROM account_accountapikey WHERE prefix = %s
"""


def embed_key_by_prefix(conn: Conn, prefix: str) -> tuple[StoredApiKey, str | None] | None:
    """The stored key and its embed tier, or None when no key has this prefix."""
    row = conn.execute(EMBED_KEY_BY_PREFIX, (prefix,)).fetchone()
    if row is None:
        return None
    return StoredApiKey(*row[:7]), row[7]

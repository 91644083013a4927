"""``account_accountapikey``: the key looked up by prefix, and the SHA-256 hash migration."""

from __future__ import annotations

from typing import Any

import psycopg

from scorer_core.auth.api_keys import StoredApiKey

Conn = psycopg.Connection[Any]

API_KEY_BY_PREFIX = """
SELECT id, account_id, hashed_key, hashed_key_sha256, rate_limit, revoked, expiry_date
FROM account_accountapikey WHERE prefix = %s
"""


def migrate_api_key(conn: Conn, key_id: str, digest: str) -> None:
    conn.execute("UPDATE account_accountapikey SET hashed_key_sha256 = %s WHERE id = %s", (digest, key_id))


# The key with the tier the embed service enforces (``embed_rate_limit``), for validate-api-key.
EMBED_KEY_BY_PREFIX = """
SELECT id, account_id, hashed_key, hashed_key_sha256, rate_limit, revoked, expiry_date, embed_rate_limit
FROM account_accountapikey WHERE prefix = %s
"""


def embed_key_by_prefix(conn: Conn, prefix: str) -> tuple[StoredApiKey, str | None] | None:
    """The stored key and its embed tier, or None when no key has this prefix."""
    row = conn.execute(EMBED_KEY_BY_PREFIX, (prefix,)).fetchone()
    if row is None:
        return None
    return StoredApiKey(*row[:7]), row[7]

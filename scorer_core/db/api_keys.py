"""``account_accountapikey``: the key looked up by prefix, and the SHA-256 hash migration."""

from __future__ import annotations

from typing import Any

import psycopg

Conn = psycopg.Connection[Any]

API_KEY_BY_PREFIX = """
SELECT id, account_id, hashed_key, hashed_key_sha256, rate_limit, revoked, expiry_date
FROM account_accountapikey WHERE prefix = %s
"""


def migrate_api_key(conn: Conn, key_id: str, digest: str) -> None:
    conn.execute("UPDATE account_accountapikey SET hashed_key_sha256 = %s WHERE id = %s", (digest, key_id))

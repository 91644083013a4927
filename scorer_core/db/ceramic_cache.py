"""``ceramic_cache_ceramiccache``: the cached credentials of an address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

VISIBLE_STAMPS_FOR_SCORING = """
SELECT c.id, c.provider, c.stamp, c.updated_at
FROM ceramic_cache_ceramiccache c
WHERE c.address = %s AND c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
ORDER BY c.id
"""

# The stamp list of the embed and ceramic-cache responses: visible rows, ordered by type, provider, id
# (agreed deviation 16). ``%(only_v1)s`` keeps only type 1 (the V1 stamps), as every list but C3's does.
VISIBLE_STAMPS = """
SELECT c.id, c.address, c.provider, c.stamp
FROM ceramic_cache_ceramiccache c
WHERE c.address = %(address)s AND c.deleted_at IS NULL AND (NOT %(only_v1)s OR c.type = 1)
  AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
ORDER BY c.type, c.provider, c.id
"""


def queue_visible_stamps(conn: Any, address: str, *, only_v1: bool) -> Callable[[], list[Any]]:
    """Queue the stamp-list read (pipeline mode); the returned function fetches ``(id, address, provider, stamp)``.

    Fetching may wait until the transaction's last round trip: the rows are read inside it, in order.
    """
    cursor = conn.execute(VISIBLE_STAMPS, {"address": address, "only_v1": only_v1})
    return lambda: list(cursor.fetchall())

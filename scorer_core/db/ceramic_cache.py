"""``ceramic_cache_ceramiccache``: the cached credentials of an address."""

from __future__ import annotations

VISIBLE_STAMPS_FOR_SCORING = """
SELECT c.id, c.provider, c.stamp, c.updated_at
FROM ceramic_cache_ceramiccache c
WHERE c.address = %s AND c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
ORDER BY c.id
"""

"""``ceramic_cache_ceramiccache``: the cached credentials of an address."""

from __future__ import annotations

from scorer_core.db.instants import readable

# The stamp comes as text: it is decoded while scoring (``pipeline.credentials.decoded_rows``), where a document
# the JSON decoder refuses (a 5000-digit number, arrays nested thousands deep) fails that score as ERROR instead of
# failing the read, before the key is even checked. ``updated_at`` is clamped, so ``'infinity'`` is the latest.
VISIBLE_STAMPS_FOR_SCORING = f"""
SELECT c.id, c.provider, c.stamp::text, {readable("c.updated_at")}
FROM ceramic_cache_ceramiccache c
WHERE c.address = %s AND c.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
ORDER BY c.id
"""

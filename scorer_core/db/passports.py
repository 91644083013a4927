"""``registry_passport``: the get-or-create of an address's passport in a community, locked.

Every request that writes the cache or scores takes this lock first, so writers and scorers of one address and
community run one after the other and each sees what the previous one committed. The statement never burns an
identity value on an existing passport. When a concurrent request created the row first, both CTEs come back
empty and the caller runs the statement again, which then sees the committed row.
"""

from __future__ import annotations

_CREATE_ANY = """
    SELECT %(address)s, %(community)s, NULL WHERE NOT EXISTS (SELECT 1 FROM found)"""
# Only when the community exists: a request for an unknown community then reaches its own answer rather than a
# foreign-key error (an empty result, as for a lost race, with no such community).
_CREATE_IF_COMMUNITY = """
    SELECT %(address)s, c.id, NULL FROM account_community c
    WHERE c.id = %(community)s AND NOT EXISTS (SELECT 1 FROM found)"""


def locked_passport_ctes(*, only_if_community: bool = False) -> str:
    """``WITH found AS (...), created AS (...)``: the locked passport id is in one of the two."""
    source = _CREATE_IF_COMMUNITY if only_if_community else _CREATE_ANY
    return f"""
WITH found AS (
    SELECT id FROM registry_passport WHERE address = %(address)s AND community_id = %(community)s FOR UPDATE
), created AS (
    INSERT INTO registry_passport (address, community_id, requires_calculation){source}
    ON CONFLICT (address, community_id) DO NOTHING
    RETURNING id
)"""


LOCK_PASSPORT = locked_passport_ctes() + "\nSELECT id FROM found UNION ALL SELECT id FROM created\n"
LOCK_PASSPORT_IF_COMMUNITY = (
    locked_passport_ctes(only_if_community=True) + "\nSELECT id FROM found UNION ALL SELECT id FROM created\n"
)

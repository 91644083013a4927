"""``account_community`` with its scorer, weights and customization, as the scoring pipeline needs them."""

from __future__ import annotations

from typing import Any

from scorer_core.models import Community

# The columns every community query returns. Weights come as JSON text, decoded while scoring
# (``pipeline.scoring.effective_weights``), so a document the decoder refuses is that score's ERROR, not a failed
# read before the key is checked. In ``community_from_row`` order.
_COLUMNS = """
SELECT c.id, c.external_scorer_id, c.rule, c.human_points_program, c.scorer_id, s.type,
       w.scorer_ptr_id IS NOT NULL, b.scorer_ptr_id IS NOT NULL,
       CASE s.type WHEN 'WEIGHTED' THEN w.weights WHEN 'WEIGHTED_BINARY' THEN b.weights END::text,
       CASE s.type WHEN 'WEIGHTED' THEN w.threshold WHEN 'WEIGHTED_BINARY' THEN b.threshold END,
       cu.id IS NOT NULL,
       (SELECT COALESCE(jsonb_agg(jsonb_build_array(o.name, o.weight) ORDER BY o.kind, o.id), '[]'::jsonb)
          FROM (SELECT 1 AS kind, a.id, 'AllowList#' || l.name AS name, a.weight::text AS weight
                  FROM account_allowlist a JOIN account_addresslist l ON l.id = a.address_list_id
                 WHERE a.customization_id = cu.id
                UNION ALL
                SELECT 2, cc.id, r.provider_id, cc.weight::text
                  FROM account_customcredential cc
                  JOIN account_customcredentialruleset r ON r.id = cc.ruleset_id
                 WHERE cc.customization_id = cu.id) o)
FROM account_community c
LEFT JOIN scorer_weighted_scorer s ON s.id = c.scorer_id
LEFT JOIN scorer_weighted_weightedscorer w ON w.scorer_ptr_id = c.scorer_id
LEFT JOIN scorer_weighted_binaryweightedscorer b ON b.scorer_ptr_id = c.scorer_id
LEFT JOIN account_customization cu ON cu.scorer_id = c.id
"""

# Candidates for the path's scorer id within the key's account: by external id, then by id. At most one row
# can match the external id (it is unique) and one the id, except when the demo scorer is unset and the
# external id is NULL, where the reference needs exactly one NULL row: LIMIT 3 is enough to tell.
COMMUNITIES_FOR_KEY = (
    _COLUMNS
    + """
WHERE c.account_id = (SELECT account_id FROM account_accountapikey WHERE prefix = %(prefix)s)
  AND (c.external_scorer_id IS NOT DISTINCT FROM %(external_id)s OR c.id = %(id)s)
ORDER BY c.id
LIMIT 3
"""
)

# The same candidates within the account that owns community ``id`` (the embed and ceramic-cache routes, which
# name a community by id and score "external id first, then id" inside its owner's account). No row means no
# community with that id.
COMMUNITIES_OF_OWNER = (
    _COLUMNS
    + """
WHERE c.account_id = (SELECT account_id FROM account_community WHERE id = %(id)s)
  AND (c.external_scorer_id IS NOT DISTINCT FROM %(external_id)s OR c.id = %(id)s)
ORDER BY c.id
LIMIT 3
"""
)


def community_from_row(row: tuple[Any, ...]) -> Community:
    return Community(
        id=row[0],
        external_scorer_id=row[1],
        rule=row[2],
        human_points_program=row[3],
        scorer_id=row[4],
        scorer_type=row[5],
        has_weighted_row=row[6],
        has_binary_row=row[7],
        weights=row[8],
        threshold=row[9],
        has_customization=row[10],
        custom_weights=tuple((name, weight) for name, weight in row[11]),
    )

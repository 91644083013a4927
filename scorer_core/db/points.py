"""Human Points totals of an address, for the ceramic-cache score's ``points_data``: one statement."""

from __future__ import annotations

from typing import Any

import psycopg

from scorer_core.responses.points import PointsFacts

Conn = psycopg.Connection[Any]

_POINTS = """
SELECT
  COALESCE((SELECT jsonb_agg(jsonb_build_array(g.action, g.chain_id, g.points, g.multiplier))
              FROM (SELECT hp.action, hp.chain_id, SUM(hpc.points) AS points,
                           MAX(COALESCE(hpm.multiplier, 1)) AS multiplier
                      FROM registry_humanpoints hp
                      JOIN registry_humanpointsconfig hpc ON hp.action = hpc.action AND hpc.active
                      LEFT JOIN registry_humanpointsmultiplier hpm ON hp.address = hpm.address
                     WHERE hp.address = %(address)s AND hp.action <> 'HIM'
                     GROUP BY hp.address, hp.action, hp.chain_id) g), '[]'::jsonb),
  EXISTS (SELECT 1 FROM registry_humanpointscommunityqualifiedusers WHERE address = %(address)s),
  COALESCE((SELECT jsonb_agg(jsonb_build_array(action, points) ORDER BY id)
              FROM registry_humanpointsconfig WHERE active), '[]'::jsonb)
"""


def queue_points(conn: Conn, address: str) -> psycopg.Cursor[Any]:
    """Queue the read (pipeline mode); ``fetch_points`` reads it, even after the unit's pipeline closed."""
    return conn.execute(_POINTS, {"address": address})


def fetch_points(cursor: psycopg.Cursor[Any]) -> PointsFacts:
    row = cursor.fetchone()
    assert row is not None
    groups, eligible, actions = row
    return PointsFacts(
        groups=[(str(a), int(c), int(p), int(m)) for a, c, p, m in groups],
        eligible=bool(eligible),
        active_actions=[(str(a), int(p)) for a, p in actions],
    )

"""The ``points_data`` and ``possible_points_data`` objects of the ceramic-cache score (Human Points).

Built from the grouped rows of ``scorer_core.db.points`` as the reference builds them: the total is not
multiplied, the multiplier is the first group's (1 without groups), a group on a chain also counts under
``<ACTION>_<chain>``, and the possible breakdown lists every active action, HIM included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PointsFacts:
    groups: Sequence[tuple[str, int, int, int]]
    """``(action, chain_id, points, multiplier)`` per (action, chain) of the address, HIM excluded."""
    eligible: bool
    """Whether the address has a qualified-user row in any community."""
    active_actions: Sequence[tuple[str, int]]
    """``(action, points)`` of every active config row."""


def points_objects(facts: PointsFacts) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(points_data, possible_points_data)``, keys in the reference's order."""
    multiplier = facts.groups[0][3] if facts.groups else 1
    breakdown: dict[str, int] = {}
    total = 0
    for action, chain_id, points, _ in facts.groups:
        total += points
        if chain_id:
            breakdown[f"{action}_{chain_id}"] = points
        breakdown[action] = breakdown.get(action, 0) + points
    points_data = {
        "total_points": total,
        "is_eligible": facts.eligible,
        "multiplier": multiplier,
        "breakdown": breakdown,
    }
    possible = {
        "total_points": 0,
        "is_eligible": False,
        "multiplier": multiplier,
        "breakdown": dict(facts.active_actions),
    }
    return points_data, possible

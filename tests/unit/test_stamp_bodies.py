import json
from datetime import datetime, timedelta, timezone

from scorer_core.models import CachedStamp
from scorer_core.responses.points import PointsFacts, points_objects
from scorer_core.responses.stamps import (
    score_body,
    stamps_body,
    stamps_with_score_body,
    stored_score_object,
)

KEYS = [
    "address",
    "score",
    "passing_score",
    "last_score_timestamp",
    "expiration_timestamp",
    "threshold",
    "error",
    "stamps",
    "points_data",
    "possible_points_data",
]


def test_stamp_list_is_compact_in_schema_order() -> None:
    stamps = [CachedStamp(7, "0xab", "Ens", {"b": 1, "a": "é"})]
    assert (
        stamps_body(stamps)
        == '{"success":true,"stamps":[{"id":7,"address":"0xab","provider":"Ens","stamp":{"b":1,"a":"é"}}]}'
    )
    assert stamps_body([]) == '{"success":true,"stamps":[]}'


def test_stored_score_uses_evidence_defaults_and_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    score = stored_score_object(
        "0xab",
        evidence=None,
        last_score_timestamp=datetime(2025, 1, 1, 12, tzinfo=plus2),
        expiration_date=None,
        error="boom",
        stamps=None,
    )
    assert list(score) == KEYS
    assert (
        score["score"] == "0.00000" and score["threshold"] == "20.00000" and score["passing_score"] is False
    )
    assert score["last_score_timestamp"] == "2025-01-01T10:00:00+00:00" and score["stamps"] == {}
    assert score["points_data"] is None and score["possible_points_data"] is None
    pinned = stored_score_object(
        "0xab",
        evidence={"rawScore": 10, "threshold": "5"},
        last_score_timestamp=None,
        expiration_date=None,
        error=None,
        stamps={},
    )
    assert pinned["score"] == "10.00000" and pinned["threshold"] == "5.00000" and pinned["passing_score"]
    body = stamps_with_score_body([], pinned)
    assert list(json.loads(body)) == ["success", "stamps", "score"] and " " not in body
    assert score_body(pinned).startswith('{"address":"0xab","score":"10.00000"')


def test_points_objects() -> None:
    facts = PointsFacts(
        groups=[("PMT", 10, 300, 2), ("PMT", 8453, 300, 2), ("HKY", 0, 300, 2)],
        eligible=True,
        active_actions=[("HKY", 100), ("HIM", 1000)],
    )
    points, possible = points_objects(facts)
    assert points == {
        "total_points": 900,
        "is_eligible": True,
        "multiplier": 2,
        "breakdown": {"PMT_10": 300, "PMT": 600, "PMT_8453": 300, "HKY": 300},
    }
    assert list(possible) == ["total_points", "is_eligible", "multiplier", "breakdown"]
    assert possible == {
        "total_points": 0,
        "is_eligible": False,
        "multiplier": 2,
        "breakdown": {"HKY": 100, "HIM": 1000},
    }
    empty, _ = points_objects(PointsFacts(groups=[], eligible=False, active_actions=[]))
    assert empty == {"total_points": 0, "is_eligible": False, "multiplier": 1, "breakdown": {}}

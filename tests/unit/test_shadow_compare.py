"""The shadow comparison: what counts as a disagreement between the primary's answer and the shadow's."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from scorer_core.shadow.compare import Difference, DifferenceKind, compare_responses

SCORED = {
    "address": "0xdce349908681cfbb9676fed17466e472d3c8c9f8",
    "score": "24.52900",
    "passing_score": True,
    "last_score_timestamp": "2026-11-22T02:04:09.091568+00:00",
    "expiration_timestamp": "2031-03-04T05:06:07.891000+00:00",
    "threshold": "20.00000",
    "error": None,
    "stamps": {
        "Google": {"score": "0.52500", "dedup": False, "expiration_date": "2031-12-31T23:59:59.999000+00:00"},
        "Ens": {"score": "0.20800", "dedup": False, "expiration_date": "2033-01-02T03:04:05+00:00"},
    },
    "points_data": None,
    "possible_points_data": None,
}


def body(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def with_changes(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(doc))
    return copied | changes


def paths(primary: dict[str, Any], shadow: dict[str, Any], status: tuple[int, int] = (200, 200)) -> list[str]:
    result = compare_responses(status[0], body(primary), status[1], body(shadow))
    return [d.path for d in result.differences]


# --- plain cases -------------------------------------------------------------------------------------------


def test_identical_answers_match_with_zero_delta() -> None:
    result = compare_responses(200, body(SCORED), 200, body(SCORED))
    assert result.matches
    assert result.score_delta == Decimal("0")


def test_a_later_scoring_time_is_not_a_difference() -> None:
    shadow = with_changes(SCORED, last_score_timestamp="2026-11-23T10:00:00+00:00")
    assert paths(SCORED, shadow) == []


def test_scored_versus_not_scored_is_a_difference() -> None:
    shadow = with_changes(SCORED, last_score_timestamp=None)
    result = compare_responses(200, body(SCORED), 200, body(shadow))
    assert result.differences == (
        Difference("body.last_score_timestamp", "last_score_timestamp", SCORED["last_score_timestamp"], None),
    )


def test_expiry_in_another_offset_is_the_same_instant() -> None:
    shadow = with_changes(SCORED, expiration_timestamp="2031-03-04T07:06:07.891+02:00")
    shadow["stamps"]["Google"]["expiration_date"] = "2031-12-31T23:59:59.999Z"
    assert paths(SCORED, shadow) == []


def test_expiry_one_millisecond_later_is_a_difference() -> None:
    shadow = with_changes(SCORED)
    shadow["stamps"]["Ens"]["expiration_date"] = "2033-01-02T03:04:05.001+00:00"
    assert paths(SCORED, shadow) == ["body.stamps.Ens.expiration_date"]


def test_naive_or_unparsable_expiry_compares_as_text() -> None:
    primary = with_changes(SCORED, expiration_timestamp="2031-03-04T05:06:07.891000")
    shadow = with_changes(SCORED, expiration_timestamp="2031-03-04T05:06:07.891000+00:00")
    assert paths(primary, shadow) == ["body.expiration_timestamp"]
    assert paths(with_changes(SCORED, expiration_timestamp="soon"), with_changes(SCORED)) == [
        "body.expiration_timestamp"
    ]


def test_other_timestamps_are_not_masked() -> None:
    primary = with_changes(SCORED, error="2031-03-04T05:06:07+00:00")
    shadow = with_changes(SCORED, error="2031-03-04T07:06:07+02:00")
    assert paths(primary, shadow) == ["body.error"]


def test_a_stamp_score_difference_names_its_path_and_values() -> None:
    shadow = with_changes(SCORED, score="24.00400")
    shadow["stamps"]["Google"]["score"] = "0.00000"
    result = compare_responses(200, body(SCORED), 200, body(shadow))
    assert [(d.path, d.field, d.expected, d.actual) for d in result.differences] == [
        ("body.score", "score", "24.52900", "24.00400"),
        ("body.stamps.Google.score", "stamps", "0.52500", "0.00000"),
    ]
    assert result.fields == ("score", "stamps")
    assert result.score_delta == Decimal("0.52500")


def test_missing_and_unexpected_keys_are_told_apart_from_null() -> None:
    shadow = with_changes(SCORED)
    del shadow["stamps"]["Ens"]
    shadow["stamps"]["Lens"] = {"score": "0.23000", "dedup": False, "expiration_date": None}
    result = compare_responses(200, body(SCORED), 200, body(shadow))
    assert [(d.path, d.kind) for d in result.differences] == [
        ("body.stamps.Ens", DifferenceKind.MISSING),
        ("body.stamps.Lens", DifferenceKind.UNEXPECTED),
    ]
    assert result.differences[0].actual is None
    assert result.differences[1].expected is None


def test_status_is_compared_before_the_body() -> None:
    error = {"error": "Invalid API Key."}
    result = compare_responses(200, body(SCORED), 401, json.dumps(error))
    assert result.differences[0] == Difference("status", "status", 200, 401)
    body_differences = {d.path: d.kind for d in result.differences[1:]}
    assert body_differences.pop("body.error") == DifferenceKind.CHANGED
    assert body_differences == {f"body.{key}": DifferenceKind.MISSING for key in SCORED if key != "error"}
    assert result.score_delta is None


def test_key_order_and_separators_do_not_matter() -> None:
    reordered = dict(reversed(list(SCORED.items())))
    assert compare_responses(200, json.dumps(reordered, indent=2), 200, body(SCORED)).matches


def test_numbers_compare_by_value_but_booleans_are_not_numbers() -> None:
    assert compare_responses(200, '{"a":0.525,"b":1}', 200, '{"a":0.5250,"b":1.0}').matches
    assert [d.path for d in compare_responses(200, '{"a":true}', 200, '{"a":1}').differences] == ["body.a"]
    assert [d.path for d in compare_responses(200, '{"a":"1"}', 200, '{"a":1}').differences] == ["body.a"]


def test_arrays_compare_by_position() -> None:
    result = compare_responses(200, '{"a":[1,2,3]}', 200, '{"a":[1,5]}')
    assert [(d.path, d.kind) for d in result.differences] == [
        ("body.a[1]", DifferenceKind.CHANGED),
        ("body.a[2]", DifferenceKind.MISSING),
    ]
    assert result.differences[0].field == "a"


def test_unparsable_bodies_compare_as_text() -> None:
    assert compare_responses(502, "Bad Gateway", 502, "Bad Gateway").matches
    result = compare_responses(502, "Bad Gateway", 200, body(SCORED))
    assert [(d.path, d.expected) for d in result.differences] == [("status", 502), ("body", "Bad Gateway")]
    assert result.score_delta is None


def test_score_delta_needs_two_numeric_scores() -> None:
    assert compare_responses(200, '{"score":"1.5"}', 200, '{"score":"x"}').score_delta is None
    assert compare_responses(200, '{"score":1.5}', 200, '{"score":"1.5"}').score_delta is None
    assert compare_responses(200, '{"score":"NaN"}', 200, '{"score":"1"}').score_delta is None
    assert compare_responses(200, '{"score":"1.0"}', 200, '{"score":"3.25"}').score_delta == Decimal("-2.25")


def test_as_dict_is_json_ready() -> None:
    result = compare_responses(200, '{"a":0.5,"b":{"c":1}}', 200, '{"a":2}')
    dumped = json.loads(json.dumps([d.as_dict() for d in result.differences]))
    assert dumped == [
        {"path": "body.a", "kind": "changed", "expected": 0.5, "actual": 2},
        {"path": "body.b", "kind": "missing", "expected": {"c": 1}, "actual": None},
    ]


# --- properties -------------------------------------------------------------------------------------------

# The masked names are left out: the generic properties are about unmasked fields.
MASKED = {"last_score_timestamp", "expiration_timestamp", "expiration_date"}
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ_0123456789#", min_size=1, max_size=12).filter(
    lambda key: key not in MASKED
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(keys, json_values, max_size=6)
statuses = st.sampled_from([200, 400, 401, 404, 429, 500])


def dumps(doc: Any) -> str:
    return json.dumps(doc)


def leaf_paths(doc: Any, prefix: str = "body") -> list[tuple[str, list[str | int]]]:
    """Every scalar position in a document: its rendered path and the keys to reach it."""
    found: list[tuple[str, list[str | int]]] = []

    def walk(node: Any, rendered: str, trail: list[str | int]) -> None:
        if isinstance(node, dict) and node:
            for key, child in node.items():
                walk(child, f"{rendered}.{key}", [*trail, key])
        elif isinstance(node, list) and node:
            for index, child in enumerate(node):
                walk(child, f"{rendered}[{index}]", [*trail, index])
        else:
            found.append((rendered, trail))

    walk(doc, prefix, [])
    return found


@given(json_objects, statuses)
def test_any_answer_matches_itself(doc: dict[str, Any], status: int) -> None:
    assert compare_responses(status, dumps(doc), status, dumps(doc)).matches


@given(json_objects, json_objects)
def test_differences_are_symmetric(left: dict[str, Any], right: dict[str, Any]) -> None:
    forward = compare_responses(200, dumps(left), 200, dumps(right)).differences
    backward = compare_responses(200, dumps(right), 200, dumps(left)).differences
    swapped = {
        DifferenceKind.CHANGED: DifferenceKind.CHANGED,
        DifferenceKind.MISSING: DifferenceKind.UNEXPECTED,
        DifferenceKind.UNEXPECTED: DifferenceKind.MISSING,
    }
    assert sorted((d.path, swapped[d.kind]) for d in forward) == sorted((d.path, d.kind) for d in backward)


@given(json_objects.filter(bool), st.randoms(use_true_random=False))
def test_changing_one_leaf_reports_exactly_that_path(doc: dict[str, Any], rng: random.Random) -> None:
    rendered, trail = rng.choice(leaf_paths(doc))
    changed = json.loads(dumps(doc))
    node = changed
    for step in trail[:-1]:
        node = node[step]
    # A scalar leaf becomes an array and an empty container a string: a different type, so always a change.
    node[trail[-1]] = "changed" if isinstance(node[trail[-1]], dict | list) else ["changed"]
    result = compare_responses(200, dumps(doc), 200, dumps(changed))
    assert [d.path for d in result.differences] == [rendered]


@given(json_objects)
def test_key_order_never_matters(doc: dict[str, Any]) -> None:
    shuffled = dict(reversed(list(doc.items())))
    assert compare_responses(200, dumps(doc), 200, json.dumps(shuffled, indent=1)).matches


# Millisecond precision, as credentials carry it, so the millisecond rendering below loses nothing.
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(instants, offsets, offsets)
def test_expiry_instants_compare_across_offsets(instant: datetime, first: tzinfo, second: tzinfo) -> None:
    primary = with_changes(SCORED, expiration_timestamp=instant.astimezone(first).isoformat())
    shadow = with_changes(SCORED, expiration_timestamp=instant.astimezone(second).isoformat())
    primary["stamps"]["Google"]["expiration_date"] = instant.astimezone(second).isoformat()
    shadow["stamps"]["Google"]["expiration_date"] = instant.astimezone(first).isoformat(
        timespec="milliseconds"
    )
    assert paths(primary, shadow) == []


@given(instants, st.integers(min_value=1, max_value=10**9), offsets)
def test_different_instants_always_differ(instant: datetime, micros: int, offset: tzinfo) -> None:
    later = instant + timedelta(microseconds=micros)
    primary = with_changes(SCORED, expiration_timestamp=instant.isoformat())
    shadow = with_changes(SCORED, expiration_timestamp=later.astimezone(offset).isoformat())
    assert paths(primary, shadow) == ["body.expiration_timestamp"]


@given(st.one_of(st.none(), st.text(max_size=30)), st.one_of(st.none(), st.text(max_size=30)))
def test_last_score_timestamp_only_null_matters(primary_value: str | None, shadow_value: str | None) -> None:
    primary = with_changes(SCORED, last_score_timestamp=primary_value)
    shadow = with_changes(SCORED, last_score_timestamp=shadow_value)
    expected = [] if (primary_value is None) == (shadow_value is None) else ["body.last_score_timestamp"]
    assert paths(primary, shadow) == expected


scores = st.decimals(min_value=0, max_value=10**6, places=5, allow_nan=False, allow_infinity=False)


@given(scores, scores)
def test_score_delta_is_primary_minus_shadow(primary_score: Decimal, shadow_score: Decimal) -> None:
    primary = with_changes(SCORED, score=format(primary_score, ".5f"))
    shadow = with_changes(SCORED, score=format(shadow_score, ".5f"))
    result = compare_responses(200, body(primary), 200, body(shadow))
    assert result.score_delta == primary_score - shadow_score
    assert result.matches == (primary_score == shadow_score)

"""Compare the primary's answer with the shadow's, ignoring what legitimately differs between two runs.

Pure: no AWS, no database. Two answers to the same request are never byte-identical (the score is stamped
with "now"), so a byte comparison would report every request; this one reports what a client could notice.
Key order and separators are the parity checker's business, not the shadow's, so they are ignored here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

# A path inside the body: object keys (str) and array indexes (int).
Segments = tuple[str | int, ...]

# Patterns over body paths; "*" matches any one key or index. The embed and ceramic-cache stamp routes nest
# the score under "score" and list cached rows under "stamps": a row the request writes gets a new id on
# every run (the primary's own row is soft-deleted by the shadow's replay), so only its presence counts.
_PRESENCE_ONLY: tuple[Segments, ...] = (
    ("last_score_timestamp",),
    ("score", "last_score_timestamp"),
    ("stamps", "*", "id"),
)
_INSTANTS: tuple[Segments, ...] = (
    ("expiration_timestamp",),
    ("stamps", "*", "expiration_date"),
    ("score", "expiration_timestamp"),
    ("score", "stamps", "*", "expiration_date"),
)


class DifferenceKind(StrEnum):
    """How a value differs; `missing`/`unexpected` name the side lacking the key, as JSON null is a value."""

    CHANGED = "changed"
    MISSING = "missing"  # in the primary's answer, not in the shadow's
    UNEXPECTED = "unexpected"  # in the shadow's answer, not in the primary's


@dataclass(frozen=True)
class Difference:
    """One disagreement: `expected` is the primary's value, `actual` the shadow's (None when absent)."""

    path: str
    field: str  # the top-level field (`status`, `body`, or a body key): a low-cardinality metric name
    expected: Any
    actual: Any
    kind: DifferenceKind = DifferenceKind.CHANGED

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for logs and reports (Decimals become their exact text)."""
        return {
            "path": self.path,
            "kind": self.kind.value,
            "expected": _jsonable(self.expected),
            "actual": _jsonable(self.actual),
        }


@dataclass(frozen=True)
class Comparison:
    """One request's outcome: its differences, and the score delta (primary − shadow) when both scored."""

    differences: tuple[Difference, ...]
    score_delta: Decimal | None

    @property
    def matches(self) -> bool:
        return not self.differences

    @property
    def fields(self) -> tuple[str, ...]:
        """Distinct top-level fields that differ, in first-seen order."""
        return tuple(dict.fromkeys(d.field for d in self.differences))


def compare_responses(
    primary_status: int, primary_body: str, shadow_status: int, shadow_body: str
) -> Comparison:
    """Compare status, then body field by field; bodies that are not JSON compare as text."""
    differences: list[Difference] = []
    if primary_status != shadow_status:
        differences.append(Difference("status", "status", primary_status, shadow_status))
    primary_doc, primary_ok = _parse(primary_body)
    shadow_doc, shadow_ok = _parse(shadow_body)
    if primary_ok and shadow_ok:
        differences.extend(_diff(primary_doc, shadow_doc, ()))
        delta = score_delta(primary_doc, shadow_doc)
    else:
        if primary_body != shadow_body:
            differences.append(Difference("body", "body", primary_body, shadow_body))
        delta = None
    return Comparison(tuple(differences), delta)


def score_delta(primary_doc: Any, shadow_doc: Any) -> Decimal | None:
    """Primary score minus shadow score, when both bodies carry a numeric `score` string (or a `score` object
    with one, as the embed and ceramic-cache stamp routes answer)."""
    primary_score, shadow_score = _score_of(primary_doc), _score_of(shadow_doc)
    if primary_score is None or shadow_score is None:
        return None
    return primary_score - shadow_score


def _score_of(doc: Any) -> Decimal | None:
    score = doc.get("score") if isinstance(doc, dict) else None
    if isinstance(score, dict):
        score = score.get("score")
    return _decimal(score)


def _parse(body: str) -> tuple[Any, bool]:
    # Decimal keeps "0.5250" and "0.525" equal and avoids float rounding in comparisons.
    try:
        return json.loads(body, parse_float=Decimal), True
    except (TypeError, ValueError):
        return None, False


def _diff(expected: Any, actual: Any, path: Segments) -> Iterator[Difference]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        yield from _diff_objects(expected, actual, path)
    elif isinstance(expected, list) and isinstance(actual, list):
        yield from _diff_arrays(expected, actual, path)
    elif not _equal_leaf(expected, actual, path):
        yield _difference(path, expected, actual)


def _diff_objects(
    expected: Mapping[str, Any], actual: Mapping[str, Any], path: Segments
) -> Iterator[Difference]:
    for key, value in expected.items():
        if key in actual:
            yield from _diff(value, actual[key], (*path, key))
        else:
            yield _difference((*path, key), value, None, DifferenceKind.MISSING)
    for key, value in actual.items():
        if key not in expected:
            yield _difference((*path, key), None, value, DifferenceKind.UNEXPECTED)


def _diff_arrays(expected: list[Any], actual: list[Any], path: Segments) -> Iterator[Difference]:
    for index, (left, right) in enumerate(zip(expected, actual, strict=False)):
        yield from _diff(left, right, (*path, index))
    for index in range(len(actual), len(expected)):
        yield _difference((*path, index), expected[index], None, DifferenceKind.MISSING)
    for index in range(len(expected), len(actual)):
        yield _difference((*path, index), None, actual[index], DifferenceKind.UNEXPECTED)


def _equal_leaf(expected: Any, actual: Any, path: Segments) -> bool:
    if _matches_any(path, _PRESENCE_ONLY):
        # The time of scoring differs on every run; only "scored" versus "not scored" is meaningful.
        return (expected is None) == (actual is None)
    if _matches_any(path, _INSTANTS) and isinstance(expected, str) and isinstance(actual, str):
        left, right = _instant(expected), _instant(actual)
        if left is not None and right is not None:
            return left == right
    return _equal_scalar(expected, actual)


def _equal_scalar(expected: Any, actual: Any) -> bool:
    # In Python True == 1, but in JSON a boolean is never a number.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    numeric = (int, Decimal)
    if isinstance(expected, numeric) and isinstance(actual, numeric):
        return Decimal(expected) == Decimal(actual)
    return type(expected) is type(actual) and bool(expected == actual)


def _matches_any(path: Segments, patterns: tuple[Segments, ...]) -> bool:
    return any(
        len(path) == len(pattern) and all(p == "*" or p == s for p, s in zip(pattern, path, strict=True))
        for pattern in patterns
    )


def _instant(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A naive time is not an instant; treat it as text so it never equals an aware one by accident.
    return value if value.tzinfo is not None else None


def _decimal(value: Any) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _difference(
    path: Segments, expected: Any, actual: Any, kind: DifferenceKind = DifferenceKind.CHANGED
) -> Difference:
    text = "body" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)
    field = "body" if not path or isinstance(path[0], int) else path[0]
    return Difference(text, field, expected, actual, kind)


def _jsonable(value: Any) -> Any:
    # Logs want numbers to look like numbers; the last digit of a float is irrelevant there.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value

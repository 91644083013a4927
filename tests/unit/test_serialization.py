import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from scorer_core.models import ScoreResult
from scorer_core.responses.serialization import django_datetime, error_body, score_body, score_event_data


def test_django_datetime_formats() -> None:
    assert (
        django_datetime(datetime(2025, 10, 17, 13, 45, 12, 345678, tzinfo=UTC)) == "2025-10-17T13:45:12.345Z"
    )
    assert django_datetime(datetime(2025, 12, 1, 10, tzinfo=UTC)) == "2025-12-01T10:00:00Z"
    plus2 = timezone(timedelta(hours=2))
    assert (
        django_datetime(datetime(2025, 12, 1, 10, 0, 0, 123000, tzinfo=plus2))
        == "2025-12-01T10:00:00.123+02:00"
    )


def result(raw: str = "0.7330000000000000126565424807", threshold: str = "20.00000") -> ScoreResult:
    return ScoreResult(
        score=Decimal(0),
        evidence={"type": "ThresholdScoreCheck", "success": False, "rawScore": raw, "threshold": threshold},
        stamp_scores={"Ens": 0.208},
        stamps={"Ens": {"score": "0.20800", "dedup": False, "expiration_date": "2025-12-01T10:00:00+00:00"}},
        expiration_date=datetime.fromisoformat("2025-12-01T10:00:00.000Z"),
        last_score_timestamp=datetime(2025, 10, 17, 13, 45, 12, 345678, tzinfo=UTC),
    )


def test_success_body_is_compact_and_ordered() -> None:
    body = score_body("0xabc", result(), None)
    assert body.startswith('{"address":"0xabc","score":"0.73300","passing_score":false,')
    parsed = json.loads(body)
    assert list(parsed) == [
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
    assert parsed["expiration_timestamp"] == "2025-12-01T10:00:00+00:00"
    assert parsed["last_score_timestamp"] == "2025-10-17T13:45:12.345678+00:00"


def test_error_score_body_uses_defaults() -> None:
    parsed = json.loads(score_body("0xabc", None, "'expirationDate'"))
    assert parsed["score"] == "0.00000" and parsed["threshold"] == "20.00000"
    assert parsed["passing_score"] is False and parsed["stamps"] == {}
    assert parsed["last_score_timestamp"] is None and parsed["error"] == "'expirationDate'"


def test_equal_to_threshold_passes() -> None:
    assert json.loads(score_body("0x", result("20", "20.00000"), None))["passing_score"] is True


def test_error_body_has_default_separators() -> None:
    assert error_body("Invalid address.") == '{"error": "Invalid address."}'


def test_score_event_is_an_object_with_django_formats() -> None:
    data = score_event_data(42, 17, result())
    assert data["model"] == "registry.score" and data["pk"] == 42
    assert data["fields"]["passport"] == 17
    assert data["fields"]["score"] == "0"
    assert data["fields"]["last_score_timestamp"] == "2025-10-17T13:45:12.345Z"
    assert data["fields"]["expiration_date"] == "2025-12-01T10:00:00Z"

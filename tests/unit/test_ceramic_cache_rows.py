from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorer_core.cache_rows import (
    MAX_BULK_CACHE_SIZE,
    SOURCE_APP_PASSPORT,
    InvalidCacheItem,
    TooManyStamps,
    check_bulk_size,
    duplicate_providers,
    parse_django_datetime,
    plan_rows,
)


def stamp(**extra: Any) -> dict[str, Any]:
    return {"proof": {"proofValue": "0xabc"}, **extra}


def test_row_columns_follow_the_payload() -> None:
    (row,) = plan_rows(
        [("Google", stamp(issuanceDate="2025-09-01T10:11:12.345Z", expirationDate="2031-03-04"))],
        source_app=SOURCE_APP_PASSPORT,
        source_scorer_id=None,
    )
    assert row.provider == "Google" and row.proof_value == "0xabc"
    assert row.issuance_date == datetime(2025, 9, 1, 10, 11, 12, 345000, tzinfo=UTC)
    assert row.expiration_date == datetime(2031, 3, 4, tzinfo=UTC)
    assert row.source_app == 1 and row.source_scorer_id is None


def test_missing_dates_are_null_and_proof_values_become_text() -> None:
    (row,) = plan_rows(
        [("X", {"proof": {"proofValue": 12}, "issuanceDate": None})], source_app=None, source_scorer_id=5
    )
    assert row.issuance_date is None and row.expiration_date is None
    assert row.proof_value == "12" and row.source_scorer_id == 5
    (null_proof,) = plan_rows(
        [("X", {"proof": {"proofValue": None}})], source_app=None, source_scorer_id=None
    )
    assert null_proof.proof_value is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "proof"),
        ({"proof": {}}, "proofValue"),
        (None, "'NoneType' object is not subscriptable"),
        ([1], "list indices must be integers or slices, not str"),
    ],
)
def test_items_without_a_proof_fail_with_the_python_error(value: Any, message: str) -> None:
    with pytest.raises(InvalidCacheItem) as info:
        plan_rows([("X", value)], source_app=None, source_scorer_id=None)
    assert info.value.message == message and not info.value.invalid_date


def test_a_missing_proof_anywhere_wins_over_an_earlier_bad_date() -> None:
    with pytest.raises(InvalidCacheItem) as info:
        plan_rows([("A", stamp(expirationDate="soon")), ("B", {})], source_app=None, source_scorer_id=None)
    assert info.value.message == "proof"


def test_expiration_is_parsed_before_issuance() -> None:
    with pytest.raises(InvalidCacheItem) as info:
        plan_rows(
            [("A", stamp(issuanceDate="soon", expirationDate=5))], source_app=None, source_scorer_id=None
        )
    assert info.value.message == "fromisoformat: argument must be str"


def test_unparsable_dates_are_flagged() -> None:
    with pytest.raises(InvalidCacheItem) as info:
        parse_django_datetime("soon")
    assert info.value.invalid_date and info.value.message == "An error has occurred"
    with pytest.raises(InvalidCacheItem) as month:
        parse_django_datetime("2025-13-01T00:00:00")
    assert month.value.invalid_date


def test_django_fallback_formats() -> None:
    # Django's own pattern accepts one-digit fields and a comma before the fraction.
    assert parse_django_datetime("2025-9-1T1:2:3,5+0130") == datetime(
        2025, 9, 1, 1, 2, 3, 500000, tzinfo=timezone(timedelta(minutes=90))
    )
    assert parse_django_datetime("2025-9-1 01:02") == datetime(2025, 9, 1, 1, 2, tzinfo=UTC)
    assert parse_django_datetime("2025-9-1") == datetime(2025, 9, 1, tzinfo=UTC)


@given(st.datetimes(timezones=st.just(UTC)))
def test_iso_round_trip(value: datetime) -> None:
    assert parse_django_datetime(value.isoformat()) == value


def test_bulk_limit() -> None:
    check_bulk_size(MAX_BULK_CACHE_SIZE)
    with pytest.raises(TooManyStamps) as info:
        check_bulk_size(MAX_BULK_CACHE_SIZE + 1)
    assert info.value.status == 422 and info.value.message == "You have submitted too many stamps."


def test_duplicates() -> None:
    assert duplicate_providers(["A", "B", "A"]) and not duplicate_providers(["A", "B"])


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=20))
def test_rows_keep_payload_order_and_values(pairs: list[tuple[str, str]]) -> None:
    rows = plan_rows(
        [
            (provider, stamp(proofValue_=proof) | {"proof": {"proofValue": proof}})
            for provider, proof in pairs
        ],
        source_app=None,
        source_scorer_id=None,
    )
    assert [(r.provider, r.proof_value) for r in rows] == pairs


def test_bulk_items() -> None:
    from scorer_core.ceramic_cache.request import bulk_items

    items = bulk_items(
        [{"provider": "A", "stamp": 1, "address": None, "extra": 2}, {"provider": "B"}], with_stamp=True
    )
    assert [(i.provider, i.stamp) for i in items] == [("A", 1), ("B", None)]
    assert bulk_items({}, with_stamp=True) == []
    assert bulk_items([{"provider": "A", "stamp": 1}], with_stamp=False)[0].stamp is None
    for bad in ([{"provider": 1}], [{}], [{"provider": "A", "address": 5}], ["A"], {"A": 1}):
        with pytest.raises((ValueError, TypeError)):
            bulk_items(bad, with_stamp=True)

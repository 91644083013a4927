import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from scorer_core.models import Community, Stamp
from scorer_core.pipeline.scoring import compute, effective_weights

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def stamp(provider: str, expires: str = "2031-03-04T05:06:07.891Z") -> Stamp:
    return Stamp(provider, {"expirationDate": expires, "credentialSubject": {"provider": provider}})


def community(weights: object, custom: tuple[tuple[str, str], ...] | None = None) -> Community:
    return Community(
        id=1,
        external_scorer_id=None,
        rule="LIFO",
        human_points_program=False,
        scorer_id=1,
        scorer_type="WEIGHTED_BINARY",
        has_weighted_row=False,
        has_binary_row=True,
        weights=None if weights is None else json.dumps(weights),  # the column comes as JSON text
        threshold=Decimal("20.00000"),
        has_customization=custom is not None,
        custom_weights=custom or (),
    )


def test_float_weights_sum_exactly_as_the_reference() -> None:
    result = compute([stamp("Ens"), stamp("Google")], {}, {"Ens": 0.208, "Google": 0.525}, Decimal("20"), NOW)
    assert result.evidence["rawScore"] == "0.7330000000000000126565424807"
    assert result.stamp_scores == {"Ens": 0.208, "Google": 0.525}
    assert result.stamps["Google"]["score"] == "0.52500"
    assert result.score == Decimal(0)


def test_string_weights_sum_exactly() -> None:
    result = compute(
        [stamp("Ens"), stamp("Google")], {}, {"Ens": "0.208", "Google": "0.525"}, Decimal("20"), NOW
    )
    assert result.evidence["rawScore"] == "0.733"


def test_threshold_equality_passes_and_zero_stamps() -> None:
    assert compute([stamp("A")], {}, {"A": 20}, Decimal("20.00000"), NOW).score == Decimal(1)
    empty = compute([], {}, None, Decimal("0"), NOW)
    assert empty.score == Decimal(1) and empty.evidence["rawScore"] == "0" and empty.expiration_date is None


def test_unweighted_provider_is_listed_and_counts_for_expiry() -> None:
    result = compute([stamp("X", "2030-01-01T00:00:00Z"), stamp("A")], {}, {"A": 1}, Decimal("20"), NOW)
    assert result.stamps["X"]["score"] == "0.00000"
    assert result.expiration_date == datetime(2030, 1, 1, tzinfo=UTC)


def test_expiry_offset_is_preserved_and_fraction_dropped_when_zero() -> None:
    result = compute([stamp("A", "2025-12-01T10:00:00.000+02:00")], {}, {"A": 1}, Decimal("20"), NOW)
    assert result.stamps["A"]["expiration_date"] == "2025-12-01T10:00:00+02:00"


def test_deduplicated_stamps_follow_with_raw_expiry() -> None:
    clash = stamp("Ens", "2031-01-01T00:00:00.000Z")
    result = compute([stamp("Google")], {"Ens": clash}, {"Google": 1}, Decimal("20"), NOW)
    assert list(result.stamps) == ["Google", "Ens"]
    assert result.stamps["Ens"] == {
        "score": "0.00000",
        "dedup": True,
        "expiration_date": "2031-01-01T00:00:00.000Z",
    }


def test_customization_overrides_and_none_weights_errors() -> None:
    weights = effective_weights(community({"A": 1.0}, (("AllowList#Foo", "1.5000"),)))
    assert weights == {"A": 1.0, "AllowList#Foo": "1.5000"}
    result = compute([stamp("AllowList#Foo")], {}, weights, Decimal("20"), NOW)
    assert result.stamps["AllowList#Foo"]["score"] == "1.50000"
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'update'"):
        effective_weights(community(None, ()))
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'get'"):
        compute([stamp("A")], {}, None, Decimal("20"), NOW)

import pytest

from scorer_core.pipeline.address import is_valid_address
from scorer_core.pipeline.community import as_community_id
from scorer_core.pipeline.credentials import latest_per_provider
from scorer_core.v2.request import (
    demo_scorer_substitute,
    parse_body,
    path_arguments,
)


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("0x" + "a" * 40, True),
        ("a" * 40, True),
        ("0x" + "a" * 39, False),
        ("0x123", False),
        ("0x" + "g" * 40, False),
        ("", False),
    ],
)
def test_address_rule(address: str, valid: bool) -> None:
    assert is_valid_address(address) is valid


def test_path_arguments_take_segments_literally() -> None:
    assert path_arguments("/v2/stamps/5/score/0xabc") == ("5", "0xabc")
    assert path_arguments("/v2/stamps/5/score/0xabc/") == ("score", "")


def test_negative_scorer_ids_mean_the_demo_scorer() -> None:
    assert demo_scorer_substitute("-1", "5") == "5"
    assert demo_scorer_substitute(" -1_0", "5") == "5"
    assert demo_scorer_substitute("-1", None) is None
    assert demo_scorer_substitute("abc", "5") == "abc"
    assert as_community_id("+12") == 12 and as_community_id("abc") is None
    assert as_community_id(str(2**63)) is None


def test_body_parsing() -> None:
    assert parse_body(None, False) == {}
    assert parse_body('{"a": 1}', False) == {"a": 1}
    assert parse_body("eyJhIjogMX0=", True) == {"a": 1}
    with pytest.raises(ValueError):
        parse_body("{not json", False)


def test_latest_row_per_provider_breaks_ties_by_greater_id() -> None:
    from datetime import UTC, datetime

    t1, t2 = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    rows = [(1, "A", "a-old", t1), (2, "B", "b", t1), (3, "A", "a-new", t2), (4, "B", "b-tie", t1)]
    stamps = latest_per_provider(rows)
    assert [(s.provider, s.credential) for s in stamps] == [("A", "a-new"), ("B", "b-tie")]

from datetime import UTC, datetime, timedelta

import pytest

from scorer_core.models import HashLink, Stamp
from scorer_core.pipeline.lifo import all_nullifiers, nullifiers, plan

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ME, OTHER = "0xme", "0xother"
EXP = "2031-03-04T05:06:07.891Z"


def stamp(provider: str, *values: str, expires: str = EXP, hash_: str | None = None) -> Stamp:
    subject: dict[str, object] = {"provider": provider, "nullifiers": list(values)}
    if hash_ is not None:
        subject["hash"] = hash_
    return Stamp(provider, {"expirationDate": expires, "credentialSubject": subject})


def link(id_: int, value: str, address: str, expires: datetime) -> HashLink:
    return HashLink(id_, value, address, expires)


def test_flag_off_keeps_only_v0_and_hash_wins() -> None:
    assert nullifiers(stamp("A", "v0.0.0:a", "v1:b").credential, False) == ["v0.0.0:a"]
    assert nullifiers(stamp("A", "v0.0.0:a", "v1:b").credential, True) == ["v0.0.0:a", "v1:b"]
    assert nullifiers(stamp("A", "v0:a", hash_="h").credential, True) == ["h"]
    with pytest.raises(AttributeError):
        nullifiers({"credentialSubject": {"nullifiers": [1]}}, False)


def test_new_nullifiers_are_created_for_this_address() -> None:
    result = plan([stamp("A", "v0:a")], [], ME, NOW, False)
    assert [s.provider for s in result.kept] == ["A"]
    assert [(n.hash, n.address) for n in result.create] == [("v0:a", ME)]
    assert result.create[0].expires_at == datetime.fromisoformat(EXP)


def test_clash_with_unexpired_other_dedups_and_changes_nothing() -> None:
    result = plan([stamp("A", "v0:a")], [link(1, "v0:a", OTHER, NOW + timedelta(days=1))], ME, NOW, False)
    assert result.kept == [] and list(result.clashing) == ["A"]
    assert result.create == [] and result.update == []


def test_expired_other_link_is_taken_over_and_own_link_refreshed() -> None:
    links = [link(1, "v0:a", OTHER, NOW), link(2, "v0:b", ME, NOW - timedelta(days=400))]
    result = plan([stamp("A", "v0:a"), stamp("B", "v0:b")], links, ME, NOW, False)
    assert [s.provider for s in result.kept] == ["A", "B"]
    assert [(u.id, u.address, u.seen_address) for u in result.update] == [(1, ME, OTHER), (2, ME, ME)]


def test_partial_clash_backfills_under_the_holder() -> None:
    holder_expiry = NOW + timedelta(days=10)
    result = plan([stamp("A", "v0:a", "v0:b")], [link(1, "v0:a", OTHER, holder_expiry)], ME, NOW, False)
    assert result.kept == []
    assert [(n.hash, n.address, n.expires_at) for n in result.create] == [("v0:b", OTHER, holder_expiry)]


def test_backfill_leaves_existing_links_alone() -> None:
    links = [link(1, "v0:a", OTHER, NOW + timedelta(days=1)), link(2, "v0:b", ME, NOW + timedelta(days=1))]
    result = plan([stamp("A", "v0:a", "v0:b")], links, ME, NOW, False)
    assert result.create == [] and result.update == [] and list(result.clashing) == ["A"]


def test_shared_nullifier_in_one_passport_gets_one_link_first_stamp_wins() -> None:
    result = plan(
        [stamp("Google", "v0:x", expires="2031-01-01T00:00:00Z"), stamp("Ens", "v0:x")], [], ME, NOW, False
    )
    assert [s.provider for s in result.kept] == ["Google", "Ens"]
    assert len(result.create) == 1 and result.create[0].expires_at == datetime(2031, 1, 1, tzinfo=UTC)


def test_a_backfilled_nullifier_makes_later_stamps_clash() -> None:
    links = [link(1, "v0:a", OTHER, NOW + timedelta(days=1))]
    result = plan([stamp("A", "v0:a", "v0:b"), stamp("B", "v0:b")], links, ME, NOW, False)
    assert result.kept == [] and list(result.clashing) == ["A", "B"]


def test_all_nullifiers_concatenates_with_duplicates() -> None:
    assert all_nullifiers([stamp("A", "v0:a"), stamp("B", "v0:a", "v1:z")], True) == ["v0:a", "v0:a", "v1:z"]


def test_an_own_link_that_already_has_this_expiry_is_left_alone() -> None:
    expires = datetime.fromisoformat(EXP)
    result = plan([stamp("A", "v0:a")], [link(1, "v0:a", ME, expires)], ME, NOW, False)
    assert [s.provider for s in result.kept] == ["A"]
    assert result.create == [] and result.update == []

"""The test-credential tool issues credentials that DIDKit accepts, shaped like the recorded ones."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tools import credentials
from tools.credentials import issue_stamp, issuer_key, tampered, with_field, without_field

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "parity" / "fixtures.json"
ADDRESS = "0x5f2d9a3c1b7e4f60a8d9c2b1e3f4a5b6c7d8e9f0"
EXPIRATION = "2031-03-04T05:06:07.891Z"


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test starts from an empty credential cache, so none depends on earlier runs."""
    cache = tmp_path / "credential-cache"
    monkeypatch.setenv(credentials.CACHE_ENV, str(cache))
    return cache


def didkit_errors(vc: dict[str, Any]) -> list[str]:
    """Verify exactly the way the service does."""
    import didkit

    async def run() -> str:
        result: str = await didkit.verify_credential(json.dumps(vc), '{"proofPurpose":"assertionMethod"}')
        return result

    credentials.guard_didkit_exit()
    errors: list[str] = json.loads(asyncio.run(run()))["errors"]
    return errors


def fixture_stamps() -> list[dict[str, Any]]:
    if not FIXTURES.exists():
        pytest.skip("parity fixtures not present next to the project")
    scenarios = json.loads(FIXTURES.read_text())["scenarios"]
    rows = scenarios["all_valid_above_threshold"]["rows"] + scenarios["human_points_community"]["rows"]
    return [row["row"]["stamp"] for row in rows if row["table"] == "ceramic_cache_ceramiccache"]


def test_issued_credential_verifies() -> None:
    vc = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION)

    assert didkit_errors(vc) == []
    assert vc["issuer"] == issuer_key().did
    assert vc["credentialSubject"]["id"] == f"did:pkh:eip155:1:{ADDRESS}"
    assert vc["credentialSubject"]["nullifiers"] == [credentials.default_nullifier("Google", ADDRESS)]


def test_tampered_credential_fails_only_its_proof() -> None:
    vc = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION)

    broken = tampered(vc)

    assert didkit_errors(broken) != []
    assert {k: v for k, v in broken.items() if k != "issuanceDate"} == {
        k: v for k, v in vc.items() if k != "issuanceDate"
    }
    assert broken["issuanceDate"] == "2025-09-01T10:11:12.346Z"


def test_legacy_hash_credential_verifies_and_has_no_nullifiers() -> None:
    vc = issue_stamp(ADDRESS, "Ens", expiration=EXPIRATION, hash="v0.0.0:legacyhash=")

    assert didkit_errors(vc) == []
    subject = vc["credentialSubject"]
    assert subject["hash"] == "v0.0.0:legacyhash="
    assert "nullifiers" not in subject
    assert "NullifiersContext" not in vc["proof"]["eip712Domain"]["types"]


def test_several_nullifiers_and_another_subject_verify() -> None:
    other = "did:pkh:eip155:1:0x0000000000000000000000000000000000000001"
    vc = issue_stamp(
        ADDRESS, "Discord", expiration=EXPIRATION, nullifiers=["v0.0.0:a", "v1:b"], subject_did=other
    )

    assert didkit_errors(vc) == []
    assert vc["credentialSubject"]["nullifiers"] == ["v0.0.0:a", "v1:b"]
    assert vc["credentialSubject"]["id"] == other


def test_extra_subject_fields_are_typed_so_the_proof_holds() -> None:
    vc = issue_stamp(ADDRESS, "NFT", expiration=EXPIRATION, extra_subject={"note": "x", "tags": ["a"]})

    assert didkit_errors(vc) == []
    assert vc["credentialSubject"]["note"] == "x"
    with pytest.raises(TypeError):
        issue_stamp(ADDRESS, "NFT", expiration=EXPIRATION, extra_subject={"count": 3})


def test_second_issuer_has_its_own_did() -> None:
    vc = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION, issuer=issuer_key(2))

    assert didkit_errors(vc) == []
    assert vc["issuer"] == issuer_key(2).did != issuer_key(1).did


def test_issuer_key_is_deterministic() -> None:
    first = issuer_key(7)
    issuer_key.cache_clear()

    again = issuer_key(7)

    assert again == first
    assert re.fullmatch(r"did:ethr:0x[0-9a-f]{40}", again.did)
    assert again.verification_method == f"{again.did}#controller"


def test_issued_credentials_are_cached_by_their_inputs(empty_cache: Path) -> None:
    first = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION)
    again = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION)
    other = issue_stamp(ADDRESS, "Google", expiration="2032-01-01T00:00:00.000Z")

    assert again == first
    assert other["proof"]["proofValue"] != first["proof"]["proofValue"]
    assert len(list(empty_cache.glob("*.json"))) == 2


def test_field_helpers_copy_instead_of_mutating() -> None:
    vc = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION)

    without_expiry = without_field(vc, "expirationDate")
    without_subject_id = without_field(vc, "credentialSubject.id")
    renamed = with_field(vc, "credentialSubject.provider", "Ens")

    assert "expirationDate" not in without_expiry
    assert "id" not in without_subject_id["credentialSubject"]
    assert renamed["credentialSubject"]["provider"] == "Ens"
    assert vc["expirationDate"] == EXPIRATION
    assert vc["credentialSubject"]["provider"] == "Google"
    assert didkit_errors(renamed) != []


def test_recorded_fixture_credentials_verify() -> None:
    stamps = fixture_stamps()

    assert stamps
    for stamp in stamps:
        assert didkit_errors(stamp) == [], stamp["credentialSubject"]["provider"]


@pytest.mark.parametrize("flavour", ["nullifiers", "hash"])
def test_shape_matches_the_recorded_credentials(flavour: str) -> None:
    recorded = next(s for s in fixture_stamps() if flavour in s["credentialSubject"])
    subject_value: dict[str, Any] = (
        {"hash": "v0.0.0:x="} if flavour == "hash" else {"nullifiers": ["v0.0.0:x="]}
    )

    vc = issue_stamp(ADDRESS, "Google", expiration=EXPIRATION, **subject_value)

    assert list(vc) == list(recorded)
    assert vc["@context"] == recorded["@context"]
    assert vc["type"] == recorded["type"]
    assert set(vc["credentialSubject"]) == set(recorded["credentialSubject"])
    assert vc["credentialSubject"]["@context"] == recorded["credentialSubject"]["@context"]
    assert list(vc["proof"]) == list(recorded["proof"])
    assert vc["proof"]["eip712Domain"] == recorded["proof"]["eip712Domain"]
    assert vc["proof"]["created"] == recorded["proof"]["created"]
    assert vc["issuanceDate"] == recorded["issuanceDate"]
    assert vc["expirationDate"] == recorded["expirationDate"]

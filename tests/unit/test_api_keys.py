from datetime import UTC, datetime, timedelta

import pytest

from scorer_core.auth.api_keys import (
    StoredApiKey,
    check_pbkdf2_sha256,
    is_usable,
    key_prefix,
    presented_key,
    resolve_demo_alias,
    sha256_digest,
    verify,
)

KEY = "abcd1234.secretpartofthekey123"
PBKDF2 = "pbkdf2_sha256$1000$testsalt1234567890abcd$d2M8R0+rM0uDH5wqy3zzbhXVni1NMLM7a2Bov+Q6Bkw="
DIGEST = "sha256$85053805a955f5488539bb622a2d9f71ca92c0d6435c63f322c2d653f3801538"


def stored(hashed_key: str = PBKDF2, sha: str | None = None, **kw) -> StoredApiKey:
    values = dict(
        id="abcd1234." + hashed_key,
        account_id=1,
        hashed_key=hashed_key,
        hashed_key_sha256=sha,
        rate_limit="125/15m",
        revoked=False,
        expiry_date=None,
    )
    values.update(kw)
    return StoredApiKey(**values)  # type: ignore[arg-type]


def test_sha256_digest_matches_the_reference_vector() -> None:
    assert sha256_digest(KEY) == DIGEST


def test_pbkdf2_only_key_verifies_and_needs_migration() -> None:
    result = verify(KEY, stored())
    assert result.valid and result.needs_migration


def test_wrong_secret_fails_pbkdf2() -> None:
    assert not verify(KEY + "x", stored()).valid


def test_present_sha256_is_final_even_when_pbkdf2_would_match() -> None:
    result = verify(KEY, stored(sha=sha256_digest("other.key")))
    assert not result.valid and not result.needs_migration


def test_empty_sha256_counts_as_absent() -> None:
    assert verify(KEY, stored(sha="")).needs_migration


def test_sha256_in_hashed_key_needs_no_migration() -> None:
    result = verify(KEY, stored(hashed_key=DIGEST))
    assert result.valid and not result.needs_migration


@pytest.mark.parametrize("hashed", ["pbkdf2_sha1$1$salt$x", "argon2$x", "sha512$$x", "!"])
def test_other_hash_formats_never_verify(hashed: str) -> None:
    assert not verify(KEY, stored(hashed_key=hashed)).valid


@pytest.mark.parametrize(
    "hashed", ["pbkdf2_sha256$1000$salt", "pbkdf2_sha256$abc$salt$x", "pbkdf2_sha256$1000$$x"]
)
def test_malformed_pbkdf2_raises(hashed: str) -> None:
    with pytest.raises(ValueError):
        check_pbkdf2_sha256(KEY, hashed)


def test_zero_padded_iterations_never_verify() -> None:
    assert not check_pbkdf2_sha256(KEY, PBKDF2.replace("$1000$", "$01000$"))


def test_header_lookup_is_case_insensitive_but_prefers_exact_name() -> None:
    assert presented_key({"X-API-Key": "a.b"}) == "a.b"
    assert presented_key({"X-Api-Key": "x.y", "x-api-key": "a.b"}) == "a.b"
    assert presented_key({"authorization": "Bearer a.b"}) == ""
    assert presented_key(None) == ""


def test_prefix_and_demo_alias() -> None:
    assert key_prefix("abc.def.ghi") == "abc"
    assert key_prefix("nodot") == "nodot"
    assert resolve_demo_alias("demo", ("demo",), "real.key") == "real.key"
    assert resolve_demo_alias("demo", ("demo",), None) is None
    assert resolve_demo_alias("other", ("demo",), "real.key") == "other"


def test_revoked_and_expired_keys_are_not_usable() -> None:
    now = datetime.now(UTC)
    assert is_usable(stored(), now)
    assert not is_usable(stored(revoked=True), now)
    assert not is_usable(stored(expiry_date=now - timedelta(seconds=1)), now)
    assert is_usable(stored(expiry_date=now + timedelta(days=1)), now)

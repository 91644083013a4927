"""API-key rules: which key the request presents, and whether it matches the stored hashes.

Keys are ``<prefix>.<secret>``; the stored row holds a Django password hash (``pbkdf2_sha256$…``) and,
once migrated, a fast ``sha256$<hex>`` digest. Verification follows the reference's order exactly, including
that a present sha256 digest is final (no fallback) and that a malformed PBKDF2 hash is an error, not a mismatch.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True, slots=True)
class StoredApiKey:
    id: str
    account_id: int
    hashed_key: str
    hashed_key_sha256: str | None
    rate_limit: str | None
    revoked: bool
    expiry_date: datetime | None


@dataclass(frozen=True, slots=True)
class Verification:
    valid: bool
    needs_migration: bool


def presented_key(headers: Mapping[str, str] | None) -> str:
    """The key from the ``X-API-Key`` header, whatever its casing (agreed deviation 2); ``""`` when absent.

    An exact lower-case name wins over other spellings, so a request carrying both behaves as the reference.
    """
    if not isinstance(headers, Mapping) or not headers:
        return ""
    if API_KEY_HEADER in headers:
        return _text(headers[API_KEY_HEADER])
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == API_KEY_HEADER:
            return _text(value)
    return ""


def _text(value: object) -> str:
    """A header value that is not text (a number, a list) presents no key."""
    return value if isinstance(value, str) else ""


def resolve_demo_alias(key: str, aliases: tuple[str, ...], demo_key: str | None) -> str | None:
    """Swap a demo alias for the real demo key (which may be unset, giving no key at all)."""
    return demo_key if key in aliases else key


def key_prefix(key: str) -> str:
    """Text before the first ``.``, or the whole key when it has none."""
    return key.split(".", 1)[0]


def sha256_digest(key: str) -> str:
    return "sha256$" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_usable(stored: StoredApiKey, now: datetime) -> bool:
    """Revoked or expired keys are refused (agreed deviation 1; the reference relied on a firewall)."""
    return not stored.revoked and (stored.expiry_date is None or stored.expiry_date >= now)


def verify(key: str, stored: StoredApiKey) -> Verification:
    """Check ``key`` against the stored hashes in the reference's order.

    Raises ``ValueError`` for a malformed PBKDF2 hash, which the reference turns into a 500.
    """
    if stored.hashed_key_sha256:
        return Verification(_same(stored.hashed_key_sha256, sha256_digest(key)), False)
    if stored.hashed_key.startswith("sha256$"):
        return Verification(_same(stored.hashed_key, sha256_digest(key)), False)
    if stored.hashed_key.startswith("pbkdf2_sha256$"):
        ok = check_pbkdf2_sha256(key, stored.hashed_key)
        return Verification(ok, ok)
    return Verification(False, False)


def check_pbkdf2_sha256(key: str, encoded: str) -> bool:
    """Django's ``check_password`` for ``pbkdf2_sha256``: re-encode with the stored salt and compare whole strings.

    Comparing the rebuilt string (not just the digest) is what makes e.g. a zero-padded iteration count fail,
    as it does in Django.
    """
    parts = encoded.split("$", 3)
    if len(parts) != 4:
        raise ValueError(f"not enough values to unpack (expected 4, got {len(parts)})")
    algorithm, iterations_text, salt, _digest = parts
    iterations = int(iterations_text)
    if not salt:
        raise ValueError("salt must be provided")
    derived = hashlib.pbkdf2_hmac("sha256", key.encode("utf-8"), salt.encode("utf-8"), iterations, 32)
    rebuilt = f"{algorithm}${iterations}${salt}${base64.b64encode(derived).decode('ascii')}"
    return _same(rebuilt, encoded)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))

"""Signed Passport stamp credentials for tests, the demo and the benchmark.

The credentials have the shape the Passport IAM issues (and the parity fixtures record): a
`did:pkh` subject carrying `nullifiers` (or a legacy `hash`) and `provider`, issued by a
`did:ethr` issuer with an `EthereumEip712Signature2021` proof. They are signed with DIDKit, the
same library the service verifies with, from deterministic secp256k1 test keys.

ECDSA signatures are randomised, so every issued credential is cached on disk keyed by its
inputs: re-running a test or the demo reproduces the same bytes, and setup stays fast. The cache
is a convenience only; an empty cache gives equally valid credentials.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import copy
import hashlib
import json
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_ISSUANCE = "2025-09-01T10:11:12.345Z"
VERIFY_OPTIONS = '{"proofPurpose":"assertionMethod"}'
CACHE_ENV = "CREDENTIAL_CACHE_DIR"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent.parent / ".local" / "credential-cache"

# Bump when the credential layout changes, so stale cache entries are never reused.
_FORMAT_VERSION = 1
_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_TEXT = "https://schema.org/Text"
_VC_CONTEXT = "https://www.w3.org/2018/credentials/v1"
_STATUS_LIST_CONTEXT = "https://w3id.org/vc/status-list/2021/v1"

Credential = dict[str, Any]


@dataclass(frozen=True)
class IssuerKey:
    """A secp256k1 signing key with the `did:ethr` identity derived from it."""

    jwk: str
    did: str
    verification_method: str


@cache
def issuer_key(seed: int = 1) -> IssuerKey:
    """Return the test issuer number `seed`; the same seed always gives the same DID."""
    import didkit
    from cryptography.hazmat.primitives.asymmetric import ec

    digest = hashlib.sha256(f"passport-score-lambda test issuer {seed}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % (_SECP256K1_ORDER - 1) + 1
    public = ec.derive_private_key(scalar, ec.SECP256K1()).public_key().public_numbers()
    jwk = json.dumps(
        {
            "kty": "EC",
            "crv": "secp256k1",
            "x": _b64url(public.x),
            "y": _b64url(public.y),
            "d": _b64url(scalar),
        }
    )
    did: str = didkit.key_to_did("ethr", jwk)
    return IssuerKey(jwk=jwk, did=did, verification_method=f"{did}#controller")


def default_nullifier(provider: str, address: str) -> str:
    """The nullifier a stamp gets when the caller names none: stable per (provider, address)."""
    digest = hashlib.sha256((provider + address).encode()).digest()
    return "v0.0.0:" + base64.b64encode(digest).decode()


def issue_stamp(
    address: str,
    provider: str,
    *,
    expiration: str,
    issuance: str = DEFAULT_ISSUANCE,
    nullifiers: list[str] | None = None,
    hash: str | None = None,
    subject_did: str | None = None,
    issuer: IssuerKey | None = None,
    extra_subject: dict[str, Any] | None = None,
) -> Credential:
    """Return a signed stamp credential for `address` and `provider`.

    With `hash` the credential has the legacy single-hash subject; otherwise it carries
    `nullifiers` (default: one derived from provider and address). `extra_subject` adds string
    or string-list fields to the subject, typed in the proof so the signature still verifies.
    """
    key = issuer or issuer_key()
    if hash is None and nullifiers is None:
        nullifiers = [default_nullifier(provider, address)]
    unsigned = _unsigned_credential(
        subject_did or f"did:pkh:eip155:1:{address}",
        provider,
        key.did,
        issuance,
        expiration,
        nullifiers=None if hash is not None else nullifiers,
        hash=hash,
        extra_subject=extra_subject or {},
    )
    options = {
        "type": "EthereumEip712Signature2021",
        "verificationMethod": key.verification_method,
        "proofPurpose": "assertionMethod",
        "created": _proof_created(issuance),
        "eip712Domain": {
            "domain": {"name": "VerifiableCredential"},
            "primaryType": "Document",
            "types": _eip712_types(unsigned["credentialSubject"]),
        },
    }
    cache_key = _cache_key(unsigned, options)
    cached = _cache_read(cache_key)
    if cached is not None:
        return cached
    signed = _sign(unsigned, options, key.jwk)
    _cache_write(cache_key, signed)
    return signed


def verify(vc: Credential) -> list[str]:
    """Return DIDKit's proof errors for `vc`, called the way the service calls it."""
    import didkit

    async def run() -> str:
        result: str = await didkit.verify_credential(json.dumps(vc), VERIFY_OPTIONS)
        return result

    errors: list[str] = json.loads(_run(run()))["errors"]
    return errors


def without_field(vc: Credential, path: str) -> Credential:
    """Return a copy of `vc` without the field at dotted `path` (e.g. `credentialSubject.id`)."""
    result = copy.deepcopy(vc)
    parent, name = _locate(result, path)
    del parent[name]
    return result


def with_field(vc: Credential, path: str, value: Any) -> Credential:
    """Return a copy of `vc` with the field at dotted `path` set to `value`, proof untouched."""
    result = copy.deepcopy(vc)
    parent, name = _locate(result, path)
    parent[name] = value
    return result


def tampered(vc: Credential) -> Credential:
    """Return a copy of `vc` whose proof no longer verifies and that differs in nothing else that
    scoring reads: the issuance date (signed, but not checked) moves by one millisecond."""
    issued = datetime.fromisoformat(vc["issuanceDate"].replace("Z", "+00:00"))
    moved = issued + timedelta(milliseconds=1)
    return with_field(vc, "issuanceDate", moved.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")


def _unsigned_credential(
    subject_did: str,
    provider: str,
    issuer_did: str,
    issuance: str,
    expiration: str,
    *,
    nullifiers: list[str] | None,
    hash: str | None,
    extra_subject: dict[str, Any],
) -> Credential:
    """Build the credential body; the legacy hash flavour also has the shorter top-level context."""
    subject_context: dict[str, Any] = {"provider": _TEXT}
    subject: dict[str, Any] = {"id": subject_did, "provider": provider}
    if hash is not None:
        subject_context["hash"] = _TEXT
        subject["hash"] = hash
        context = [_VC_CONTEXT]
    else:
        subject_context["nullifiers"] = {"@type": _TEXT, "@container": "@list"}
        subject["nullifiers"] = list(nullifiers or [])
        context = [_VC_CONTEXT, _STATUS_LIST_CONTEXT]
    for name, value in extra_subject.items():
        subject_context[name] = _TEXT
        subject[name] = value
    subject["@context"] = subject_context
    return {
        "@context": context,
        "type": ["VerifiableCredential"],
        "issuer": issuer_did,
        "issuanceDate": issuance,
        "expirationDate": expiration,
        "credentialSubject": subject,
    }


def _eip712_types(subject: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Describe exactly the subject fields present, in the field order Passport's IAM uses."""
    context_fields: list[dict[str, str]] = []
    subject_fields = [{"name": "@context", "type": "@context"}]
    types: dict[str, list[dict[str, str]]] = {"EIP712Domain": [{"name": "name", "type": "string"}]}
    if "nullifiers" in subject:
        types["NullifiersContext"] = [
            {"name": "@container", "type": "string"},
            {"name": "@type", "type": "string"},
        ]
        context_fields.append({"name": "nullifiers", "type": "NullifiersContext"})
        subject_fields.append({"name": "nullifiers", "type": "string[]"})
    else:
        context_fields.append({"name": "hash", "type": "string"})
        subject_fields.append({"name": "hash", "type": "string"})
    context_fields.append({"name": "provider", "type": "string"})
    subject_fields += [{"name": "id", "type": "string"}, {"name": "provider", "type": "string"}]
    for name in sorted(set(subject) - {"@context", "nullifiers", "hash", "id", "provider"}):
        context_fields.append({"name": name, "type": "string"})
        subject_fields.append({"name": name, "type": _eip712_type_of(subject[name])})
    types["@context"] = context_fields
    types["CredentialSubject"] = subject_fields
    types["Document"] = [
        {"name": "@context", "type": "string[]"},
        {"name": "credentialSubject", "type": "CredentialSubject"},
        {"name": "expirationDate", "type": "string"},
        {"name": "issuanceDate", "type": "string"},
        {"name": "issuer", "type": "string"},
        {"name": "proof", "type": "Proof"},
        {"name": "type", "type": "string[]"},
    ]
    types["Proof"] = [
        {"name": "@context", "type": "string"},
        {"name": "created", "type": "string"},
        {"name": "proofPurpose", "type": "string"},
        {"name": "type", "type": "string"},
        {"name": "verificationMethod", "type": "string"},
    ]
    return types


def _eip712_type_of(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "string[]"
    raise TypeError(f"extra_subject supports strings and string lists, not {value!r}")


def _proof_created(issuance: str) -> str:
    """The proof is dated one second after issuance, whole seconds, as the IAM's proofs are."""
    issued = datetime.fromisoformat(issuance.replace("Z", "+00:00"))
    created = issued.replace(microsecond=0) + timedelta(seconds=1)
    return created.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign(unsigned: Credential, options: dict[str, Any], jwk: str) -> Credential:
    import didkit

    async def run() -> str:
        signed: str = await didkit.issue_credential(json.dumps(unsigned), json.dumps(options), jwk)
        return signed

    result: Credential = json.loads(_run(run()))
    return result


def _run(coroutine: Coroutine[Any, Any, str]) -> str:
    """DIDKit's signing and verification return awaitables that need a running event loop."""
    guard_didkit_exit()
    return asyncio.run(coroutine)


@cache
def guard_didkit_exit() -> None:
    """Keep the interpreter from crashing at exit after DIDKit calls.

    DIDKit completes each awaitable from one of its own (Rust) threads, which takes the GIL once
    more after the result is delivered. If the process exits in that window, Python aborts or
    segfaults during finalisation (seen in about half of short runs). Releasing the GIL briefly
    at exit, before finalisation starts, lets that thread finish. Call it once in any program
    that uses DIDKit and may exit right after.
    """
    atexit.register(time.sleep, 0.02)


def _cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)


def _cache_key(unsigned: Credential, options: dict[str, Any]) -> str:
    material = json.dumps([_FORMAT_VERSION, unsigned, options], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def _cache_read(key: str) -> Credential | None:
    try:
        cached: Credential = json.loads((_cache_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return cached


def _cache_write(key: str, vc: Credential) -> None:
    """Write atomically, so concurrent test workers never read half a file."""
    directory = _cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f"{key}.{os.getpid()}.tmp"
        partial.write_text(json.dumps(vc))
        partial.replace(directory / f"{key}.json")
    except OSError:
        pass  # a read-only checkout still gets valid, uncached credentials


def _locate(vc: Credential, path: str) -> tuple[dict[str, Any], str]:
    *parents, name = path.split(".")
    node: Any = vc
    for part in parents:
        node = node[part]
    if not isinstance(node, dict):
        raise TypeError(f"{path!r} does not name a field of an object")
    return node, name


def _b64url(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()


def _timings(count: int) -> dict[str, float]:
    """Median seconds to sign and to verify one credential, measured inside one event loop."""
    import statistics

    import didkit

    key = issuer_key()
    unsigned = _unsigned_credential(
        "did:pkh:eip155:1:0x" + "ab" * 20,
        "Google",
        key.did,
        DEFAULT_ISSUANCE,
        "2031-03-04T05:06:07.891Z",
        nullifiers=[default_nullifier("Google", "0x" + "ab" * 20)],
        hash=None,
        extra_subject={},
    )
    options = json.dumps(
        {
            "type": "EthereumEip712Signature2021",
            "verificationMethod": key.verification_method,
            "proofPurpose": "assertionMethod",
            "created": _proof_created(DEFAULT_ISSUANCE),
            "eip712Domain": {
                "domain": {"name": "VerifiableCredential"},
                "primaryType": "Document",
                "types": _eip712_types(unsigned["credentialSubject"]),
            },
        }
    )

    async def measure() -> dict[str, float]:
        sign_times, verify_times = [], []
        signed = ""
        for _ in range(count):
            start = time.perf_counter()
            signed = await didkit.issue_credential(json.dumps(unsigned), options, key.jwk)
            sign_times.append(time.perf_counter() - start)
        for _ in range(count):
            start = time.perf_counter()
            await didkit.verify_credential(signed, VERIFY_OPTIONS)
            verify_times.append(time.perf_counter() - start)
        return {"sign": statistics.median(sign_times), "verify": statistics.median(verify_times)}

    guard_didkit_exit()
    return asyncio.run(measure())


def main(argv: list[str] | None = None) -> None:
    """`python -m tools.credentials issue ADDRESS PROVIDER` prints a credential; `timing` measures."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.credentials", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="print a signed stamp credential")
    issue.add_argument("address")
    issue.add_argument("provider")
    issue.add_argument("--expiration", default="2031-03-04T05:06:07.891Z")
    issue.add_argument("--seed", type=int, default=1, help="test issuer number")
    timing = commands.add_parser("timing", help="median time to sign and to verify one credential")
    timing.add_argument("-n", type=int, default=200)
    args = parser.parse_args(argv)
    if args.command == "issue":
        vc = issue_stamp(
            args.address, args.provider, expiration=args.expiration, issuer=issuer_key(args.seed)
        )
        print(json.dumps(vc, indent=2))
    else:
        medians = _timings(args.n)
        print(f"issuer {issuer_key().did}")
        print(f"sign   median {medians['sign'] * 1000:.3f} ms over {args.n}")
        print(f"verify median {medians['verify'] * 1000:.3f} ms over {args.n}")


if __name__ == "__main__":
    main()


def access_token(
    address: str | None,
    secret_key: str,
    *,
    did: str | None = None,
    lifetime_s: int = 86400,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    """An HS256 access token as the Passport app's ``/ceramic-cache/authenticate`` mints them.

    Claims ``token_type`` (``access``), ``exp``, ``iat``, ``jti`` and ``did`` (``did:pkh:eip155:1:<address>``);
    ``claims`` overrides or adds any of them, and a claim given as None is left out (no address and no ``did``:
    a token without ``did``).
    """
    import jwt

    now = int(time.time())
    payload: dict[str, Any] = {
        "token_type": "access",
        "exp": now + lifetime_s,
        "iat": now,
        "jti": hashlib.sha256(f"{address}{did}{now}{time.perf_counter_ns()}".encode()).hexdigest()[:32],
        "did": did if did is not None else (f"did:pkh:eip155:1:{address}" if address else None),
    }
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret_key, algorithm=algorithm)

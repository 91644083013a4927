"""Which cached credentials count: the latest per provider, then the valid ones.

Validation keeps the reference's semantics: an unparsable or naive ``expirationDate`` aborts the whole score
(the caller records an ERROR), while a bad issuer, subject, field or proof silently drops the stamp.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from scorer_core.models import Stamp

_PROOF_OPTIONS = '{"proofPurpose":"assertionMethod"}'


def decoded_rows(rows: Iterable[tuple[int, str, Any, datetime]]) -> list[tuple[int, str, Any, datetime]]:
    """The rows with their stamp decoded from JSON text (rows already decoded pass through).

    Raises what the JSON decoder raises (ValueError for a 5000-digit number, RecursionError for deep nesting):
    called inside scoring, that fails the score as ERROR with the decoder's text, as the reference records it.
    """
    return [
        (row_id, provider, json.loads(stamp) if isinstance(stamp, str) else stamp, updated_at)
        for row_id, provider, stamp, updated_at in rows
    ]


def latest_per_provider(rows: Iterable[tuple[int, str, Any, datetime]]) -> list[Stamp]:
    """Keep, per ``provider`` column value, the row with the greatest ``updated_at``.

    ``rows`` are ``(id, provider, stamp, updated_at)`` in ``id`` order; on equal ``updated_at`` the greater id wins
    (agreed deviation 8). Providers keep the order in which they first appear.
    """
    chosen: dict[str, tuple[datetime, Any]] = {}
    for _id, provider, credential, updated_at in rows:
        current = chosen.get(provider)
        if current is None or updated_at >= current[0]:
            chosen[provider] = (updated_at, credential)
    return [Stamp(provider, credential) for provider, (_, credential) in chosen.items()]


def subject_did(address: str) -> str:
    return f"did:pkh:eip155:1:{address}".lower()


def is_issuer_trusted(credential: Any, trusted: Sequence[str]) -> bool:
    return "issuer" in credential and credential["issuer"] in trusted


def is_expired(credential: Any, now: datetime) -> bool:
    """Raises (KeyError, TypeError, ValueError) for a missing, non-string, unparsable or naive date, on purpose."""
    return bool(datetime.fromisoformat(credential["expirationDate"]) < now)


def field_errors(did: str, credential: Any) -> list[str]:
    """The structural checks done before the proof; any exception makes the stamp invalid, never fatal."""
    errors: list[str] = []
    try:
        subject = credential.get("credentialSubject", {})
        stamp_hash = subject.get("hash")
        nullifiers = subject.get("nullifiers")
        stamp_did = subject.get("id", "").lower()
        provider = subject.get("provider")
        if not credential:
            errors.append("Missing or invalid attribute: credential")
        if not subject:
            errors.append("Missing attribute: credentialSubject")
        if not stamp_hash and not nullifiers:
            errors.append("Missing attribute: hash and nullifiers (either one must be present)")
        if not stamp_did:
            errors.append("Missing attribute: id")
        if not provider:
            errors.append("Missing attribute: provider")
        if did != stamp_did:
            errors.append("Did mismatch")
    except Exception as exc:
        errors.append(f"Error validating credential: {exc}")
    return errors


def candidates(stamps: Sequence[Stamp], address: str, trusted: Sequence[str], now: datetime) -> list[Stamp]:
    """Stamps worth a proof check: unexpired, trusted issuer, well-formed, subject is this address.

    The expiry is evaluated for every stamp before the issuer result is used, so a bad date is fatal even
    for an
    untrusted stamp, as in the reference.
    """
    did = subject_did(address)
    selected: list[Stamp] = []
    for stamp in stamps:
        trusted_issuer = is_issuer_trusted(stamp.credential, trusted)
        expired = is_expired(stamp.credential, now)
        if not expired and trusted_issuer and not field_errors(did, stamp.credential):
            selected.append(stamp)
    return selected


def valid_stamps(stamps: Sequence[Stamp], address: str, trusted: Sequence[str], now: datetime) -> list[Stamp]:
    """The stamps that pass every check, in input order; proofs are verified concurrently."""
    selected = candidates(stamps, address, trusted, now)
    if not selected:
        return []
    proofs_ok = verify_proofs([stamp.credential for stamp in selected])
    return [stamp for stamp, ok in zip(selected, proofs_ok, strict=True) if ok]


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _event_loop() -> asyncio.AbstractEventLoop:
    """One loop for the process, run by a daemon thread: DIDKit's binding is async.

    Shared, so a thread that verifies proofs and then ends leaves nothing open behind it (a loop per thread kept
    its selector and wake-up socket pair for the life of the process), and no request pays for a fresh loop.
    """
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="didkit-loop", daemon=True).start()
            _loop = loop
        return _loop


_VERIFIED_CAPACITY = 8192
_verified: OrderedDict[bytes, None] = OrderedDict()
_verified_lock = threading.Lock()


def verify_proofs(credentials: Sequence[Any]) -> list[bool]:
    """Verify every proof with DIDKit at once (its work runs off the GIL, so gathering overlaps it).

    Proofs that verified before are remembered, by a digest of the exact JSON DIDKit was given, for the life of
    the process: a warm Lambda re-scoring a passport then skips the most expensive step. Only successes are
    kept, because a credential whose issuance lies in the future can fail now and pass later; expiry is checked
    by the caller on every request, before this.
    """
    documents = [json.dumps(credential) for credential in credentials]
    digests = [hashlib.sha256(document.encode()).digest() for document in documents]
    with _verified_lock:
        results: list[bool | None] = [True if digest in _verified else None for digest in digests]
    pending = [index for index, known in enumerate(results) if known is None]
    if pending:
        for index, ok in zip(pending, _verify_with_didkit([documents[i] for i in pending]), strict=True):
            results[index] = ok
        with _verified_lock:
            for index in pending:
                if results[index]:
                    _verified[digests[index]] = None
            while len(_verified) > _VERIFIED_CAPACITY:
                _verified.popitem(last=False)
    return [bool(ok) for ok in results]


def forget_verified() -> None:
    """Empty the remembered proofs (benchmarks measure first scores with it)."""
    with _verified_lock:
        _verified.clear()


def _verify_with_didkit(documents: Sequence[str]) -> list[bool]:
    import didkit  # imported on first use: it is the heaviest import of the service

    async def verify(document: str) -> bool:
        try:
            result = json.loads(await didkit.verify_credential(document, _PROOF_OPTIONS))
            return not result["errors"]
        except Exception:
            return False

    async def verify_all() -> list[bool]:
        return list(await asyncio.gather(*(verify(document) for document in documents)))

    return asyncio.run_coroutine_threadsafe(verify_all(), _event_loop()).result()

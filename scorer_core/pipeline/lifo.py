"""LIFO deduplication: which stamps keep their nullifiers, and which hash links to create or take over.

Within a community a nullifier belongs to one address until its link expires. A stamp is deduplicated when any
of its nullifiers is held, unexpired, by another address. The plan is pure; the repository applies it.

Two agreed deviations from the reference live here: a nullifier shared by two stamps of one passport gets one
link, set by the first stamp in processing order (4); a clashing stamp's backfill leaves a nullifier that already
has a link as it is (5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from scorer_core.db.instants import clamp
from scorer_core.models import HashLink, LifoPlan, LinkUpdate, NewLink, Stamp


class InvalidRule(Exception):
    """Only LIFO exists; any other rule (the retired FIFO included) fails the score with this message."""

    def __init__(self) -> None:
        super().__init__("Invalid rule")


class HashLinkConflict(Exception):
    """A concurrent request changed the links this attempt planned on; the message is what a final failure shows."""


def nullifiers(credential: Any, multi_nullifier: bool) -> list[str]:
    """The legacy ``hash`` wins over ``nullifiers``; unless the multi-nullifier flag is on, only ``v0`` ones count."""
    subject = credential["credentialSubject"]
    values = [subject["hash"]] if "hash" in subject else subject["nullifiers"]
    if multi_nullifier:
        return list(values)
    return [value for value in values if value.startswith("v0")]


def all_nullifiers(stamps: Iterable[Stamp], multi_nullifier: bool) -> list[str]:
    found: list[str] = []
    for stamp in stamps:
        found.extend(nullifiers(stamp.credential, multi_nullifier))
    return found


def plan(
    stamps: Sequence[Stamp],
    links: Iterable[HashLink],
    address: str,
    now: datetime,
    multi_nullifier: bool,
) -> LifoPlan:
    """Classify existing links (own / clashing / forfeited) and decide every stamp, in order."""
    own: dict[str, HashLink] = {}
    clashing: dict[str, HashLink] = {}
    forfeited: dict[str, HashLink] = {}
    for link in links:
        if link.address == address:
            own[link.hash] = link
        elif link.expires_at > now:
            clashing[link.hash] = link
        else:
            forfeited[link.hash] = link

    result = LifoPlan()
    decided: set[str] = set()
    for stamp in stamps:
        stamp_nullifiers = nullifiers(stamp.credential, multi_nullifier)
        clashes = [value for value in stamp_nullifiers if value in clashing]
        if not clashes:
            result.kept.append(stamp)
            # Clamped: an expiry after year 9999 UTC must not become a link this service cannot read again.
            expires_at = clamp(datetime.fromisoformat(stamp.credential["expirationDate"]))
            for value in stamp_nullifiers:
                if value in decided:
                    continue
                decided.add(value)
                existing = own.get(value) or forfeited.get(value)
                if existing is None:
                    result.create.append(NewLink(value, address, expires_at))
                elif existing.address == address and existing.expires_at == expires_at:
                    # Already ours with this expiry (the usual re-score). The reference rewrites it with the
                    # same values; skipping that changes no row. No concurrent request can take it meanwhile:
                    # the stamp is unexpired, so to everyone else the link is a clash.
                    continue
                else:
                    result.update.append(
                        LinkUpdate(
                            existing.id, value, address, expires_at, existing.address, existing.expires_at
                        )
                    )
            continue

        result.clashing[stamp.credential["credentialSubject"]["provider"]] = stamp
        holder = clashing[clashes[0]]
        for value in stamp_nullifiers:
            if value in clashing or value in decided or value in own or value in forfeited:
                continue
            decided.add(value)
            backfill = HashLink(0, value, holder.address, holder.expires_at)
            result.create.append(NewLink(value, holder.address, holder.expires_at))
            # A later stamp carrying this nullifier now clashes too, as it would on the reference's retry.
            clashing[value] = backfill
    return result


def dedup_event_data(stamp: Stamp, community_id: int, multi_nullifier: bool) -> dict[str, Any]:
    """The ``data`` of an LDP event for one deduplicated stamp."""
    return {
        "nullifiers": nullifiers(stamp.credential, multi_nullifier),
        "provider": stamp.credential["credentialSubject"]["provider"],
        "community_id": community_id,
    }

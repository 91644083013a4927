"""Planning of ceramic-cache rows from payload items: the column rules of the reference's writes, no SQL.

Failures are raised in the reference's order (every item's stamp and proof first, then the dates, item by item,
expiration before issuance, as Django prepares a bulk insert), as Python's own exceptions wrapped in
``InvalidCacheItem``, because the embed route answers with the original exception's first argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from scorer_core.errors import RequestError

MAX_BULK_CACHE_SIZE = 100
"""Items accepted by one bulk write (the reference's ``MAX_BULK_CACHE_SIZE``)."""

# ``ceramic_cache_ceramiccache.source_app`` values.
SOURCE_APP_PASSPORT = 1
SOURCE_APP_EMBED = 2

# Django 4.2 ``django.utils.dateparse`` patterns, used when ``fromisoformat`` refuses a value.
_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[\.,](?P<microsecond>\d{1,6})\d{0,6})?)?"
    r"\s*(?P<tzinfo>Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DATE_RE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})$")


class TooManyStamps(RequestError):
    status = 422
    message = "You have submitted too many stamps."


class InvalidCacheItem(Exception):
    """An item the reference cannot turn into a row; ``cause`` is the exception it raised.

    ``message`` is that exception's first argument (the embed route's ``detail``); ``invalid_date`` marks a
    string Django could not parse as a date (its ValidationError, whose argument is no string).
    """

    def __init__(self, cause: Exception, *, invalid_date: bool = False) -> None:
        self.cause = cause
        self.invalid_date = invalid_date
        self.message = str(cause.args[0]) if cause.args and not invalid_date else "An error has occurred"
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class CacheRow:
    """One ``ceramic_cache_ceramiccache`` row to insert (type 1, status ``pending``, stream id ``""``)."""

    provider: str
    stamp: Any
    proof_value: str | None
    """None only for a JSON null ``proofValue``, which the NOT NULL column refuses, as in the reference."""
    issuance_date: datetime | None
    expiration_date: datetime | None
    source_app: int | None
    source_scorer_id: int | None


def check_bulk_size(count: int) -> None:
    if count > MAX_BULK_CACHE_SIZE:
        raise TooManyStamps()


def plan_rows(
    items: Iterable[tuple[str, Any]],
    *,
    source_app: int | None,
    source_scorer_id: int | None,
) -> list[CacheRow]:
    """Rows for ``(provider, stamp)`` pairs, in payload order; raises ``InvalidCacheItem``."""
    pending: list[tuple[str, Any, str | None]] = []
    for provider, stamp in items:
        try:
            proof_value = stamp["proof"]["proofValue"]
        except (KeyError, TypeError, IndexError) as exc:
            raise InvalidCacheItem(exc) from exc
        pending.append((provider, stamp, None if proof_value is None else _text(proof_value)))
    rows = []
    for provider, stamp, proof_value in pending:
        rows.append(
            CacheRow(
                provider=provider,
                stamp=stamp,
                proof_value=proof_value,
                expiration_date=_stamp_date(stamp, "expirationDate"),
                issuance_date=_stamp_date(stamp, "issuanceDate"),
                source_app=source_app,
                source_scorer_id=source_scorer_id,
            )
        )
    return rows


def _text(value: Any) -> str:
    """A non-string ``proofValue`` is stored as Python's ``str()`` of it, as the reference's CharField does."""
    return value if isinstance(value, str) else str(value)


def _stamp_date(stamp: Any, key: str) -> datetime | None:
    value = stamp.get(key) if isinstance(stamp, dict) else None
    if value is None:
        return None
    return parse_django_datetime(value)


def parse_django_datetime(value: Any) -> datetime:
    """A ``DateTimeField`` value as Django 4.2 parses a string (naive means UTC); raises ``InvalidCacheItem``.

    ``fromisoformat`` first, then Django's datetime pattern, then a date alone (midnight). A non-string is the
    ``TypeError`` of ``fromisoformat``; an unparsable string is flagged ``invalid_date``.
    """
    try:
        parsed = _parse(value)
    except TypeError as exc:
        raise InvalidCacheItem(exc) from exc
    except ValueError as exc:
        raise InvalidCacheItem(exc, invalid_date=True) from exc
    if parsed is None:
        raise InvalidCacheItem(ValueError(value), invalid_date=True)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    match = _DATETIME_RE.match(value)
    if match:
        fields = match.groupdict()
        micro = fields.pop("microsecond")
        tz_text = fields.pop("tzinfo")
        numbers = {k: int(v) for k, v in fields.items() if v is not None}
        if micro:
            numbers["microsecond"] = int(micro.ljust(6, "0"))
        return datetime(**numbers, tzinfo=_fixed_zone(tz_text))
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day_match = _DATE_RE.match(value)
        if not day_match:
            return None
        day = date(**{k: int(v) for k, v in day_match.groupdict().items()})
    return datetime(day.year, day.month, day.day)


def _fixed_zone(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text == "Z":
        return UTC
    minutes = 60 * int(text[1:3]) + (int(text[-2:]) if len(text) > 3 else 0)
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


def duplicate_providers(providers: Sequence[str]) -> bool:
    """Whether one payload names a provider twice (its insert must fail as the reference's does)."""
    return len(set(providers)) != len(providers)

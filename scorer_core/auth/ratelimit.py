"""Per-key rate limiting that shares its Redis counters with the reference's limiter.

Keys, windows and counting follow django-ratelimit 4.1 as the reference configures it (group ``registry``, the
key's prefix as value, fixed windows offset per key by a crc32 jitter), so both systems can run side by side on
the same counters. Redis being unreachable fails open, logged and counted by the caller.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from dataclasses import dataclass
from functools import cache
from typing import Any

GROUP = "registry"
_RATE = re.compile(r"([\d]+)/([\d]*)([smhd])?")
_UNITS = {"s": 1, "m": 60, "h": 60 * 60, "d": 24 * 60 * 60}
_EXPIRY_FUDGE = 5
REDIS_TIMEOUT_S = 0.1


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    seconds: int


def parse_rate(rate: str) -> Rate:
    """``125/15m`` → 125 per 900 s; trailing text is ignored and a missing multiplier means 1, as upstream."""
    match = _RATE.match(rate)
    if match is None:
        raise AttributeError("'NoneType' object has no attribute 'groups'")
    count, multiplier, unit = match.groups()
    return Rate(int(count), int(multiplier or 1) * _UNITS[unit or "s"])


def window_end(prefix: str, period: int, now: int) -> int:
    if period == 1:
        return now
    end = now - (now % period) + (zlib.crc32(prefix.encode("utf-8")) % period)
    return end + period if end < now else end


def counter_key(prefix: str, rate: Rate, now: int) -> str:
    """The Redis key, including Django's cache prefix and version (``:1:``)."""
    parts = GROUP + f"{rate.count}/{rate.seconds}s" + prefix + str(window_end(prefix, rate.seconds, now)) + ""
    return ":1:rl:" + hashlib.sha256(parts.encode("utf-8")).hexdigest()


@cache
def _client(url: str) -> Any:
    import redis  # imported on first use: most deployments run with limiting off
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # Short timeouts and no retries (redis-py retries three times by default): a request asks once and fails open.
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )


def is_limited(redis_url: str, prefix: str, rate: Rate, *, increment: bool = True) -> bool:
    """Count this request and say whether it exceeds the key's rate.

    ``increment=False`` (dry runs) only reads the counter, predicting the answer without touching it.
    Raises ``redis.RedisError`` when Redis cannot be reached; the caller decides to fail open.
    """
    key = counter_key(prefix, rate, int(time.time()))
    client = _client(redis_url)
    if not increment:
        current = client.get(key)
        return int(current or 0) > rate.count
    if client.set(key, 1, nx=True, ex=rate.seconds + _EXPIRY_FUDGE):
        count = 1
    elif client.exists(key):
        count = int(client.incr(key))
    else:
        return False  # the window expired between the two calls: upstream treats this as not limited
    return count > rate.count


# Circuit breaker, per Redis URL: after a failure, requests skip Redis (failing open at once) for this long,
# instead of each paying a timeout on a store that is down. Hand-written: ten lines, one process, one state.
BREAKER_OPEN_S = 30.0
_open_until: dict[str, float] = {}


class BreakerOpen(Exception):
    """Redis failed recently; it is not asked again until the breaker closes."""


def check_breaker(redis_url: str) -> None:
    if time.monotonic() < _open_until.get(redis_url, 0.0):
        raise BreakerOpen(f"rate-limit store failed in the last {BREAKER_OPEN_S:.0f} s")


def trip_breaker(redis_url: str) -> None:
    _open_until[redis_url] = time.monotonic() + BREAKER_OPEN_S


def reset_breaker() -> None:
    """Close every circuit breaker (tests)."""
    _open_until.clear()
